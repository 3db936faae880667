"""Images that vanish while a job works on them: the job reports each one and goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from trainer import runs
from trainer.csvfile import read_predictions


def _run_deleting(args: list[str], doomed: list[Path],
                  when: Callable[[dict], bool]) -> tuple[subprocess.Popen, list[dict]]:
    """Run ``trainer ARGS --events`` to its end, deleting ``doomed`` at the first event ``when``
    accepts; returns the finished process and its events."""
    proc = subprocess.Popen([sys.executable, "-m", "trainer", *args, "--events"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    events: list[dict] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            events.append(json.loads(line))
            if when(events[-1]):
                for p in doomed:
                    p.unlink(missing_ok=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.wait(timeout=300)
    reader.join(10)
    return proc, events


def test_a_classify_job_reports_images_that_vanish_while_it_runs_and_goes_on(one_run: Path, tmp_path: Path) -> None:
    """A sync client removes photos while a real classify process works through the folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    demo = sorted(Path(json.loads((one_run / runs.CONFIG).read_text())["data"]).rglob("*.jpg"))
    for i in range(400):
        shutil.copy(demo[i % len(demo)], folder / f"p{i:04d}.jpg")
    doomed = sorted(folder.iterdir())[-60:]  # classified last
    out = tmp_path / "predictions.csv"
    proc, events = _run_deleting(["classify", str(one_run), str(folder), "--out", str(out), "--workers", "1"],
                                 doomed, lambda e: e["event"] == "start")
    assert proc.returncode == 0, proc.stderr.read()  # type: ignore[union-attr]
    rows = {p.path: p for p in read_predictions(out)[1]}
    assert len(rows) == 400
    vanished = [name for name, p in rows.items() if p.error == "file vanished or does not exist"]
    assert vanished and set(vanished) <= {p.name for p in doomed}  # reported ...
    assert all(rows[p.name].label or rows[p.name].error for p in doomed)
    assert sum(1 for p in rows.values() if p.label) >= 340  # ... and the job went on
    warned = [e for e in events if e["event"] == "warning" and "vanished" in e.get("message", "")]
    assert len(warned) == len(vanished)


def test_a_training_job_reports_images_that_vanish_between_epochs_and_goes_on(demo_copy: Path,
                                                                             tmp_path: Path) -> None:
    doomed = sorted((demo_copy / "car").glob("*.jpg"))[:3]
    # a sync client removes three photos after the first epoch
    proc, events = _run_deleting(["train", str(demo_copy), "--weights", "none", "--freeze", "--image-size", "48",
                                  "--workers", "1", "--no-cache", "--epochs", "4", "--out", str(tmp_path / "runs")],
                                 doomed, lambda e: e["event"] == "epoch" and e["metrics"]["epoch"] == 1)
    assert proc.returncode == 0, proc.stderr.read()  # type: ignore[union-attr]
    warned = [e["message"] for e in events if e["event"] == "warning"]
    assert sorted(m.split(":")[0] for m in warned) == [f"car/{p.name}" for p in doomed]  # once each
    assert all("file vanished or does not exist; training goes on without it" in m for m in warned)
    assert events[-1]["event"] == "done" and len([e for e in events if e["event"] == "epoch"]) == 4
