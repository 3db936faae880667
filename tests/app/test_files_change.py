"""Images added, deleted or renamed by another program while the app is open: nothing crashes,
the list catches up when the window is activated again."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from vehicleapp.main_window import MainWindow
from vehicleapp.models.thumbnails import PATH_ROLE


def test_changes_made_by_another_program_are_picked_up(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
                                                       demo_copy: Path) -> None:
    open_folder(qtbot, window, answers, demo_copy)
    state, page = window.state, window.dataset_page
    cars = sorted((demo_copy / "car").glob("*.jpg"))
    gone, renamed = cars[0], cars[1]
    said: list[str] = []
    state.message.connect(said.append)

    gone.unlink()  # a file manager deletes one, renames one, a sync client adds one
    renamed.rename(renamed.with_name("renamed.jpg"))
    shutil.copy(cars[2], demo_copy / "truck" / "synced.jpg")

    row = next(r for r in range(page.proxy.rowCount()) if page.proxy.index(r, 0).data(PATH_ROLE) == gone)
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(row, 0),  # the grid still lists it: click it
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.waitUntil(lambda: "cannot show" in page.preview.image.text(), timeout=10_000)
    assert "vanished" in page.preview.image.text()
    with qtbot.waitSignal(state.loaded, timeout=20_000):  # a vanished image refreshes the list by itself
        assert not state.assign(gone, "truck")
    assert any("no longer exists" in m for m in said)
    on_disk = set(demo_copy.rglob("*.jpg"))
    assert {e.path for e in state.entries} == on_disk
    assert page.model.rowCount() == len(on_disk)

    (demo_copy / "truck" / "synced.jpg").unlink()
    with qtbot.waitSignal(state.loaded, timeout=20_000):
        window.on_activated()  # back in the window after the file manager
    assert demo_copy / "truck" / "synced.jpg" not in {e.path for e in state.entries}
    assert all(p.exists() for p in window.label_page.queue)


def test_activation_without_changes_keeps_the_list(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
                                                   demo_copy: Path) -> None:
    open_folder(qtbot, window, answers, demo_copy)
    emitted: list[int] = []
    window.state.loaded.connect(lambda: emitted.append(1))
    window.on_activated()
    qtbot.waitUntil(lambda: not window.state._refreshing, timeout=10_000)
    assert emitted == []  # nothing changed: the grid keeps its selection and scroll position
