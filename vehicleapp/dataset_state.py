"""The open dataset, shared by the Dataset and Labeling pages (they subscribe to its signals).

Scans run on the thread pool; moves go through the journal so each one can be undone.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.datasets import Entry, browse
from trainer.images import find_unreadable
from trainer.layout import detect
from trainer.pathtext import for_display
from vehicleapp.labeling import Journal, LabelingError
from vehicleapp.workers import run_in_background


class DatasetState(QObject):
    loading = Signal(str)
    loaded = Signal()  # root, classes and entries replaced
    failed = Signal(str)
    # Paths go as Python objects: a Qt string cannot hold a file name that is not UTF-8.
    moved = Signal(object, object)  # old Path, new Entry
    classes_changed = Signal()
    problems = Signal(object)  # {path: reason} from the background check
    message = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root: Path | None = None
        self.layout = ""
        self.classes: list[str] = []
        self.entries: list[Entry] = []
        self.journal: Journal | None = None
        self.unreadable: dict[str, str] = {}
        self._generation = 0

    def open(self, root: str | Path) -> None:
        """Scan ``root`` in the background; ``loaded`` or ``failed`` follows."""
        root = Path(root).expanduser().resolve()
        self._generation += 1
        gen = self._generation
        self.loading.emit(str(root))
        run_in_background(lambda: browse(root), lambda res: self._on_browsed(gen, root, res),
                          self.failed.emit)

    def _on_browsed(self, gen: int, root: Path, result: tuple) -> None:
        if gen != self._generation:
            return  # another folder was opened meanwhile
        self.root = root
        self.layout, self.classes, self.entries = result
        self.journal = Journal(root)
        self.unreadable = {}
        self.loaded.emit()
        paths = [e.path for e in self.entries]
        run_in_background(lambda: find_unreadable(paths), lambda res: self._on_checked(gen, res),
                          self.failed.emit)

    def _on_checked(self, gen: int, failed: dict) -> None:
        if gen == self._generation:
            self.unreadable = failed
            self.problems.emit(failed)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter] = {}
        for e in self.entries:
            if e.label:
                out.setdefault(e.split, Counter())[e.label] += 1
        return {split: {c: cnt.get(c, 0) for c in self.classes} for split, cnt in sorted(out.items())}

    def unlabeled(self) -> list[Entry]:
        return [e for e in self.entries if e.label is None]

    def _entry_for(self, path: Path) -> Entry:
        assert self.root is not None
        return Entry(path, *detect(self.root).describe(path))

    def _apply(self, old: Path, new: Path) -> None:
        entry = self._entry_for(new)
        self.entries = [entry if e.path == old else e for e in self.entries]
        if entry.label and entry.label not in self.classes:
            self.classes = sorted({*self.classes, entry.label})
            self.classes_changed.emit()
        self.moved.emit(old, entry)

    def assign(self, path: str | Path, label: str) -> bool:
        """Move an image into class ``label``; False (with a message) when it can't."""
        if self.journal is None:
            return False
        try:
            move = self.journal.assign(Path(path), label)
        except (LabelingError, OSError) as exc:
            self.message.emit(for_display(str(exc)))
            return False
        self._apply(move.src, move.dest)
        self.message.emit(for_display(f"{move.src.name} → {label}  (Ctrl+Z undoes)"))
        return True

    def undo(self) -> bool:
        if self.journal is None:
            return False
        try:
            move = self.journal.undo()
        except (LabelingError, OSError) as exc:
            self.message.emit(for_display(str(exc)))
            return False
        if move is None:
            self.message.emit("nothing to undo")
            return False
        self._apply(move.src, move.dest)
        self.message.emit(for_display(f"undone: {move.dest.name} is back in {move.dest.parent.name}"))
        return True

    def add_class(self, name: str) -> bool:
        if self.journal is None or self.root is None:
            return False
        try:
            self.journal.add_class(name)
        except (LabelingError, OSError) as exc:
            self.message.emit(for_display(str(exc)))
            return False
        if name not in self.classes:
            self.classes = sorted({*self.classes, name})
            self.classes_changed.emit()
        return True
