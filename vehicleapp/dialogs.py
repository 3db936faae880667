"""Every question the app asks, as plain functions tests can replace (pytest-qt's advice)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from vehicleapp.widgets.text import breakable


class FolderMemory(Protocol):
    """Where each kind of file dialog (its title) was last answered (the app's settings)."""

    def last_folder(self, kind: str) -> str: ...

    def set_last_folder(self, kind: str, folder: str) -> None: ...


_memory: FolderMemory | None = None


#: The model export dialog's title: the model-file dialog opens where it last saved.
EXPORT_MODEL_TITLE = "Export model"


def remember_folders(memory: FolderMemory | None) -> None:
    """From now on every file dialog opens where the same kind of dialog was last answered."""
    global _memory
    _memory = memory


def _start(title: str, first: str = "", like: str = "") -> str:
    """Where the dialog titled ``title`` was last answered; before that, where the one titled
    ``like`` was (a model just exported is the one to classify with), ``first``, or the user's
    documents folder (Qt's default, the working directory, was the program's own folder)."""
    for kind in filter(None, (title, like)):
        folder = _memory.last_folder(kind) if _memory is not None else ""
        if folder and Path(folder).is_dir():
            return folder
    return first or default_folder()


def default_folder() -> str:
    """The user's documents folder where there is one, else their home folder."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.HomeLocation)


def _remember(title: str, path: str, folder: str = "") -> str:
    if path and _memory is not None:
        _memory.set_last_folder(title, folder or str(Path(path).parent))
    return path


def ask_folder(parent: QWidget | None, title: str = "Open a folder of images", start: str = "") -> str:
    chosen = QFileDialog.getExistingDirectory(parent, title, start or _start(title))
    return _remember(title, chosen, folder=chosen)


def ask_open_file(parent: QWidget | None, title: str, filters: str = "All files (*)", first: str = "",
                  like: str = "") -> str:
    """A file to read; the dialog opens where it was last answered (before that: see :func:`_start`)."""
    return _remember(title, QFileDialog.getOpenFileName(parent, title, _start(title, first, like), filters)[0])


def ask_save_file(parent: QWidget | None, title: str, name: str, filters: str) -> str:
    """The file to write, named for its kind: a name typed without the filter's suffix gets it
    (the jobs refuse ``model`` for ``model.onnx``, so that a slip never overwrites a photo)."""
    start = str(Path(_start(title)) / name)
    return _remember(title, with_suffix(QFileDialog.getSaveFileName(parent, title, start, filters)[0], filters))


def with_suffix(path: str, filters: str) -> str:
    """``path`` with the first suffix of ``filters`` ("ONNX model (*.onnx)") added unless it
    ends in one of them already (any case)."""
    suffixes = re.findall(r"\*(\.[\w.]+)", filters)
    if not path or not suffixes or path.lower().endswith(tuple(s.lower() for s in suffixes)):
        return path
    return path + suffixes[0]


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str:
    """The text typed (``text`` to begin with: what to correct), stripped; "" when cancelled."""
    text, ok = QInputDialog.getText(parent, title, label, text=text)
    return text.strip() if ok else ""


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, breakable(text),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_choice(parent: QWidget | None, title: str, text: str, choices: Sequence[str]) -> str:
    """One button per choice (the last one is Escape's); returns the chosen text."""
    box = QMessageBox(QMessageBox.Icon.Question, title, breakable(text), QMessageBox.StandardButton.NoButton, parent)
    buttons = [box.addButton(c, QMessageBox.ButtonRole.AcceptRole) for c in choices]
    box.setDefaultButton(buttons[0])
    box.setEscapeButton(buttons[-1])
    box.exec()
    clicked = box.clickedButton()
    return choices[buttons.index(clicked)] if clicked in buttons else choices[-1]


def offer_choice(parent: QWidget | None, title: str, text: str, choices: Sequence[str],
                 on_choice: Callable[[str], object]) -> None:
    """Like :func:`ask_choice` but non-blocking: ``on_choice(text)`` runs when a button is pressed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, breakable(text), QMessageBox.StandardButton.NoButton, parent)
    buttons = [box.addButton(c, QMessageBox.ButtonRole.AcceptRole) for c in choices]
    box.setEscapeButton(buttons[-1])
    box.buttonClicked.connect(lambda b: on_choice(choices[buttons.index(b)] if b in buttons else choices[-1]))
    box.open()


def show_error(parent: QWidget | None, title: str, text: str, details: str = "") -> None:
    """Non-blocking; a long message wraps (paths too), the full text is in the details."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, breakable(text), QMessageBox.StandardButton.Ok, parent)
    if details or len(text) > 300:
        box.setDetailedText("\n".join(filter(None, (text, details))))
    box.open()  # non-blocking: the window stays responsive


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    """A non-blocking message with rich text (lists, key names)."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, parent)
    box.open()


def show_plain(parent: QWidget | None, title: str, text: str) -> None:
    """:func:`show_info` for plain text: paths wrap, and an ``&`` or ``<`` in them shows as itself."""
    show_info(parent, title, f"<p>{html.escape(breakable(text))}</p>")
