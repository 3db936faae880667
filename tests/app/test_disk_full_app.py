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


def test_accept_all_on_a_full_disk_moves_nothing_and_says_why(qtbot: QtBot, window, answers,  # noqa: ANN001
                                                              tiny_disk: Path, demo_root: Path) -> None:
    from tests.app.conftest import open_folder
    from tests.conftest import fill
    from vehicleapp.labeling import JOURNAL

    data = tiny_disk / "data"
    photo = next(demo_root.rglob("*.jpg")).read_bytes()
    for folder, n in (("car", 120), ("truck", 1)):
        (data / folder).mkdir(parents=True)
        for i in range(n):
            (data / folder / f"a-rather-long-photo-name-from-a-phone-{i:04d}.jpg").write_bytes(photo)
    open_folder(qtbot, window, answers, data)
    said: list[str] = []
    window.state.message.connect(said.append)
    cars = sorted((data / "car").glob("*.jpg"))
    assert window.state.assign(cars[0], "truck")  # one step while there is room
    journal = (data / JOURNAL).read_bytes()
    fill(tiny_disk)
    assert not window.state.assign_many(cars[1:], "truck")  # "accept all": a step of 119 moves
    assert all(p.is_file() for p in cars[1:]) and (data / JOURNAL).read_bytes() == journal  # nothing moved
    assert said[-1].startswith("the disk is full: could not write") and JOURNAL in said[-1], said
