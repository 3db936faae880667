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
