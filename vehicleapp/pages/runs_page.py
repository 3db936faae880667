"""Runs page: every run in the checkpoints folder; compare curves, inspect, export, delete."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from trainer import runs as runs_io
from trainer.atomic import read_json
from trainer.protocol import Status
from trainer.runs import RunInfo
from vehicleapp import dialogs
from vehicleapp.commands import evaluate_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.models.runs_model import COLUMNS, SORT_ROLE
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.charts import CompareCurves, ConfusionChart
from vehicleapp.widgets.text import ElidedLabel

log = logging.getLogger(__name__)


def resumable(run: RunInfo | None) -> bool:
    """A run stopped (or failed) before its epoch target that kept its last checkpoint."""
    if run is None or run.status not in (Status.CANCELLED, Status.FAILED):
        return False
    return (run.path / runs_io.LAST).is_file() and len(run.metrics) < int(run.config.get("epochs", 0))


class RunsPage(QWidget):
    resume_requested = Signal(object)  # RunInfo: the Train page continues it
    def __init__(self, runner: JobRunner, state: RunsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.state = state
        self.model = state.model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self._kept: tuple[set[Path], Path | None] = (set(), None)
        self._build()
        state.about_to_refresh.connect(self._remember_selection)
        state.changed.connect(self._restore_selection)

    def _build(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMNS.index("Date"), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setMaximumSectionSize(260)  # a long weights file name elides
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        buttons = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for new runs in the checkpoints folder (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip(
            "Measure the selected run on its dataset: confusion matrix and per-class scores")
        self.evaluate_button.clicked.connect(self.evaluate_selected)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected stopped run from its last checkpoint to its epoch target")
        self.resume_button.clicked.connect(self.resume_selected)
        self.export_button = QPushButton("Export chart as PNG…")
        self.export_button.clicked.connect(self.export_chart)
        self.delete_button = QPushButton("Delete run…")
        self.delete_button.setToolTip("Delete the selected run folders from disk (asks first)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.folder_label = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        for b in (self.refresh_button, self.evaluate_button, self.resume_button, self.export_button,
                  self.delete_button):
            buttons.addWidget(b)
        buttons.addWidget(self.folder_label, 1)
        self.curves = CompareCurves()
        self.confusion = ConfusionChart()
        self.per_class = QTableWidget(0, 4)
        self.per_class.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1"])
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.verticalHeader().setVisible(False)
        detail = QWidget()
        dv = QVBoxLayout(detail)
        dv.addWidget(self.confusion, 2)
        dv.addWidget(self.per_class, 1)
        bottom = QSplitter()
        bottom.addWidget(self.curves)
        bottom.addWidget(detail)
        bottom.setSizes([800, 360])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.setSizes([260, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self._on_selection()

    def refresh(self) -> None:
        """Re-read the runs folder (the selection and the current run are kept)."""
        self.state.refresh()

    def _remember_selection(self) -> None:
        current = self.current_run()
        self._kept = ({r.path for r in self.selected_runs()}, current.path if current else None)

    def _restore_selection(self) -> None:
        selected, current = self._kept
        self.folder_label.setText(f"Runs in: {self.state.runs_dir}")
        selection = QItemSelection()
        sm = self.table.selectionModel()
        for row in range(self.proxy.rowCount()):
            run = self.model.run_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
            if run.path == current:
                sm.setCurrentIndex(self.proxy.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            if run.path in selected:
                selection.select(self.proxy.index(row, 0), self.proxy.index(row, self.proxy.columnCount() - 1))
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._on_selection()

    def selected_runs(self) -> list[RunInfo]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.run_at(r) for r in sorted(rows)]

    def _on_selection(self, *_: object) -> None:
        chosen = self.selected_runs()
        self.curves.show_runs(chosen)
        current = self.current_run()
        self.evaluate_button.setEnabled(current is not None)
        self.resume_button.setEnabled(resumable(current))
        self.delete_button.setEnabled(bool(chosen))
        self._show_detail(current)

    def current_run(self) -> RunInfo | None:
        """The run whose details show: the current row when it is selected."""
        idx = self.table.selectionModel().currentIndex()
        if not idx.isValid() or not self.table.selectionModel().isRowSelected(idx.row()):
            chosen = self.selected_runs()
            return chosen[0] if len(chosen) == 1 else None
        return self.model.run_at(self.proxy.mapToSource(idx).row())

    def _show_detail(self, run: RunInfo | None) -> None:
        self.per_class.setRowCount(0)
        if run is None:
            self.confusion.show_message("Select a run to see its confusion matrix")
            return
        path = run.path / runs_io.EVALUATION
        if not path.is_file():
            self.confusion.show_message("Not evaluated yet: press Evaluate")
            return
        try:
            self._show_evaluation(run, read_json(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("unreadable %s: %s", path, exc)
            self.per_class.setRowCount(0)
            self.confusion.show_message(f"{runs_io.EVALUATION} is damaged ({type(exc).__name__}): press Evaluate again")

    def _show_evaluation(self, run: RunInfo, rep: dict) -> None:
        self.confusion.show_matrix(rep["confusion"], rep["classes"],
                                   f"{run.config.get('model')} lr={run.config.get('lr')} · {rep['split']} "
                                   f"· acc {rep['accuracy']:.1%}")
        for name, c in rep["per_class"].items():
            row = self.per_class.rowCount()
            self.per_class.insertRow(row)
            for col, text in enumerate((name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}")):
                self.per_class.setItem(row, col, QTableWidgetItem(text))

    def evaluate_selected(self) -> Job | None:
        run = self.current_run()
        if run is None:
            return None
        return self.runner.run(evaluate_args(run.path, Path(run.config.get("data", ""))), "Evaluation")

    def resume_selected(self) -> None:
        run = self.current_run()
        if resumable(run):
            self.resume_requested.emit(run)

    def export_chart(self) -> None:
        path = dialogs.ask_save_file(self, "Export chart", "runs-comparison.png", "PNG image (*.png)")
        if path:
            self.curves.save_png(path)

    def delete_selected(self) -> None:
        chosen = self.selected_runs()
        if not chosen:
            return
        names = "\n".join(r.name for r in chosen)
        if dialogs.confirm(self, "Delete runs", f"Delete these runs from disk?\n\n{names}"):
            for run in chosen:
                runs_io.delete_run(run.path)
            self.refresh()
