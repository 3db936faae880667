"""Qt fixtures: an isolated main window (own QSettings, runs folder, patched dialogs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QThreadPool
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vehicleapp import dialogs
from vehicleapp.main_window import MainWindow
from vehicleapp.resources import stylesheet
from vehicleapp.settings import AppSettings


class DialogRecorder:
    """Stands in for every dialog; tests set the answers."""

    def __init__(self) -> None:
        self.folder = ""
        self.text = ""
        self.confirm_answer = True
        self.save_path = ""
        self.open_file = ""
        self.choice = "Cancel"
        self.errors: list[tuple[str, str]] = []
        self.confirms: list[str] = []
        self.confirm_texts: list[str] = []
        self.choices: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> DialogRecorder:
    rec = DialogRecorder()
    monkeypatch.setattr(dialogs, "ask_folder", lambda *a, **k: rec.folder)
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: rec.text)
    monkeypatch.setattr(dialogs, "ask_save_file", lambda *a, **k: rec.save_path)
    monkeypatch.setattr(dialogs, "ask_open_file", lambda *a, **k: rec.open_file)

    def confirm(parent, title, text):  # noqa: ANN001, ANN202
        rec.confirms.append(title)
        rec.confirm_texts.append(text)
        return rec.confirm_answer

    def ask_choice(parent, title, text, choices):  # noqa: ANN001, ANN202
        rec.choices.append((title, text))
        return rec.choice

    monkeypatch.setattr(dialogs, "ask_choice", ask_choice)
    monkeypatch.setattr(dialogs, "offer_choice",
                        lambda parent, title, text, choices, on_choice: on_choice(ask_choice(parent, title, text,
                                                                                              choices)))
    monkeypatch.setattr(dialogs, "show_info", lambda p, title, text: rec.infos.append((title, text)))

    monkeypatch.setattr(dialogs, "confirm", confirm)
    monkeypatch.setattr(dialogs, "show_error", lambda p, title, text, details="": rec.errors.append((title, text)))
    return rec


@pytest.fixture
def window(qtbot, tmp_path: Path, answers: DialogRecorder) -> MainWindow:  # noqa: ANN001
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings=settings, runs_dir=str(tmp_path / "runs"))
    qtbot.addWidget(win)
    win.show()
    yield win
    # QTest leaves a Ctrl+Shift+Z's Shift "held" in the application's modifier state, and the
    # next test's selectRow then extends a selection instead of making one
    for key in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt):
        QTest.keyRelease(win, key)
    win.runner.shutdown()
    win.state.close()  # the dataset's lock
    win.thumbs.clear()
    assert win.thumbs.wait(10_000), "thumbnail workers still running after the test"
    assert QThreadPool.globalInstance().waitForDone(30_000), "background workers still running after the test"


def open_folder(qtbot, win: MainWindow, answers: DialogRecorder, folder: Path) -> None:  # noqa: ANN001
    """Open a dataset the way a user does: the Open button and the (patched) dialog."""
    answers.folder = str(folder)
    with qtbot.waitSignal(win.state.loaded, timeout=20_000):
        win.dataset_page.open_button.click()


@pytest.fixture
def styled(qapp: QApplication) -> Iterator[None]:
    """The app's style sheet (bigger font, padded tabs), as the real window has it."""
    qapp.setStyleSheet(stylesheet())
    yield
    qapp.setStyleSheet("")
