"""Item model of a dataset's images for the thumbnail grid (lazy: only visible rows decode)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap

from trainer.datasets import Entry
from trainer.pathtext import for_display
from vehicleapp.models.filtering import FilterProxy
from vehicleapp.workers import ThumbnailLoader

PATH_ROLE = Qt.ItemDataRole.UserRole + 1  # the image's Path (a Qt string cannot hold every name)
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2
SPLIT_ROLE = Qt.ItemDataRole.UserRole + 3
UNLABELED = "(unlabeled)"
Index = QModelIndex | QPersistentModelIndex


class ThumbnailModel(QAbstractListModel):
    """One row per image; decoration comes from a :class:`ThumbnailLoader` when ready."""

    def __init__(self, loader: ThumbnailLoader | None = None, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.loader = loader
        self.entries: list[Entry] = []
        self._row_of: dict[str, int] = {}
        self._placeholder = QPixmap(loader.size if loader else 16, loader.size if loader else 16)
        self._placeholder.fill(QColor("#d9dde3"))
        if loader:
            loader.signals.ready.connect(self._on_ready)

    def set_entries(self, entries: list[Entry]) -> None:
        self.beginResetModel()
        self.entries = list(entries)
        self._row_of = {str(e.path): i for i, e in enumerate(self.entries)}
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid() or not 0 <= index.row() < len(self.entries):
            return None
        e = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return for_display(e.path.name)
        if role == Qt.ItemDataRole.DecorationRole and self.loader is not None:
            return self.loader.pixmap(str(e.path)) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            error = self.loader.errors.get(str(e.path)) if self.loader else None
            label = e.label or UNLABELED
            return for_display(f"{e.path.name}\n{label}{' / ' + e.split if e.split else ''}" + (
                f"\nunreadable: {error}" if error else ""))
        if role == PATH_ROLE:
            return e.path
        if role == LABEL_ROLE:
            return e.label or UNLABELED
        if role == SPLIT_ROLE:
            return e.split
        return None

    def _on_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def replace_path(self, old: Path, new_entry: Entry) -> None:
        """After a move: the same row now shows the image at its new place."""
        row = self._row_of.pop(str(old), None)
        if row is None:
            return
        self.entries[row] = new_entry
        self._row_of[str(new_entry.path)] = row
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)


class ThumbnailFilter(FilterProxy):
    """Show only one class and/or one split ("" means all)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.label = ""
        self.split = ""

    def set_filter(self, label: str = "", split: str = "") -> None:
        def change() -> None:
            self.label, self.split = label, split

        self.refilter(change)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        # The entry itself, not its Qt roles: a class name need not fit in a Qt string.
        e = self.sourceModel().entries[row]  # type: ignore[attr-defined]
        if self.label and (e.label or UNLABELED) != self.label:
            return False
        return not (self.split and e.split != self.split)
