"""Table model of the runs found in the checkpoints folder (CLI runs included)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from trainer.protocol import Status
from trainer.runs import RunInfo, inspect_run, list_runs

# no column for the run folder's name: it only repeats the date, model, lr and batch, and it
# pushed the table past the window's edge; the Model cell's tooltip and the context menu have it.
# The scores come right after the status: in a 1024-px window the columns past Weights scroll
# out of sight, and those were the ones a comparison is about.
COLUMNS = ("Model", "Status", "Best val acc", "Test acc", "Epochs", "Dataset", "Weights", "Size", "LR", "Batch",
           "Duration", "Date")
NUMERIC = ("Size", "LR", "Batch", "Epochs", "Best val acc", "Test acc", "Duration")
Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 10
STATUS_COLOURS = {Status.FAILED: "#b3261e", Status.DAMAGED: "#b3261e", Status.CANCELLED: "#8a5a00",
                  Status.RUNNING: "#1a73e8"}


WINNER_MARK = "★ "


def ensemble_size(run: RunInfo) -> int:
    """How many runs an ensemble of runs (``trainer ensemble``) averages; 0 for any other run."""
    members = run.config.get("members")
    return len(members) if isinstance(members, list) else 0


def search_pick(run: RunInfo) -> dict:
    """The ``search`` record of a run a ``trainer search`` picked ({} for any other run)."""
    record = run.config.get("search")
    return record if isinstance(record, dict) and record.get("winner") else {}


def model_text(run: RunInfo) -> str:
    """The Model column: the model, "Ensemble of N runs", and ★ before a search's pick."""
    n = ensemble_size(run)
    model = f"Ensemble of {n} runs" if n else str(run.config.get("model", "?"))
    return (WINNER_MARK if search_pick(run) else "") + model


def duration_text(seconds: float) -> str:
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

    def update_run(self, path: Path) -> bool:
        """Read this run again (a running run's new epochs): its row changes in place, the rest
        of the table and its selection stay. False when it is not listed yet."""
        i = next((i for i, run in enumerate(self.runs) if run.path == path), None)
        if i is None:
            return False
        self.runs[i] = inspect_run(path)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        return True

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
        trained = not ensemble_size(run)  # an ensemble of runs has no learning rate or batch of its own
        values = {"Model": model_text(run), "Status": run.status, "Dataset": run.dataset,
                  "Weights": run.weights, "Size": run.image_size or 224, "LR": c.get("lr") if trained else None,
                  "Batch": c.get("batch_size") if trained else None, "Epochs": epochs if trained else None,
                  "Best val acc": run.best_val_acc,
                  "Test acc": run.test_acc,
                  "Duration": run.duration, "Date": c.get("created", "")}
        return tuple(values[name] for name in COLUMNS)

    def _tooltip(self, col: str, run: RunInfo) -> str:
        if col == "Dataset":
            return str(run.config.get("data", ""))
        if col == "Weights":
            spec = run.config.get("weights", "")
            return "\n".join(f"{b}: {s}" for b, s in spec.items()) if isinstance(spec, dict) else str(spec)
        if col == "Status" and run.problem:
            return f"Damaged: {run.problem}"
        if col == "Status" and run.config.get("error"):
            return str(run.config["error"])
        if col == "Model":
            return self._model_tooltip(run)
        if col == "Test acc":
            return ("Accuracy on the test split, with the test-time augmentation the run chose (– without a test "
                    "split)")
        return str(run.path)

    def _model_tooltip(self, run: RunInfo) -> str:
        lines = [str(run.path)]
        if ensemble_size(run):
            lines.insert(0, "Averages the calibrated answers of: " + ", ".join(
                Path(str(m.get("run", "?"))).name for m in run.config["members"] if isinstance(m, dict)))
        pick = search_pick(run)
        if pick:
            acc = f" with {pick['val_acc']:.1%} validation accuracy" if isinstance(pick.get("val_acc"), float) else ""
            lines.insert(0, f"★ Best of the search {Path(str(pick.get('search_dir', ''))).name}{acc}")
        return "\n".join(lines)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid() or not 0 <= index.row() < len(self.runs):
            return None
        run = self.runs[index.row()]
        value = self._values(run)[index.column()]
        if role == SORT_ROLE:
            return -1 if value is None else value
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(index.column(), value, run)
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(col, run)
        if role == Qt.ItemDataRole.ForegroundRole and col == "Status" and run.status in STATUS_COLOURS:
            return QColor(STATUS_COLOURS[run.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, index: int, value, run: RunInfo) -> str:  # noqa: ANN001
        col = COLUMNS[index]
        if value is None:
            return "–"
        if col == "LR":
            return f"{value:g}"
        if col in ("Best val acc", "Test acc"):
            return f"{value:.1%}"
        if col == "Duration":
            return duration_text(value)
        if col == "Size":
            return f"{value} px"
        if col == "Date" and value:
            try:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(value, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return str(value)
        return str(value)

    def run_at(self, row: int) -> RunInfo:
        return self.runs[row]
