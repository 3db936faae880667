"""The app on a real full disk: a training job on a 5 MB tmpfs fails with the app's own sentence."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from trainer.protocol import DISK_FULL, Status
from vehicleapp.jobs import Job, disk_full_words


def test_a_training_job_on_a_full_disk_says_so_in_the_apps_words(qtbot: QtBot, demo_root: Path,
                                                                 tiny_disk: Path) -> None:
    args = ["train", str(demo_root), "--weights", "none", "--freeze", "--image-size", "48", "--workers", "1",
            "--epochs", "1", "--out", str(tiny_disk / "runs"), "--events"]
    job = Job(args, "train")
    with qtbot.waitSignal(job.finished, timeout=120_000) as blocker:
        job.start()
    status, message = blocker.args
    assert status == Status.FAILED and job.last_error_code == DISK_FULL
    assert message.startswith("The disk is full: ") and "could not be saved in" in message
    assert "It needs " in message and "MB" in message and "the files saved before are unchanged" in message
    assert "Errno" not in message and "Traceback" not in message


def test_disk_full_words_without_sizes() -> None:
    text = disk_full_words({"code": DISK_FULL, "path": "/runs/x/best.pt", "needed": None, "free": None})
    assert text.startswith("The disk is full: best.pt could not be saved in /runs/x. It needs more space")
