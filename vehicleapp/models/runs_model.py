"""Table model of the runs found in the checkpoints folder (CLI runs included)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from trainer.runs import RunInfo, list_runs

COLUMNS = ("Model", "LR", "Batch", "Epochs", "Best val acc", "Duration", "Status", "Date", "Name")
Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 10


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class RunsModel(QAbstractTableModel):
    def __init__(self, runs_dir: Path | None = None, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.runs: list[RunInfo] = []

    def refresh(self, runs_dir: Path | None = None) -> None:
        if runs_dir is not None:
            self.runs_dir = runs_dir
        self.beginResetModel()
        self.runs = list_runs(self.runs_dir) if self.runs_dir and self.runs_dir.is_dir() else []
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201, N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def _values(self, run: RunInfo) -> tuple:
        c = run.config
        epochs = len(run.metrics)
        return (c.get("model", "?"), c.get("lr"), c.get("batch_size"), epochs, run.best_val_acc,
                run.duration, run.status, c.get("created", ""), run.name)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid() or not 0 <= index.row() < len(self.runs):
            return None
        run = self.runs[index.row()]
        value = self._values(run)[index.column()]
        if role == SORT_ROLE:
            return -1 if value is None else value
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(index.column(), value, run)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(run.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (1, 2, 3, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, col: int, value, run: RunInfo) -> str:  # noqa: ANN001
        if value is None:
            return "–"
        if col == 1:
            return f"{value:g}"
        if col == 4:
            return f"{value:.1%}"
        if col == 5:
            return _duration(value)
        if col == 7 and value:
            try:
                return time.strftime("%Y-%m-%d %H:%M", time.strptime(value, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return str(value)
        return str(value)

    def run_at(self, row: int) -> RunInfo:
        return self.runs[row]
