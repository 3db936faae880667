"""What a new user found on a 1024×700 screen: a stopped run's progress bar, the live chart's
legend, number keys without a class, class names with a slash, and clipped texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from tests.app.test_search_app import _fake_runner, _finish
from trainer.protocol import Status
from vehicleapp.jobs import Job
from vehicleapp.main_window import MainWindow
from vehicleapp.pages.train_page import TrainPage
from vehicleapp.widgets.charts import LiveCurves


def _train_events(epochs: int, batches: int, stop_in_epoch: int) -> list[dict]:
    """A run's events up to a stop part-way through ``stop_in_epoch`` (after its last batch)."""
    events: list[dict] = [{"event": "start", "model": "mobilenet_v2", "device": "cpu", "epochs": epochs,
                           "counts": {"train": {"car": 8, "truck": 8}}}]
    for epoch in range(1, stop_in_epoch + 1):
        events += [{"event": "progress", "phase": "train", "epoch": epoch, "done": b, "total": batches,
                    "loss": 0.5} for b in range(1, batches + 1)]
        if epoch < stop_in_epoch:
            events.append({"event": "epoch", "epochs": epochs, "metrics": {
                "epoch": epoch, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.4, "val_acc": 0.9, "seconds": 1.0}})
    return events


def _start_training(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> tuple[TrainPage, Job]:
    """Start pressed on the Train page; the job is a stand-in whose events the test sends."""
    made = _fake_runner(window, monkeypatch)
    tp = window.train_page
    tp.set_dataset("/data", {"car": 8, "truck": 8})
    tp.weights.set_mode("none")
    job = tp.start()
    assert job is made[0]
    return tp, job


@pytest.mark.parametrize("stop_in_epoch", [1, 3])
def test_a_stopped_run_shows_where_it_stopped(window: MainWindow, monkeypatch: pytest.MonkeyPatch,
                                              stop_in_epoch: int) -> None:
    tp, job = _start_training(window, monkeypatch)
    for e in _train_events(10, 4, stop_in_epoch):
        job.event.emit(e)
    # the bar spans the whole run: the epochs before, and this epoch's last batch
    assert (tp.progress.value(), tp.progress.maximum()) == (stop_in_epoch * 4, 10 * 4)
    _finish(window, job, Status.CANCELLED, "stopped")
    assert (tp.progress.value(), tp.progress.maximum()) == (stop_in_epoch - 1, 10)  # epochs finished of all
    assert f"Stopped at epoch {stop_in_epoch} of 10" in tp.status.text()


@pytest.mark.parametrize("size", [(520, 300), (900, 420), (285, 260)])  # the last: an 800x560 window
def test_the_live_chart_legend_never_covers_the_curves(qtbot: QtBot, size: tuple[int, int]) -> None:
    chart = LiveCurves()
    qtbot.addWidget(chart)
    chart.resize(*size)
    chart.show()
    chart.reset(10)
    for e in range(1, 11):  # accuracy reaches 1.0, where the accuracy plot's own legend sat
        chart.add_batch(e, 4, 4, 1.2 / e)
        chart.add_epoch({"epoch": e, "train_acc": min(1.0, 0.7 + e * 0.04), "val_acc": min(1.0, 0.8 + e * 0.03),
                         "train_loss": 1 / e, "val_loss": 0.9 / e})
    chart.render()
    chart.draw()
    renderer = chart.figure.canvas.get_renderer()
    legends = list(chart.figure.legends) + [ax.get_legend() for ax in chart.figure.axes if ax.get_legend()]
    assert [t.get_text() for legend in legends for t in legend.get_texts()] == ["train", "val", "batch loss"]
    box = legends[0].get_window_extent(renderer)
    for ax in chart.figure.axes:  # neither the curves nor the axis labels are covered
        assert not box.overlaps(ax.get_tightbbox(renderer)), "the legend covers a plot"
    assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= chart.figure.bbox.width  # and it is on the canvas


def _resized(qtbot: QtBot, window: MainWindow, width: int, height: int) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (width, height))
    QApplication.processEvents()


def _inside(widget: QWidget, page: QWidget) -> bool:
    """The whole widget is on screen within ``page`` (not clipped, not scrolled away)."""
    top_left = widget.mapTo(page, widget.rect().topLeft())
    return (widget.isVisibleTo(page) and page.rect().contains(QRect(top_left, widget.size()))
            and widget.visibleRegion().boundingRect() == widget.rect())


@pytest.mark.parametrize("size", [(1024, 700), (800, 560)])
def test_the_threshold_caption_sits_under_the_chart_and_the_tabs_fit(qtbot: QtBot, styled: None, window: MainWindow,
                                                                     size: tuple[int, int]) -> None:
    _resized(qtbot, window, *size)
    rp = window.runs_page
    window.tabs.setCurrentWidget(rp)
    tabs = rp.threshold_chart.parentWidget().parentWidget().parentWidget()
    assert isinstance(tabs, QTabWidget)
    tabs.setCurrentIndex(2)
    ts = [i / 100 for i in range(101)]
    rp.threshold_chart.show_curve(ts, [1 - t * t for t in ts], [0.9 + t / 10 for t in ts], 0.26)
    rp.threshold_info.setText("threshold 0.26 (saved): answers 97% of the evaluated images, 98.4% of them "
                              "right; the rest: unknown")
    QApplication.processEvents()
    chart, info = rp.threshold_chart.geometry(), rp.threshold_info.geometry()
    assert info.top() > chart.bottom(), "the caption overlaps the chart's axis labels"
    assert info.height() >= rp.threshold_info.heightForWidth(info.width()), "the caption is cut off"
    assert rp.save_threshold.geometry().top() > info.bottom()
    # the per-class scores live with the matrix: the curve has the tab's height (it was 55 px)
    assert not rp.per_class.isVisible() and rp.per_class.isVisibleTo(tabs.widget(0))
    assert chart.height() >= 140, chart
    bar = tabs.tabBar()
    for i in range(bar.count()):  # every tab whole: no "fusion" for Confusion
        assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(bar.tabText(i))
        assert bar.rect().contains(bar.tabRect(i))


def test_the_train_buttons_stay_in_sight_in_a_small_window(qtbot: QtBot, styled: None, window: MainWindow) -> None:
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.size() == window.minimumSize())
    tp = window.train_page
    window.tabs.setCurrentWidget(tp)
    tp.set_dataset("/data", {"car": 1})  # the blocker's sentence shows too
    QApplication.processEvents()
    for button in (tp.start_button, tp.stop_button, tp.search_button, tp.budget):
        assert _inside(button, tp), f"{button.text() if hasattr(button, 'text') else 'budget'} is out of sight"


def test_a_long_run_label_keeps_its_accuracy_in_sight(qtbot: QtBot, styled: None, window: MainWindow) -> None:
    _resized(qtbot, window, 800, 560)
    combo = window.classify_page.run_combo
    window.tabs.setCurrentWidget(window.classify_page)
    combo.addItem("★ mobilenet_v2 lr=0.001 bs=8 · 15 ep · 06:12:32 · a-long-dataset-folder-name · val 97.0%"
                  " · CANCELLED", "/runs/x")
    combo.setCurrentIndex(combo.count() - 1)
    QApplication.processEvents()
    shown = combo.shown_text()  # elided in the middle: the model and the accuracy both show
    assert "…" in shown and shown.startswith("★ mobilenet") and shown.endswith("val 97.0% · CANCELLED")


def test_an_unreadable_files_reason_shows_whole(qtbot: QtBot, styled: None, window: MainWindow,
                                                answers: DialogRecorder, demo_copy: Path) -> None:
    (demo_copy / "car" / "zzcorrupt.jpg").write_bytes(b"not an image at all")
    _resized(qtbot, window, 1024, 700)
    open_folder(qtbot, window, answers, demo_copy)
    problems = window.dataset_page.problems
    qtbot.waitUntil(lambda: "zzcorrupt" in problems.item(0).text(), timeout=20_000)
    item = problems.item(0)
    assert item.toolTip() == item.text() and "—" in item.text()
    rect = problems.visualItemRect(item)  # wrapped to the list's width, not cut off at its edge
    assert rect.width() <= problems.viewport().width()
    assert rect.height() >= problems.fontMetrics().boundingRect(
        rect, Qt.TextFlag.TextWordWrap, item.text()).height()


def test_a_file_in_a_class_folder_that_is_not_a_photo_is_listed(qtbot: QtBot, window: MainWindow,
                                                                 answers: DialogRecorder, demo_copy: Path) -> None:
    """notes.txt in a class folder was never shown, never used and never mentioned."""
    (demo_copy / "car" / "notes.txt").write_text("bought in 2019")
    open_folder(qtbot, window, answers, demo_copy)
    problems = window.dataset_page.problems
    qtbot.waitUntil(lambda: any("notes.txt" in problems.item(i).text() for i in range(problems.count())),
                    timeout=20_000)
    texts = [problems.item(i).text() for i in range(problems.count())]
    assert texts == [f"{Path('car', 'notes.txt')} — not a photo"]


def test_a_resumed_fine_tuning_run_counts_all_its_epochs_from_its_first_batch(window: MainWindow,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: "epoch 22/20" until the first fine-tuning epoch ended (the start event's count)."""
    tp, job = _start_training(window, monkeypatch)
    job.event.emit({"event": "start", "model": "mobilenet_v2", "device": "cpu", "epochs": 20,
                    "counts": {"train": {"car": 8, "truck": 8}}, "resumed_from_epoch": 21})
    job.event.emit({"event": "stage", "stage": "fine-tune", "epochs": 25, "message": "fine-tuning from epoch 21"})
    job.event.emit({"event": "progress", "phase": "train", "epoch": 22, "done": 3, "total": 30, "loss": 0.4})
    assert tp.status.text().startswith("epoch 22/25 · batch 3/30")


def test_changing_a_setting_after_a_run_clears_its_finished_words_with_its_curves(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the chart emptied for the new settings but the page still said "Finished." with a full bar."""
    tp, job = _start_training(window, monkeypatch)
    for e in _train_events(2, 4, 3):  # both epochs end
        job.event.emit(e)
    _finish(window, job, Status.DONE, "finished")
    assert tp.status.text().startswith("Finished") and tp.progress.value() == tp.progress.maximum()
    tp.epochs.setValue(tp.epochs.value() + 5)
    assert tp.chart.point_count() == 0 and tp.progress.value() == 0
    assert tp.status.text() == "Settings changed: the last run's curves are on the Runs page."
