"""Every question the app asks, as plain functions tests can replace (pytest-qt's advice)."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget


def ask_folder(parent: QWidget | None, title: str = "Open a folder of images", start: str = "") -> str:
    return QFileDialog.getExistingDirectory(parent, title, start)


def ask_open_file(parent: QWidget | None, title: str, filters: str = "All files (*)") -> str:
    return QFileDialog.getOpenFileName(parent, title, "", filters)[0]


def ask_save_file(parent: QWidget | None, title: str, name: str, filters: str) -> str:
    return QFileDialog.getSaveFileName(parent, title, name, filters)[0]


def ask_text(parent: QWidget | None, title: str, label: str) -> str:
    text, ok = QInputDialog.getText(parent, title, label)
    return text.strip() if ok else ""


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.open()  # non-blocking: the window stays responsive
