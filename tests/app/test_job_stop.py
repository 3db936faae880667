"""Stopping a job from the app without any signal: the portable stdin channel (Windows has no SIGTERM)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import NO_SIGNALS
from trainer import runs
from trainer.checkpoint import load_model
from trainer.protocol import Event, Exit, Status
from vehicleapp import jobs
from vehicleapp.jobs import Job

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1", "--no-cache",
        "--epochs", "200", "--batch-size", "4"]


@pytest.fixture
def signal_free_child(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Children run with their signal path disabled; the job must never signal or kill them."""
    monkeypatch.setattr(jobs, "trainer_command", lambda: [sys.executable, "-c", NO_SIGNALS])
    used: list[str] = []
    return used


def _no_signals(job: Job, used: list[str]) -> None:
    job.proc.terminate = lambda: used.append("terminate")  # type: ignore[method-assign]
    job.proc.kill = lambda: used.append("kill")  # type: ignore[method-assign]


@pytest.mark.parametrize("how", ["cancel", "shutdown"])
def test_stop_reaches_a_child_that_ignores_signals(qtbot, signal_free_child: list[str], demo_root: Path,  # noqa: ANN001
                                                   tmp_path: Path, how: str) -> None:
    job = Job(["train", str(demo_root), *FAST, "--out", str(tmp_path), "--events"], "Training", grace_ms=60_000)
    _no_signals(job, signal_free_child)
    epochs: list[dict] = []
    job.event.connect(lambda e: epochs.append(e) if e["event"] == Event.EPOCH else None)
    job.start()
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=120_000)
    with qtbot.waitSignal(job.finished, timeout=30_000) as blocker:
        job.cancel() if how == "cancel" else job.kill_and_wait(30_000)
    assert blocker.args[0] == Status.CANCELLED
    assert job.proc.exitCode() == Exit.CANCELLED  # it stopped itself: not killed
    assert signal_free_child == []
    run_dir = next(d for d in tmp_path.iterdir() if d.is_dir())
    assert len(runs.read_metrics(run_dir)) < 200
    assert load_model(run_dir / runs.LAST)[1]["interrupted"] is True
