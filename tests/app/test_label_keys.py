"""The labeling keys work whichever child of the page has the focus, and only on their own page.

Keys go to the focused widget (``qtbot.keyClick(focused(), …)``), as a real keyboard's do: the bug
these tests guard against only showed when the focus was on a combo box or the tab bar.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QWidget

from tests.app.conftest import open_folder
from vehicleapp import dialogs
from vehicleapp.labeling import class_name_problem
from vehicleapp.main_window import MainWindow
from vehicleapp.models.thumbnails import PATH_ROLE

CTRL = Qt.KeyboardModifier.ControlModifier


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "no widget has the keyboard focus"
    return widget


@pytest.fixture
def unlabeled(qtbot, window: MainWindow, answers, demo_copy: Path) -> Path:  # noqa: ANN001
    """The demo copy, opened, with 3 trucks moved to unlabeled/."""
    unl = demo_copy / "unlabeled"
    unl.mkdir()
    for src in sorted((demo_copy / "truck").glob("*.jpg"))[:3]:
        shutil.move(src, unl / src.name)
    open_folder(qtbot, window, answers, demo_copy)
    qtbot.waitUntil(window.isActiveWindow)
    return unl


def test_number_key_labels_right_after_ctrl_2_with_the_combo_box_focused(
        qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    window.dataset_page.class_filter.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_2, CTRL)
    lp = window.label_page
    assert window.tabs.currentWidget() is lp
    lp.mode.setFocus()  # where a click on the page's first control leaves it
    assert focused() is lp.mode
    first = Path(lp.current_path())
    qtbot.keyClick(focused(), Qt.Key.Key_1)  # 1 = car
    assert (unlabeled.parent / "car" / first.name).is_file()
    assert not first.exists()
    assert len(lp.queue) == 2
    qtbot.keyClick(focused(), Qt.Key.Key_Right)
    assert lp.pos == 1
    qtbot.keyClick(focused(), Qt.Key.Key_Left)
    assert lp.pos == 0
    assert lp.mode.currentData() == "unlabeled"  # the arrows navigated, the closed combo box kept its choice


def test_number_key_labels_after_ctrl_2_from_the_tab_bar(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    window.tabs.tabBar().setFocus()  # where the focus is after start-up with a folder argument
    qtbot.keyClick(window, Qt.Key.Key_2, CTRL)
    lp = window.label_page
    assert lp.isAncestorOf(focused()) or focused() is lp, f"focus stayed on {focused()}"
    first = Path(lp.current_path())
    qtbot.keyClick(focused(), Qt.Key.Key_2)  # 2 = motorcycle
    assert (unlabeled.parent / "motorcycle" / first.name).is_file()


def test_an_open_combo_box_popup_keeps_its_keys(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    lp = window.label_page
    window.tabs.setCurrentWidget(lp)
    lp.mode.setFocus()
    lp.mode.showPopup()
    view = lp.mode.view()
    qtbot.waitUntil(view.isVisible)
    view.setCurrentIndex(view.model().index(0, 0))
    assert focused() is view
    qtbot.keyClick(focused(), Qt.Key.Key_Down)
    assert view.currentIndex().row() == 1  # the popup's highlight moved …
    assert lp.pos == 0  # … the image did not
    qtbot.keyClick(focused(), Qt.Key.Key_1)
    assert len(list(unlabeled.iterdir())) == 3  # no image was labeled behind the popup
    lp.mode.hidePopup()


def test_dataset_grid_number_key_with_the_class_filter_focused(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    page = window.dataset_page
    first = page.proxy.index(0, 0)
    original = Path(page.model.entries[0].path)
    page.grid.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    page.class_filter.setFocus()
    assert focused() is page.class_filter
    qtbot.keyClick(focused(), Qt.Key.Key_3)  # 3 = truck
    assert (unlabeled.parent / "truck" / original.name).is_file()
    assert page.filter_label() == ""  # the key labeled; it did not pick the "3  truck" filter


def test_dataset_grid_arrows_still_move_the_selection(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    page = window.dataset_page
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(focused(), Qt.Key.Key_Right)
    assert page.grid.currentIndex().row() == 1
    assert page.selected_paths() == [page.proxy.index(1, 0).data(PATH_ROLE)]
    assert window.state.journal.moves() == []


def test_number_keys_do_nothing_on_another_page(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    page = window.dataset_page
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
    before = sorted(p.relative_to(unlabeled.parent) for p in unlabeled.parent.rglob("*.jpg"))
    qtbot.keyClick(window, Qt.Key.Key_3, CTRL)  # the Train page
    assert window.tabs.currentWidget() is window.train_page
    assert window.train_page.isAncestorOf(focused())
    qtbot.keyClick(focused(), Qt.Key.Key_1)
    window.tabs.tabBar().setFocus()
    qtbot.keyClick(focused(), Qt.Key.Key_1)
    assert sorted(p.relative_to(unlabeled.parent) for p in unlabeled.parent.rglob("*.jpg")) == before
    assert window.state.journal.moves() == []


def test_new_class_from_either_page(qtbot, window: MainWindow, answers, unlabeled: Path) -> None:  # noqa: ANN001
    page = window.dataset_page
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
    original = Path(page.selected_paths()[0])
    answers.text = "bus"
    page.keys.new_class()  # what the grid's context menu calls
    assert (unlabeled.parent / "bus" / original.name).is_file()
    lp = window.label_page
    window.tabs.setCurrentWidget(lp)
    current = Path(lp.current_path())
    answers.text = "van"
    lp.new_button.click()
    assert (unlabeled.parent / "van" / current.name).is_file()
    assert {"bus", "van"} <= set(window.state.classes)


def test_a_number_key_without_a_class_says_so(qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    qtbot.keyClick(window, Qt.Key.Key_2, CTRL)
    lp = window.label_page
    first = Path(lp.current_path())
    qtbot.keyClick(focused(), Qt.Key.Key_5)  # the demo has 3 classes
    assert window.message.text() == "no class 5: this dataset has 3 classes (1-3)"
    assert first.is_file() and window.state.journal.moves() == []


def test_a_class_name_with_a_slash_asks_again_with_the_name_as_typed(
        qtbot, window: MainWindow, unlabeled: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    asked: list[tuple[str, str]] = []
    typed = iter(["a/b", "a-b"])

    def ask_text(parent, title: str, label: str, text: str = "") -> str:  # noqa: ANN001
        asked.append((label, text))
        return next(typed)

    monkeypatch.setattr(dialogs, "ask_text", ask_text)
    lp = window.label_page
    window.tabs.setCurrentWidget(lp)
    current = Path(lp.current_path())
    lp.new_button.click()
    assert asked[0] == ("Name of the new class:", "")
    label, text = asked[1]
    assert text == "a/b"  # the name as typed, to correct it
    assert 'cannot contain "/" (a folder separator)' in label and "Windows" not in label
    assert (unlabeled.parent / "a-b" / current.name).is_file() and not (unlabeled.parent / "a").exists()


@pytest.mark.parametrize(("name", "words"), [("a/b", 'cannot contain "/" (a folder separator)'),
                                             ("bus:1", "not allowed on Windows, where this dataset may be opened"),
                                             ("van", None)])
def test_class_name_problems_say_where_a_character_is_refused(name: str, words: str | None) -> None:
    problem = class_name_problem(name)
    assert (problem is None) if words is None else (problem is not None and words in problem)
    if name == "a/b":
        assert "Windows" not in str(problem)


def test_a_selection_moved_by_one_key_is_one_step_that_one_undo_takes_back(
        qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    """A walkthrough moved two selected photos, then one Ctrl+Z put back only one of them."""
    page = window.dataset_page
    page.grid.setFocus()
    rows = [r for r in range(page.proxy.rowCount())
            if Path(page.proxy.index(r, 0).data(PATH_ROLE)).parent.name in ("car", "unlabeled")][:3]
    picked = [Path(page.proxy.index(r, 0).data(PATH_ROLE)) for r in rows]
    selection = page.grid.selectionModel()
    for r in rows:
        selection.select(page.proxy.index(r, 0), QItemSelectionModel.SelectionFlag.Select)
    assert sorted(page.selected_paths()) == sorted(picked)
    qtbot.keyClick(focused(), Qt.Key.Key_2)  # 2 = motorcycle
    assert all((unlabeled.parent / "motorcycle" / p.name).is_file() for p in picked)
    assert len(window.state.journal.history()[0]) == 1  # one step
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert all(p.is_file() for p in picked)  # every one back where it was


def test_a_mixed_selection_moves_only_the_photos_not_yet_in_the_class(
        qtbot, window: MainWindow, unlabeled: Path) -> None:  # noqa: ANN001
    page = window.dataset_page
    trucks = [Path(e.path) for e in page.model.entries if Path(e.path).parent.name == "truck"][:1]
    newcomers = sorted(unlabeled.glob("*.jpg"))[:2]
    assert window.state.assign_many([*trucks, *newcomers], "truck")
    assert trucks[0].is_file() and all((unlabeled.parent / "truck" / p.name).is_file() for p in newcomers)
    assert len(window.state.journal.history()[0]) == 1
