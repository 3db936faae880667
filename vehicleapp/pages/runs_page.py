"""Runs page: every run in the checkpoints folder; compare curves, inspect, export, delete."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QSortFilterProxyModel, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from trainer import runs as runs_io
from trainer.atomic import read_json
from trainer.config import TrainConfig
from trainer.csvfile import read_evaluation
from trainer.metrics import coverage_curve
from trainer.protocol import Event, Status
from trainer.runs import RunInfo
from vehicleapp import dialogs
from vehicleapp.commands import evaluate_args, export_args, train_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.models.runs_model import COLUMNS, SORT_ROLE, ensemble_size
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.charts import CompareCurves, ConfusionChart, ReliabilityChart, ThresholdChart
from vehicleapp.widgets.text import ElidedLabel, Hint

log = logging.getLogger(__name__)
NOT_FOR_ENSEMBLES = ("An ensemble of runs is made from finished runs: it has nothing to resume or retrain "
                     "(train its member runs again instead)")


def resumable(run: RunInfo | None) -> bool:
    """A run stopped (or failed) before its epoch target that kept its last checkpoint."""
    if run is None or ensemble_size(run) or run.status not in (Status.CANCELLED, Status.FAILED):
        return False
    target = int(run.config.get("epochs", 0)) + int(run.config.get("fine_tune") or 0)  # fine-tuning's epochs too
    return (run.path / runs_io.LAST).is_file() and len(run.metrics) < target


def export_words(out: Path, parity: object, message: str) -> str:
    """The export's verdict in plain words: where the file is and how its answers compared with
    the PyTorch model's on a sample of the run's photos (the CLI's message when figures are missing)."""
    if not isinstance(parity, dict) or not isinstance(parity.get("n"), int):
        return message
    n, agreement, diff = parity["n"], float(parity.get("agreement", 0.0)), float(parity.get("max_diff", 0.0))
    photos = str(parity.get("samples", "photos"))
    sample = f"{n} of the run's {photos}" if photos == "validation photos" else f"{n} {photos}"
    same = "the same answer for every one" if agreement >= 1 else f"the same answer for {agreement:.1%} of them"
    return (f"Saved {out.name} in {out.parent}. Checked on the spot against the PyTorch model on {sample}: it "
            f"gave {same}, and its probabilities differed by at most {diff:.1e}.")


class RunsPage(QWidget):
    resume_requested = Signal(object)  # RunInfo: the Train page continues it
    cell_images = Signal(object, object, object, object)  # list[EvaluatedImage], classes, dataset root, run folder
    message = Signal(str)  # a line for the window's status bar

    def __init__(self, runner: JobRunner, state: RunsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.state = state
        self.model = state.model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self._kept: tuple[set[Path], Path | None] = (set(), None)
        self._retraining: tuple[Job, Path] | None = None
        self._exporting: Job | None = None
        self._thresholding: Job | None = None
        self.menu: QMenu | None = None  # the table's context menu while it shows
        self.stale_exports = ""  # the last threshold change's words on files exported before it
        self.export_result = ""
        self._build()
        runner.finished.connect(self._on_job_finished)
        state.about_to_refresh.connect(self._remember_selection)
        state.changed.connect(self._restore_selection)

    def _build(self) -> None:
        """Buttons on top, the runs table, then curves beside the confusion matrix."""
        bottom = QSplitter()
        bottom.addWidget(self._build_curves())
        bottom.addWidget(self._build_detail())
        bottom.setSizes([800, 360])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._build_table())
        split.addWidget(bottom)
        split.setSizes([260, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_buttons())
        layout.addWidget(split, 1)
        self._on_selection()

    def _build_table(self) -> QTableView:
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMNS.index("Date"), Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setMaximumSectionSize(260)  # a long weights file name elides
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        return self.table

    def _context_menu(self, pos: QPoint) -> None:
        """The run folder under the pointer: open it in the file manager, or copy its path."""
        idx = self.table.indexAt(pos)
        if not idx.isValid():
            return
        folder = self.model.run_at(self.proxy.mapToSource(idx).row()).path
        if self.menu is not None:
            self.menu.deleteLater()  # one menu at a time, not one more child per right-click
        menu = QMenu(self)
        menu.addAction("Open run folder", lambda: self.open_folder(folder))
        menu.addAction(f"Copy path ({folder.name})", lambda: self.copy_path(folder))
        menu.popup(self.table.viewport().mapToGlobal(pos))
        self.menu = menu  # kept for tests and while it shows

    def open_folder(self, folder: Path) -> None:
        """In the file manager; where none answers (a bare Linux desktop), its path is copied instead."""
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.message.emit(f"Opened {folder} in the file manager")
            return
        QGuiApplication.clipboard().setText(str(folder))
        dialogs.show_error(self, "No file manager", f"No file manager opened {folder}. Its path is copied: paste it "
                           "into a file manager or a terminal.")

    def copy_path(self, folder: Path) -> None:
        QGuiApplication.clipboard().setText(str(folder))
        self.message.emit(f"Copied {folder}")

    def _button(self, text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda *_: slot())
        return button

    def _build_buttons(self) -> QHBoxLayout:
        self.refresh_button = self._button("Refresh", "Look for new runs in the checkpoints folder (F5)", self.refresh)
        self.evaluate_button = self._button(
            "Evaluate", "Measure the selected run on its dataset: confusion matrix and per-class scores; "
            "click a cell of the matrix to see its images", self.evaluate_selected)
        self.resume_button = self._button(
            "Resume", "Continue the selected stopped run from its last checkpoint to its epoch target",
            self.resume_selected)
        self.retrain_button = self._button(
            "Retrain", "Train again with the selected run's settings (after fixing labels); the two runs' curves "
            "show side by side when it ends", self.retrain_selected)
        self.export_button = self._button("Export chart as PNG…", "Save the curves shown", self.export_chart)
        self.model_button = self._button(
            "Export model…", "Save the selected run as one .onnx file that deploys alone (onnxruntime), checked "
            "against PyTorch on the spot", self.export_model)
        self.delete_button = self._button("Delete run…", "Delete the selected run folders from disk (asks first)",
                                          self.delete_selected)
        self.folder_label = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        buttons = QHBoxLayout()
        for b in (self.refresh_button, self.evaluate_button, self.resume_button, self.retrain_button,
                  self.export_button, self.model_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addWidget(self.folder_label, 1)
        return buttons

    def _build_curves(self) -> CompareCurves:
        self.curves = CompareCurves()
        return self.curves

    def _build_detail(self) -> QWidget:
        self.confusion = ConfusionChart()
        self.confusion.cell_clicked.connect(self.drill_down)
        self.per_class = QTableWidget(0, 4)
        self.per_class.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1"])
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.verticalHeader().setVisible(False)
        self.reliability = ReliabilityChart()
        charts = QTabWidget()
        charts.setUsesScrollButtons(False)  # its minimum width then shows every tab whole ...
        charts.setElideMode(Qt.TextElideMode.ElideNone)  # ... not "fusion" for Confusion
        # the per-class scores are the matrix's numbers: they share its tab, and the other tabs'
        # charts get the whole height (in an 800x560 window the threshold curve was 55 px tall)
        confusion = QWidget()
        cv = QVBoxLayout(confusion)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.confusion, 2)
        cv.addWidget(self.per_class, 1)
        charts.addTab(confusion, "Confusion")
        charts.addTab(self.reliability, "Reliability")
        charts.addTab(self._build_threshold(), "Threshold")
        return charts

    def _build_threshold(self) -> QWidget:
        """The threshold explorer: choose the confidence below which the run answers "unknown"."""
        self.threshold_chart = ThresholdChart()
        self.threshold_chart.picked.connect(self._on_threshold_picked)
        self.threshold_info = Hint("")  # wraps: the whole sentence matters in a narrow panel
        # room for three lines from the start: the chart above does not jump when the sentence wraps
        self.threshold_info.setMinimumHeight(3 * self.threshold_info.fontMetrics().lineSpacing())
        self.save_threshold = self._button("Save threshold", "Write the chosen threshold into the run's checkpoint",
                                           self.apply_threshold)
        self.undo_threshold = self._button("Undo", "Bring back the threshold the last change replaced",
                                           lambda: self.apply_threshold(undo=True))
        row = QHBoxLayout()
        row.addWidget(self.save_threshold)
        row.addWidget(self.undo_threshold)
        row.addStretch(1)
        self.threshold_chart.setMinimumHeight(100)  # a short panel shrinks the chart, not the caption under it
        panel = QWidget()
        v = QVBoxLayout(panel)
        v.setContentsMargins(4, 4, 4, 4)
        v.addWidget(self.threshold_chart, 1)
        v.addWidget(self.threshold_info)
        v.addLayout(row)
        self._curve: tuple[list[float], list[float], list[float | None]] | None = None
        self._threshold_run: Path | None = None  # the run whose evaluation the explorer shows
        self._saved_threshold = 0.0  # that run's threshold, as saved
        return panel

    def _show_threshold(self, run: RunInfo | None) -> None:
        """The run's evaluated images: answered share and accuracy against the threshold. Save
        is on only while the explorer shows the run's own evaluation (never another run's line)."""
        self._curve, self._threshold_run = None, None
        self.save_threshold.setEnabled(False)
        self.undo_threshold.setEnabled(bool(run and run.trust and run.trust.previous))  # a change to take back
        path = run.path / runs_io.PREDICTIONS if run else None
        if run is None or path is None or not path.is_file():
            self.threshold_chart.clear_curve()
            self.threshold_info.setText("")
            return
        classes, results = read_evaluation(path)
        confidences = [r.confidence for r in results]
        correct = [bool(r.probs) and classes[max(range(len(r.probs)), key=r.probs.__getitem__)] == r.true_label
                   for r in results]
        ts = [i / 100 for i in range(101)]
        coverage, accuracy = coverage_curve(confidences, correct, ts)
        self._curve, self._threshold_run = (ts, coverage, accuracy), run.path
        chosen = run.trust.threshold if run.trust else 0.0
        self.threshold_chart.show_curve(ts, coverage, accuracy, chosen)
        self._saved_threshold = chosen
        self._on_threshold_picked(chosen)

    def _on_threshold_picked(self, value: float) -> None:
        if self._curve is None:
            return
        saved = abs(value - self._saved_threshold) < 5e-5  # what Save writes: 4 decimals
        self.save_threshold.setEnabled(not saved)  # on for a new value of this run's own curve
        ts, coverage, accuracy = self._curve
        i = min(range(len(ts)), key=lambda k: abs(ts[k] - value))
        acc = f"{accuracy[i]:.1%}" if accuracy[i] is not None else "–"
        state = "saved" if saved else "not saved yet"
        self.threshold_info.setText(f"threshold {value:.2f} ({state}): answers {coverage[i]:.0%} of the evaluated "
                                    f"images, {acc} of them right; the rest: unknown")

    def apply_threshold(self, undo: bool = False) -> Job | None:
        """Save the chosen threshold into the checkpoint of the run whose explorer shows (or undo
        the current run's last change), as a job."""
        run = self.current_run()
        path = (run.path if run else None) if undo else self._threshold_run
        if path is None:
            return None
        args = ["threshold", str(path), *([] if undo else [f"{self.threshold_chart.chosen:.4f}"]), "--events"]
        args += ["--undo"] if undo else []
        job = self.runner.run(args, "Threshold")
        if job is not None:
            self._thresholding, self.stale_exports = job, ""
            job.event.connect(self._on_threshold_event)
        return job

    def _on_threshold_event(self, event: dict) -> None:
        if event.get("event") == Event.WARNING and event.get("stale_exports"):
            self.stale_exports = str(event.get("message", ""))

    def drill_down(self, true_index: int, predicted_index: int) -> None:
        """A confusion-matrix cell was clicked: its images (and the run that judged them) go to
        the reviewing grid."""
        run = self.current_run()
        if run is None or not (run.path / runs_io.PREDICTIONS).is_file():
            return
        try:
            classes, results = read_evaluation(run.path / runs_io.PREDICTIONS)
            data = Path(read_json(run.path / runs_io.EVALUATION)["data"])
        except (OSError, ValueError, KeyError, IndexError) as exc:
            log.warning("cannot drill down into %s: %s", run.path, exc)
            return
        if max(true_index, predicted_index) >= len(classes):
            return
        cell = [r for r in results if r.true_label == classes[true_index]
                and r.predicted_label == classes[predicted_index]]
        self.cell_images.emit(cell, classes, data, run.path)

    def retrain_selected(self) -> Job | None:
        """The selected run's settings, trained again (a new run folder)."""
        run = self.current_run()
        if run is None or ensemble_size(run):
            return None
        cfg = dataclasses.replace(TrainConfig.from_dict(run.config), out=str(self.state.runs_dir))
        job = self.runner.run(train_args(cfg), "Training")
        if job is not None:
            self._retraining = (job, run.path)
        return job

    def _on_job_finished(self, job: Job, status: str, message: str) -> None:
        """After a retrain: the run before and the run after, side by side; a failed export: why."""
        if job is self._thresholding:
            self._thresholding = None
            self.state.refresh()  # config.json shows the new threshold; the explorer redraws
            if status == Status.DONE and self.stale_exports:  # files already shipped answer by the old one
                dialogs.show_plain(self, "Exported models keep their threshold", self.stale_exports)
            return
        if job is self._exporting:
            self._exporting = None
            self.model_button.setText("Export model…")
            self._on_selection()  # the button's state for the run now selected
            if status == Status.FAILED:
                self.export_result = message
                dialogs.show_error(self, "Model export failed", message, job.log_tail(20))
            return
        if self._retraining is None or job is not self._retraining[0]:
            return
        before = self._retraining[1]
        self._retraining = None
        if status != Status.DONE:
            return
        self.state.refresh()
        newest = max(self.state.runs(), key=lambda r: str(r.config.get("created", "")), default=None)
        if newest is not None:
            self.select_runs({before, newest.path}, current=newest.path)

    def select_runs(self, paths: set[Path], current: Path | None = None) -> None:
        self._kept = (paths, current)
        self._restore_selection()

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
        self.evaluate_button.setEnabled(current is not None and current.checkpoint() is not None)
        self.resume_button.setEnabled(resumable(current))
        self.retrain_button.setEnabled(current is not None and not ensemble_size(current))
        self._explain_ensemble(current is not None and ensemble_size(current) > 0)
        self.delete_button.setEnabled(bool(chosen))
        self.export_button.setEnabled(bool(chosen))  # no empty chart to save
        exporting = self._exporting is not None
        self.model_button.setEnabled(not exporting and current is not None and current.checkpoint() is not None)
        self._show_detail(current)

    def _explain_ensemble(self, ensemble: bool) -> None:
        """Resume and Retrain say why they are off for an ensemble of runs (their own tips otherwise)."""
        for button in (self.resume_button, self.retrain_button):
            if not button.property("tip"):
                button.setProperty("tip", button.toolTip())
            button.setToolTip(NOT_FOR_ENSEMBLES if ensemble else button.property("tip"))

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
            self.reliability.show_calibration(None)
            self._show_threshold(None)
            return
        path = run.path / runs_io.EVALUATION
        if run.problem:
            self.confusion.show_message(f"This run folder is damaged: {run.problem}")
            self.reliability.show_calibration(None)
            self._show_threshold(None)
            return
        if not path.is_file():
            self.confusion.show_message("Not evaluated yet: press Evaluate")
            self.reliability.show_calibration(None)
            self._show_threshold(None)
            return
        try:
            self._show_evaluation(run, read_json(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("unreadable %s: %s", path, exc)
            self.per_class.setRowCount(0)
            self._show_threshold(None)  # not the previous run's curve (nor its Save)
            self.confusion.show_message(f"{runs_io.EVALUATION} is damaged ({type(exc).__name__}): press Evaluate again")

    def _show_evaluation(self, run: RunInfo, rep: dict) -> None:
        created = str(run.config.get("created", ""))  # "2026-11-30T13:51:00": look-alike runs differ in it
        when = f" · {created[5:10]} {created[11:16]}" if len(created) >= 16 else ""
        self.confusion.show_matrix(rep["confusion"], rep["classes"],
                                   f"{run.config.get('model')} lr={run.config.get('lr')}{when} · {rep['split']} "
                                   f"· acc {rep['accuracy']:.1%}")
        self.reliability.show_calibration(rep.get("calibration"))
        self._show_threshold(run)
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

    def export_model(self, path: str | None = None) -> Job | None:
        """``trainer export RUN OUT.onnx`` as a job; its parity check's verdict is shown at the end."""
        run = self.current_run()
        if run is None:
            return None
        path = path or dialogs.ask_save_file(self, dialogs.EXPORT_MODEL_TITLE, f"{run.name}.onnx",
                                             "ONNX model (*.onnx)")
        if not path:
            return None
        job = self.runner.run(export_args(run.path, Path(path)), "Model export")
        if job is not None:
            self._exporting = job
            job.event.connect(lambda e: self._on_export_event(e, path))
            # 10-25 s of converting and checking: the button says so until the verdict
            self.model_button.setText("Exporting…")
            self.model_button.setEnabled(False)
        return job

    def _on_export_event(self, e: dict, path: str) -> None:
        if e.get("event") == Event.DONE:
            self.export_result = export_words(Path(path), e.get("parity"), str(e.get("message", "")))
            dialogs.show_plain(self, "Model exported", self.export_result)

    def export_chart(self) -> None:
        path = dialogs.ask_save_file(self, "Export chart", "runs-comparison.png", "PNG image (*.png)")
        if path:
            try:
                self.curves.save_png(path)
            except OSError as exc:  # a full disk, no permission: say so, keep the window alive
                dialogs.show_error(self, "Export failed", str(exc))

    def delete_selected(self) -> None:
        chosen = self.selected_runs()
        if not chosen:
            return
        names = "\n".join(r.name for r in chosen)
        if dialogs.confirm(self, "Delete runs", f"Delete these runs from disk?\n\n{names}"):
            for run in chosen:
                try:
                    runs_io.delete_run(run.path)
                except (OSError, ValueError) as exc:
                    dialogs.show_error(self, "Delete runs", f"{run.name} could not be deleted: {exc}", "")
            self.refresh()
