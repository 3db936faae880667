"""Undo and redo of labeling moves.

Undo is the journal's (:mod:`vehicleapp.labeling`), so it works across restarts. Redo puts an
image undone in this session back into the class it had been moved to, as a new journaled move
(so it can be undone again); any other move forgets what could be redone, as in every editor.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from trainer.datasets import Entry
from vehicleapp.dataset_state import DatasetState


class LabelHistory(QObject):
    def __init__(self, state: DatasetState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.redo_stack: list[tuple[Path, str]] = []  # (image now, class it was moved to)
        self._doing = ""  # "undo" or "redo" while one runs
        self._undone: tuple[Path, str] | None = None
        state.moved.connect(self._on_moved)
        state.loaded.connect(self.redo_stack.clear)

    def undo(self) -> bool:
        self._doing, self._undone = "undo", None
        try:
            ok = self.state.undo()
        finally:
            self._doing = ""
        if ok and self._undone is not None:
            self.redo_stack.append(self._undone)
        return ok

    def redo(self) -> bool:
        if not self.redo_stack:
            self.state.message.emit("nothing to redo")
            return False
        path, label = self.redo_stack.pop()
        self._doing = "redo"
        try:
            ok = self.state.assign(path, label)
        finally:
            self._doing = ""
        if not ok:
            self.redo_stack.clear()
        return ok

    def _on_moved(self, old: object, entry: Entry) -> None:
        if self._doing == "undo":
            self._undone = (Path(entry.path), Path(str(old)).parent.name)
        elif not self._doing:
            self.redo_stack.clear()
