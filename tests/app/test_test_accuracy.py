"""Test accuracy (Train log and status, Runs table) and runs made by the command line while the app is open."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tests.app.test_new_user_fixes import fake_run
from trainer.protocol import Event
from trainer.runs import write_metrics
from vehicleapp.main_window import MainWindow
from vehicleapp.models.runs_model import COLUMNS


def test_the_train_log_and_status_show_test_accuracy(window: MainWindow) -> None:
    page = window.train_page
    page.job = SimpleNamespace(command="train", status="done")  # the events of a job, without running one
    metrics = {"epoch": 1, "seconds": 1.0, "train_acc": 0.9, "val_acc": 0.8, "val_loss": 0.5, "train_loss": 0.4}
    page._on_event({"event": Event.EPOCH, "epochs": 2, "metrics": metrics})
    page._on_event({"event": Event.EPOCH, "epochs": 2, "metrics": {**metrics, "epoch": 2, "test_acc": 0.75}})
    lines = page.log.toPlainText().splitlines()
    assert "test" not in lines[0] and lines[1].endswith("test acc 75.0%")
    page._on_event({"event": Event.DONE, "message": "finished: best val acc 80.0%", "test_acc": 0.75})
    assert page.log.toPlainText().splitlines()[-1].endswith("test acc 75.0%")
    page._on_finished(page.job, "done", "")
    assert page.status.text() == "Finished, test acc 75.0%."


def test_the_runs_table_shows_test_accuracy_at_the_best_val_epoch(window: MainWindow, tmp_path: Path) -> None:
    out = window.runs.runs_dir
    assert out is not None
    with_test = fake_run(out, "20261130-060848", tmp_path / "kaggle", 3, 0.9)
    write_metrics(with_test, [{"epoch": e, "val_acc": v, "test_acc": t}
                              for e, v, t in ((1, 0.7, 0.6), (2, 0.9, 0.85), (3, 0.8, 0.95))])
    fake_run(out, "20261130-060952", tmp_path / "plain", 2, 0.8)
    window.runs.refresh()
    model, col = window.runs.model, COLUMNS.index("Test acc")
    shown = {model.run_at(r).path: model.index(r, col).data() for r in range(model.rowCount())}
    assert shown.pop(with_test) == "85.0%"
    assert list(shown.values()) == ["–"]  # no test split


def test_a_run_made_by_the_command_line_appears_without_refresh(window: MainWindow, tmp_path: Path) -> None:
    out = window.runs.runs_dir
    assert out is not None
    before = window.runs.model.rowCount()
    assert not window.runs.refresh_if_changed()  # nothing new: no re-read
    fake_run(out, "20261130-060848", tmp_path / "kaggle", 2, 0.9)  # `trainer train` in a terminal
    window.tabs.setCurrentWidget(window.runs_page)
    assert window.runs.model.rowCount() == before + 1
    fake_run(out, "20261130-060952", tmp_path / "kaggle", 2, 0.9)
    window.on_activated()  # back in the window after the terminal
    assert window.runs.model.rowCount() == before + 2
    assert window.classify_page.run_combo.count() == before + 2
