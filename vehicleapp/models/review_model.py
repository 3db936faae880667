"""The suspects of a review (``review.csv``) as a list model, and a filter by kind of issue.

Each row follows its image: when a move (accept, a class key, an undo) relocates the file, the
row's path and current label follow it, and the filter hides what is resolved (the label now
equals the suggestion) or dismissed ("not an issue") — an undo brings it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap

from trainer.csvfile import ReviewRow
from trainer.pathtext import for_display
from vehicleapp.models.filtering import FilterProxy
from vehicleapp.models.thumbnails import PATH_ROLE
from vehicleapp.workers import ThumbnailLoader

SUSPECT_ROLE = Qt.ItemDataRole.UserRole + 30  # the Suspect object
Index = QModelIndex | QPersistentModelIndex

#: Filter choices: (shown text, key).
KINDS = (("Likely wrong label", "label"), ("Near-duplicates", "duplicate"),
         ("Duplicates across splits (leakage)", "leakage"), ("Outliers", "outlier"), ("All suspects", "all"))
DISMISSED = ("Marked not an issue", "dismissed")  # where a mark is taken back (X again)


@dataclass
class Suspect:
    row: ReviewRow
    path: Path  # where the image is now
    label: str  # its class now
    dismissed: bool = False
    leaking: bool = False  # its duplicate group spans splits

    @property
    def resolved(self) -> bool:
        return self.label == self.row.suggested_label

    def is_kind(self, kind: str) -> bool:
        r = self.row
        return {"label": r.is_label_issue and not self.resolved, "duplicate": r.duplicate_group is not None,
                "leakage": self.leaking, "outlier": r.is_outlier}.get(kind, False)

    def caption(self) -> str:
        r = self.row
        if r.duplicate_group is not None and not r.is_label_issue:
            return for_display(f"duplicate group {r.duplicate_group} · {r.split}")
        return for_display(f"{self.label} →\n{r.suggested_label} · {r.label_score:.2f}")  # two lines: never cut


class ReviewModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader | None = None, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.loader = loader
        self.items: list[Suspect] = []
        self._placeholder = QPixmap(loader.size if loader else 16, loader.size if loader else 16)
        self._placeholder.fill(QColor("#d9dde3"))
        if loader:
            loader.signals.ready.connect(self._on_ready)

    def set_rows(self, root: Path, rows: list[ReviewRow], dismissed: set[str],
                 now: Mapping[str, tuple[Path, str]] | None = None) -> None:
        """Show ``rows``; ``now`` gives the place and class of the files that moved since the
        review (by the row's path), so a fix made in an earlier session stays made."""
        spans: dict[int, set[str]] = {}
        for r in rows:
            if r.duplicate_group is not None:
                spans.setdefault(r.duplicate_group, set()).add(r.split)
        now = now or {}
        self.beginResetModel()
        self.items = [Suspect(r, *now.get(r.path, (root.joinpath(*r.path.split("/")), r.given_label)),
                              r.path in dismissed,
                              len(spans.get(r.duplicate_group, ())) > 1 if r.duplicate_group is not None else False)
                      for r in rows]
        self.endResetModel()

    def set_items(self, items: list[Suspect]) -> None:
        """Show these suspects (shared with another model: a duplicate group beside the grid)."""
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        s = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return s.caption()
        if role == Qt.ItemDataRole.DecorationRole and self.loader is not None:
            return self.loader.pixmap(s.path) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            probs = ", ".join(f"{p:.0%}" for p in s.row.probs)
            return for_display(f"{s.row.path}\ngiven {s.row.given_label}, suggested {s.row.suggested_label} "
                               f"(score {s.row.label_score:.2f}; probabilities {probs})")
        if role == PATH_ROLE:
            return s.path
        if role == SUSPECT_ROLE:
            return s
        return None

    def moved(self, old: Path, new: Path, label: str | None) -> Suspect | None:
        """An image moved (a label key, an accept, an undo): its row follows it."""
        for i, s in enumerate(self.items):
            if s.path == old:
                s.path, s.label = new, label or s.label
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)
                return s
        return None

    def changed(self, suspect: Suspect) -> None:
        i = self.items.index(suspect)
        self.dataChanged.emit(self.index(i), self.index(i))

    def group(self, number: int) -> list[Suspect]:
        return [s for s in self.items if s.row.duplicate_group == number]

    def _on_ready(self, path: str) -> None:
        for i, s in enumerate(self.items):
            if str(s.path) == path:
                idx = self.index(i)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class ReviewFilter(FilterProxy):
    """Shows the suspects of one kind that are neither dismissed nor resolved."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.kind = "label"
        self.only: set[Path] | None = None  # a drill-down or map selection: just these images
        self.setDynamicSortFilter(True)

    def set_kind(self, kind: str, only: set[Path] | None = None) -> None:
        def change() -> None:
            self.kind, self.only = kind, only

        self.refilter(change)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        s: Suspect = self.sourceModel().index(row, 0, parent).data(SUSPECT_ROLE)
        if self.only is not None:
            return s.path in self.only
        if s.dismissed or self.kind == DISMISSED[1]:
            return s.dismissed and self.kind == DISMISSED[1]
        if self.kind == "all":
            return any(s.is_kind(k) for _, k in KINDS[:-1])
        return s.is_kind(self.kind)
