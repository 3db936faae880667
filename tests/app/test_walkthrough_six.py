"""A sixth walkthrough in a real window: Ctrl+Enter in the Classify page's folder field started
a training run out of sight, and Esc in a text field stopped it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from vehicleapp import dialogs
from vehicleapp.main_window import MainWindow


def _activate(qtbot: QtBot, window: MainWindow) -> None:
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def test_ctrl_enter_on_another_page_brings_up_the_train_page_without_starting(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(window.train_page, "start", lambda: started.append(True))
    _activate(qtbot, window)
    window.tabs.setCurrentWidget(window.classify_page)
    window.classify_page.folder.setFocus()
    qtbot.keyClick(window.classify_page.folder, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.train_page and not started
    assert "press Start" in window.train_page.status.text()
    qtbot.keyClick(window.train_page, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert started == [True]  # on the Train page it trains


@pytest.mark.parametrize("answer", [False, True])
def test_esc_asks_before_stopping_a_job(qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch,
                                        answer: bool) -> None:
    asked: list[str] = []
    cancelled: list[bool] = []
    monkeypatch.setattr(dialogs, "confirm", lambda parent, title, text: asked.append(title) or answer)
    monkeypatch.setattr(window.runner, "busy", lambda: True)
    monkeypatch.setattr(window.runner, "cancel", lambda: cancelled.append(True))
    _activate(qtbot, window)
    window.stop_action.setEnabled(True)  # as while a job runs
    window.tabs.setCurrentWidget(window.classify_page)
    window.classify_page.folder.setFocus()
    qtbot.keyClick(window.classify_page.folder, Qt.Key.Key_Escape)
    assert asked == ["Stop the job?"]
    assert cancelled == ([True] if answer else [])


def test_the_progress_bar_does_not_go_back_after_the_epochs(window: MainWindow,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """It went ~100% at the last epoch -> 33% -> 67% (test-time augmentation) -> 50% (calibration)."""
    from tests.app.test_new_user_gui import _start_training, _train_events

    tp, job = _start_training(window, monkeypatch)
    for e in _train_events(2, 4, 2):
        job.event.emit(e)
    at_end = (tp.progress.value(), tp.progress.maximum())
    assert at_end == (8, 8)
    for phase, done, total in (("tta", 1, 3), ("tta", 2, 3), ("calibrate", 1, 2)):
        job.event.emit({"event": "progress", "phase": phase, "done": done, "total": total})
        assert (tp.progress.value(), tp.progress.maximum()) == at_end
    assert "1/2" in tp.status.text()  # the step is still said in words


def test_an_unknown_suggestion_is_said_not_dropped(qtbot: QtBot, window: MainWindow, answers,  # noqa: ANN001
                                                   demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: "7 suggestions" for 7 photos, but the one the model answered unknown showed just
    "class: none" and Enter did nothing, without a word."""
    import shutil

    from tests.app.conftest import open_folder

    (demo_copy / "unlabeled").mkdir()
    shutil.move(demo_copy / "truck" / "truck_0000.jpg", demo_copy / "unlabeled" / "u0.jpg")
    open_folder(qtbot, window, answers, demo_copy)
    page, bar = window.label_page, window.label_page.suggestions
    bar.suggested = {demo_copy / "unlabeled" / "u0.jpg": ("unknown", 0.2)}
    page.rebuild_queue()
    window.tabs.setCurrentWidget(page)
    assert "not sure (unknown)" in page.current_label.text()
    said: list[str] = []
    window.state.message.connect(said.append)
    page.accept_suggestion()
    assert said and "not sure" in said[-1] and (demo_copy / "unlabeled" / "u0.jpg").exists()


def test_train_a_model_first_goes_once_there_is_a_run(qtbot: QtBot, window: MainWindow, answers,  # noqa: ANN001
                                                      demo_copy: Path) -> None:
    """Was: "Train a model first (Train page)." stayed beside a run box that had a run."""
    from tests.app.conftest import open_folder
    from tests.conftest import quiet_events
    from trainer.config import TrainConfig
    from trainer.engine import train
    from vehicleapp.widgets.suggestions import NO_RUN

    open_folder(qtbot, window, answers, demo_copy)
    bar = window.label_page.suggestions
    assert bar.start() is None and bar.status.text() == NO_RUN
    train(TrainConfig(data=str(demo_copy), weights="none", freeze=True, epochs=1, image_size=48, workers=1,
                      out=str(window.runs.runs_dir)), quiet_events(), lambda: False)
    window.runs.refresh()  # a run finished
    assert bar.run_combo.currentData() and bar.status.text() == ""
