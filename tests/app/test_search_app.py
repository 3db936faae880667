"""'Find the best model' on the Train page, the search's pick and ensembles of runs on the Runs page.

The search's events are a real ``trainer search`` run's, recorded (tests/app/data): its steps'
training runs send their own start/epoch/done events, and the ensemble step's done comes
without ``search_step``; only the search's last ``done`` ends it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from trainer import config as C
from trainer.atomic import write_json
from trainer.cli import build_parser
from trainer.config import TrainConfig
from trainer.options import weights_from_args
from trainer.protocol import Status
from trainer.runs import write_metrics
from vehicleapp.commands import search_args
from vehicleapp.jobs import Job
from vehicleapp.main_window import MainWindow
from vehicleapp.models.runs_model import COLUMNS
from vehicleapp.pages.runs_page import NOT_FOR_ENSEMBLES
from vehicleapp.widgets.leaderboard import COLUMNS as BOARD
from vehicleapp.widgets.leaderboard import is_search_event

EVENTS = Path(__file__).parent / "data" / "search_events.jsonl"
PICK = "RUNS/20261129-181151-mobilenet_v2-lr0.001-bs8"


def recorded_events() -> list[dict]:
    return [json.loads(line) for line in EVENTS.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("weights", ["imagenet", "none", {"mobilenet_v2": "/w/m v2.pth", "resnet50": "none"}])
def test_search_args_reach_the_search_command_intact(weights: object) -> None:
    cfg = TrainConfig(data="/data set", weights=weights, device="cpu", out="/runs dir")  # type: ignore[arg-type]
    ns = build_parser().parse_args(search_args(cfg, 15))
    assert (ns.command, ns.data, ns.budget, ns.out, ns.device, ns.image_size, ns.events) == (
        "search", "/data set", 15.0, "/runs dir", "cpu", None, True)
    assert weights_from_args(ns.weights) == weights
    assert build_parser().parse_args(search_args(cfg, 5, image_size=48)).image_size == 48


def test_only_the_searchs_own_done_ends_it() -> None:
    events = recorded_events()
    dones = [e for e in events if e["event"] == "done"]
    assert [is_search_event(e) for e in dones] == [False, False, False, True]  # two steps, the ensemble, the pick


def _fake_runner(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> list[Job]:
    """The runner hands out jobs that never start a process; the test plays their events."""
    made: list[Job] = []

    def run(args: list[str], title: str) -> Job:
        job = Job(args, title, window.runner)
        made.append(job)
        return job

    monkeypatch.setattr(window.runner, "run", run)
    return made


def _search_started(window: MainWindow) -> Job:
    """A search started on a dataset of two classes, no weights to download; its fake job."""
    tp = window.train_page
    tp.set_dataset("/data", {"car": 5, "truck": 5})
    tp.weights.set_mode("none")
    job = tp.start_search()
    assert job is not None
    return job


def _finish(window: MainWindow, job: Job, status: Status, message: str) -> None:
    job.status = status
    window.runner.finished.emit(job, status, message)


def test_find_the_best_model_fills_the_leaderboard_and_marks_the_pick(window: MainWindow, answers,  # noqa: ANN001
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    made = _fake_runner(window, monkeypatch)
    tp = window.train_page
    tp.set_dataset("/data", {"car": 5, "truck": 5})
    tp.weights.set_mode("none")  # nothing to download: no weights question first
    tp.budget.setCurrentIndex(tp.budget.findData(5))
    tp.search_button.click()
    assert answers.confirms == ["Find the best model?"] and "Up to 5 minutes" in answers.confirm_texts[0]
    job = made[0]
    assert job.args == search_args(tp.config(), 5)
    assert not tp.search_button.isEnabled() and not tp.start_button.isEnabled() and tp.stop_button.isEnabled()
    assert tp.board.isVisibleTo(tp)
    assert tp.settings_box.title() == "Settings (the search chooses its own; editable when it ends)"
    events = recorded_events()
    for e in events[: events.index(next(e for e in events if e.get("stage") == "fine-tune"))]:
        job.event.emit(e)
    assert [tp.board.table.item(r, 0).text() for r in range(tp.board.table.rowCount())] == [
        "mobilenet_v2 @48", "ensemble @48", "ensemble_regularized @48", "resnet50 @48"]  # done first, then skipped
    assert tp.board.table.item(0, BOARD.index("Val")).text() == "77.8%"
    assert "no internet" in tp.board.table.item(1, BOARD.index("Status")).toolTip()  # why a step was skipped
    assert "fine-tuned 12 epochs" in tp.board.summary.text() and "of the budget left" in tp.board.summary.text()
    assert tp.status.text() == "mobilenet_v2 fine-tuned · mobilenet_v2 on cpu · 45 images"  # the step's own start
    for e in events[events.index(next(e for e in events if e.get("stage") == "fine-tune")):-1]:
        job.event.emit(e)
    assert tp.chart.target_epochs == 27 and tp.chart.point_count() == 5  # 15 head + 12 fine-tuning epochs
    assert tp.board.winner_row() is None and tp.stop_button.isEnabled()  # the steps' done ended nothing
    job.event.emit(events[-1])
    _finish(window, job, Status.DONE, "finished")
    row = tp.board.winner_row()
    assert row == 0 and tp.board.table.item(row, 0).text() == "★ mobilenet_v2 fine-tuned"
    assert tp.board.table.item(row, 0).font().bold()
    assert tp.status.text() == ("Finished: picked mobilenet_v2 fine-tuned (fine-tuned 12 epochs): val acc 88.9% "
                                "after 1.6 min; ★ on the Runs page.")
    assert tp.search_button.isEnabled() and not tp.stop_button.isEnabled()
    log = tp.log.toPlainText()
    assert "search step resnet50 @48: skipped (ImageNet weights for resnet50" in log
    assert "mobilenet_v2 fine-tuned · fine-tuning from epoch 16" in log
    assert "mobilenet_v2 fine-tuned · epoch 27/27:" in log and "mobilenet_v2 @48 · Finished: at its best it got" in log


def test_a_stopped_search_says_so_and_a_single_run_hides_the_board(window: MainWindow, answers,  # noqa: ANN001
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tp, made = window.train_page, _fake_runner(window, monkeypatch)
    job = _search_started(window)
    for e in recorded_events()[:8]:
        job.event.emit(e)
    _finish(window, job, Status.CANCELLED, "stopped")
    assert tp.status.text().startswith("Search stopped before its pick") and tp.board.winner_row() is None
    assert tp.start() is made[1] and not tp.board.isVisibleTo(tp)
    answers.confirm_answer = False
    _finish(window, made[1], Status.DONE, "finished")
    assert tp.start_search() is None and len(made) == 2  # the question was declined


def test_fine_tuning_and_tta_rows_carry_into_the_config_and_are_remembered(window: MainWindow) -> None:
    tp = window.train_page
    assert tp.fine_tune.toolTip() == C.help_of("fine_tune") and tp.tta.toolTip() == C.help_of("tta")
    assert [tp.tta.itemData(i) for i in range(tp.tta.count())] == list(C.TTA_CHOICES)
    tp.fine_tune.setValue(4)
    tp.tta.setCurrentIndex(tp.tta.findData("flip"))
    tp.budget.setCurrentIndex(tp.budget.findData(60))
    tp.data_root = "/data"
    assert (tp.config().fine_tune, tp.config().tta) == (4, "flip")
    assert tp.chart.target_epochs == tp.epochs.value() + 4
    saved = window.settings.train_options()
    assert (saved["fine_tune"], saved["tta"], saved["search_minutes"]) == (4, "flip", 60)
    tp.set_options({**saved, "fine_tune": 0, "tta": "auto", "search_minutes": 5})
    assert (tp.fine_tune.value(), tp.tta.currentData(), tp.budget.currentData()) == (0, "auto", 5)


def _run_folder(runs: Path, name: str, **config: object) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    write_json(folder / "config.json", {"data": "/data", "model": "mobilenet_v2", "status": "done", "epochs": 15,
                                        "created": f"2026-11-29T18:{len(list(runs.iterdir())):02d}:00", **config})
    _checkpoint(folder / "best.pt")
    return folder


def _checkpoint(path: Path) -> None:
    """A file shaped like a checkpoint (a zip): an empty one is listed as damaged."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"")


def _select(window: MainWindow, folder: Path) -> None:
    page = window.runs_page
    for row in range(page.proxy.rowCount()):
        if page.model.run_at(page.proxy.mapToSource(page.proxy.index(row, 0)).row()).path == folder:
            page.table.selectionModel().setCurrentIndex(
                page.proxy.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            return
    raise AssertionError(f"{folder} is not listed")


def _model_cell(window: MainWindow, folder: Path, role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> str:
    model = window.runs_page.model
    row = [r.path for r in model.runs].index(folder)
    return model.index(row, COLUMNS.index("Model")).data(role)


def test_the_search_pick_is_marked_and_ensembles_cannot_be_resumed_or_retrained(window: MainWindow) -> None:
    runs = window.runs.runs_dir
    plain = _run_folder(runs, "plain", status="cancelled")
    _checkpoint(plain / "last.pt")
    pick = _run_folder(runs, "pick", search={"winner": True, "search_dir": str(runs / "search-20261129-181113"),
                                             "val_acc": 0.8889})
    ensemble = _run_folder(runs, "ens", model="run_ensemble", status="cancelled", lr=0, batch_size=2,
                           members=[{"run": str(plain), "model": "mobilenet_v2", "temperature": 1.0, "tta": "off"},
                                    {"run": str(pick), "model": "mobilenet_v2", "temperature": 0.7, "tta": "flip"}])
    _checkpoint(ensemble / "last.pt")  # even so: an ensemble has nothing to resume
    window.runs.refresh()
    page = window.runs_page
    assert _model_cell(window, pick) == "★ mobilenet_v2" and _model_cell(window, plain) == "mobilenet_v2"
    assert "Best of the search search-20261129-181113 with 88.9% validation accuracy" in _model_cell(
        window, pick, Qt.ItemDataRole.ToolTipRole)
    assert _model_cell(window, ensemble) == "Ensemble of 2 runs"
    row = [r.path for r in window.runs_page.model.runs].index(ensemble)
    assert window.runs_page.model.index(row, COLUMNS.index("LR")).data() == "–"  # not the engine's placeholder 0
    assert window.runs_page.model.index(row, COLUMNS.index("Epochs")).data() == "–"  # it trains none ("1" before)
    assert "plain, pick" in _model_cell(window, ensemble, Qt.ItemDataRole.ToolTipRole)
    combo = window.classify_page.run_combo
    assert combo.itemText(combo.findData(str(pick))).startswith("★ ")  # the pick is marked where runs are chosen
    _select(window, plain)
    assert page.resume_button.isEnabled() and page.retrain_button.isEnabled()
    _select(window, ensemble)
    assert not page.resume_button.isEnabled() and not page.retrain_button.isEnabled()
    assert page.resume_button.toolTip() == NOT_FOR_ENSEMBLES == page.retrain_button.toolTip()
    assert page.retrain_selected() is None and page.evaluate_button.isEnabled()
    _select(window, pick)
    assert page.retrain_button.isEnabled() and page.retrain_button.toolTip().startswith("Train again")


def test_a_run_stopped_after_its_head_and_before_fine_tuning_can_be_resumed(window: MainWindow) -> None:
    folder = _run_folder(window.runs.runs_dir, "tuned", status="cancelled", fine_tune=12)
    _checkpoint(folder / "last.pt")
    write_metrics(folder, [{"epoch": e, "val_acc": 0.5} for e in range(1, 16)])  # the 15 head epochs
    window.runs.refresh()
    _select(window, folder)
    assert window.runs_page.resume_button.isEnabled()


def test_the_pages_that_use_a_run_start_on_the_searchs_pick(tmp_path: Path) -> None:
    from trainer.runs import load_run
    from vehicleapp.widgets.run_picker import default_run

    runs = tmp_path / "runs"
    runs.mkdir()
    better = _run_folder(runs, "better-on-paper", data=str(tmp_path / "data"))
    (better / "metrics.csv").write_text("epoch,val_acc\n1,0.99\n", encoding="utf-8")
    pick = _run_folder(runs, "pick", data=str(tmp_path / "data"), search={"winner": True, "val_acc": 0.95})
    (pick / "metrics.csv").write_text("epoch,val_acc\n1,0.95\n", encoding="utf-8")
    infos = [load_run(better), load_run(pick)]
    assert default_run(infos, str(tmp_path / "data")).path == pick
    plain = [load_run(better)]
    assert default_run(plain, str(tmp_path / "data")).path == better  # no search: the best val accuracy


def test_the_budget_left_counts_down_during_a_long_step(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """'about 4:57 of the budget left' stood still through a step of minutes: the search sends
    its time left only between steps. The board now counts it down itself, and stops with the job."""
    import vehicleapp.widgets.leaderboard as lb

    tp = window.train_page
    _fake_runner(window, monkeypatch)
    job = _search_started(window)
    now = [1000.0]
    monkeypatch.setattr(lb.time, "monotonic", lambda: now[0])
    job.event.emit({"event": "progress", "phase": "search", "done": 0, "total": 4, "eta_s": 300,
                    "note": "mobilenet_v2 @224"})
    assert tp.board.summary.text() == "Step 1: mobilenet_v2 @224 · about 5:00 of the budget left"
    now[0] += 61
    tp.board._clock.timeout.emit()  # what the board's one-second timer does
    assert tp.board.summary.text() == "Step 1: mobilenet_v2 @224 · about 3:59 of the budget left"
    now[0] += 600
    tp.board._clock.timeout.emit()
    assert tp.board.summary.text() == "Step 1: mobilenet_v2 @224 · the budget is used: finishing"
    assert tp.board._clock.isActive()
    _finish(window, job, Status.FAILED, "killed")
    assert not tp.board._clock.isActive()
