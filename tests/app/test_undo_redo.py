"""Undo and redo of labeling steps from the keyboard, and a bulk step as one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import open_folder
from vehicleapp.main_window import MainWindow

CTRL = Qt.KeyboardModifier.ControlModifier


def test_ctrl_z_undoes_and_ctrl_shift_z_redoes(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                              demo_copy: Path) -> None:
    open_folder(qtbot, window, answers, demo_copy)
    image = demo_copy / "car" / "car_0000.jpg"
    assert window.state.assign(image, "truck")
    moved = demo_copy / "truck" / "car_0000.jpg"
    assert moved.exists()
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert image.exists() and not moved.exists()
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert moved.exists() and not image.exists()
    entry = next(e for e in window.state.entries if e.path == moved)
    assert entry.label == "truck"


def test_a_bulk_assignment_is_one_undo(qtbot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    open_folder(qtbot, window, answers, demo_copy)
    images = sorted((demo_copy / "car").glob("*.jpg"))[:4]
    assert window.state.assign_many(images, "motorcycle")
    assert sum(e.label == "motorcycle" for e in window.state.entries) == 16
    assert window.state.undo()
    assert all(p.exists() for p in images)
    assert sum(e.label == "car" for e in window.state.entries) == 12


def test_suggestions_order_the_queue_and_accept_in_bulk(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                        demo_copy: Path, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import quiet_events
    from trainer.config import TrainConfig
    from trainer.engine import train

    (demo_copy / "unlabeled").mkdir()
    for i in range(3):
        shutil.move(demo_copy / "truck" / f"truck_000{i}.jpg", demo_copy / "unlabeled" / f"u{i}.jpg")
    train(TrainConfig(data=str(demo_copy), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    open_folder(qtbot, window, answers, demo_copy)
    page, bar = window.label_page, window.label_page.suggestions
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        assert bar.start() is not None
    assert blocker.args[1] == "done" and len(bar.suggested) == 3
    bar.order.setCurrentIndex(bar.order.findData("least"))
    confidences = [bar.suggestion(p)[1] for p in page.queue]
    assert confidences == sorted(confidences)
    window.tabs.setCurrentWidget(page)
    first, (label, _) = page.queue[0], bar.suggestion(page.queue[0])
    qtbot.keyClick(page, Qt.Key.Key_Return)  # Enter accepts the suggestion
    assert not first.exists() and (demo_copy / label / first.name).exists() and len(page.queue) == 2
    assert bar.status.text() == "2 suggestions" and bar.accept_button.isEnabled()  # the used one is gone
    page.accept_all(0.0)  # the rest, as one step
    assert not any(e.label is None for e in window.state.entries)
    assert bar.status.text() == "Every suggestion is used." and not bar.accept_button.isEnabled()
    assert window.state.undo()  # one undo takes back the bulk step, not the first accept
    assert len(window.state.unlabeled()) == 2
    assert bar.status.text() == "2 suggestions" and all(bar.suggestion(p) for p in page.queue)  # back with them


def test_undo_on_the_all_images_queue_shows_the_photo_it_put_back(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                 demo_copy: Path) -> None:
    """Was: the queue stayed on the next photo, so the photo just put back was out of sight."""
    from vehicleapp.pages.label_page import ALL_QUEUE

    open_folder(qtbot, window, answers, demo_copy)
    page = window.label_page
    window.tabs.setCurrentWidget(page)
    page.mode.setCurrentIndex(page.mode.findData(ALL_QUEUE))
    page.step(3)
    photo = page.current_path()
    assert photo is not None and photo.parent.name == "car"
    page.assign("truck")
    assert page.current_path() != demo_copy / "truck" / photo.name  # on to the next photo
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert photo.is_file() and page.current_path() == photo
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert page.current_path() == demo_copy / "truck" / photo.name  # the redo, in sight too


def test_suggest_with_nothing_unlabeled_says_so_without_a_job(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                              demo_copy: Path) -> None:
    """Was: a classify job ran, then said "0 suggestions"."""
    open_folder(qtbot, window, answers, demo_copy)
    bar = window.label_page.suggestions
    assert bar is not None and not window.state.unlabeled()
    bar.run_combo.addItem("a run", "/runs/x")  # a run to suggest with: only the empty queue stops it
    bar.run_combo.setCurrentIndex(bar.run_combo.count() - 1)
    assert bar.start() is None and not window.runner.busy()
    assert bar.status.text() == "Nothing to suggest: every photo has a class."


def test_undo_and_redo_of_a_bulk_step_say_where_the_photos_are(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                demo_copy: Path) -> None:
    """A redo said "redone: 5 images moved back" (it had moved them forward)."""
    open_folder(qtbot, window, answers, demo_copy)
    images = sorted((demo_copy / "car").glob("*.jpg"))[:3]
    assert window.state.assign_many(images, "motorcycle")
    assert window.state.undo() and window.message.text() == "undone: 3 images are in car"
    assert window.state.redo() and window.message.text() == "redone: 3 images are in motorcycle"
