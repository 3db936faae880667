"""Classify page: try one photo, or run a model over a folder as a job; browse, filter, export CSV."""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
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
from trainer.csvfile import Prediction, read_predictions, write_predictions
from trainer.files import copy_by_label
from trainer.images import IMAGE_EXTENSIONS, is_image_file
from trainer.pathtext import for_display
from trainer.protocol import UNKNOWN, Event, Status
from trainer.trust import Trust
from trainer.wording import count_of
from vehicleapp import dialogs
from vehicleapp.commands import classify_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.models.predictions import (
    UNREADABLE,
    PredictionFilter,
    PredictionsModel,
    verdict_html,
    verdict_line,
)
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.charts import ProbabilityChart
from vehicleapp.widgets.run_picker import (
    MODEL_FILE_FILTER,
    add_model_file,
    fill_run_combo,
    is_model_file,
    model_files,
    run_combo,
    set_model_files,
    user_choice,
)
from vehicleapp.widgets.text import ElidedLabel
from vehicleapp.widgets.why import WhyButton
from vehicleapp.widgets.zoom import ZoomImage
from vehicleapp.workers import ThumbnailLoader, run_in_background

#: Every format the loader reads (a phone's HEIC too), for the Try-a-photo file dialog.
PHOTO_FILTER = f"Images ({' '.join(sorted('*' + e for e in IMAGE_EXTENSIONS))})"
MODEL_TIP = "The trained model to use (its best checkpoint)"
LOCKED_TIP = "The model a job is classifying with; it can be changed when the job ends (or is stopped)"
#: The results table's tooltip: a row opens in the one-photo panel.
ROW_TIP = "Double-click a row (or press Enter) to see its photo's probabilities and where the model looked"


class ClassifyPage(QWidget):
    model_files_changed = Signal(list)  # the model files chosen (paths, the latest first): to remember

    def __init__(self, runner: JobRunner, runs: RunsState, loader: ThumbnailLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.runs = runs
        self.dataset = ""
        self.job: Job | None = None
        self.try_job: Job | None = None
        self.try_path: Path | None = None
        self._tried: tuple[Path | None, str | None] = (None, None)  # the photo (and run) the try job answers for
        self.heatmap: Path | None = None
        self.out_csv: Path | None = None
        self._job_run: str | None = None  # the run the folder job classifies with
        self._results_run: str | None = None  # the run whose results the table shows
        self._locked = False  # a job is classifying with the chosen model: the menu stays
        self._results_csv: Path | None = None  # the CSV they were read from
        self._try_run: str | None = None  # the run whose answer the tried photo's panel shows
        self.model = PredictionsModel(loader, self)
        self.proxy = PredictionFilter(self)
        self.proxy.setSourceModel(self.model)
        self.setAcceptDrops(True)
        self._build()
        runner.finished.connect(self._on_finished)
        runs.changed.connect(self.refresh_runs)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        for item in (self._model_row(), self._folder_row()):
            layout.addLayout(item)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)  # the status line says "Classifying 28 / 30"
        self.status = ElidedLabel("Pick a model (a trained run, or File… for a model file), then try a photo "
                                  "or classify a folder (or drop either here).")
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self._try_panel())
        layout.addLayout(self._filter_row())
        layout.addWidget(self._table(), 1)

    def _model_row(self) -> QHBoxLayout:
        self.run_combo = run_combo(MODEL_TIP, 20)
        self.run_combo.activated.connect(lambda *_: self._drop_other_models_results())
        self.file_button = QPushButton("File…")  # short: the model box keeps a run's accuracy in sight
        self.file_button.setToolTip("Classify with a model file instead of a run: an exported .onnx, or a .pt "
                                    "(trainer export RUN model.pt)")
        self.file_button.clicked.connect(self.choose_model_file)
        self.try_button = QPushButton("Try a photo…")
        self.try_button.setToolTip("Pick (or drop) one photo: see what the model says and every class's probability")
        self.try_button.clicked.connect(self._pick_photo)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.run_combo, 1)
        row.addWidget(self.file_button)
        row.addWidget(self.try_button)
        row.addLayout(self._engine_row())
        return row

    def _engine_row(self) -> QHBoxLayout:
        """Where a folder is classified: here, or on a Ray cluster (``--engine ray --address``)."""
        self.run_on = QComboBox()
        self.run_on.addItem("this computer", "local")
        self.run_on.addItem("Ray cluster", "ray")
        self.run_on.setToolTip("Ray cluster: classify on many machines (needs pip install -e \".[cluster]\"; "
                               "every node must read the folder and the model)")
        self.ray_address = QLineEdit()
        self.ray_address.setPlaceholderText("address: auto, ray://HOST:PORT; empty: start Ray here")
        self.ray_address.setToolTip("The Ray cluster's address (ray://HOST:PORT, or auto for the one this "
                                    "computer belongs to); left empty, Ray starts on this computer")
        self.ray_address.setVisible(False)
        self.run_on.currentIndexChanged.connect(
            lambda *_: self.ray_address.setVisible(self.run_on.currentData() == "ray"))
        row = QHBoxLayout()
        row.addWidget(QLabel("Run on:"))
        row.addWidget(self.run_on)
        row.addWidget(self.ray_address)
        return row

    def engine_address(self) -> str | None:
        """None: this computer; else the Ray address the job gets (empty: Ray started here)."""
        return self.ray_address.text().strip() if self.run_on.currentData() == "ray" else None

    def _folder_row(self) -> QHBoxLayout:
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder of images to classify")
        self.folder.setToolTip("A folder of images to classify (Enter starts it)")
        self.folder.returnPressed.connect(self.start)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.recursive = QCheckBox("Include subfolders")
        self.recursive.setToolTip("Also classify images inside subfolders")
        self.classify_button = QPushButton("Classify")
        self.classify_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.runner.cancel)
        row = QHBoxLayout()
        for w in (QLabel("Folder:"), self.folder, browse, self.recursive, self.classify_button, self.stop_button):
            row.addWidget(w, 1 if w is self.folder else 0)
        return row

    def _try_panel(self) -> QFrame:
        """One photo's result: the photo, the label and confidence, every class's probability."""
        self.try_image = ZoomImage(112)  # a click shows the photo (or its heatmap) larger
        self.try_result = QLabel()
        self.try_result.setWordWrap(True)
        self.try_chart = ProbabilityChart()
        close = QPushButton("Hide")
        close.setToolTip("Hide this result (the folder results stay)")
        close.clicked.connect(lambda: self.try_panel.setVisible(False))
        # the model that answered for the photo shown (the menu is locked while one answers)
        self.why_button = WhyButton(self.runner, lambda: self._try_run or self.run_combo.currentData(),
                                    lambda: self.try_path)
        self.why_button.ready.connect(self._show_heatmap)
        self.why_button.failed.connect(lambda m: self.status.setText(f"Heatmap: {m}"))
        self.run_combo.currentIndexChanged.connect(lambda *_: self.why_button.update_state())
        text = QVBoxLayout()
        text.addWidget(self.try_result)
        text.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(close)
        buttons.addWidget(self.why_button)
        buttons.addStretch(1)
        text.addLayout(buttons)
        panel = QFrame()
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(panel)
        row.addWidget(self.try_image)
        row.addLayout(text, 1)
        row.addWidget(self.try_chart, 2)
        panel.setVisible(False)
        self.try_panel = panel
        return panel

    def _filter_row(self) -> QHBoxLayout:
        self.label_filter = QComboBox()
        self.label_filter.setToolTip("Show only images given this label, or the unreadable ones")
        self.label_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.label_filter.currentIndexChanged.connect(self._apply_filter)
        self.min_conf = QDoubleSpinBox(decimals=0, minimum=0, maximum=100, singleStep=5, suffix=" %")
        self.min_conf.setToolTip("Hide predictions the model is less sure about than this")
        self.min_conf.valueChanged.connect(self._apply_filter)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the rows shown (same format as the command line)")
        self.export_button.clicked.connect(self.export_csv)
        self.copy_button = QPushButton("Copy into class folders…")
        self.copy_button.setToolTip("Copy the images shown into DEST/<label>/ folders (originals stay)")
        self.copy_button.clicked.connect(self.copy_images)
        self.export_button.setEnabled(False)  # until rows are shown (:meth:`_apply_filter`)
        self.copy_button.setEnabled(False)
        self.shown = QLabel("")
        row = QHBoxLayout()
        for w in (QLabel("Label:"), self.label_filter, QLabel("Min confidence:"), self.min_conf):
            row.addWidget(w)
        row.addStretch(1)
        for w in (self.shown, self.export_button, self.copy_button):
            row.addWidget(w)
        return row

    def _table(self) -> QTableView:
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setIconSize(QSize(56, 56))
        self.table.verticalHeader().setDefaultSectionSize(60)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip(ROW_TIP)
        # a double-click or Enter; not ``activated``, which is a single click on some desktops
        # (a full photo decoded per click) and not Enter on macOS
        self.table.doubleClicked.connect(self.show_row)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            enter = QShortcut(QKeySequence(key), self.table, lambda: self.show_row(self.table.currentIndex()))
            enter.setContext(Qt.ShortcutContext.WidgetShortcut)  # (a context= argument is ignored: window-wide)
        return self.table

    # -- the model ------------------------------------------------------------------------
    def set_dataset(self, root: str) -> None:
        """The open dataset: unless the user picked a model, the best one trained on it is chosen."""
        self.dataset = root
        if user_choice(self.run_combo) is None:
            self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the runs that have a checkpoint, marked with their dataset and status (not while
        a job classifies with the chosen one: its end refreshes)."""
        if self._locked:
            return
        fill_run_combo(self.run_combo, self.runs.runs(), self.dataset, user_choice(self.run_combo))
        self._drop_other_models_results()

    def choose_model_file(self, path: str = "") -> None:
        """Classify with a model file (asked for when not given): listed after the runs and
        chosen as the user's pick, so a refresh of the runs keeps it."""
        path = path or dialogs.ask_open_file(self, "A model file to classify with", MODEL_FILE_FILTER,
                                            like=dialogs.EXPORT_MODEL_TITLE)
        if not path:
            return
        add_model_file(self.run_combo, str(Path(path).expanduser().resolve()))
        self._drop_other_models_results()
        self.model_files_changed.emit(model_files(self.run_combo))

    def set_model_files(self, paths: list[str]) -> None:
        """Model files chosen before (the settings'): listed after the runs, none of them chosen."""
        set_model_files(self.run_combo, paths)
        self.refresh_runs()

    def _drop_other_models_results(self) -> None:
        """Another model chosen (by hand, or a new best run): the table's results, made by the
        previous one, go, so Export and Copy never act on them as if they were this model's."""
        gone = []
        if self.model.rowCount() and self._results_run != self.run_combo.currentData():
            self.clear_results()
            saved = f" (they stay in {for_display(str(self._results_csv))})" if self._results_csv else ""
            gone.append(f"the folder's results were the other model's{saved}: classify again")
        if not self.try_panel.isHidden() and self._try_run != self.run_combo.currentData():
            self.try_panel.setVisible(False)  # the tried photo's answer and heatmap were another model's
            gone.append("try the photo again")
        if gone:
            self.status.setText(f"The model changed: {'; '.join(gone)} to see what this model says.")

    def _browse(self) -> None:
        folder = dialogs.ask_folder(self, "Folder to classify")
        if folder:
            self.folder.setText(folder)

    # -- one photo ------------------------------------------------------------------------
    def _pick_photo(self) -> None:
        path = dialogs.ask_open_file(self, "A photo to try", PHOTO_FILTER, first=self.dataset or "")
        if path:
            self.try_photo(Path(path))

    def try_photo(self, path: Path) -> Job | None:
        """Classify one photo (a copy in a scratch folder, so the folder job does it)."""
        run = self.run_combo.currentData()
        if not run:
            self.status.setText("Pick a trained model first.")
            return None
        work = user_data_dir() / "try" / time.strftime("%Y%m%d-%H%M%S")
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, work / path.name)
        job = self.runner.run(classify_args(Path(run), work, work / "prediction.csv", False), "Trying a photo")
        if job is None:
            shutil.rmtree(work, ignore_errors=True)
            self.status.setText("Another job is running; stop it first.")
            return None
        self.try_job, self.try_path, self._try_run = job, path, run
        self._tried = (path, run)  # a row opened meanwhile changes try_path; the answer is this photo's
        self._lock_model(True)
        self.status.setText(f"Classifying {path.name}…")
        return job

    def _show_heatmap(self, png: Path) -> None:
        """The tried photo's Grad-CAM sheet in place of the photo (the tooltip names the file; a
        click shows it at its natural size)."""
        if self.why_button.photo != self.try_path:  # another photo is shown since it was asked for
            return
        self.heatmap = png
        photo = self.why_button.photo or png
        self.try_image.show_file(png, f"Where the model looked in {photo.name} (Grad-CAM heatmap)")

    def _show_try(self, work: Path) -> None:
        classes, rows = read_predictions(work / "prediction.csv")
        row = next(iter(rows), None)
        shutil.rmtree(work, ignore_errors=True)
        assert self.try_path is not None
        self._show_answer(row, classes, f"The tried photo {self.try_path.name}")

    def show_row(self, index: QModelIndex) -> None:
        """A result row's photo in the one-photo panel: its verdict, every class's probability,
        and Why? for it (nothing is classified again)."""
        if not index.isValid():
            return
        row = self.model.rows[self.proxy.mapToSource(index).row()]
        self.try_path, self._try_run = self.model.folder / row.path, self._results_run
        self.heatmap = None
        self._show_answer(row, self.model.classes, f"{row.path} (a row of the results)")

    def _show_answer(self, row: Prediction | None, classes: list[str], caption: str) -> None:
        """The panel for ``self.try_path``'s answer ``row`` (None: none came back)."""
        assert self.try_path is not None
        self.try_image.show_file(self.try_path, caption)
        self.try_panel.setVisible(True)
        if row is None or row.error:
            reason = row.error if row else "no answer came back"
            self.try_result.setText(f"<b>{html.escape(for_display(self.try_path.name))}</b><br>cannot be read: "
                                    f"{html.escape(for_display(reason))}")
            self.status.setText(for_display(f"{self.try_path.name} cannot be read: {reason}"))
            self.try_chart.show_probs([], [])
            self.try_path = None  # nothing to explain: Why? stays off and says it needs a photo
            self.why_button.update_state()
            return
        self.why_button.update_state()  # a photo to explain now
        trust = self._trust(self._try_run)
        self.try_result.setText(verdict_html(self.try_path.name, row, classes, trust.val_coverage if trust else None,
                                             trust.threshold if trust else None,
                                             trust.familiar_above if trust else None))
        self.try_chart.show_probs(classes, row.probs)
        self.status.setText(verdict_line(self.try_path.name, row, classes))

    def _trust(self, chosen: str | None = None) -> Trust | None:
        """The calibration and threshold of run ``chosen`` (default: the chosen one; None for a model file)."""
        chosen = chosen or self.run_combo.currentData()
        run = next((r for r in self.runs.runs() if str(r.path) == chosen), None)
        return run.trust if run is not None else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls()]
        if any(p.is_dir() or (p.is_file() and (is_image_file(p) or is_model_file(p))) for p in paths):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """A model file becomes the model; a photo is tried; a folder is classified."""
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_file() and is_model_file(path):
                if self._locked:
                    self.status.setText("A job is classifying with the current model; stop it first.")
                    return
                self.choose_model_file(str(path))
                return
            if path.is_file() and is_image_file(path):
                self.try_photo(path)
                return
            if path.is_dir():
                self.folder.setText(str(path))
                self.start()
                return

    # -- a folder -------------------------------------------------------------------------
    def start(self) -> Job | None:
        run, folder = self.run_combo.currentData(), self.folder.text().strip()
        if not run or not folder:
            self.status.setText("Pick a trained model and a folder first.")
            return None
        out_dir = user_data_dir() / "predictions"
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_csv = out_dir / f"predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        job = self.runner.run(classify_args(Path(run), Path(folder), self.out_csv, self.recursive.isChecked(),
                                            ray_address=self.engine_address()), "Classification")
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job, self._job_run = job, run
        self._lock_model(True)
        job.event.connect(self._on_event)
        self.clear_results()  # the previous folder's results are not this job's
        self.classify_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setRange(0, 1)  # nothing of the previous job's count
        self.progress.setValue(0)
        self.status.setText("Classifying…")
        return job

    def _on_event(self, e: dict) -> None:
        if e["event"] == Event.PROGRESS:
            self.progress.setMaximum(max(int(e["total"]), 1))
            self.progress.setValue(int(e["done"]))
            self.status.setText(f"Classifying {e['done']} / {e['total']}")
        elif e["event"] == Event.START:
            self.progress.setMaximum(max(int(e.get("total", 1)), 1))

    def _lock_model(self, locked: bool) -> None:
        """The model stays the one a job is classifying with until it ends (a result table or
        verdict is always the chosen model's); the runs that changed meanwhile (a refresh, another
        dataset) are caught up with after, where results of a model no longer chosen go."""
        self._locked = locked
        if not locked:
            self.refresh_runs()
        for w in (self.run_combo, self.file_button):
            w.setEnabled(not locked)
        chosen = self.run_combo.currentText()
        tip = LOCKED_TIP if locked else MODEL_TIP
        self.run_combo.setToolTip(f"{tip}\nChosen: {chosen}" if chosen else tip)

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is self.try_job:
            work = Path(job.args[2])
            if status == Status.DONE:
                self.try_path, self._try_run = self._tried
                self._show_try(work)
            else:
                shutil.rmtree(work, ignore_errors=True)
                self.status.setText(f"Trying the photo failed: {message}")
            self._lock_model(False)
            return
        if job is not self.job:
            return
        self._finish_folder(job, status, message)
        self._lock_model(False)

    def _finish_folder(self, job: Job, status: str, message: str) -> None:
        self.classify_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if status == Status.DONE and self.out_csv and self.out_csv.is_file():
            self.load_results(Path(self.folder.text()).expanduser().resolve(), self.out_csv, self._job_run)
        elif status == Status.CANCELLED:
            self.status.setText("Stopped; nothing was written.")
        else:
            self.status.setText(f"Failed: {message}")
            dialogs.show_error(self, "Classification failed", message, job.log_tail(20))

    def load_results(self, folder: Path, csv_path: Path, run: str | None = None) -> None:
        """Show a result table made by ``run`` (default: the chosen one); the filters start over
        (every label, any confidence)."""
        self._results_run, self._results_csv = run or self.run_combo.currentData(), csv_path
        classes, rows = read_predictions(csv_path)
        rows = list(rows)
        trust = self._trust(self._results_run)
        self.model.set_results(folder, classes, rows, trust.threshold if trust else None,
                               trust.familiar_above if trust else None)
        errors = sum(1 for r in rows if r.error)
        for w in (self.label_filter, self.min_conf):
            w.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItem("All", "")
        for c in classes:
            self.label_filter.addItem(c, c)
        unknown = sum(1 for r in rows if r.label == UNKNOWN)
        if unknown:  # below the run's confidence threshold: "none of the classes I know"
            self.label_filter.addItem(f"{UNKNOWN} (not sure enough)", UNKNOWN)
        if errors:
            self.label_filter.addItem(UNREADABLE, UNREADABLE)
        self.min_conf.setValue(0)
        for w in (self.label_filter, self.min_conf):
            w.blockSignals(False)
        unsure = f", {unknown} unknown (not sure enough; a row's tooltip says why)" if unknown else ""
        self.status.setText(f"{count_of(len(rows) - errors, 'image')} classified, {errors} unreadable{unsure} · "
                            f"results: {csv_path}")
        self._apply_filter()
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)

    def clear_results(self) -> None:
        """An empty table and label filter (a new job starts: nothing of the last one stays)."""
        self.model.set_results(Path(), [], [])
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.blockSignals(False)
        self._apply_filter()

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.label_filter.currentData() or "", self.min_conf.value() / 100)
        self.shown.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} shown")
        for button in (self.export_button, self.copy_button):  # nothing shown: nothing to save
            button.setEnabled(self.proxy.rowCount() > 0)

    def export_csv(self, path: str | None = None) -> str | None:
        path = path or dialogs.ask_save_file(self, "Export predictions", "predictions.csv", "CSV (*.csv)")
        if not path:
            return None
        try:
            n = write_predictions(path, self.model.classes, self.proxy.visible_rows())
        except OSError as exc:  # a full disk (one line naming file and space), no permission ...
            self.status.setText(f"Export failed: {for_display(str(exc))}")
            dialogs.show_error(self, "Export failed", for_display(str(exc)))
            return None
        total = self.model.rowCount()
        part = f" (the rows shown: {n} of {total})" if n < total else ""  # a filter is on: say so
        self.status.setText(for_display(f"Exported {count_of(n, 'row')}{part} to {path}"))
        return path

    def copy_images(self) -> None:
        dest = dialogs.ask_folder(self, "Copy images into class folders under…")
        if not dest:
            return
        rows, folder = self.proxy.visible_rows(), self.model.folder
        self.status.setText("Copying…")
        run_in_background(lambda: copy_by_label(rows, folder, Path(dest), "vehicleapp"),
                          lambda n: self.status.setText(for_display(f"Copied {count_of(n, 'image')} into "
                                                                    f"{dest}/<label>/")),
                          lambda msg: self.status.setText(f"Copy failed: {msg}"))
