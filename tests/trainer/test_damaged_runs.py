"""Damaged run folders: truncated files, an empty checkpoint, a folder without permission are
listed as damaged with the reason by ``trainer runs``; the rest keeps working, nothing is deleted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from trainer import runs


def _cut(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGE = {
    "config": (lambda d: _cut(d / runs.CONFIG), "config.json is cut off or garbled"),
    "metrics": (lambda d: _cut(d / runs.METRICS, 0.8), "metrics.csv: line"),
    "events": (lambda d: _cut(d / runs.EVENTS, 0.9), "events.jsonl: the last line is cut off"),
    "empty-checkpoint": (lambda d: (d / runs.BEST).write_bytes(b""), "best.pt is empty (0 bytes)"),
    "cut-checkpoint": (lambda d: _cut(d / runs.LAST), "last.pt is cut off or not a checkpoint"),
}


@pytest.fixture
def runs_dir(one_run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    shutil.copytree(one_run, folder / "healthy")
    for name, (damage, _) in DAMAGE.items():
        shutil.copytree(one_run, folder / name)
        damage(folder / name)
    (folder / "not-a-run").mkdir()  # a foreign folder is not listed
    return folder


def test_each_damage_is_listed_with_its_reason(runs_dir: Path) -> None:
    found = {r.name: r for r in runs.list_runs(runs_dir)}
    assert set(found) == {"healthy", *DAMAGE}
    assert found["healthy"].problem == "" and found["healthy"].status == "done"
    assert found["healthy"].checkpoint() == runs_dir / "healthy" / runs.BEST
    for name, (_, reason) in DAMAGE.items():
        assert reason in found[name].problem, (name, found[name].problem)
        assert found[name].status == "damaged"
    assert found["empty-checkpoint"].checkpoint() is None  # never offered for classifying
    assert found["metrics"].config["model"] == "mobilenet_v2"  # what can be read still shows


def test_trainer_runs_lists_damaged_runs_and_deletes_nothing(runs_dir: Path) -> None:
    before = sorted(p.relative_to(runs_dir) for p in runs_dir.rglob("*"))
    res = run_cli("runs", str(runs_dir), "--json")
    assert res.returncode == 0, res.stderr
    listed = {r["name"]: r for r in json.loads(res.stdout)}
    assert listed["healthy"]["status"] == "done" and listed["healthy"]["epochs"] == 2
    assert all(listed[name]["status"] == "damaged" for name in DAMAGE)
    res = run_cli("runs", str(runs_dir))
    assert res.returncode == 0 and "6 runs in" in res.stderr and "5 damaged" in res.stderr
    assert "events  damaged: events.jsonl: the last line is cut off" in res.stdout.splitlines()
    assert sorted(p.relative_to(runs_dir) for p in runs_dir.rglob("*")) == before


def test_a_run_folder_without_permission_is_listed_as_damaged(one_run: Path, tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("as root, setpriv is needed to give up the permission override")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    folder = tmp_path / "runs"
    shutil.copytree(one_run, folder / "healthy")
    shutil.copytree(one_run, folder / "locked")
    (folder / "locked").chmod(0)
    try:
        res = subprocess.run([*prefix, sys.executable, "-m", "trainer", "runs", str(folder), "--json"],
                             capture_output=True, text=True, timeout=120)
    finally:
        (folder / "locked").chmod(0o755)
    assert res.returncode == 0, res.stderr
    listed = {r["name"]: r for r in json.loads(res.stdout)}
    assert listed["healthy"]["status"] == "done"
    assert listed["locked"]["status"] == "damaged"
    assert "cannot be read (Permission denied)" in listed["locked"]["problem"]



@pytest.mark.parametrize(
    ("choice", "chosen", "test_acc"),
    [
        ({"mode": "flip", "tried": {"off": {"val_acc": 0.9}, "flip": {"val_acc": 0.95, "test_acc": 0.8}}},
         {"val_acc": 0.95, "test_acc": 0.8}, 0.8),
        ({"mode": "off", "tried": {"off": 1.0}}, {"val_acc": 1.0}, 0.7),  # an ensemble of runs: a number
        ({"mode": "off", "tried": ["off"]}, {}, 0.7),  # hand-edited or damaged: the best epoch's instead
        ("off", {}, 0.7),
        (None, {}, 0.7),
    ],
)
def test_the_chosen_tta_scores_read_every_recorded_shape(tmp_path: Path, choice: object, chosen: dict,
                                                         test_acc: float) -> None:
    """The Runs table reads every run folder's config: an ensemble's number or a damaged entry
    must not break it (a test-accuracy column once crashed the whole table on an ensemble)."""
    from trainer.runs import RunInfo

    metrics = [{"epoch": 1, "val_acc": 0.5, "test_acc": 0.4}, {"epoch": 2, "val_acc": 0.9, "test_acc": 0.7}]
    info = RunInfo(tmp_path, {"tta_choice": choice} if choice is not None else {}, metrics)  # type: ignore[arg-type]
    assert info.chosen_tta == chosen and info.test_acc == test_acc
