"""The real window, driven as a user would (offscreen): open, relabel, train, cancel, classify."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from tests.app.conftest import open_folder
from tests.conftest import quiet_events
from trainer.config import TrainConfig
from trainer.engine import train
from vehicleapp.main_window import MainWindow
from vehicleapp.models.thumbnails import PATH_ROLE


def _fast_training(win: MainWindow, epochs: int = 2) -> None:
    tp = win.train_page
    tp.weights.set_mode("none")
    tp.freeze.setChecked(True)  # frozen random backbone: cached features, seconds on a CPU
    tp.size.setValue(48)
    tp.epochs.setValue(epochs)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_open_demo_dataset_from_the_dialog(qtbot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    (demo_copy / "car" / "broken.jpg").write_bytes(b"nope")
    with qtbot.waitSignal(window.state.problems, timeout=30_000):
        open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    assert page.model.rowCount() == 37
    assert window.state.classes == ["car", "motorcycle", "truck"]
    assert "broken.jpg" in page.problems.item(0).text()
    page.show_class("truck")
    assert page.proxy.rowCount() == 12
    assert window.train_page.data_root == str(demo_copy)
    assert window.settings.recent_folders() == [str(demo_copy)]


def test_first_launch_offers_the_demo_dataset(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    page = window.dataset_page
    assert page.center_stack.currentWidget() is not page.grid  # the welcome panel shows first
    with qtbot.waitSignal(window.state.loaded, timeout=60_000):
        window.dataset_page.demo_button.click()
    assert len(window.state.entries) == 180
    assert page.center_stack.currentWidget() is page.grid


def test_relabel_by_key_press_and_undo(qtbot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    first = page.proxy.index(0, 0)
    original = Path(page.model.entries[0].path)
    assert original.parent.name == "car"
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(page.grid, Qt.Key.Key_3)  # 3 = truck
    moved = demo_copy / "truck" / original.name
    assert moved.is_file()
    assert not original.exists()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert original.is_file()
    assert not moved.exists()


def test_any_file_name_is_shown_labeled_from_the_grid_and_undone(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                   demo_copy: Path) -> None:
    name = os.fsdecode(b"caf\xe9.jpg")  # not UTF-8: a Qt string cannot hold this name
    queued = demo_copy / "unlabeled" / name
    queued.parent.mkdir()
    try:
        shutil.copy(next(demo_copy.glob("car/*.jpg")), queued)
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    page.show_class("(unlabeled)")
    assert page.proxy.rowCount() == 1
    index = page.proxy.index(0, 0)
    assert index.data(PATH_ROLE) == queued
    assert index.data(Qt.ItemDataRole.DisplayRole) == "caf\ufffd.jpg"
    index.data(Qt.ItemDataRole.DecorationRole)  # queues the thumbnail, unless the grid already did
    qtbot.waitUntil(lambda: str(queued) in window.thumbs.cache, timeout=10_000)
    page.grid.setFocus()
    page.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(page.grid, Qt.Key.Key_1)  # 1 = car
    labeled = demo_copy / "car" / name
    assert labeled.is_file() and not queued.exists()
    assert [e for e in window.state.entries if e.path == labeled][0].label == "car"
    assert page.model.entries[page.model._row_of[str(labeled)]].path == labeled
    assert window.state.unlabeled() == []
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert queued.is_file() and not labeled.exists()
    assert [e.path for e in window.state.unlabeled()] == [queued]


def test_label_unlabeled_images_with_the_keyboard(qtbot, window: MainWindow, answers, demo_copy: Path) -> None:  # noqa: ANN001
    unl = demo_copy / "unlabeled"
    unl.mkdir()
    for src in sorted((demo_copy / "truck").glob("*.jpg"))[:3]:
        shutil.move(src, unl / src.name)
    open_folder(qtbot, window, answers, demo_copy)
    lp = window.label_page
    window.tabs.setCurrentWidget(lp)
    assert len(lp.queue) == 3
    lp.setFocus()
    qtbot.keyClick(lp, Qt.Key.Key_3)
    assert len(lp.queue) == 2  # the next unlabeled image came up
    qtbot.keyClick(lp, Qt.Key.Key_Right)
    assert lp.pos == 1
    qtbot.keyClick(lp, Qt.Key.Key_3)
    assert len(list(unl.iterdir())) == 1
    window.state.undo()
    assert len(lp.queue) == 2
    answers.text = "bus"
    lp.new_button.click()
    assert (demo_copy / "bus").is_dir()
    assert "bus" in window.state.classes


def test_training_job_updates_chart_and_appears_in_runs(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                        demo_root: Path, tmp_path: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    _fast_training(window, epochs=3)
    with qtbot.waitSignal(window.runner.finished, timeout=180_000) as blocker:
        job = window.train_page.start()
        assert job is not None
    assert blocker.args[1] == "done", job.log_tail()
    assert window.train_page.chart.point_count() == 3
    assert window.train_page.chart.batch_x
    assert window.runs_page.model.rowCount() == 1
    assert window.runs_page.model.run_at(0).config["epochs"] == 3
    assert window.classify_page.run_combo.count() == 1
    rp = window.runs_page
    rp.table.clearSelection()
    assert not rp.export_button.isEnabled() and not rp.model_button.isEnabled()  # nothing to export yet
    rp.table.selectRow(0)
    assert rp.export_button.isEnabled() and rp.model_button.isEnabled()
    assert rp.curves.figure.axes[0].lines  # the selected run's curves are drawn
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        rp.evaluate_button.click()
    assert blocker.args[1] == "done"
    assert (rp.model.run_at(0).path / "evaluation.json").is_file()
    assert rp.per_class.rowCount() == 3
    assert rp.selected_runs() == [rp.model.run_at(0)]  # the refresh after the job kept the selection
    out = tmp_path / "chart.png"
    answers.save_path = str(out)
    rp.export_button.click()
    assert out.read_bytes()[:4] == b"\x89PNG"
    run_path = rp.model.run_at(0).path
    answers.confirm_answer = False
    rp.delete_button.click()
    assert run_path.is_dir()
    answers.confirm_answer = True
    rp.delete_button.click()
    assert not run_path.exists()
    assert rp.model.rowCount() == 0


def test_cancel_a_job_midway_leaves_no_process(qtbot, window: MainWindow, answers, demo_root: Path) -> None:  # noqa: ANN001
    open_folder(qtbot, window, answers, demo_root)
    _fast_training(window, epochs=300)
    window.train_page.batch.setValue(4)
    assert not window.stop_action.isEnabled()  # Job → Stop job (Esc): nothing to stop yet
    with qtbot.waitSignal(window.runner.started, timeout=5000) as started:
        job = window.train_page.start()
    assert job is not None
    assert started.args == [job]
    qtbot.waitUntil(lambda: window.train_page.chart.point_count() >= 1, timeout=120_000)
    pid = job.pid  # QProcess reports 0 once the child has finished
    assert pid > 0 and window.stop_action.isEnabled()
    with qtbot.waitSignal(window.runner.finished, timeout=30_000) as blocker:
        window.train_page.stop_button.click()
    assert blocker.args[1] == "cancelled" and not window.stop_action.isEnabled()
    assert not job.is_running()
    assert _process_gone(pid)  # exited and reaped, not a zombie
    assert window.train_page.start_button.isEnabled()
    run = window.runs_page.model.run_at(0)
    assert run.status == "cancelled"
    assert (run.path / "last.pt").is_file()


def test_classify_a_folder_and_export_csv(qtbot, window: MainWindow, answers, demo_root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(tmp_path / "runs")), quiet_events(), lambda: False)
    page = window.classify_page
    window.runs.refresh()  # F5: the run trained from the command line appears
    assert page.run_combo.count() == 1
    folder = tmp_path / "inbox"
    shutil.copytree(demo_root / "motorcycle", folder)
    (folder / "junk.jpg").write_bytes(b"junk")
    page.folder.setText(str(folder))
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        page.start()
    assert blocker.args[1] == "done"
    assert page.model.rowCount() == 13
    page.min_conf.setValue(0)
    out = tmp_path / "export.csv"
    answers.save_path = str(out)
    page.export_csv()
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["path", "label", "confidence"]
    assert len(rows) == 14
    assert [r for r in rows if r[0] == "junk.jpg"][0][-1]
    label = next(r.label for r in page.model.rows if r.label)
    page.label_filter.setCurrentIndex(page.label_filter.findData(label))
    page.export_csv(str(tmp_path / "filtered.csv"))
    with open(tmp_path / "filtered.csv", newline="") as f:
        filtered = list(csv.reader(f))[1:]
    assert filtered
    assert all(r[1] == label for r in filtered)


def test_job_failure_shows_an_error_and_the_window_stays_usable(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                 demo_root: Path, tmp_path: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    tp = window.train_page
    _fast_training(window, epochs=1)
    tp.device.setCurrentIndex(tp.device.findData("mps"))  # no Apple GPU here: the engine refuses it
    with qtbot.waitSignal(window.runner.finished, timeout=60_000) as blocker:
        tp.start()
    assert blocker.args[1] == "failed"
    assert answers.errors
    assert "MPS is not available" in answers.errors[0][1]
    assert tp.start_button.isEnabled()
    assert "Failed" in tp.status.text()
    tp.device.setCurrentIndex(tp.device.findData("auto"))  # usable: the next training starts and finishes
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        assert tp.start() is not None
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert "Failed" not in tp.status.text()


def test_closing_with_a_running_job_asks_and_leaves_no_orphan(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                               demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    _fast_training(window, epochs=300)
    job = window.train_page.start()
    qtbot.waitUntil(lambda: job.pid > 0, timeout=10_000)
    answers.confirm_answer = False
    window.close()
    assert window.isVisible()
    assert job.is_running()
    answers.confirm_answer = True
    window.close()
    assert not window.isVisible()
    assert answers.confirms == ["A job is running", "A job is running"]
    assert not job.is_running()


@pytest.mark.slow
def test_gui_stays_responsive_during_training_and_thumbnails(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                             tmp_path: Path) -> None:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from trainer.demo_data import make_demo_data

    data = make_demo_data(tmp_path / "many", per_class=150, size=160)
    open_folder(qtbot, window, answers, data)
    _fast_training(window, epochs=3)
    clock, gaps, last = QElapsedTimer(), [], [0]
    clock.start()

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=20)
    timer.timeout.connect(beat)
    timer.start()
    grid, rows = window.dataset_page.grid, iter(range(0, window.dataset_page.model.rowCount(), 8))

    def scroll() -> None:  # a user scrolling through the grid: new thumbnails load
        row = next(rows, None)
        if row is not None:
            grid.scrollTo(window.dataset_page.proxy.index(row, 0))

    scroller = QTimer(interval=60)
    scroller.timeout.connect(scroll)
    window.tabs.setCurrentIndex(0)
    with qtbot.waitSignal(window.runner.finished, timeout=300_000):
        window.train_page.start()
        scroller.start()
    scroller.stop()
    timer.stop()
    assert len(window.thumbs.cache) > 100, "thumbnails were not loaded during the test"
    worst = max(gaps[1:])
    print(f"\nheartbeat: {len(gaps)} beats, worst gap {worst} ms")
    assert worst < 250, f"GUI thread blocked for {worst} ms"


def test_runs_page_keeps_a_multi_selection_across_refreshes(qtbot, window: MainWindow, demo_root: Path,  # noqa: ANN001
                                                             tmp_path: Path) -> None:
    for lr in (0.01, 0.001):
        train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=2, image_size=48, lr=lr,
                          out=str(tmp_path / "runs")), quiet_events(), lambda: False)
    rp = window.runs_page
    rp.refresh()
    rp.table.selectAll()
    assert len(rp.selected_runs()) == 2
    assert len([ln for ln in rp.curves.figure.axes[0].lines if ln.get_linestyle() == "-"]) == 2  # a val curve each
    rp.refresh()  # happens after every job
    assert len(rp.selected_runs()) == 2


def test_dropping_a_folder_opens_it(qtbot, window: MainWindow, demo_root: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "not-a-folder.txt")), QUrl.fromLocalFile(str(demo_root))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.state.loaded, timeout=20_000):
        window.dataset_page.dropEvent(event)
    assert window.state.root == demo_root.resolve()


def test_the_first_window_fits_a_small_laptop_screen() -> None:
    from PySide6.QtCore import QSize

    from vehicleapp.main_window import MINIMUM_SIZE, first_size

    assert first_size(QSize(1920, 1080)) == QSize(1360, 860)
    assert first_size(QSize(1280, 770)) == QSize(1280, 770)  # a 1280 x 800 laptop less its panel
    assert first_size(QSize(640, 480)) == QSize(*MINIMUM_SIZE)
