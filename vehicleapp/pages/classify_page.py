"""Classify page: run a model over a folder as a job, browse and filter results, export CSV."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from trainer.config import user_data_dir
from trainer.csvfile import read_predictions, write_predictions
from trainer.files import copy_by_label
from trainer.plots import run_label
from trainer.protocol import Event, Status
from vehicleapp import dialogs
from vehicleapp.commands import classify_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.models.predictions import PredictionFilter, PredictionsModel
from vehicleapp.runs_state import RunsState
from vehicleapp.workers import ThumbnailLoader, run_in_background


class ClassifyPage(QWidget):
    def __init__(self, runner: JobRunner, runs: RunsState, loader: ThumbnailLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.runs = runs
        self.job: Job | None = None
        self.out_csv: Path | None = None
        self.model = PredictionsModel(loader, self)
        self.proxy = PredictionFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        runner.finished.connect(self._on_finished)
        runs.changed.connect(self.refresh_runs)

    def _build(self) -> None:
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The trained model to use (its best checkpoint)")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder of images to classify")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.recursive = QCheckBox("Include subfolders")
        self.recursive.setToolTip("Also classify images inside subfolders")
        self.classify_button = QPushButton("Classify")
        self.classify_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.runner.cancel)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Model:"))
        row1.addWidget(self.run_combo, 1)
        row2 = QHBoxLayout()
        for w in (QLabel("Folder:"), self.folder, browse, self.recursive, self.classify_button, self.stop_button):
            row2.addWidget(w, 1 if w is self.folder else 0)
        self.progress = QProgressBar()
        self.status = QLabel("Pick a model and a folder.")
        self.label_filter = QComboBox()
        self.label_filter.setToolTip("Show only images given this label")
        self.label_filter.currentIndexChanged.connect(self._apply_filter)
        self.min_conf = QDoubleSpinBox(decimals=0, minimum=0, maximum=100, singleStep=5, suffix=" %")
        self.min_conf.setToolTip("Hide predictions the model is less sure about than this")
        self.min_conf.valueChanged.connect(self._apply_filter)
        export = QPushButton("Export CSV…")
        export.setToolTip("Save the rows shown (same format as the command line)")
        export.clicked.connect(self.export_csv)
        copy = QPushButton("Copy into class folders…")
        copy.setToolTip("Copy the images shown into DEST/<label>/ folders (originals stay)")
        copy.clicked.connect(self.copy_images)
        self.shown = QLabel("")
        row3 = QHBoxLayout()
        for w in (QLabel("Label:"), self.label_filter, QLabel("Min confidence:"), self.min_conf):
            row3.addWidget(w)
        row3.addStretch(1)
        for w in (self.shown, export, copy):
            row3.addWidget(w)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setIconSize(QSize(56, 56))
        self.table.verticalHeader().setDefaultSectionSize(60)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        for item in (row1, row2):
            layout.addLayout(item)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(row3)
        layout.addWidget(self.table, 1)

    def refresh_runs(self) -> None:
        """List the runs that have a checkpoint (the current choice is kept)."""
        current = self.run_combo.currentData()
        self.run_combo.clear()
        for run in self.runs.runs():
            if run.checkpoint() is None:
                continue
            acc = f"val {run.best_val_acc:.1%}" if run.best_val_acc is not None else "no epochs"
            self.run_combo.addItem(f"{run_label(run)} · {acc} · {run.name}", str(run.path))
        idx = self.run_combo.findData(current)
        self.run_combo.setCurrentIndex(max(idx, 0))

    def _browse(self) -> None:
        folder = dialogs.ask_folder(self, "Folder to classify")
        if folder:
            self.folder.setText(folder)

    def start(self) -> Job | None:
        run, folder = self.run_combo.currentData(), self.folder.text().strip()
        if not run or not folder:
            self.status.setText("Pick a trained model and a folder first.")
            return None
        out_dir = user_data_dir() / "predictions"
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_csv = out_dir / f"predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        job = self.runner.run(classify_args(Path(run), Path(folder), self.out_csv, self.recursive.isChecked()),
                              "Classification")
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job = job
        job.event.connect(self._on_event)
        self.classify_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Classifying…")
        return job

    def _on_event(self, e: dict) -> None:
        if e["event"] == Event.PROGRESS:
            self.progress.setMaximum(max(int(e["total"]), 1))
            self.progress.setValue(int(e["done"]))
            self.status.setText(f"Classifying {e['done']} / {e['total']}")
        elif e["event"] == Event.START:
            self.progress.setMaximum(max(int(e.get("total", 1)), 1))

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self.classify_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if status == Status.DONE and self.out_csv and self.out_csv.is_file():
            self.load_results(Path(self.folder.text()).expanduser().resolve(), self.out_csv)
        elif status == Status.CANCELLED:
            self.status.setText("Stopped; nothing was written.")
        else:
            self.status.setText(f"Failed: {message}")
            dialogs.show_error(self, "Classification failed", message, job.log_tail(20))

    def load_results(self, folder: Path, csv_path: Path) -> None:
        classes, rows = read_predictions(csv_path)
        rows = list(rows)
        self.model.set_results(folder, classes, rows)
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItem("All", "")
        for c in classes:
            self.label_filter.addItem(c, c)
        self.label_filter.blockSignals(False)
        errors = sum(1 for r in rows if r.error)
        self.status.setText(f"{len(rows)} images classified ({errors} unreadable) · results: {csv_path}")
        self._apply_filter()
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.label_filter.currentData() or "", self.min_conf.value() / 100)
        self.shown.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} shown")

    def export_csv(self, path: str | None = None) -> str | None:
        path = path or dialogs.ask_save_file(self, "Export predictions", "predictions.csv", "CSV (*.csv)")
        if not path:
            return None
        n = write_predictions(path, self.model.classes, self.proxy.visible_rows())
        self.status.setText(f"Exported {n} rows to {path}")
        return path

    def copy_images(self) -> None:
        dest = dialogs.ask_folder(self, "Copy images into class folders under…")
        if not dest:
            return
        rows, folder = self.proxy.visible_rows(), self.model.folder
        self.status.setText("Copying…")
        run_in_background(lambda: copy_by_label(rows, folder, Path(dest)),
                          lambda n: self.status.setText(f"Copied {n} images into {dest}/<label>/"),
                          lambda msg: self.status.setText(f"Copy failed: {msg}"))
