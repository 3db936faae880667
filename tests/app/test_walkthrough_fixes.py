"""What a new user found in a real window: Save threshold wrote another run's threshold, the
confusion-matrix drill-down kept the Review page on another run, the heatmap was a thumbnail
whose caption nobody could read, and "1 images"."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QDialog, QLabel
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from tests.app.test_new_user_fixes import CLASSES, fake_run
from trainer import runs as runs_io
from trainer.csvfile import EvaluatedImage, write_evaluation
from trainer.wording import count_of
from vehicleapp.main_window import MainWindow
from vehicleapp.widgets.run_picker import user_choice
from vehicleapp.widgets.zoom import fit_screen

PHOTOS = ["car/car_0000.jpg", "car/car_0001.jpg", "truck/truck_0000.jpg"]


def fake_evaluation(run: Path, data: Path, threshold: float) -> None:
    """``trainer evaluate``'s files in ``run`` (one car taken for a truck) and a saved threshold."""
    said = {p: "truck" if p == PHOTOS[1] else p.split("/")[0] for p in PHOTOS}
    results = [EvaluatedImage(p, "val", p.split("/")[0], said[p], 0.8, [0.8 if c == said[p] else 0.1 for c in CLASSES])
               for p in PHOTOS]
    write_evaluation(run / runs_io.PREDICTIONS, CLASSES, results)
    confusion = [[1, 0, 1], [0, 0, 0], [0, 0, 1]]
    per_class = {c: {"precision": 1.0, "recall": 1.0, "f1": 1.0} for c in CLASSES}
    report = {"confusion": confusion, "classes": CLASSES, "split": "val", "accuracy": 2 / 3, "per_class": per_class,
              "data": str(data)}
    (run / runs_io.EVALUATION).write_text(json.dumps(report), encoding="utf-8")
    config = json.loads((run / runs_io.CONFIG).read_text(encoding="utf-8"))
    config["trust"] = {"threshold": threshold}
    (run / runs_io.CONFIG).write_text(json.dumps(config), encoding="utf-8")


def _two_runs(window: MainWindow, data: Path) -> tuple[Path, Path]:
    """Run A (evaluated, threshold 0.2839) and run B (never evaluated, best validation accuracy)."""
    out = window.runs.runs_dir
    assert out is not None
    a = fake_run(out, "20261130-060848", data, 3, 0.97)
    b = fake_run(out, "20261130-061232", data, 15, 0.985)
    fake_evaluation(a, data, 0.2839)
    window.runs.refresh()
    return a, b


# -- 1. Save threshold saves only the shown run's own threshold ----------------------------------------
def test_save_threshold_is_off_for_a_run_never_evaluated(window: MainWindow, demo_root: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the explorer of a never-evaluated run kept the previous run's chosen threshold, Save
    stayed on and wrote that value (0.2839) into the never-evaluated run's checkpoint."""
    a, b = _two_runs(window, demo_root)
    asked: list[list[str]] = []
    monkeypatch.setattr(window.runner, "run", lambda args, title: asked.append(args))
    rp = window.runs_page
    rp.select_runs({a}, current=a)
    assert not rp.save_threshold.isEnabled() and abs(rp.threshold_chart.chosen - 0.2839) < 1e-9  # nothing new
    assert not rp.undo_threshold.isEnabled()  # never changed by hand: nothing to undo
    rp.threshold_chart.chosen = 0.5
    rp.threshold_chart.picked.emit(0.5)
    assert rp.save_threshold.isEnabled() and "not saved yet" in rp.threshold_info.text()
    rp.select_runs({b}, current=b)
    assert not rp.save_threshold.isEnabled()
    assert rp.apply_threshold() is None and asked == []
    rp.select_runs({a}, current=a)
    rp.apply_threshold()
    assert asked == [["threshold", str(a), "0.2839", "--events"]]


def test_a_damaged_evaluation_leaves_no_save_for_the_previous_runs_curve(window: MainWindow, demo_root: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a run whose evaluation.json is damaged kept the previous run's curve and its Save."""
    a, b = _two_runs(window, demo_root)
    (b / runs_io.EVALUATION).write_text('{"confusion": [[1', encoding="utf-8")
    asked: list[list[str]] = []
    monkeypatch.setattr(window.runner, "run", lambda args, title: asked.append(args))
    rp = window.runs_page
    rp.select_runs({a}, current=a)
    rp.select_runs({b}, current=b)
    assert not rp.save_threshold.isEnabled() and rp.threshold_chart.curve is None
    assert rp.apply_threshold() is None and asked == []


# -- 2. the drill-down's images are judged by the run whose matrix was clicked ------------------------
def test_a_confusion_cell_selects_its_run_on_the_review_page(qtbot: QtBot, window: MainWindow,
                                                             answers: DialogRecorder, demo_root: Path) -> None:
    """Was: the Review page's run box stayed on the best run (B), so "Why?" explained B's view of
    images that A's confusion matrix listed."""
    a, b = _two_runs(window, demo_root)
    open_folder(qtbot, window, answers, demo_root)
    review = window.review_page
    assert review.run_combo.currentData() == str(b)  # the best run on the dataset
    rp = window.runs_page
    rp.select_runs({a}, current=a)
    rp.drill_down(0, 2)  # cars taken for trucks
    assert window.tabs.currentWidget() is review and review.proxy.rowCount() == 1
    assert review.run_combo.currentData() == str(a) and user_choice(review.run_combo) == str(a)
    assert review.why_button.run_of() == str(a)
    window.runs.refresh()
    assert review.run_combo.currentData() == str(a)  # kept like a pick of the user's
    assert review.status.text() == "1 image from the confusion matrix"


# -- 3. the heatmap can be seen larger; the Review preview still describes the photo -----------------
def _sheet(path: Path, size: QSize = QSize(320, 342)) -> Path:
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor("darkred"))
    assert image.save(str(path))
    return path


def test_a_click_on_the_classify_heatmap_shows_it_at_its_natural_size(qtbot: QtBot, window: MainWindow,
                                                                      tmp_path: Path) -> None:
    """Was: the heatmap stayed a ~105 px thumbnail (its caption unreadable); a double-click did nothing."""
    cp = window.classify_page
    cp.try_panel.setVisible(True)
    cp.try_path = cp.why_button.photo = tmp_path / "bike744.jpg"  # the photo shown is the one asked about
    cp._show_heatmap(_sheet(tmp_path / "bike744.png"))
    qtbot.mouseDClick(cp.try_image, Qt.MouseButton.LeftButton)
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    assert len(shown) == 1
    sizes = [label.size() for label in shown[0].findChildren(QLabel) if not label.pixmap().isNull()]
    assert sizes == [QSize(320, 342)]
    assert "bike744.jpg" in shown[0].findChildren(QLabel)[-1].text()
    shown[0].close()


def test_a_large_heatmap_is_scaled_down_to_fit_the_screen() -> None:
    assert fit_screen(QSize(320, 342), QSize(1280, 800)) == QSize(320, 342)
    assert fit_screen(QSize(4000, 2000), QSize(1000, 800)) == QSize(850, 425)


def test_the_review_preview_of_a_heatmap_describes_the_photo(qtbot: QtBot, window: MainWindow, demo_root: Path,
                                                             tmp_path: Path) -> None:
    """Was: after "Why?" the details line described the heatmap PNG (its size, its folder under
    appdata/explain) instead of the photo."""
    page = window.review_page
    photo = demo_root / "car" / "car_0002.jpg"
    page.why_button.photo = photo
    page.why_button.ready.emit(_sheet(tmp_path / "car_0002.png"))
    qtbot.waitUntil(lambda: "car_0002" in page.preview.info.text(), timeout=10_000)
    info = page.preview.info.text()
    assert "car_0002.jpg" in info and "heatmap" in info and str(photo.parent) in info
    assert "car_0002.png" not in info and "320 × 342" not in info


# -- 4. one image, not "1 images" --------------------------------------------------------------------
def test_counts_are_singular_for_one() -> None:
    assert count_of(1, "image") == "1 image" and count_of(0, "image") == "0 images"
    assert count_of(1, "class", "classes") == "1 class" and count_of(3, "class", "classes") == "3 classes"


def test_a_verdict_says_the_probability_the_bars_show_and_why_the_confidence_is_lower() -> None:
    """"truck (76.8% sure)" sat beside bars and a heatmap saying 99%: the verdict gave the
    confidence (the probability times how familiar the photo looks) as if it were the probability."""
    from trainer.csvfile import Prediction
    from vehicleapp.models.predictions import verdict_html

    unfamiliar = verdict_html("t.jpg", Prediction("t.jpg", "truck", 0.768, [0.005, 0.006, 0.989]), CLASSES)
    assert "is a <b>truck</b> (98.9% likely; trusted at 76.8%, as it looks less like the photos" in unfamiliar
    familiar = verdict_html("t.jpg", Prediction("t.jpg", "truck", 0.97, [0.01, 0.02, 0.97]), CLASSES)
    assert "is a <b>truck</b> (97.0% sure)" in familiar


def test_the_reliability_chart_says_what_it_shows_in_words(window: MainWindow) -> None:
    from vehicleapp.widgets.charts import ReliabilityChart

    chart = ReliabilityChart()
    assert "80% sure is right 80% of the time" in chart.toolTip()
    chart.report = {"bins": [{"lo": 0.9, "hi": 1.0, "count": 5, "accuracy": 1.0}], "ece_before": 0.058,
                    "ece_after": 0.019, "temperature": 0.36}
    chart.render()
    assert chart.figure.axes[0].get_title() == "calibration error 5.8% → 1.9% (temperature 0.36)"


def test_runs_started_in_the_same_minute_show_different_dates(window: MainWindow, demo_root: Path) -> None:
    """Four runs of a sweep all read "08:29" in the Date column: it now shows the seconds."""
    from vehicleapp.models.runs_model import COLUMNS

    for stamp in ("20261130-082901", "20261130-082947"):
        fake_run(window.runs.runs_dir, stamp, demo_root, 3, 0.9)
    window.runs.refresh()
    model = window.runs_page.model
    dates = sorted(model.index(r, COLUMNS.index("Date")).data() for r in range(model.rowCount()))
    assert dates == ["2026-11-30 08:29:01", "2026-11-30 08:29:47"]


def test_not_recognised_says_how_often_the_run_does_so_on_purpose(window: MainWindow, demo_root: Path,
                                                                  tmp_path: Path) -> None:
    """An ordinary truck 'Not recognised' read as a failure: nothing said that the threshold
    leaves about 1 in 20 of the run's own validation photos unanswered by design."""
    from tests.app.test_new_user_fixes import _try_result
    from trainer.csvfile import Prediction
    from trainer.protocol import UNKNOWN

    run = fake_run(window.runs.runs_dir, "20261130-090000", demo_root, 3, 0.9)
    config = json.loads((run / runs_io.CONFIG).read_text(encoding="utf-8"))
    config["trust"] = {"threshold": 0.3, "val_coverage": 0.95}
    (run / runs_io.CONFIG).write_text(json.dumps(config), encoding="utf-8")
    window.runs.refresh()
    assert window.classify_page.run_combo.currentData() == str(run)
    text = _try_result(window, tmp_path, "t.jpg", Prediction("t.jpg", UNKNOWN, 0.1, [0.0, 0.0, 1.0]))
    assert "This model leaves about 5% of its own validation photos unanswered like this" in text


def test_try_a_photo_offers_every_format_the_loader_reads() -> None:
    """The dialog offered *.jpg *.jpeg *.png *.bmp *.webp *.gif: an iPhone's HEIC (which
    classify reads) could not be picked."""
    from trainer.images import IMAGE_EXTENSIONS
    from vehicleapp.pages.classify_page import PHOTO_FILTER

    assert all(f"*{ext}" in PHOTO_FILTER for ext in IMAGE_EXTENSIONS) and "*.heic" in PHOTO_FILTER


# -- 5. a model exported before a threshold change is named when the threshold changes ---------------
def test_saving_a_threshold_names_the_models_exported_before_it(qtbot: QtBot, window: MainWindow,
                                                                answers: DialogRecorder, demo_root: Path,
                                                                tmp_path: Path) -> None:
    """Was: an exported model.onnx / model.pt kept the old threshold and nothing said so."""
    from tests.conftest import quiet_events
    from trainer import cli
    from trainer.config import TrainConfig
    from trainer.engine import train
    from trainer.evaluate import evaluate_run

    run_dir = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                                out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    evaluate_run(run_dir, demo_root, quiet_events(), lambda: False)
    shipped = tmp_path / "R&D" / "model.pt"  # the dialog is rich text: & must come through as &
    assert cli.main(["export", str(run_dir), str(shipped)]) == 0
    window.runs.refresh()
    rp = window.runs_page
    rp.select_runs({run_dir}, current=run_dir)
    rp.threshold_chart.chosen = 0.9
    with qtbot.waitSignal(window.runner.finished, timeout=60_000) as blocker:
        assert rp.apply_threshold() is not None
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    ((title, text),) = answers.infos
    assert title == "Exported models keep their threshold" and QtGui.Qt.mightBeRichText(text)
    shown = html.unescape(text).replace("\u200b", "")
    assert str(shipped.resolve()) in shown and "R&amp;D" in text and "export again to ship 0.9." in shown
    answers.infos.clear()
    assert rp.undo_threshold.isEnabled() and not rp.save_threshold.isEnabled()  # saved: 0.9 is the run's
    with qtbot.waitSignal(window.runner.finished, timeout=60_000):
        rp.apply_threshold(undo=True)  # back to what the file carries: nothing to say
    assert answers.infos == [] and not rp.undo_threshold.isEnabled()


# -- 6. the runs table fits the window; the folder is a right-click away -----------------------------
def test_the_runs_table_fits_a_1280_window_and_its_menu_gives_the_folder(qtbot: QtBot, window: MainWindow,
                                                                         demo_root: Path) -> None:
    """Was: a Name column (the folder's name, repeating date, model, lr and batch) ran past the edge."""
    out = window.runs.runs_dir
    assert out is not None
    run = fake_run(out, "20261130-060848", demo_root, 3, 0.97)
    config = json.loads((run / runs_io.CONFIG).read_text(encoding="utf-8"))
    config["weights"] = {"mobilenet_v2": "/home/someone/Downloads/mobilenet_v2-keras-imagenet-features.pth"}
    (run / runs_io.CONFIG).write_text(json.dumps(config), encoding="utf-8")
    window.runs.refresh()
    window.resize(1280, 800)
    window.tabs.setCurrentWidget(window.runs_page)
    table = window.runs_page.table
    qtbot.waitUntil(lambda: table.isVisible() and table.model().rowCount() == 1)
    header = table.horizontalHeader()
    cut = [i for i in range(header.count())  # shown narrower than its text (the Weights cap aside)
           if header.sectionSize(i) < min(table.sizeHintForColumn(i), header.maximumSectionSize())]
    assert cut == [] and table.horizontalScrollBar().maximum() == 0
    window.runs_page._context_menu(table.visualRect(table.model().index(0, 0)).center())
    menu = window.runs_page.menu
    assert menu is not None
    actions = {a.text(): a for a in menu.actions()}
    assert set(actions) == {"Open run folder", f"Copy path ({run.name})"}
    actions[f"Copy path ({run.name})"].trigger()
    assert QApplication.clipboard().text() == str(run) and window.message.text() == f"Copied {run}"
    menu.close()


@pytest.mark.parametrize("opened", [True, False])
def test_open_run_folder_says_what_happened(window: MainWindow, answers: DialogRecorder, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, opened: bool) -> None:
    """Was: with no file manager (a bare Linux desktop) the menu item did nothing visible."""
    from PySide6.QtGui import QDesktopServices

    asked: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: asked.append(url.toLocalFile()) or opened)
    QApplication.clipboard().setText("")
    window.runs_page.open_folder(tmp_path)
    assert asked == [str(tmp_path)]
    if opened:
        assert answers.errors == [] and window.message.text() == f"Opened {tmp_path} in the file manager"
    else:
        assert answers.errors == [("No file manager", f"No file manager opened {tmp_path}. Its path is copied: "
                                   "paste it into a file manager or a terminal.")]
        assert QApplication.clipboard().text() == str(tmp_path)


def test_a_run_box_tooltip_has_the_whole_name_the_closed_box_elides(window: MainWindow, demo_root: Path) -> None:
    """Was: "mobilenet_v2 lr=...otos · val 98.5%" hid what told two runs apart."""
    a, _ = _two_runs(window, demo_root)
    combo = window.review_page.run_combo
    assert combo.count() == 2  # listed when the runs were refreshed
    for i in range(2):
        combo.setCurrentIndex(i)
        assert combo.toolTip().endswith(f"Chosen: {combo.itemText(i)}")
