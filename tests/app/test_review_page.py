"""The Review page: a review job fills the grid; Enter, 1-9, X and keep-one fix the data, Ctrl+Z undoes."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import open_folder
from tests.conftest import quiet_events
from trainer.config import TrainConfig
from trainer.csvfile import ReviewRow, write_review
from trainer.engine import train
from vehicleapp.commands import review_output
from vehicleapp.main_window import MainWindow
from vehicleapp.review_marks import ReviewMarks

CLASSES = ["car", "motorcycle", "truck"]


def _row(path: str, given: str, suggested: str, score: float, issue: bool = True, group: int | None = None
         ) -> ReviewRow:
    probs = [0.8 if c == suggested else 0.1 for c in CLASSES]
    return ReviewRow(path, "train", given, suggested, score, issue, group, False, probs)


def _open_review(qtbot, window: MainWindow, answers, data: Path, rows: list[ReviewRow]):  # noqa: ANN001, ANN202
    open_folder(qtbot, window, answers, data)
    out = review_output(window.state.root)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_review(out, CLASSES, rows)
    page = window.review_page
    page.load_review(out)
    window.tabs.setCurrentWidget(page)
    return page


def test_enter_accepts_the_suggestion_and_ctrl_z_brings_it_back(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                demo_copy: Path) -> None:
    shutil.move(demo_copy / "truck" / "truck_0001.jpg", demo_copy / "car" / "truck_0001.jpg")
    rows = [_row("car/truck_0001.jpg", "car", "truck", 0.05), _row("car/car_0002.jpg", "car", "motorcycle", 0.2)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    assert page.proxy.rowCount() == 2 and page.current().row.path == "car/truck_0001.jpg"
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)
    assert (demo_copy / "truck" / "truck_0001.jpg").exists()
    assert page.proxy.rowCount() == 1 and page.current().row.path == "car/car_0002.jpg"  # next suspect
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (demo_copy / "car" / "truck_0001.jpg").exists()
    assert page.proxy.rowCount() == 2  # the undone fix is a suspect again
    qtbot.keyClick(page.grid, Qt.Key.Key_1)  # 1 = car: already its class, nothing moves
    qtbot.keyClick(page.grid, Qt.Key.Key_3)  # 3 = truck
    assert (demo_copy / "truck" / "truck_0001.jpg").exists()


def test_not_an_issue_is_remembered_across_a_restart(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                     demo_copy: Path) -> None:
    rows = [_row("car/car_0002.jpg", "car", "motorcycle", 0.2), _row("car/car_0003.jpg", "car", "truck", 0.3)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_X)
    assert page.proxy.rowCount() == 1
    assert ReviewMarks(demo_copy).is_dismissed("car/car_0002.jpg")  # a fresh reader: it is on disk
    with qtbot.waitSignal(window.state.loaded, timeout=20_000):
        window.open_dataset(str(demo_copy))  # reopen: the review reloads without the dismissed one
    assert page.proxy.rowCount() == 1 and page.current().row.path == "car/car_0003.jpg"


def test_keep_one_puts_the_other_copies_aside_and_undo_restores(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                 demo_copy: Path) -> None:
    shutil.copy(demo_copy / "car" / "car_0004.jpg", demo_copy / "car" / "copy.jpg")
    rows = [_row("car/car_0004.jpg", "car", "car", 0.9, False, 1), _row("car/copy.jpg", "car", "car", 0.9, False, 1)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.kind.setCurrentIndex(page.kind.findData("duplicate"))
    assert page.proxy.rowCount() == 2 and page.group_model.rowCount() == 2
    with qtbot.waitSignal(window.state.loaded, timeout=20_000):  # putting aside rescans the dataset
        page.keep_button.click()
    assert (demo_copy / "_duplicates" / "copy.jpg").exists() and not (demo_copy / "car" / "copy.jpg").exists()
    assert all("_duplicates" not in e.path.parts for e in window.state.entries)
    with qtbot.waitSignal(window.state.loaded, timeout=20_000):
        assert window.state.undo()
    assert (demo_copy / "car" / "copy.jpg").exists()


def test_a_review_job_fills_the_grid_and_the_map(qtbot, window: MainWindow, answers, demo_copy: Path,  # noqa: ANN001
                                                 tmp_path: Path) -> None:
    train(TrainConfig(data=str(demo_copy), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    open_folder(qtbot, window, answers, demo_copy)
    page = window.review_page
    assert page.run_combo.count() == 1
    with qtbot.waitSignal(window.runner.finished, timeout=240_000) as blocker:
        assert page.start() is not None
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert len(page.model.items) == 36 and "likely wrong label" in page.status.text()
    assert len(page.map.paths) == 36
    # the review names its run, also when the dataset is opened again (the box may show another)
    by = f" among 36 images · reviewed by {page.run_combo.itemText(0)}"
    assert page.status.text().endswith(by)
    page.status.setText("")
    page.load_review(review_output(demo_copy))
    assert page.status.text().endswith(by)


def test_a_confusion_cell_opens_its_images_in_the_review_grid(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                              demo_copy: Path) -> None:
    from trainer.evaluate import evaluate_run

    run_dir = train(TrainConfig(data=str(demo_copy), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                                out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    rep = evaluate_run(run_dir, demo_copy, quiet_events(), lambda: False)
    open_folder(qtbot, window, answers, demo_copy)
    window.runs.refresh()
    rp = window.runs_page
    rp.table.selectRow(0)
    r, c = next((r, c) for r, row in enumerate(rep["confusion"]) for c, v in enumerate(row) if v)
    ax = rp.confusion.figure.axes[0]
    x, y = ax.transData.transform((c, r))
    from matplotlib.backend_bases import MouseEvent

    rp.confusion.callbacks.process("button_press_event", MouseEvent("button_press_event", rp.confusion, x, y, 1))
    page = window.review_page
    assert window.tabs.currentWidget() is page
    assert page.proxy.rowCount() == rep["confusion"][r][c]
    shown = page.current()
    assert shown.row.given_label == rep["classes"][r] and shown.row.suggested_label == rep["classes"][c]
    target = 3 if shown.label != "truck" else 1
    qtbot.keyClick(page.grid, getattr(Qt.Key, f"Key_{target}"))  # the same keys fix it
    assert not (demo_copy / shown.row.path).exists()  # moved into the class the key chose


def test_retrain_shows_before_and_after_side_by_side(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                    demo_root: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    rp = window.runs_page
    rp.table.selectRow(0)
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        assert rp.retrain_selected() is not None
    assert blocker.args[1] == "done"
    assert window.runs_page.model.rowCount() == 2
    assert len(rp.selected_runs()) == 2  # before and after, curves overlaid
    assert len({r.config["lr"] for r in rp.selected_runs()}) == 1


def test_why_shows_a_heatmap_made_by_a_background_job(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                      demo_copy: Path) -> None:
    train(TrainConfig(data=str(demo_copy), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    assert not window.review_page.why_button.isEnabled()  # no photo to explain yet: it says so
    assert window.review_page.why_button.toolTip().startswith("Select a photo first")
    page = _open_review(qtbot, window, answers, demo_copy, [_row("car/car_0002.jpg", "car", "truck", 0.2)])
    assert page.run_combo.count() == 1 and page.why_button.isEnabled()
    with qtbot.waitSignal(page.why_button.ready, timeout=120_000) as blocker:
        page.why_button.click()
    png = blocker.args[0]
    assert png.suffix == ".png" and png.stat().st_size > 1000
    assert Path(page.preview.current()) == png  # the heatmap is on show in the preview
    cp = window.classify_page
    with qtbot.waitSignal(window.runner.finished, timeout=120_000):
        cp.try_photo(demo_copy / "truck" / "truck_0001.jpg")
    with qtbot.waitSignal(cp.why_button.ready, timeout=120_000):
        cp.why_button.click()
    assert cp.heatmap is not None and cp.heatmap.name == "truck_0001.png"


def test_not_an_issue_after_a_relabel_applies_to_the_next_image_and_undo_restores(
        qtbot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    shutil.move(demo_copy / "truck" / "truck_0001.jpg", demo_copy / "car" / "truck_0001.jpg")
    # the suggestion is motorcycle, the user knows better: 3 = truck (the row stays a suspect)
    rows = [_row("car/truck_0001.jpg", "car", "motorcycle", 0.05),
            _row("car/car_0002.jpg", "car", "motorcycle", 0.2), _row("car/car_0003.jpg", "car", "truck", 0.3)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_3)  # 3 = truck: the file moves, the next one is current
    assert (demo_copy / "truck" / "truck_0001.jpg").exists()
    selected = page.grid.selectionModel().selectedIndexes()
    assert [i.row() for i in selected] == [page.grid.selectionModel().currentIndex().row()]
    assert page.current().row.path == "car/car_0002.jpg"
    qtbot.keyClick(page.grid, Qt.Key.Key_X)
    marks = ReviewMarks(demo_copy)
    assert marks.is_dismissed("car/car_0002.jpg") and not marks.is_dismissed("car/truck_0001.jpg")
    assert page.proxy.rowCount() == 2 and page.current().row.path == "car/car_0003.jpg"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the mark came last: it goes first
    assert not ReviewMarks(demo_copy).is_dismissed("car/car_0002.jpg") and page.proxy.rowCount() == 3
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # then the relabel
    assert (demo_copy / "car" / "truck_0001.jpg").exists()
    assert page.proxy.rowCount() == 3 and page.current().row.path == "car/truck_0001.jpg"
    assert page.current().label == "car"



def test_a_suspects_caption_keeps_both_class_names_whole(window: MainWindow) -> None:
    """"motorcycle → car · 0.00" was cut to "motorcycle → c…" under a thumbnail: the caption is
    two lines, and the grid has room for both under the thumbnail."""
    from vehicleapp.models.review_model import Suspect

    row = ReviewRow("motorcycle/car127.jpg", "train", "motorcycle", "car", 0.0, True, None, False, [1.0, 0.0])
    assert Suspect(row, Path("motorcycle/car127.jpg"), "motorcycle").caption() == "motorcycle →\ncar · 0.00"
    grid = window.review_page.grid
    assert grid.gridSize().height() - grid.iconSize().height() >= 2 * grid.fontMetrics().lineSpacing()


def test_a_not_an_issue_mark_can_be_taken_back(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                               demo_copy: Path) -> None:
    """X hid a suspect for good; *Marked not an issue* lists the marked ones and X there takes the
    mark back, so a slip of the key is never final."""
    rows = [_row("car/car_0002.jpg", "car", "motorcycle", 0.2), _row("car/car_0003.jpg", "car", "truck", 0.3)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_X)
    page.kind.setCurrentIndex(page.kind.findData("dismissed"))
    assert page.proxy.rowCount() == 1 and page.current().row.path == "car/car_0002.jpg"
    assert page.dismiss_button.text() == "It is an issue after all (X)"
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_X)
    assert page.proxy.rowCount() == 0 and not ReviewMarks(demo_copy).is_dismissed("car/car_0002.jpg")
    page.kind.setCurrentIndex(page.kind.findData("label"))
    assert page.proxy.rowCount() == 2


def test_ctrl_z_takes_back_a_mark_and_moves_in_the_order_they_were_made(qtbot, window: MainWindow,  # noqa: ANN001
                                                                        answers, demo_copy: Path) -> None:  # noqa: ANN001
    """Ctrl+Z after X undid the move before it and left the mark: the undo list was the dataset's
    move journal alone. A mark is now a step too, undone and redone in its place among the moves."""
    rows = [_row("car/car_0002.jpg", "car", "motorcycle", 0.2), _row("car/car_0003.jpg", "car", "truck", 0.3),
            _row("car/car_0004.jpg", "car", "truck", 0.4)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)  # car_0002 → motorcycle (a move)
    qtbot.keyClick(page.grid, Qt.Key.Key_X)  # car_0003: not an issue (a mark)
    assert (demo_copy / "motorcycle" / "car_0002.jpg").exists()
    assert ReviewMarks(demo_copy).is_dismissed("car/car_0003.jpg") and page.proxy.rowCount() == 1

    undo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    redo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window, *undo)
    assert not ReviewMarks(demo_copy).is_dismissed("car/car_0003.jpg")
    assert (demo_copy / "motorcycle" / "car_0002.jpg").exists() and page.proxy.rowCount() == 2
    assert window.message.text() == "undone: car_0003.jpg is a suspect again"
    assert page.current().row.path == "car/car_0003.jpg"  # shown again, ready for another key
    qtbot.keyClick(window, *undo)
    assert (demo_copy / "car" / "car_0002.jpg").exists() and page.proxy.rowCount() == 3

    qtbot.keyClick(window, *redo)  # the move first, then the mark: the order they were made in
    assert (demo_copy / "motorcycle" / "car_0002.jpg").exists()
    assert not ReviewMarks(demo_copy).is_dismissed("car/car_0003.jpg")
    qtbot.keyClick(window, *redo)
    assert ReviewMarks(demo_copy).is_dismissed("car/car_0003.jpg") and page.proxy.rowCount() == 1

    qtbot.keyClick(window, *undo)  # the mark again; then a new move drops it from the redo list
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.proxy.index(page.proxy.rowCount() - 1, 0))
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)  # car_0004 → truck
    qtbot.keyClick(window, *redo)
    assert not ReviewMarks(demo_copy).is_dismissed("car/car_0003.jpg")


def test_a_fix_made_before_the_review_reopened_stays_made(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                          demo_copy: Path) -> None:
    """A suspect relabeled in an earlier session came back as a blank 'file vanished' thumbnail
    when the review reopened, and a move of it no longer reached its row."""
    shutil.move(demo_copy / "truck" / "truck_0001.jpg", demo_copy / "car" / "truck_0001.jpg")
    rows = [_row("car/truck_0001.jpg", "car", "truck", 0.05), _row("car/car_0002.jpg", "car", "motorcycle", 0.2)]
    shutil.move(demo_copy / "car" / "truck_0001.jpg", demo_copy / "truck" / "truck_0001.jpg")  # fixed meanwhile
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    assert page.proxy.rowCount() == 1 and page.current().row.path == "car/car_0002.jpg"  # the fixed one is done
    fixed = next(s for s in page.model.items if s.row.path == "car/truck_0001.jpg")
    assert fixed.path == demo_copy / "truck" / "truck_0001.jpg" and fixed.label == "truck" and fixed.resolved
    assert window.state.assign(fixed.path, "car")  # moved back (the Labeling page, an undo): a suspect again
    assert fixed.path == demo_copy / "car" / "truck_0001.jpg" and fixed.label == "car"
    assert page.proxy.rowCount() == 2


def test_fixing_the_photo_picked_on_the_map_brings_the_list_back(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                 demo_copy: Path) -> None:
    """Was: "All suspects · 0 shown · Nothing to review here" after accepting the one photo picked
    on the map, though other suspects remained (the pick was an invisible filter); hovering a dot
    showed its photo beside the words of the previous one."""
    shutil.move(demo_copy / "truck" / "truck_0001.jpg", demo_copy / "car" / "truck_0001.jpg")
    rows = [_row("car/truck_0001.jpg", "car", "truck", 0.05), _row("car/car_0002.jpg", "car", "motorcycle", 0.2)]
    page = _open_review(qtbot, window, answers, demo_copy, rows)
    page.preview_path(demo_copy / "car" / "car_0002.jpg")  # the mouse over its dot
    assert "car/car_0002.jpg" in page.detail.text() and "click to pick" in page.detail.text()
    page.show_only({demo_copy / "car" / "truck_0001.jpg"})  # picked on the map
    assert page.proxy.rowCount() == 1 and "choose a kind to see all" in page.count.text()
    page.accept()
    assert (demo_copy / "truck" / "truck_0001.jpg").exists()
    assert page.proxy.only is None and page.proxy.rowCount() == 1  # the chosen kind again
    assert page.current().row.path == "car/car_0002.jpg" and page.count.text() == "1 shown"
