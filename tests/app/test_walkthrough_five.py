"""A fifth walkthrough in a real window: a running job showed nowhere (its status-bar label
was 0 px wide), the status bar read "Model export: done — finished", ..."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from trainer.csvfile import Prediction, write_predictions
from trainer.protocol import Status
from vehicleapp.main_window import MainWindow, ended_words


def test_the_running_job_is_named_in_the_status_bar(qtbot: QtBot, window: MainWindow) -> None:
    """For the 10-16 s of an export, nothing on screen said a job was running."""
    window.show_message("Threshold finished.")
    window.runner.started.emit(SimpleNamespace(title="Model export", command="export"))
    text = "● Model export running"
    qtbot.waitUntil(lambda: window.job_label.width() >= window.job_label.fontMetrics().horizontalAdvance(text))
    assert window.job_label.shown_text() == text and window.job_label.isVisible()
    assert window.message.text() == ""  # the last job's line is gone
    window.runner.finished.emit(SimpleNamespace(title="Model export", command="export"), Status.DONE, "finished")
    assert window.message.text() == "Model export finished." and window.job_label.text() == ""


def test_an_ended_job_reads_as_words() -> None:
    assert ended_words("Evaluation", Status.DONE, "finished") == "Evaluation finished."
    assert ended_words("Training", Status.CANCELLED, "stopped; the last checkpoint was kept") == \
        "Training stopped; the last checkpoint was kept."
    assert ended_words("Classification", Status.CANCELLED, "stopped") == "Classification stopped."
    assert ended_words("Classification", Status.FAILED, "folder not found: /x") == \
        "Classification failed: folder not found: /x"


def test_trying_a_file_that_is_no_photo_says_so_everywhere(window: MainWindow, tmp_path: Path) -> None:
    """Was: the line above stayed "Classifying notes.jpg…", the chart was a bare axis, and
    Why? made a job that showed nothing."""
    page = window.classify_page
    photo = tmp_path / "notes.jpg"
    photo.write_text("not a photo")
    work = tmp_path / "work"
    work.mkdir()
    write_predictions(work / "prediction.csv", ["car", "truck"],
                      [Prediction("notes.jpg", error="not a recognised image format")])
    page.try_path = photo
    page.status.setText("Classifying notes.jpg…")
    page._show_try(work)
    assert page.status.text() == "notes.jpg cannot be read: not a recognised image format"
    assert "cannot be read: not a recognised image format" in page.try_result.text()
    texts = [t.get_text().replace("\n", " ") for ax in page.try_chart.figure.axes for t in ax.texts]
    assert texts == ["No probabilities: the photo could not be read"]
    assert not page.why_button.isEnabled()


def test_a_short_preview_shrinks_its_image_rather_than_draw_the_caption_over_it(qtbot: QtBot,
                                                                                 window: MainWindow) -> None:
    """Review at 800x560: the file's name, size and folder were drawn over the photo."""
    window.resize(800, 560)
    window.tabs.setCurrentWidget(window.review_page)
    preview = window.review_page.preview
    preview.info.setText("<b>car767.jpg</b><br>6.6 KB · 100 × 100 px<br>/tmp/walk/photos/car")
    window.review_page.detail.setText("<b>car/car767.jpg</b> (train)<br>labeled <b>car</b>, the model says "
                                      "<b>truck</b> (label score 0.04)<br>car 4% · motorcycle 0% · truck 96%")
    for b in (window.review_page.accept_button, window.review_page.dismiss_button, window.review_page.why_button):
        b.show()
    qtbot.waitUntil(lambda: window.size().height() == 560)
    QApplication.processEvents()
    assert preview.info.geometry().top() >= preview.image.geometry().bottom()
    assert preview.rect().contains(preview.info.geometry())


def test_export_and_copy_need_rows_shown_and_a_filtered_export_says_so(window: MainWindow, tmp_path: Path) -> None:
    """Was: Export CSV… on an empty table wrote a header-only file, and a filtered export wrote
    only the rows shown with nothing saying so."""
    page = window.classify_page
    assert not page.export_button.isEnabled() and not page.copy_button.isEnabled()  # no results yet
    csv = tmp_path / "p.csv"
    write_predictions(csv, ["car", "truck"], [Prediction("a.jpg", "car", 0.9, [0.9, 0.1]),
                                              Prediction("b.jpg", "truck", 0.8, [0.2, 0.8]),
                                              Prediction("c.jpg", "car", 0.7, [0.7, 0.3])])
    page.load_results(tmp_path, csv)
    assert page.export_button.isEnabled() and page.copy_button.isEnabled()
    page.label_filter.setCurrentIndex(page.label_filter.findData("truck"))
    page.export_csv(str(tmp_path / "shown.csv"))
    assert page.status.text() == f"Exported 1 row (the rows shown: 1 of 3) to {tmp_path / 'shown.csv'}"
    page.min_conf.setValue(95)
    assert page.proxy.rowCount() == 0
    assert not page.export_button.isEnabled() and not page.copy_button.isEnabled()


def test_a_finished_run_reads_as_a_sentence_in_the_train_log(window: MainWindow) -> None:
    """Was: "done: finished: best val acc 98.5%; temperature 0.417; unknown below confidence 0.250 (knn; …)"."""
    page = window.train_page
    page.job = SimpleNamespace(command="train", status="done")
    page._on_event({"event": "done", "message": "finished: best val acc 98.5%; temperature 0.417",
                    "best_val_acc": 0.985, "test_acc": None, "trust": {"threshold": 0.25, "val_coverage": 0.96}})
    assert page.log.toPlainText().splitlines()[-1] == (
        'Finished: at its best it got 98.5% of the validation photos right. It answers "unknown" when it is '
        'less than 25% sure; that left 96% of the validation photos answered.')
    page._on_event({"event": "done", "message": "finished", "best_val_acc": 0.9, "test_acc": 0.8,
                    "trust": {"threshold": 0.0}})
    assert page.log.toPlainText().splitlines()[-1] == (
        "Finished: at its best it got 90.0% of the validation photos right (80.0% of the test photos).")


def test_every_tour_step_fits_the_tour_dialog(qtbot: QtBot, styled: None, window: MainWindow) -> None:
    """Step 3 (Train) lost its first and last lines: the dialog kept step 1's size (measured
    in the default font, not the style sheet's larger one)."""
    from vehicleapp.help import TOUR

    tour = window.show_tour()
    qtbot.waitExposed(tour)
    for step in range(len(TOUR)):
        tour.go(step)
        QApplication.processEvents()
        assert tour.text.height() >= tour.text.heightForWidth(tour.text.width()), TOUR[step][0]
    assert "Start training" in dict(TOUR)["Train"]
    tour.close()


class _FakeTrainJob(QObject):
    event = Signal(dict)
    title, command = "Training", "train"


def test_the_runs_page_follows_a_running_run(window: MainWindow, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: "running · Epochs 1" on the Runs page until F5, while the run was at epoch 4."""
    from tests.app.test_new_user_fixes import fake_run
    from trainer.runs import write_metrics
    from vehicleapp import main_window
    from vehicleapp.models.runs_model import COLUMNS

    monkeypatch.setattr(main_window, "RUNS_FOLLOW_S", 0.0)
    assert window.runs.runs_dir is not None
    run = fake_run(window.runs.runs_dir, "20261130-060848", tmp_path, 1, 0.7)
    window.runs.refresh()
    window.tabs.setCurrentWidget(window.runs_page)
    job = _FakeTrainJob()
    window.runner.started.emit(job)
    write_metrics(run, [{"epoch": e, "train_loss": 1.0, "train_acc": 0.7, "val_loss": 0.9, "val_acc": 0.7}
                        for e in range(1, 5)])
    epochs = window.runs.model.index(0, COLUMNS.index("Epochs"))
    assert window.runs.model.data(epochs) == "1"
    resets: list[int] = []
    window.runs.model.modelReset.connect(lambda: resets.append(1))
    job.event.emit({"event": "start", "epochs": 15, "run_dir": str(run)})  # a run's every event names it
    job.event.emit({"event": "epoch", "epochs": 15, "metrics": {"epoch": 4}, "run_dir": str(run)})
    assert window.runs.model.data(window.runs.model.index(0, COLUMNS.index("Epochs"))) == "4"
    assert resets == []  # the row changed in place: no reset, so no redraw of the chosen runs' curves


def test_the_scores_are_in_sight_in_a_1024_px_window(qtbot: QtBot, styled: None, window: MainWindow,
                                                     tmp_path: Path) -> None:
    """Best val acc, Test acc, Duration and Date sat past a horizontal scroll bar at 1024 px."""
    from tests.app.test_new_user_fixes import fake_run
    from vehicleapp.models.runs_model import COLUMNS

    assert window.runs.runs_dir is not None
    run = fake_run(window.runs.runs_dir, "20261130-060848", tmp_path / "a-dataset-with-a-long-name", 15, 0.97)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    config["weights"] = {"mobilenet_v2": "/home/me/weights/mobilenet_v2-keras-imagenet-features-2026.pth"}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    window.runs.refresh()
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(window.runs_page)
    qtbot.waitUntil(lambda: window.width() == 1024)
    QApplication.processEvents()
    table = window.runs_page.table
    for name in ("Model", "Status", "Best val acc", "Test acc", "Epochs"):
        col = COLUMNS.index(name)
        assert table.columnViewportPosition(col) + table.columnWidth(col) <= table.viewport().width(), name


def test_the_confusion_title_tells_look_alike_runs_apart(window: MainWindow, tmp_path: Path) -> None:
    """Two runs, both "mobilenet_v2 lr=0.001 · val": their matrices had the same title."""
    from tests.app.test_walkthrough_fixes import _two_runs

    a, _ = _two_runs(window, tmp_path)
    window.tabs.setCurrentWidget(window.runs_page)
    rp = window.runs_page
    row = next(r for r in range(rp.proxy.rowCount())
               if rp.model.run_at(rp.proxy.mapToSource(rp.proxy.index(r, 0)).row()).path == a)
    rp.table.selectRow(row)
    title = rp.confusion.figure.axes[0].get_title().replace("\n", " ")
    assert title == "mobilenet_v2 lr=0.001 · 11-30 06:08 · val · acc 66.7%"


def test_the_shortcut_list_names_every_page_key(window: MainWindow) -> None:
    """F1 left out Review's Enter and X, and Labeling's Enter."""
    from vehicleapp.help import shortcut_rows

    rows = dict(shortcut_rows(window.actions()))
    assert "Review" in rows["Enter"] and "Labeling" in rows["Enter"] and "Review" in rows["X"]
    bound = {s.key().toString() for page in (window.review_page, window.label_page) for s in page.keys.shortcuts}
    assert {"Return", "X"} <= bound  # the keys listed are the keys bound


def test_the_settings_are_locked_while_their_job_runs(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting stayed editable during a run, which it did not change."""
    from tests.app.test_new_user_gui import _start_training
    from tests.app.test_search_app import _finish

    tp, job = _start_training(window, monkeypatch)
    assert not tp.settings_box.isEnabled() and not tp.lr.isEnabled()
    assert tp.settings_box.title() == "Settings (this run's; editable when it ends)"
    _finish(window, job, Status.DONE, "finished")
    assert tp.settings_box.isEnabled() and tp.settings_box.title() == "Settings"


def test_a_phase_eta_is_timed_by_its_own_pace(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calibrating read "1/2 · ETA 1:59" and took 20 s: it was timed from the run's start."""
    from vehicleapp.pages import train_page

    clock = [1000.0]
    monkeypatch.setattr(train_page.time, "monotonic", lambda: clock[0])
    page = window.train_page
    page.job = SimpleNamespace(command="train", status=None)
    page._on_event({"event": "start", "model": "mobilenet_v2", "device": "cpu", "epochs": 2, "counts": {}})
    clock[0] += 120  # two minutes of training
    page._on_event({"event": "progress", "phase": "calibrate", "done": 1, "total": 2})
    assert page.status.text().endswith("1/2 · ETA …")
    clock[0] += 3
    page._on_event({"event": "progress", "phase": "features", "done": 1, "total": 10})
    clock[0] += 2
    page._on_event({"event": "progress", "phase": "features", "done": 3, "total": 10})
    assert page.status.text().endswith("3/10 · ETA 0:07")  # 1 s an item, 7 to go


def test_the_preview_picture_is_refitted_when_its_caption_grows(qtbot: QtBot, window: MainWindow) -> None:
    """Labeling at 800x560: a 100x100 photo showed 286x253, cut at top and bottom: it was fitted
    before the three-line caption under it took its room."""
    from PySide6.QtGui import QColor, QImage

    window.resize(800, 560)
    window.tabs.setCurrentWidget(window.label_page)
    qtbot.waitUntil(lambda: window.height() == 560)
    preview = window.label_page.preview
    image = QImage(100, 100, QImage.Format.Format_RGB888)
    image.fill(QColor("gray"))
    preview._current = "x.jpg"
    preview.info.setText("")
    preview._on_loaded("x.jpg", (image, "<b>car119.jpg</b><br>5.1 KB · 100 × 100 px<br>/tmp/me/photos/car"))
    QApplication.processEvents()
    shown = preview.image.pixmap()
    side = shown.deviceIndependentSize()
    assert side.width() == side.height() <= preview.image.height()  # square, and whole


def test_review_without_a_run_says_to_train_one(qtbot: QtBot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    """Was: "Open a dataset and pick a trained run first." with a dataset open."""
    from tests.app.conftest import open_folder

    open_folder(qtbot, window, answers, demo_copy)
    page = window.review_page
    assert page.run_combo.count() == 0 and page.start() is None
    assert page.status.text() == f"Train a model on {demo_copy.name} (Train page), then review."


def test_the_leaderboard_shows_whole_step_names_when_there_is_room_and_the_pick(qtbot: QtBot) -> None:
    """At 1280 px: "ensemble o…e best two" beside a half-empty Method column; with 6 steps in a
    5-row table the pick could sit out of sight."""
    from vehicleapp.widgets.leaderboard import Leaderboard

    board = Leaderboard()
    qtbot.addWidget(board)
    board.resize(770, 170)
    board.show()
    qtbot.waitExposed(board)
    rows = [{"name": f"step {i}", "method": "frozen head, 224 px", "val_acc": 0.9, "status": "done",
             "run_dir": f"/runs/{i}"} for i in range(8)]
    rows[6]["name"] = "ensemble of the best two"
    board.show_rows(rows, winner="/runs/7")
    QApplication.processEvents()
    table = board.table
    step = table.horizontalHeader().sectionSize(0)
    assert step >= table.fontMetrics().horizontalAdvance("ensemble of the best two")  # whole
    qtbot.waitUntil(lambda: table.viewport().rect().contains(table.visualItemRect(table.item(7, 0))))  # in sight


def test_validation_share_is_off_for_a_dataset_with_its_own_val_split(window: MainWindow) -> None:
    """It stayed editable on a train/valid/test export, its tooltip admitting it was ignored."""
    tp = window.train_page
    tp.set_dataset("/kaggle", {"car": 8, "truck": 8}, own_val=True)
    assert not tp.val.isEnabled() and "own validation folder" in tp.val.toolTip()
    tp.set_dataset("/folders", {"car": 8, "truck": 8})
    assert tp.val.isEnabled()


def test_an_export_with_a_valid_folder_turns_validation_share_off(qtbot: QtBot, window: MainWindow, answers,  # noqa: ANN001
                                                                   demo_root: Path, tmp_path: Path) -> None:
    import shutil

    from tests.app.conftest import open_folder

    kaggle = tmp_path / "kaggle"
    for split, cls in (("train", "car"), ("train", "truck"), ("valid", "car"), ("valid", "truck")):
        shutil.copytree(demo_root / cls, kaggle / split / cls)
    open_folder(qtbot, window, answers, kaggle)
    assert not window.train_page.val.isEnabled()


def test_the_train_page_counts_the_photos_training_will_use(qtbot: QtBot, window: MainWindow, answers,  # noqa: ANN001
                                                             demo_copy: Path) -> None:
    """A 0-byte .jpg made it "301 labeled photos" on the Train page; training used 300."""
    from tests.app.conftest import open_folder

    (demo_copy / "car" / "empty.jpg").write_bytes(b"")
    usable = sum(1 for p in demo_copy.glob("*/*.jpg")) - 1
    with qtbot.waitSignal(window.state.problems, timeout=20_000):
        open_folder(qtbot, window, answers, demo_copy)
    assert window.train_page.data_label.text().endswith(f"({usable} labeled photos)")


def test_the_dataset_count_is_whole_at_the_minimum_size(qtbot: QtBot, styled: None, window: MainWindow,
                                                        answers, demo_root: Path) -> None:  # noqa: ANN001
    """At 800x560 it read "300 o…"."""
    from tests.app.conftest import open_folder

    open_folder(qtbot, window, answers, demo_root)
    window.resize(800, 560)
    qtbot.waitUntil(lambda: window.width() == 800)
    QApplication.processEvents()
    label = window.dataset_page.count_label
    assert label.text().endswith(" files")
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())


def test_a_verdict_never_puts_a_confidence_beside_a_different_bar() -> None:
    """Was: "99.2% sure" beside a probability bar at 100.0% (the photo's familiarity had lowered
    the confidence a little, too little to say so), which read as a mistake."""
    from vehicleapp.models.predictions import verdict_html, verdict_line

    classes = ["car", "motorcycle", "truck"]
    near = verdict_html("t.jpg", Prediction("t.jpg", "truck", 0.992, [0.0, 0.0, 1.0]), classes)
    assert "is a <b>truck</b> (100.0% likely; trusted at 99.2%)" in near
    line = verdict_line("t.jpg", Prediction("t.jpg", "truck", 0.992, [0.0, 0.0, 1.0]), classes)
    assert line == "t.jpg: truck (100.0% likely; trusted at 99.2%)"  # the status line above the panel too
    same = verdict_html("t.jpg", Prediction("t.jpg", "truck", 0.97, [0.01, 0.02, 0.97]), classes)
    assert "is a <b>truck</b> (97.0% sure)" in same


def test_an_unknown_answer_says_how_sure_the_run_must_be(window: MainWindow, demo_root: Path, tmp_path: Path) -> None:
    """Was: "its best guess, car, is only 79% likely", in the try panel and a table row's tooltip,
    with nothing saying how likely is enough."""
    from tests.app.test_new_user_fixes import _try_result, fake_run
    from trainer import runs as runs_io
    from trainer.protocol import UNKNOWN
    from vehicleapp.models.predictions import unknown_reason

    run = fake_run(window.runs.runs_dir, "20261130-090000", demo_root, 3, 0.9)
    config = json.loads((run / runs_io.CONFIG).read_text(encoding="utf-8"))
    config["trust"] = {"threshold": 0.85, "val_coverage": 0.9}
    (run / runs_io.CONFIG).write_text(json.dumps(config), encoding="utf-8")
    window.runs.refresh()
    page = window.classify_page
    assert page.run_combo.currentData() == str(run)
    torn = Prediction("t.jpg", UNKNOWN, 0.79, [0.79, 0.2, 0.01])
    expected = "its best guess, car, is only 79% likely, below the 85% it needs to answer."
    assert expected in _try_result(window, tmp_path, "t.jpg", torn)
    csv = tmp_path / "p.csv"
    write_predictions(csv, ["car", "motorcycle", "truck"], [torn])
    page.load_results(tmp_path, csv)
    tip = page.model.data(page.model.index(0, 2), Qt.ItemDataRole.ToolTipRole)
    assert expected in tip
    assert unknown_reason(torn, ["car", "motorcycle", "truck"]).endswith("is only 79% likely.")  # a model file: no run


def test_the_recent_button_is_as_tall_as_its_neighbours_and_its_arrow_has_room(window: MainWindow) -> None:
    """Was: a tool button, shorter than Open folder… beside it, its menu arrow drawn over the "t"."""
    page = window.dataset_page
    recent, opener = page.recent_button, page.open_button
    assert recent.sizeHint().height() == opener.sizeHint().height()
    text = recent.fontMetrics().horizontalAdvance(recent.text())
    assert recent.sizeHint().width() > text + 2 * 12 + 8  # the style sheet's padding, and the arrow beside the text


def test_a_result_rows_photo_opens_in_the_panel_and_can_be_asked_why(qtbot: QtBot, window: MainWindow,
                                                                     tmp_path: Path) -> None:
    """Was: Why? explained only a photo tried on its own; a row of a folder's results (the photo
    a user doubts) could not be asked."""
    from PIL import Image

    page = window.classify_page
    window.show()
    window.tabs.setCurrentWidget(page)
    folder = tmp_path / "folder"
    (folder / "a").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(folder / "a" / "t.jpg")
    (folder / "b.jpg").write_text("not a photo")
    csv = tmp_path / "p.csv"
    write_predictions(csv, ["car", "motorcycle", "truck"],
                      [Prediction("a/t.jpg", "truck", 0.97, [0.01, 0.02, 0.97]),
                       Prediction("b.jpg", error="not a recognised image format")])
    page.load_results(folder, csv)
    page.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # the table's rows no longer in the CSV's order
    assert page.try_panel.isHidden()
    rect = page.table.visualRect(page.proxy.index(1, 1))  # a/t.jpg, second after sorting
    for click in (qtbot.mouseClick, qtbot.mouseDClick):  # a double-click: its first press, then its second
        click(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not page.try_panel.isHidden() and page.try_path == folder / "a" / "t.jpg"
    assert "is a <b>truck</b> (97.0% sure)" in page.try_result.text()
    assert page.status.text() == "t.jpg: truck (97.0% sure)"
    assert page.why_button.isEnabled() and page.why_button.image_of() == folder / "a" / "t.jpg"
    page.why_button.photo = folder / "b.jpg"  # a heatmap asked for before: it must not cover this photo
    page._show_heatmap(tmp_path / "b.png")
    assert page.heatmap is None
    page.table.setFocus()
    page.table.setCurrentIndex(page.proxy.index(0, 1))  # b.jpg, by the keyboard: Enter opens it
    qtbot.waitUntil(page.table.hasFocus)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert "cannot be read: not a recognised image format" in page.try_result.text()
    assert not page.why_button.isEnabled()


def test_enter_in_the_folder_field_starts_classifying(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a typed folder and Enter did nothing; only the Classify button started the job."""
    page = window.classify_page
    page.run_combo.addItem("a run", str(tmp_path / "run"))
    page.run_combo.setCurrentIndex(page.run_combo.count() - 1)
    asked: list[list[str]] = []
    monkeypatch.setattr(page.runner, "run", lambda args, title: asked.append(args))  # returns None: "busy"
    window.show()
    window.tabs.setCurrentWidget(page)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts are live: none of them may take this Enter
    page.folder.setText(str(tmp_path))
    page.folder.setFocus()
    qtbot.keyClick(page.folder, Qt.Key.Key_Return)
    assert asked and asked[0][0] == "classify" and str(tmp_path) in asked[0]
    assert page.status.text() == "Another job is running; stop it first."


def test_clicking_why_leaves_the_keyboard_in_the_results(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: Why? took the focus, then turned itself off while it worked, which passed the focus
    on to the label filter: the next arrow key filtered the table instead of moving down it."""
    page = window.classify_page
    window.show()
    window.activateWindow()
    window.tabs.setCurrentWidget(page)
    page.try_panel.setVisible(True)
    page.try_path, page._try_run = tmp_path / "t.jpg", str(tmp_path / "run")
    page.why_button.update_state()
    monkeypatch.setattr(window.runner, "run", lambda args, title: SimpleNamespace(args=args))  # a job started
    page.table.setFocus()
    qtbot.waitUntil(page.table.hasFocus)
    assert page.why_button.isEnabled()
    qtbot.mouseClick(page.why_button, Qt.MouseButton.LeftButton)
    assert not page.why_button.isEnabled()  # working: it turned itself off
    assert page.table.hasFocus()


def test_the_model_stays_while_a_job_classifies_with_it(window: MainWindow, demo_root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the model menu could change during a folder's classification (by hand, or a refresh
    that found a better run); its results then came in under the other model's name, and a row's
    verdict and heatmap used the other model."""
    from tests.app.test_new_user_fixes import fake_run

    first = fake_run(window.runs.runs_dir, "20261130-090000", demo_root, 3, 0.9)
    window.runs.refresh()
    page = window.classify_page
    assert page.run_combo.currentData() == str(first)
    job = SimpleNamespace(event=SimpleNamespace(connect=lambda f: None), args=[], title="Classification",
                          command="classify")
    monkeypatch.setattr(window.runner, "run", lambda args, title: job)
    page.folder.setText(str(tmp_path))
    assert page.start() is job
    assert not page.run_combo.isEnabled() and not page.file_button.isEnabled()
    assert page.run_combo.toolTip().startswith("The model a job is classifying with")
    better = fake_run(window.runs.runs_dir, "20261130-100000", demo_root, 3, 0.99)
    window.runs.refresh()  # a better run appears meanwhile (F5, another page, the CLI)
    assert page.run_combo.currentData() == str(first)  # the job's model stays chosen
    window.runner.finished.emit(job, Status.CANCELLED, "stopped")
    assert page.run_combo.isEnabled() and page.file_button.isEnabled()
    assert page.run_combo.toolTip().startswith("The trained model to use")
    assert page.run_combo.currentData() == str(better)  # caught up with after the job


def test_a_job_that_cannot_start_unlocks_the_page(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that fails to start may say so inside start() (Windows does): the page, which
    did not have the job yet, ignored its end and kept its buttons and model locked."""
    from PySide6.QtCore import QProcess

    from vehicleapp import jobs

    failed = QProcess.ProcessError.FailedToStart
    monkeypatch.setattr(window.runner, "_take_spare", lambda: None)  # a cold start
    monkeypatch.setattr(jobs.Job, "start", lambda self: self.proc.errorOccurred.emit(failed))
    page = window.classify_page
    page.run_combo.addItem("a run", str(tmp_path / "run"))
    page.run_combo.setCurrentIndex(page.run_combo.count() - 1)
    page.folder.setText(str(tmp_path))
    with qtbot.waitSignal(window.runner.finished, timeout=5000):
        assert page.start() is not None
    assert page.run_combo.isEnabled() and page.classify_button.isEnabled() and not page.stop_button.isEnabled()
    assert page.status.text().startswith("Failed: could not start the trainer")


def test_a_tried_photos_answer_is_shown_for_it_even_if_a_row_was_opened_meanwhile(
        window: MainWindow, demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a row opened while a tried photo was being classified got the photo's answer."""
    from tests.app.test_new_user_fixes import fake_run

    run = fake_run(window.runs.runs_dir, "20261130-090000", demo_root, 3, 0.9)
    window.runs.refresh()
    page = window.classify_page
    assert page.run_combo.currentData() == str(run)
    csv = tmp_path / "p.csv"
    write_predictions(csv, ["car", "truck"], [Prediction("a.jpg", "truck", 0.9, [0.1, 0.9])])
    page.load_results(tmp_path, csv)
    job = SimpleNamespace(args=[], title="Trying a photo", command="classify")
    monkeypatch.setattr(window.runner, "run", lambda args, title: job)
    photo = demo_root / "car" / "car_0002.jpg"
    page.try_photo(photo)
    work = tmp_path / "work"
    work.mkdir()
    job.args = ["classify", "RUN", str(work)]
    write_predictions(work / "prediction.csv", ["car", "truck"], [Prediction("car_0002.jpg", "car", 0.8, [0.8, 0.2])])
    page.show_row(page.proxy.index(0, 1))  # opened while the photo was being classified
    window.runner.finished.emit(job, Status.DONE, "finished")
    assert page.try_path == photo and page.status.text() == "car_0002.jpg: car (80.0% sure)"
