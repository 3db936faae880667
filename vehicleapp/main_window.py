"""The main window: composes the pages, menus and shortcuts; holds no business logic."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from trainer.config import demo_data_dir, log_dir
from trainer.demo_data import make_demo_data
from trainer.protocol import Status
from vehicleapp import dialogs
from vehicleapp.dataset_state import DatasetState
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.pages.classify_page import ClassifyPage
from vehicleapp.pages.dataset_page import DatasetPage
from vehicleapp.pages.label_page import LabelPage
from vehicleapp.pages.review_page import ReviewPage
from vehicleapp.pages.runs_page import RunsPage
from vehicleapp.pages.train_page import TrainPage
from vehicleapp.runs_state import RunsState
from vehicleapp.settings import AppSettings
from vehicleapp.workers import ThumbnailLoader, run_in_background

log = logging.getLogger(__name__)
PAGES = ("Dataset", "Labeling", "Train", "Runs", "Classify", "Review")


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, runs_dir: str | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle("Vehicle Classifier")
        self.runner = JobRunner(self)
        self.state = DatasetState(self)
        self.thumbs = ThumbnailLoader(parent=self)
        self.dataset_page = DatasetPage(self.state, self.thumbs)
        self.runs = RunsState(self)
        self.label_page = LabelPage(self.state, self.runner, self.runs)
        self.train_page = TrainPage(self.runner)
        self.runs_page = RunsPage(self.runner, self.runs)
        self.classify_page = ClassifyPage(self.runner, self.runs, self.thumbs)
        self.review_page = ReviewPage(self.state, self.runs, self.runner, self.thumbs)
        self.tabs = QTabWidget()
        for page, name in zip(self.pages(), PAGES):
            self.tabs.addTab(page, name)
        self.setCentralWidget(self.tabs)
        self.job_label = QLabel("")
        self.statusBar().addPermanentWidget(self.job_label)
        self._connect()
        self._menus()
        self.set_runs_dir(runs_dir or self.settings.runs_dir())
        self.dataset_page.set_recent(self.settings.recent_folders())
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 860)
        # Start-up objects (torch, Qt, matplotlib modules) live forever; left in the collector's
        # care, each full collection rescans them all (measured: 130-240 ms pauses of the GUI
        # thread). Freezing them keeps collections short.
        gc.freeze()

    def pages(self) -> list:
        return [self.dataset_page, self.label_page, self.train_page, self.runs_page, self.classify_page,
                self.review_page]

    def _connect(self) -> None:
        self.dataset_page.open_requested.connect(self.open_dataset)
        self.dataset_page.demo_requested.connect(self.open_demo)
        self.state.loaded.connect(self._on_dataset_loaded)
        self.state.message.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.state.failed.connect(lambda m: self.statusBar().showMessage(f"Error: {m}", 10000))
        self.runner.started.connect(self._on_job_started)
        self.runner.finished.connect(self._on_job_finished)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open dataset folder…", QKeySequence.StandardKey.Open,
                     self.dataset_page.choose_folder)
        self._action(file_menu, "Open &demo dataset", None, self.open_demo)
        self._action(file_menu, "Choose &checkpoints folder…", None, self.choose_runs_dir)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = self.menuBar().addMenu("&Edit")
        self._action(edit, "&Undo last move", QKeySequence.StandardKey.Undo, self.state.undo)
        self._action(edit, "&Redo", QKeySequence("Ctrl+Shift+Z"), self.state.redo)
        jobs = self.menuBar().addMenu("&Job")
        self._action(jobs, "&Start training", QKeySequence("Ctrl+Return"), self.train_page.start)
        self._action(jobs, "S&top job", QKeySequence("Esc"), self.runner.cancel)
        self._action(jobs, "&Refresh runs", QKeySequence("F5"), self.runs.refresh)
        for i in range(len(PAGES)):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.tabs.setCurrentIndex(i))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Open &log folder", None, self.open_log_folder)
        self._action(help_menu, "&About", None, self._about)

    def _action(self, menu, text: str, shortcut, slot) -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    # -- datasets -------------------------------------------------------------------------
    def open_dataset(self, folder: str) -> None:
        self.state.open(folder)

    def open_demo(self) -> None:
        target = demo_data_dir()
        if any(target.glob("*/*.jpg")):
            self.open_dataset(str(target))
            return
        self.statusBar().showMessage("Generating the demo dataset…")
        run_in_background(lambda: make_demo_data(target, per_class=60),
                          lambda path: self.open_dataset(str(path)),
                          lambda m: self.statusBar().showMessage(f"Demo data failed: {m}"))

    def _on_dataset_loaded(self) -> None:
        root = str(self.state.root)
        self.dataset_page.set_recent(self.settings.add_recent(root))
        self.train_page.set_dataset(root)
        self.setWindowTitle(f"Vehicle Classifier — {Path(root).name}")

    # -- runs & jobs ----------------------------------------------------------------------
    def set_runs_dir(self, path: str) -> None:
        self.runs.set_runs_dir(path)
        self.settings.set_runs_dir(str(self.runs.runs_dir))
        self.train_page.runs_dir = str(self.runs.runs_dir)

    def choose_runs_dir(self) -> None:
        folder = dialogs.ask_folder(self, "Checkpoints folder (where runs are saved)")
        if folder:
            self.set_runs_dir(folder)

    def _on_job_started(self, job: Job) -> None:
        self.job_label.setText(f"● {job.title} running")

    def _on_job_finished(self, job: Job, status: str, message: str) -> None:
        self.job_label.setText("")
        if status == Status.FAILED:
            log.warning("job %s failed: %s\n%s", " ".join(job.args), message, job.log_tail(40))
        self.statusBar().showMessage(f"{job.title}: {status} — {message}", 10000)
        if job.command in ("train", "sweep", "evaluate"):
            self.runs.refresh()

    def open_log_folder(self) -> None:
        """Show the folder of the app's and the jobs' logs, so a user can send them."""
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _about(self) -> None:
        QMessageBox.about(self, "About", "Vehicle Classifier: label photos, train transfer-learning "
                          "models, compare runs and classify folders — offline.")

    # -- closing --------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.runner.busy() and not dialogs.confirm(
                self, "A job is running", "A job is still running. Stop it and quit?\n"
                "(Training keeps its last checkpoint.)"):
            event.ignore()
            return
        self.runner.shutdown()
        self.thumbs.clear()
        self.thumbs.wait(3000)
        self.settings.set_geometry(self.saveGeometry())
        event.accept()


