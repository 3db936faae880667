"""The app side of the architecture: one runs state, the registry's models, logs, damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from tests.conftest import quiet_events
from trainer import config as C
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.registry import MODELS
from vehicleapp.jobs import Job
from vehicleapp.main_window import MainWindow


def test_train_page_lists_the_registry_with_the_schema_help(window: MainWindow) -> None:
    tp = window.train_page
    assert [tp.model.itemData(i) for i in range(tp.model.count())] == list(MODELS)
    assert tp.lr.toolTip() == C.help_of("lr") and tp.epochs.value() == TrainConfig(data="").epochs
    assert [tp.device.itemData(i) for i in range(tp.device.count())] == list(C.DEVICE_CHOICES)
    window.train_page.data_root = "/data"
    assert tp.config() == TrainConfig(data="/data", freeze=True, image_size=224, out=str(window.runs.runs_dir))


@pytest.mark.parametrize(("command", "refreshes"), [("train", 1), ("search", 1), ("evaluate", 1), ("classify", 0)])
def test_a_finished_job_refreshes_the_runs_once(qtbot, window: MainWindow, command: str,  # noqa: ANN001
                                                refreshes: int) -> None:
    seen: list[int] = []
    window.runs.changed.connect(lambda: seen.append(1))
    job = Job([command, "/x"], "any title")
    window.runner.finished.emit(job, "done", "finished")
    assert len(seen) == refreshes


def test_runs_trained_elsewhere_appear_on_both_pages_after_one_refresh(window: MainWindow, demo_root: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    assert window.runs_page.model.rowCount() == 0
    window.runs.refresh()
    assert window.runs_page.model.rowCount() == 1
    assert window.classify_page.run_combo.count() == 1


def test_a_damaged_evaluation_file_is_a_message_not_an_exception(window: MainWindow, demo_root: Path) -> None:
    run_dir = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                                out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    (run_dir / "evaluation.json").write_text('{"confusion": [[1', encoding="utf-8")
    window.runs.refresh()
    window.runs_page.table.selectRow(0)
    texts = [t.get_text() for ax in window.runs_page.confusion.figure.axes for t in ax.texts]
    assert any("damaged" in t for t in texts), texts


def test_help_opens_the_log_folder(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    action = next(a for a in window.actions() if a.text() == "Open &log folder")
    action.trigger()
    assert [Path(u.toLocalFile()) for u in opened] == [C.log_dir()]
    assert C.log_dir().is_dir()


def test_a_class_folder_whose_name_is_not_utf8_filters_and_labels(qtbot, window: MainWindow, answers,  # noqa: ANN001
                                                                   demo_copy: Path) -> None:
    import os
    import shutil

    from tests.app.conftest import open_folder

    odd = os.fsdecode(b"v\xe9lo")  # Latin-1 "vélo": not valid UTF-8
    (demo_copy / odd).mkdir()
    for i in range(3):
        shutil.move(demo_copy / "motorcycle" / f"motorcycle_000{i}.jpg", demo_copy / odd / f"m{i}.jpg")
    open_folder(qtbot, window, answers, demo_copy)
    page = window.dataset_page
    assert odd in window.state.classes
    page.show_class(odd)
    assert page.filter_label() == odd and page.proxy.rowCount() == 3
    assert window.state.assign(demo_copy / "car" / "car_0000.jpg", odd)
    assert (demo_copy / odd / "car_0000.jpg").exists() and page.proxy.rowCount() == 4


def test_export_model_from_the_runs_page_reports_the_parity_check(qtbot, window: MainWindow,  # noqa: ANN001
                                                                    demo_root: Path, tmp_path: Path) -> None:
    train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()
    rp = window.runs_page
    rp.table.selectRow(0)
    out = tmp_path / "model.onnx"
    with qtbot.waitSignal(window.runner.finished, timeout=240_000) as blocker:
        assert rp.export_model(str(out)) is not None
        # 10-25 s of work: the button says so (a user saw nothing change and would click again)
        assert rp.model_button.text() == "Exporting…" and not rp.model_button.isEnabled()
        rp._on_selection()  # a selection change meanwhile does not bring it back
        assert not rp.model_button.isEnabled()
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert rp.model_button.text() == "Export model…" and rp.model_button.isEnabled()
    assert out.is_file()
    assert rp.export_result.startswith(f"Saved model.onnx in {tmp_path}. Checked on the spot against the PyTorch "
                                       "model on ")
    assert "it gave the same answer for every one" in rp.export_result


def test_classify_page_filters_the_unknown_answers(qtbot, window: MainWindow, demo_root: Path,  # noqa: ANN001
                                                   tmp_path: Path) -> None:
    from tests.conftest import run_cli

    run_dir = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                                workers=1, out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    assert run_cli("threshold", str(run_dir), "0.999").returncode == 0  # nearly everything is unknown
    window.runs.refresh()
    page = window.classify_page
    page.folder.setText(str(demo_root / "car"))
    with qtbot.waitSignal(window.runner.finished, timeout=120_000) as blocker:
        assert page.start() is not None
    assert blocker.args[1] == "done"
    page.label_filter.setCurrentIndex(page.label_filter.findData("unknown"))
    assert page.proxy.rowCount() > 0 and all(r.label == "unknown" for r in page.proxy.visible_rows())
    assert "unknown" in page.status.text()


def test_runs_page_shows_a_reliability_diagram_of_the_evaluation(window: MainWindow, demo_root: Path) -> None:
    from trainer.evaluate import evaluate_run

    run_dir = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                                out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    rep = evaluate_run(run_dir, demo_root, quiet_events(), lambda: False)
    window.runs.refresh()
    window.runs_page.table.selectRow(0)
    chart = window.runs_page.reliability
    (ax,) = chart.figure.axes
    bins = [b for b in rep["calibration"]["bins"] if b["count"]]
    assert len(ax.patches) == len(bins) > 0  # one bar per non-empty confidence bin
    assert [round(p.get_height(), 6) for p in ax.patches] == [round(b["accuracy"], 6) for b in bins]
    assert ax.get_title().startswith(f"calibration error {rep['calibration']['ece_before']:.1%} →")


def test_threshold_explorer_saves_and_undoes_the_chosen_threshold(qtbot, window: MainWindow,  # noqa: ANN001
                                                                  demo_root: Path) -> None:
    from matplotlib.backend_bases import MouseEvent

    from trainer.evaluate import evaluate_run

    run_dir = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                                out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    evaluate_run(run_dir, demo_root, quiet_events(), lambda: False)
    window.runs.refresh()
    rp = window.runs_page
    rp.table.selectRow(0)
    before = rp.current_run().trust.threshold
    chart = rp.threshold_chart
    (ax,) = chart.figure.axes
    assert len(ax.lines) == 3 and chart.chosen == before  # answered, right among answered, the chosen line
    x, y = ax.transData.transform((0.9, 0.5))
    chart.callbacks.process("button_press_event", MouseEvent("button_press_event", chart, x, y, 1))
    assert abs(chart.chosen - 0.9) < 0.01 and "not saved yet" in rp.threshold_info.text()
    with qtbot.waitSignal(window.runner.finished, timeout=60_000) as blocker:
        assert rp.apply_threshold() is not None
    assert blocker.args[1] == "done", blocker.args[0].log_tail()
    assert abs(rp.current_run().trust.threshold - 0.9) < 0.01 and "saved" in rp.threshold_info.text()
    with qtbot.waitSignal(window.runner.finished, timeout=60_000):
        rp.apply_threshold(undo=True)
    assert rp.current_run().trust.threshold == before
