"""Every file dialog opens where the same kind of dialog was last answered, across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog

from vehicleapp import dialogs
from vehicleapp.settings import AppSettings


class User:
    """Qt's file dialogs stood in for: where each opened, and what the user answers."""

    def __init__(self) -> None:
        self.opened_in: list[str] = []
        self.file = self.folder = ""

    def file_dialog(self, parent, title, start, filters):  # noqa: ANN001, ANN201
        self.opened_in.append(start)
        return self.file, filters

    def folder_dialog(self, parent, title, start):  # noqa: ANN001, ANN201
        self.opened_in.append(start)
        return self.folder


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch) -> User:
    user = User()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", user.file_dialog)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", user.file_dialog)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", user.folder_dialog)
    monkeypatch.setattr(dialogs, "_memory", None)
    return user


def _settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def _restart(settings: AppSettings, tmp_path: Path) -> AppSettings:
    """The app closes (its settings written and gone) and starts again."""
    settings.qs.sync()
    del settings.qs
    return _settings(tmp_path)


def test_the_model_file_dialog_opens_where_the_last_model_came_from(user: User, tmp_path: Path) -> None:
    shared = tmp_path / "from-a-colleague"
    shared.mkdir()
    settings = _settings(tmp_path)
    dialogs.remember_folders(settings)
    user.file = str(shared / "model.onnx")
    dialogs.ask_open_file(None, "A model file to classify with", "Models (*.onnx)")
    dialogs.remember_folders(_restart(settings, tmp_path))
    assert "from-a-colleague" in (tmp_path / "settings.ini").read_text(encoding="utf-8")  # on disk
    user.file = ""
    assert dialogs.ask_open_file(None, "A model file to classify with", "Models (*.onnx)") == ""  # cancelled
    dialogs.ask_open_file(None, "A photo to try", "Photos (*.jpg)", first=str(tmp_path))  # another kind: its
    assert user.opened_in == [dialogs.default_folder(), str(shared), str(tmp_path)]  # own folder; the first
    # time, the one given (else the user's documents, not the program's folder)


def test_save_and_folder_dialogs_remember_too_and_a_vanished_folder_is_forgotten(user: User, tmp_path: Path) -> None:
    out, data = tmp_path / "out", tmp_path / "photos"
    out.mkdir()
    data.mkdir()
    dialogs.remember_folders(_settings(tmp_path))
    user.file, user.folder = str(out / "predictions.csv"), str(data)
    dialogs.ask_save_file(None, "Export predictions", "predictions.csv", "CSV (*.csv)")
    dialogs.ask_save_file(None, "Export predictions", "predictions.csv", "CSV (*.csv)")
    dialogs.ask_folder(None, "Folder to classify")
    dialogs.ask_folder(None, "Folder to classify")
    assert dialogs.ask_folder(None, "Folder to classify", start=str(out)) == str(data)  # an explicit start wins
    data.rmdir()
    dialogs.ask_folder(None, "Folder to classify")
    home = dialogs.default_folder()
    assert user.opened_in == [str(Path(home) / "predictions.csv"), str(out / "predictions.csv"), home, str(data),
                              str(out), home]


def test_the_model_file_dialog_first_opens_where_a_model_was_just_exported(user: User, tmp_path: Path) -> None:
    """Was: after exporting model.onnx, File… opened in the program's folder."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    dialogs.remember_folders(_settings(tmp_path))
    user.file = str(shipped / "model.onnx")
    dialogs.ask_save_file(None, dialogs.EXPORT_MODEL_TITLE, "run.onnx", "ONNX model (*.onnx)")
    dialogs.ask_open_file(None, "A model file to classify with", "Models (*.onnx)", like=dialogs.EXPORT_MODEL_TITLE)
    assert user.opened_in[-1] == str(shipped)
