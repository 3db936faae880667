"""The spare job process: a job runs in a ``trainer.warm`` process that imported PyTorch before
the job was asked for, and behaves exactly like a cold one (events, results, stop, errors)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QProcess

from trainer import runs
from trainer.protocol import Event, Exit, Status
from vehicleapp import jobs
from vehicleapp.jobs import Job, JobRunner

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1", "--no-cache", "--batch-size", "4"]


def _ready_runner(qtbot) -> JobRunner:  # noqa: ANN001
    runner = JobRunner(spare=True)
    runner.prepare_spare()
    assert runner.spare is not None
    qtbot.waitUntil(lambda: runner.spare.state() == QProcess.ProcessState.Running, timeout=30_000)
    return runner


def _run(qtbot, runner: JobRunner, args: list[str], timeout: int = 120_000) -> tuple[Job, list[dict], str, str]:  # noqa: ANN001
    events: list[dict] = []
    with qtbot.waitSignal(runner.finished, timeout=timeout) as blocker:
        job = runner.run(args, "test")
        assert job is not None
        job.event.connect(events.append)
    return job, events, blocker.args[1], blocker.args[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_job_runs_in_the_spare_and_a_new_spare_follows(qtbot, demo_root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    runner = _ready_runner(qtbot)
    spare_pid = int(runner.spare.processId())
    try:
        job, events, status, message = _run(
            qtbot, runner, ["train", str(demo_root), *FAST, "--epochs", "2", "--out", str(tmp_path), "--events"])
        assert job.warm and job.pid in (0, spare_pid)  # 0: already finished
        assert status == Status.DONE, message
        kinds = [e["event"] for e in events]
        assert kinds[0] == Event.START and kinds[-1] == Event.DONE and kinds.count(Event.EPOCH) == 2
        run_dir = next(d for d in tmp_path.iterdir() if d.is_dir())
        assert len(runs.read_metrics(run_dir)) == 2
        assert runner.spare is not None and int(runner.spare.processId()) != spare_pid  # the next one
    finally:
        runner.shutdown()


def test_a_usage_error_reads_the_same_warm_or_cold(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    args = ["classify", str(tmp_path / "no-run"), str(tmp_path), "--out", str(tmp_path / "p.csv"), "--events"]
    runner = _ready_runner(qtbot)
    try:
        warm, _, warm_status, warm_message = _run(qtbot, runner, args)
    finally:
        runner.shutdown()
    cold, _, cold_status, cold_message = _run(qtbot, JobRunner(), args)
    assert warm.warm and not cold.warm
    assert warm_status == cold_status == Status.FAILED
    assert warm_message == cold_message and "no-run" in warm_message
    assert warm.proc.exitCode() == cold.proc.exitCode() == Exit.USAGE


def test_a_stop_sent_before_the_job_began_stops_it(qtbot, demo_root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    runner = JobRunner(spare=True)
    runner.prepare_spare()  # still importing when the job and its stop are written
    try:
        with qtbot.waitSignal(runner.finished, timeout=60_000) as blocker:
            job = runner.run(["train", str(demo_root), *FAST, "--epochs", "200", "--out", str(tmp_path), "--events"],
                             "test")
            assert job is not None and job.warm
            job.cancel()
        assert blocker.args[1] == Status.CANCELLED
        assert job.proc.exitCode() == Exit.CANCELLED  # it stopped itself, not killed
    finally:
        runner.shutdown()


def test_a_dead_spare_is_replaced_by_a_cold_start(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    runner = _ready_runner(qtbot)
    runner.spare.kill()
    runner.spare.waitForFinished(5000)
    try:
        job, _, status, message = _run(qtbot, runner, ["runs", str(tmp_path)])
        assert not job.warm and status == Status.DONE, message
    finally:
        runner.shutdown()


def test_a_spare_that_died_unnoticed_is_not_taken(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Killed (out of memory, say) a moment before the click: Qt has not seen its end yet."""
    runner = _ready_runner(qtbot)
    pid = int(runner.spare.processId())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # no event loop: the QProcess still says Running
    try:
        job, _, status, message = _run(qtbot, runner, ["runs", str(tmp_path)])
        assert not job.warm and status == Status.DONE, message
    finally:
        runner.shutdown()


def test_no_spare_starts_beside_a_running_job(qtbot, demo_root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    runner = JobRunner(spare=True)  # its first spare is due in SPARE_DELAY_MS
    try:
        with qtbot.waitSignal(runner.finished, timeout=120_000):
            assert runner.run(["train", str(demo_root), *FAST, "--epochs", "1", "--out", str(tmp_path), "--events"],
                              "test") is not None
            qtbot.wait(jobs.SPARE_DELAY_MS + 200)
            assert runner.busy() and runner.spare is None
        assert runner.spare is not None  # made when the job ended
    finally:
        runner.shutdown()


def test_a_job_beside_the_runner_borrows_the_spare_and_a_new_one_follows(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The Train page's weights-file check runs beside the runner's jobs: it borrows the spare."""
    runner = _ready_runner(qtbot)
    try:
        lent = runner.lend_spare()
        assert lent is not None and runner.spare is None and runner.lend_spare() is None
        check = Job(["runs", str(tmp_path)], "Checking weights", spare=lent)
        with qtbot.waitSignal(check.finished, timeout=60_000) as blocker:
            check.start()
        assert check.warm and blocker.args[0] == Status.DONE, blocker.args[1]
        qtbot.waitUntil(lambda: runner.spare is not None, timeout=5_000)  # made when the borrowed one ended
    finally:
        runner.shutdown()


def test_the_train_pages_weights_check_borrows_the_windows_spare(window) -> None:  # noqa: ANN001
    assert window.train_page.weights.spare_source == window.runner.lend_spare


def test_shutdown_leaves_no_spare_behind(qtbot) -> None:  # noqa: ANN001
    runner = _ready_runner(qtbot)
    pid = int(runner.spare.processId())
    runner.shutdown()
    assert runner.spare is None and not _alive(pid)
    runner.prepare_spare()  # after shutdown: none again
    assert runner.spare is None


@pytest.mark.parametrize(("value", "wanted"), [(None, True), ("1", True), ("0", False), ("off", False)])
def test_the_window_keeps_a_spare_unless_told_not_to(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                                     wanted: bool) -> None:
    if value is None:
        monkeypatch.delenv(jobs.SPARE_ENV, raising=False)
    else:
        monkeypatch.setenv(jobs.SPARE_ENV, value)
    assert jobs.spares_wanted() is wanted


def test_the_window_runner_follows_the_setting(window) -> None:  # noqa: ANN001
    assert window.runner.keep_spare is jobs.spares_wanted() is False  # the tests turn spares off
