"""What a newcomer's walkthrough found (issue 7): each item as a user meets it, offscreen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torchvision
from PySide6.QtCore import QItemSelectionModel, QSettings, Qt
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from tests.conftest import quiet_events
from trainer import hub
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.protocol import Status
from vehicleapp.jobs import Job
from vehicleapp.main_window import MINIMUM_SIZE, PAGES, MainWindow
from vehicleapp.settings import AppSettings


def _offline(window: MainWindow) -> None:
    """No internet and nothing in torch's cache (the tests' TORCH_HOME is empty)."""
    window.train_page.weights._on_online(False)


def _mobilenet_file(tmp_path: Path) -> Path:
    path = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    return path


def _fail(window: MainWindow, message: str, code: str = "") -> Job:
    """A training job that ended with ``message`` (as the runner reports it)."""
    job = Job(["train", "/data", "--events"], "Training")
    job.last_error, job.last_error_code, job.status = message, code, Status.FAILED
    window.train_page.job = job
    window.runner.finished.emit(job, "failed", message)
    return job


# -- 1. long messages ---------------------------------------------------------------------
def test_a_long_error_elides_in_one_line_labels_and_keeps_the_window_width(
        window: MainWindow, answers: DialogRecorder) -> None:
    window.resize(1360, 860)
    long = "no tensor in /very/long/" + "sub-folder/" * 40 + "weights.pth matches the resnet50 backbone"
    _fail(window, long)
    assert window.width() == 1360
    tp = window.train_page
    assert tp.status.text() == f"Failed: {long}"  # the full text: in the tooltip and the log
    assert len(tp.status.shown_text()) < len(tp.status.text()) and tp.status.shown_text().endswith("…")
    assert tp.status.toolTip() == tp.status.text()
    assert window.message.toolTip().endswith(long)
    assert answers.errors == [("Training failed", long)]


def test_a_failed_job_logs_its_error_once(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    tp = window.train_page
    tp.weights.set_mode("none")
    tp.device.setCurrentIndex(tp.device.findData("mps"))  # no Apple GPU here: the job fails at once
    with qtbot.waitSignal(window.runner.finished, timeout=60_000) as blocker:
        tp.start()
    assert blocker.args[1] == "failed"
    lines = [ln for ln in tp.log.toPlainText().splitlines() if "MPS is not available" in ln]
    assert lines == [f"error: {blocker.args[2]}"]


# -- 2. weights state before the start ----------------------------------------------------
def test_weights_state_shows_before_the_start_in_the_apps_words(window: MainWindow, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    chooser = window.train_page.weights
    _offline(window)
    text = chooser.state.text()
    assert "MobileNetV2" in text and "cannot be downloaded (no internet)" in text
    assert "Choose a file…" in text and "--weights" not in text
    chooser._on_online(True)
    assert "will download 14 MB on first use" in chooser.state.text()
    cached = hub.imagenet_path("mobilenet_v2")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"pretend")
    chooser._on_online(False)
    assert "downloaded" in chooser.state.text() and not chooser.problems()
    window.train_page.model.setCurrentIndex(window.train_page.model.findData("ensemble"))
    assert list(chooser.problems()) == ["resnet50"]  # an ensemble needs both backbones' weights


def test_start_offline_offers_a_file_or_a_random_start(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path,
        tmp_path: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    _offline(window)
    tp = window.train_page
    answers.choice = "Cancel"
    assert tp.start() is None
    assert "cannot be downloaded" in answers.choices[0][1] and "--weights" not in answers.choices[0][1]
    answers.choice, answers.open_file = "Choose a file…", str(_mobilenet_file(tmp_path))
    tp.size.setValue(48)
    tp.epochs.setValue(1)
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        assert tp.start() is not None
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert tp.weights.kind() == "file"
    qtbot.waitUntil(lambda: "fits (312 of 312 tensors)" in tp.weights.state.text(), timeout=60_000)


def test_a_weights_failure_offers_the_same_choice_not_flags(window: MainWindow, answers: DialogRecorder) -> None:
    answers.choice = "Train from scratch"
    _fail(window, "ImageNet weights for resnet50 are not in torch's cache and cannot be downloaded (no internet). "
                  "Copy it there, or use --weights PATH for a local state_dict, or --weights none.", "weights")
    title, text = answers.choices[0]
    assert title == "Backbone weights could not be loaded"
    assert "--weights" not in text and "cannot be downloaded (no internet)" in text
    assert window.train_page.weights.kind() == "none"
    assert "--weights" not in window.train_page.status.text()


# -- 3. remembered settings ---------------------------------------------------------------
def test_train_settings_survive_a_restart(qtbot: QtBot, tmp_path: Path, answers: DialogRecorder) -> None:
    ini = str(tmp_path / "settings.ini")
    first = MainWindow(AppSettings(QSettings(ini, QSettings.Format.IniFormat)), runs_dir=str(tmp_path / "runs"))
    qtbot.addWidget(first)
    tp = first.train_page
    tp.model.setCurrentIndex(tp.model.findData("resnet50"))
    tp.weights.set_file("resnet50", str(tmp_path / "r50.pth"))
    tp.weights.set_mode("file")
    tp.epochs.setValue(3)
    tp.size.setValue(96)
    tp.augment.setChecked(True)
    tp.lr.setValue(0.01)
    saved = tp.options()
    first.close()
    second = MainWindow(AppSettings(QSettings(ini, QSettings.Format.IniFormat)), runs_dir=str(tmp_path / "runs"))
    qtbot.addWidget(second)
    again = second.train_page
    assert again.options() == saved
    assert (again.model.currentData(), again.epochs.value(), again.size.value()) == ("resnet50", 3, 96)
    assert again.weights.kind() == "file" and again.weights.file("resnet50") == str(tmp_path / "r50.pth")
    assert again.config().weights == {"resnet50": str(tmp_path / "r50.pth")}


# -- 4. the reference sweep ---------------------------------------------------------------
def test_sweep_asks_first_with_runs_time_and_the_models_it_skips(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        demo_root: Path, tmp_path: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    _offline(window)
    tp = window.train_page
    tp.weights.set_file("mobilenet_v2", str(_mobilenet_file(tmp_path)))
    tp.weights.set_mode("file")
    answers.confirm_answer = False
    assert tp.start_sweep() is None
    text = answers.confirm_texts[0]
    assert text.startswith("4 runs: MobileNetV2 (fast) × learning rates 0.01, 0.001 × batch sizes 4, 8, 15 epochs")
    assert "on 36 photos" in text and "Estimated time: about" in text
    assert ("Skipped: Ensemble (ResNet-50 + MobileNetV2), Regularized ensemble, ResNet-50 — no usable ResNet-50 "
            "weights: its ImageNet weights (98 MB) are not on this computer") in text
    answers.confirm_answer = True
    job = tp.start_sweep()
    assert job is not None
    assert job.args[job.args.index("--models") + 1:job.args.index("--lrs")] == ["mobilenet_v2"]
    assert any(line.startswith("skipped resnet50: ") for line in tp.log.toPlainText().splitlines())
    with qtbot.waitSignal(window.runner.finished, timeout=60_000):
        window.runner.cancel()


def test_a_sweep_with_no_usable_weights_asks_for_a_file_before_anything_starts(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    _offline(window)
    answers.choice = "Cancel"
    assert window.train_page.start_sweep() is None
    assert answers.choices and not answers.confirms
    assert window.runner.job is None


# -- 5. stale preview ---------------------------------------------------------------------
def test_the_preview_follows_a_labeled_image_and_forgets_the_previous_folder(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_copy: Path, tmp_path: Path) -> None:
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    page.grid.setFocus()
    first = page.proxy.index(0, 0)
    page.grid.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    shown = Path(page.preview.current())
    assert shown.parent.name == "car"
    qtbot.keyClick(page.grid, Qt.Key.Key_3)  # to truck: the grid ("All") keeps the row
    assert Path(page.preview.current()) == demo_copy / "truck" / shown.name
    page.show_class("car")
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
    before = Path(page.preview.current())
    qtbot.keyClick(page.grid, Qt.Key.Key_2)  # leaves the "car" view: the next car shows
    assert Path(page.preview.current()).exists() and Path(page.preview.current()) != before
    other = tmp_path / "other"
    shutil.copytree(demo_copy / "motorcycle", other / "motorcycle")
    open_folder(qtbot, window, answers, other)
    assert page.preview.current() == ""


# -- 6. stale and impossible states -------------------------------------------------------
def test_start_is_off_with_the_reason_on_a_folder_without_classes(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        tmp_path: Path, demo_root: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    for src in sorted((demo_root / "car").glob("*.jpg"))[:3]:
        shutil.copy(src, loose / src.name)
    open_folder(qtbot, window, answers, loose)
    tp = window.train_page
    assert not tp.start_button.isEnabled() and not tp.sweep_button.isEnabled()
    assert "No classes in this folder" in tp.blocker.text() and tp.blocker.isVisibleTo(tp)
    open_folder(qtbot, window, answers, demo_root)
    assert tp.start_button.isEnabled() and not tp.blocker.isVisibleTo(tp)


def test_a_new_job_starts_with_an_empty_progress_bar(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    tp = window.train_page
    tp.progress.setRange(0, 30)
    tp.progress.setValue(28)  # where the previous job ended
    tp.weights.set_mode("none")
    tp.size.setValue(48)
    tp.epochs.setValue(1)
    job = tp.start()
    assert (tp.progress.value(), tp.progress.maximum()) == (0, 1)
    assert not tp.progress.isTextVisible()  # no "%v / %m" on top of the fill: the status line says it
    with qtbot.waitSignal(window.runner.finished, timeout=120_000):
        pass
    assert job is not None and job.status == "done"
    assert tp.chart.point_count() == 1
    for key in ("train_acc", "val_acc", "train_loss", "val_loss"):  # one epoch: one visible point each
        line = tp.chart.lines[key]
        assert len(line.get_xdata()) == 1 and line.get_marker() not in ("None", "", None)


def test_empty_charts_show_sensible_axes(window: MainWindow) -> None:
    chart = window.train_page.chart
    chart.reset(15)
    chart._rescale()
    assert chart.ax_acc.get_xlim() == (0.5, 15.5) and chart.ax_loss.get_ylim() == (0, 1)
    curves = window.runs_page.curves
    curves.show_runs([])
    assert [ax.get_xlim() for ax in curves.figure.axes] == [(1, 10), (1, 10)]
    assert all(ax.get_ylim() == (0, 1) for ax in curves.figure.axes)


# -- 7. counts and labels -----------------------------------------------------------------
def test_classify_counts_unreadable_apart_and_a_new_result_resets_every_filter(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path, tmp_path: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    page = window.classify_page
    folder = tmp_path / "inbox"
    shutil.copytree(demo_root / "truck", folder)
    (folder / "junk.jpg").write_bytes(b"junk")
    page.folder.setText(str(folder))
    page.min_conf.setValue(90)
    with qtbot.waitSignal(window.runner.finished, timeout=120_000):
        page.start()
    assert page.status.text().startswith("12 images classified, 1 unreadable")
    assert page.min_conf.value() == 0 and page.label_filter.currentData() == ""
    page.label_filter.setCurrentIndex(page.label_filter.findData("(unreadable)"))
    assert [r.path for r in page.proxy.visible_rows()] == ["junk.jpg"]


def test_a_folder_of_non_images_and_an_empty_folder_say_so(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("a.jpg", "b.png", "c.jpg"):
        (fake / name).write_text("not an image")
    with qtbot.waitSignal(window.state.problems, timeout=30_000):
        open_folder(qtbot, window, answers, fake)
    page = window.dataset_page
    assert "None of the 3 files is a readable image" in page.summary.text()
    assert page.count_label.text() == "3 of 3 files · 3 unreadable"
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(window.state.problems, timeout=30_000):
        open_folder(qtbot, window, answers, empty)
    assert "No images in this folder" in page.summary.text() and "one subfolder per class" in page.summary.text()
    assert page.problems.item(0).text() == "no images here"


# -- 8. read-only datasets ----------------------------------------------------------------
def test_a_read_only_folder_turns_labeling_off_and_says_why(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vehicleapp.dataset_state.is_writable", lambda folder: False)
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    assert "Labeling is off: this folder is read-only" in page.key_hint.text()
    assert "read-only" in window.message.text()
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    before = sorted(p.name for p in (demo_copy / "car").iterdir())
    qtbot.keyClick(page.grid, Qt.Key.Key_3)
    assert sorted(p.name for p in (demo_copy / "car").iterdir()) == before  # nothing moved, no errno message
    lp = window.label_page
    assert not lp.new_button.isEnabled() and "Labeling is off" in lp.key_hint.text()
    assert not window.undo_action.isEnabled()
    assert window.train_page.start_button.isEnabled()  # training (and classifying) still work


def test_is_writable_tries_for_real(tmp_path: Path) -> None:
    from trainer.files import is_writable

    assert is_writable(tmp_path)
    assert not is_writable(tmp_path / "missing")
    assert not list(tmp_path.iterdir())  # the probe file is gone


# -- 9. telling runs apart ----------------------------------------------------------------
def _two_runs_on_two_datasets(window: MainWindow, demo_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    other = tmp_path / "real-photos"
    shutil.copytree(demo_root, other)
    out = str(window.runs.runs_dir)
    a = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, out=out),
              quiet_events(), lambda: False)
    b = train(TrainConfig(data=str(other), weights="none", freeze=True, epochs=2, image_size=64, out=out),
              quiet_events(), lambda: False)
    return a, b


def test_runs_show_dataset_weights_and_size_and_legends_are_unique(window: MainWindow, demo_root: Path,
        tmp_path: Path) -> None:
    _two_runs_on_two_datasets(window, demo_root, tmp_path)
    window.runs.refresh()
    model = window.runs_page.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:2] == ["Model", "Status"] and {"Dataset", "Weights", "Size"} <= set(headers)
    data, weights, size = (headers.index(h) for h in ("Dataset", "Weights", "Size"))
    rows = {model.index(r, data).data(): (model.index(r, weights).data(), model.index(r, size).data())
            for r in range(model.rowCount())}
    assert rows == {"data": ("none", "48 px"), "real-photos": ("none", "64 px")}
    rp = window.runs_page
    rp.table.selectAll()
    (legend,) = rp.curves.figure.legends  # one legend under both plots names each run's colour
    assert legend.get_title().get_text() == "mobilenet_v2 · lr 0.001 · bs 8"
    assert sorted(t.get_text() for t in legend.get_texts()) == ["data", "real-photos", "train", "val"]


def test_classify_marks_stopped_runs_and_picks_the_best_finished_run_on_the_open_dataset(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path, tmp_path: Path) -> None:
    from trainer import runs as runs_io

    a, b = _two_runs_on_two_datasets(window, demo_root, tmp_path)
    runs_io.update_config(b, status="cancelled")
    open_folder(qtbot, window, answers, demo_root)
    window.runs.refresh()
    combo = window.classify_page.run_combo
    assert combo.currentData() == str(a)
    assert "CANCELLED" in combo.itemText(combo.findData(str(b)))
    assert " · data · " in combo.currentText()


# -- 10. small windows --------------------------------------------------------------------
def test_every_page_fits_the_minimum_window_and_it_is_sensible(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    window.resize(640, 420)
    assert (window.width(), window.height()) == MINIMUM_SIZE  # fields never clip below it
    assert MINIMUM_SIZE <= (800, 600)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        hint = window.tabs.widget(i).minimumSizeHint()
        assert hint.width() <= window.tabs.width() and hint.height() <= window.tabs.height(), (i, hint)


def test_charts_shrink_their_text_and_drop_what_cannot_fit(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
        demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    counts = window.dataset_page.counts
    counts.resize(500, 300)
    per_split = {"car": 1000, "motorcycle": 1000, "truck": 1000}
    counts.show_counts({"train": per_split, "val": per_split, "test": per_split})
    assert counts.bar_labels_shown()
    counts.resize(170, 150)
    qtbot.waitUntil(lambda: counts.size_class == 2)
    assert not counts.bar_labels_shown()  # no "100100100"
    window.tabs.setCurrentWidget(window.runs_page)
    confusion = window.runs_page.confusion
    confusion.resize(260, 220)
    qtbot.waitUntil(lambda: confusion.size_class == 2)
    confusion.show_matrix([[3, 1], [0, 4]], ["car", "truck"], "mobilenet_v2 lr=0.001 · val · acc 87.5%")
    title = confusion.figure.axes[0].get_title()
    assert "\n" in title and title.replace("\n", " ") == "mobilenet_v2 lr=0.001 · val · acc 87.5%"
    assert confusion.figure.axes[0].title.get_fontsize() == 8


# -- 11. minor ----------------------------------------------------------------------------
def test_the_unlabeled_filter_text_fits_its_box(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_copy: Path) -> None:
    (demo_copy / "new.jpg").write_bytes((demo_copy / "car" / sorted(p.name for p in (demo_copy / "car").iterdir())[0])
                                        .read_bytes())
    open_folder(qtbot, window, answers, demo_copy)
    box = window.dataset_page.class_filter
    box.setCurrentIndex(box.findData("(unlabeled)"))
    assert box.width() >= box.fontMetrics().horizontalAdvance("(unlabeled)") + 24


# -- 12. after `trainer demo` -------------------------------------------------------------
def test_the_welcome_panel_points_to_runs_made_before(qtbot: QtBot, window: MainWindow, demo_root: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    link = window.dataset_page.runs_link
    assert "1 trained run in the checkpoints folder" in link.text()
    link.linkActivated.emit("runs")
    assert window.tabs.currentWidget() is window.runs_page


# -- expected and missing -----------------------------------------------------------------
def test_help_lists_the_keyboard_shortcuts(window: MainWindow, answers: DialogRecorder) -> None:
    next(a for a in window.actions() if a.text() == "&Keyboard shortcuts").trigger()
    title, text = answers.infos[0]
    assert title == "Keyboard shortcuts"
    for keys in ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Return", "F5", "1 – 9", "Ctrl+1 – Ctrl+6"):
        assert f"<b>{keys}</b>" in text, keys


def test_redo_puts_an_undone_image_back(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_copy: Path) -> None:
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    name = Path(page.preview.current()).name
    qtbot.keyClick(page.grid, Qt.Key.Key_3)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (demo_copy / "car" / name).is_file()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (demo_copy / "truck" / name).is_file() and not (demo_copy / "car" / name).exists()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # a redo is undoable
    assert (demo_copy / "car" / name).is_file()
    page.grid.selectionModel().setCurrentIndex(page.proxy.index(5, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(page.grid, Qt.Key.Key_2)  # a new move: nothing left to redo
    assert not window.state.redo()


def test_the_first_launch_tour_shows_each_page_once(window: MainWindow) -> None:
    window.maybe_show_tour()
    tour = window.tour
    assert tour is not None and tour.isVisible() and window.tabs.currentIndex() == 0
    for page in range(1, len(PAGES)):  # every page, Review included
        tour.next.click()
        assert window.tabs.currentIndex() == page
    assert tour.next.text() == "Done"
    tour.next.click()
    assert not tour.isVisible() and window.settings.tour_done()
    window.tour = None
    window.maybe_show_tour()
    assert window.tour is None


def test_resume_a_stopped_run_from_the_runs_page(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path) -> None:
    from trainer import runs as runs_io

    run = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                            out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    shutil.copy(run / "best.pt", run / "last.pt")
    runs_io.update_config(run, status="cancelled", epochs=2)  # stopped after epoch 1 of 2
    window.runs.refresh()
    rp = window.runs_page
    rp.table.selectRow(0)
    assert rp.resume_button.isEnabled()
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        rp.resume_button.click()
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert window.tabs.currentWidget() is window.train_page
    assert [m["epoch"] for m in runs_io.read_metrics(run)] == [1, 2]
    assert window.train_page.chart.point_count() == 2  # the epoch before the stop is drawn too
    rp.table.selectRow(0)
    assert rp.model.run_at(0).status == "done" and not rp.resume_button.isEnabled()


def test_try_one_photo_shows_its_class_and_every_probability(qtbot: QtBot, window: MainWindow, demo_root: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    page = window.classify_page
    photo = sorted((demo_root / "car").glob("*.jpg"))[0]
    with qtbot.waitSignal(window.runner.finished, timeout=120_000):
        page.try_photo(photo)
    assert page.try_panel.isVisibleTo(page)
    text = page.try_result.text()  # "N% sure", or "N% likely; trusted at M%" for an unfamiliar-looking photo
    assert photo.name in text and ("% sure" in text or "% likely; trusted at" in text or "Not recognised" in text)
    assert [t.get_text() for t in page.try_chart.figure.axes[0].get_yticklabels()] == ["truck", "motorcycle", "car"]
    assert page.model.rowCount() == 0  # the folder results are untouched


def test_thumbnails_carry_a_class_badge_in_the_all_view(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    page = window.dataset_page
    delegate = page.grid.itemDelegate()
    assert delegate.shown()
    assert delegate.colour("car") != delegate.colour("truck")
    page.show_class("car")
    assert not delegate.shown()  # one class on show: the badge would say the same everywhere
    image = page.grid.grab().toImage()
    assert not image.isNull()


def test_the_preview_keeps_the_images_proportions(qtbot: QtBot, tmp_path: Path) -> None:
    from PIL import Image

    from vehicleapp.widgets.preview import Preview

    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), "red").save(path)
    preview = Preview()
    qtbot.addWidget(preview)
    preview.resize(623, 700)
    preview.show()
    preview.show_image(str(path))
    qtbot.waitUntil(lambda: not preview.image.pixmap().isNull(), timeout=10_000)
    for size in ((623, 700), (400, 300), (900, 500)):
        preview.resize(*size)
        qtbot.wait(20)
        pixmap = preview.image.pixmap()
        assert abs(pixmap.width() / pixmap.height() - 2.0) < 0.03, size


def test_dropping_a_photo_on_the_classify_page_tries_it(window: MainWindow, demo_root: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    page = window.classify_page
    tried: list[Path] = []
    monkeypatch.setattr(page, "try_photo", tried.append)
    photo = sorted((demo_root / "truck").glob("*.jpg"))[0]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    page.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))
    assert tried == [photo]
