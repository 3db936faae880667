"""The main window: composes the pages, menus and shortcuts; holds no business logic."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QSize, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSizePolicy, QTabWidget

from trainer.config import demo_data_dir, log_dir
from trainer.demo_data import make_demo_data
from trainer.pathtext import for_display
from trainer.protocol import Event, Status
from trainer.runs import RunInfo
from vehicleapp import dialogs
from vehicleapp.dataset_state import DatasetState
from vehicleapp.desktop_entry import TITLE
from vehicleapp.help import Tour, shortcuts_html
from vehicleapp.jobs import Job, JobRunner, spares_wanted
from vehicleapp.pages.classify_page import ClassifyPage
from vehicleapp.pages.dataset_page import DatasetPage
from vehicleapp.pages.label_page import LabelPage
from vehicleapp.pages.review_page import ReviewPage
from vehicleapp.pages.runs_page import RunsPage
from vehicleapp.pages.train_page import TrainPage
from vehicleapp.runs_state import RunsState
from vehicleapp.settings import AppSettings
from vehicleapp.widgets.text import ElidedLabel
from vehicleapp.workers import ThumbnailLoader, run_in_background

log = logging.getLogger(__name__)
PAGES = ("Dataset", "Labeling", "Train", "Runs", "Classify", "Review")
RUNS_FOLLOW_S = 2.0  # the Runs page re-reads the runs at most this often while a run trains
MINIMUM_SIZE = (800, 560)  # every page fits without clipping (tests check each page)


def ended_words(title: str, status: str, message: str) -> str:
    """The status bar's line for an ended job: "Model export finished." rather than
    "Model export: done — finished"."""
    if status == Status.DONE:
        return f"{title} finished." if message in ("", "finished") else f"{title} finished: {message}"
    if status == Status.CANCELLED:  # "stopped" or "stopped; the last checkpoint was kept"
        return f"{title} {message}." if message.startswith("stopped") else f"{title} stopped: {message}"
    return f"{title} failed: {message}"


def window_title(dataset: str) -> str:
    """"photos — Vehicle Classifier": the app's name once. It ends the title, so Qt, which
    appends the application's display name to a title that does not end with it (X11, Wayland,
    Windows), adds nothing."""
    return f"{for_display(dataset)} — {TITLE}" if dataset else TITLE


def first_size(available: QSize) -> QSize:
    """The window's size on a first start: 1360 x 860, but never larger than the screen's free
    area (a 1280 x 800 laptop) nor smaller than the minimum at which every page fits."""
    return QSize(min(1360, available.width()), min(860, available.height())).expandedTo(QSize(*MINIMUM_SIZE))


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, runs_dir: str | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        dialogs.remember_folders(self.settings)
        self.setWindowTitle(TITLE)
        self.runner = JobRunner(self, spare=spares_wanted())
        self.state = DatasetState(self)
        self.thumbs = ThumbnailLoader(parent=self)
        self.dataset_page = DatasetPage(self.state, self.thumbs)
        self.runs = RunsState(self)
        self._runs_followed = 0.0  # when the Runs page last followed a running run
        self.label_page = LabelPage(self.state, self.runner, self.runs)
        self.train_page = TrainPage(self.runner)
        self.runs_page = RunsPage(self.runner, self.runs)
        self.classify_page = ClassifyPage(self.runner, self.runs, self.thumbs)
        self.review_page = ReviewPage(self.state, self.runs, self.runner, self.thumbs)
        self.tabs = QTabWidget()
        for page, name in zip(self.pages(), PAGES):
            self.tabs.addTab(page, name)
        self.setCentralWidget(self.tabs)
        self._status_bar()
        self._connect()
        self._menus()
        self.classify_page.set_model_files(self.settings.model_files())
        self.set_runs_dir(runs_dir or self.settings.runs_dir())
        self.dataset_page.set_recent(self.settings.recent_folders())
        self.train_page.set_options(self.settings.train_options())
        self.train_page.watch_options()
        self.setMinimumSize(*MINIMUM_SIZE)
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(first_size(self.screen().availableGeometry().size()))
        self.tour: Tour | None = None
        # Start-up objects (torch, Qt, matplotlib modules) live forever; left in the collector's
        # care, each full collection rescans them all (measured: 130-240 ms pauses of the GUI
        # thread). Freezing them keeps collections short.
        gc.freeze()

    def pages(self) -> list:
        return [self.dataset_page, self.label_page, self.train_page, self.runs_page, self.classify_page,
                self.review_page]

    def _status_bar(self) -> None:
        """Messages elide to the window's width (full text in the tooltip and the log)."""
        self.message = ElidedLabel("")
        self.job_label = ElidedLabel("")
        self.job_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.job_label.setMaximumWidth(320)
        self.statusBar().addWidget(self.message, 1)
        self.statusBar().addPermanentWidget(self.job_label)
        self._message_timer = QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(lambda: self.message.setText(""))

    def show_message(self, text: str, ms: int = 6000) -> None:
        self.message.setText(text)
        self._message_timer.start(ms)
        log.info("status: %s", text)

    def _connect(self) -> None:
        self.dataset_page.open_requested.connect(self.open_dataset)
        self.dataset_page.demo_requested.connect(self.open_demo)
        self.dataset_page.runs_requested.connect(lambda: self.tabs.setCurrentWidget(self.runs_page))
        self.state.loaded.connect(self._on_dataset_loaded)
        for signal in (self.state.loaded, self.state.moved, self.state.classes_changed, self.state.problems):
            signal.connect(self._on_dataset_changed)
        self.state.message.connect(self.show_message)
        self.state.read_only_changed.connect(self._show_labeling)
        self.state.failed.connect(lambda m: self.show_message(f"Error: {m}", 10000))
        self.runner.started.connect(self._on_job_started)
        self.runner.finished.connect(self._on_job_finished)
        self.runs.changed.connect(lambda: self.dataset_page.set_run_count(len(self.runs.runs())))
        self.tabs.currentChanged.connect(lambda *_: self.runs.refresh_if_changed())  # a CLI run appears
        self.runs_page.resume_requested.connect(self.resume_run)
        self.runs_page.cell_images.connect(self.review_cell)
        self.runs_page.message.connect(self.show_message)
        for page in (self.dataset_page, self.label_page):
            page.undo_requested.connect(self.state.undo)
        self.train_page.options_changed.connect(lambda: self.settings.set_train_options(self.train_page.options()))
        self.classify_page.model_files_changed.connect(self.settings.set_model_files)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open dataset folder…", QKeySequence.StandardKey.Open,
                     self.dataset_page.choose_folder)
        self._action(file_menu, "Open &demo dataset", None, self.open_demo)
        self._action(file_menu, "Choose &checkpoints folder…", None, self.choose_runs_dir)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo last step", QKeySequence("Ctrl+Z"), self.state.undo)
        self.redo_action = self._action(edit, "&Redo step", QKeySequence("Ctrl+Shift+Z"), self.state.redo)
        jobs = self.menuBar().addMenu("&Job")
        self._action(jobs, "&Start training", QKeySequence("Ctrl+Return"), self.start_training)
        self.stop_action = self._action(jobs, "S&top job…", QKeySequence("Esc"), self.stop_job)
        self.stop_action.setEnabled(False)  # on while a job runs
        self._action(jobs, "&Refresh runs", QKeySequence("F5"), self.runs.refresh)
        for i in range(len(PAGES)):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.tabs.setCurrentIndex(i))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence("F1"), self.show_shortcuts)
        self._action(help_menu, "A short &tour of the pages", None, self.show_tour)
        self._action(help_menu, "Open &log folder", None, self.open_log_folder)
        self._action(help_menu, "&About", None, self._about)

    def start_training(self) -> None:
        """Job → Start training (Ctrl+Enter) trains from the Train page; elsewhere it brings that
        page up first (a Ctrl+Enter meant for another page's field started a run out of sight)."""
        if self.tabs.currentWidget() is not self.train_page:
            self.tabs.setCurrentWidget(self.train_page)
            self.train_page.status.setText("Check the settings, then press Start (Ctrl+Enter) to train.")
            return
        self.train_page.start()

    def stop_job(self) -> None:
        """Job → Stop job (Esc) asks first: Esc is pressed to leave a field or a menu, and a stray
        one stopped a run (the pages' Stop buttons stop at once)."""
        if self.runner.busy() and dialogs.confirm(
                self, "Stop the job?", "Stop the running job? (Training keeps its last checkpoint; a "
                "stopped run can be resumed from the Runs page.)"):
            self.runner.cancel()

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
        self.show_message("Generating the demo dataset…")
        run_in_background(lambda: make_demo_data(target, per_class=60),
                          lambda path: self.open_dataset(str(path)),
                          lambda m: self.show_message(f"Demo data failed: {m}"))

    def _on_dataset_loaded(self) -> None:
        root = str(self.state.root)
        self.dataset_page.set_recent(self.settings.add_recent(root))
        self.classify_page.set_dataset(root)
        self.setWindowTitle(window_title(Path(root).name))
        self._show_labeling()
        if self.state.read_only:
            self.show_message(f"Labeling is off: {self.state.read_only}. Browsing, training and classifying work.",
                              15000)

    def _show_labeling(self) -> None:
        """Labeling on, or off with the reason (a read-only folder, another window's lock)."""
        writable = not self.state.read_only
        for page in (self.dataset_page, self.label_page):
            page.set_labeling(writable, self.state.read_only)
        self.undo_action.setEnabled(writable)
        self.redo_action.setEnabled(writable)

    def _on_dataset_changed(self, *_: object) -> None:
        """The Train page knows how many labeled photos each class has (Start needs two classes)."""
        per_class = dict.fromkeys(self.state.classes, 0)
        counts = self.state.counts(readable=True)  # what training will use: not a 0-byte "photo"
        for row in counts.values():
            for c, n in row.items():
                per_class[c] = per_class.get(c, 0) + n
        self.train_page.set_dataset(str(self.state.root), per_class, own_val=any(counts.get("val", {}).values()))

    # -- runs & jobs ----------------------------------------------------------------------
    def set_runs_dir(self, path: str) -> None:
        self.runs.set_runs_dir(path)
        self.settings.set_runs_dir(str(self.runs.runs_dir))
        self.train_page.runs_dir = str(self.runs.runs_dir)

    def choose_runs_dir(self) -> None:
        folder = dialogs.ask_folder(self, "Checkpoints folder (where runs are saved)")
        if folder:
            self.set_runs_dir(folder)

    def resume_run(self, run: RunInfo) -> None:
        """Runs page → Resume: the run continues on the Train page, where its progress shows."""
        if self.train_page.resume(run) is not None:
            self.tabs.setCurrentWidget(self.train_page)

    def _on_job_started(self, job: Job) -> None:
        self.job_label.setText(f"● {job.title} running")
        if job.command in ("train", "sweep", "search"):  # runs that grow an epoch at a time
            job.event.connect(self._on_training_event)
        self.message.setText("")  # not the last job's "finished" beside the new one's "running"
        self.stop_action.setEnabled(True)

    def _on_training_event(self, event: dict) -> None:
        """The Runs page, when shown, follows a running run's epochs (its table read "Epochs 1"
        until F5): its row (every event of a run names its folder) is read again, at most every 2 s."""
        if event.get("event") != Event.EPOCH or not event.get("run_dir"):
            return
        if self.tabs.currentWidget() is self.runs_page and time.monotonic() - self._runs_followed >= RUNS_FOLLOW_S:
            self._runs_followed = time.monotonic()
            self.runs.follow(Path(str(event["run_dir"])))

    def _on_job_finished(self, job: Job, status: str, message: str) -> None:
        self.job_label.setText("")
        self.stop_action.setEnabled(False)
        if status == Status.FAILED:
            log.warning("job %s failed: %s\n%s", " ".join(job.args), message, job.log_tail(40))
        self.show_message(ended_words(job.title, status, message), 10000)
        if job.command in ("train", "sweep", "search", "evaluate"):
            self.runs.refresh()

    # -- help -----------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        dialogs.show_info(self, "Keyboard shortcuts", shortcuts_html(self.actions()))

    def show_tour(self) -> Tour:
        if self.tour is None:
            self.tour = Tour(self, self.tabs.setCurrentIndex)
            self.tour.finished.connect(lambda *_: self.settings.set_tour_done())
        self.tour.go(0)
        self.tour.adjustSize()
        corner = self.geometry().bottomRight() - QPoint(self.tour.width() + 24, self.tour.height() + 48)
        self.tour.move(corner)  # beside the pages it talks about, not on top of them
        self.tour.show()
        return self.tour

    def maybe_show_tour(self) -> None:
        """On the very first launch, the tour opens by itself (once)."""
        if not self.settings.tour_done():
            self.show_tour()

    def review_cell(self, results: list, classes: list[str], root: Path, run: Path) -> None:
        """A confusion-matrix cell's images, in the Review page's grid with its keys; the Review
        page's run becomes the one whose matrix was clicked (its "Why?" explains that model)."""
        if self.state.root != root:
            self.show_message(f"open {root} on the Dataset page to fix these images")
        self.review_page.show_evaluation(results, classes, root, run)
        self.tabs.setCurrentWidget(self.review_page)

    def open_log_folder(self) -> None:
        """Show the folder of the app's and the jobs' logs, so a user can send them."""
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _about(self) -> None:
        QMessageBox.about(self, "About", "Vehicle Classifier: label photos, train transfer-learning "
                          "models, compare runs and classify folders — offline.")

    # -- closing --------------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        """Back in the window: pick up what changed meanwhile (files, the other window's lock)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.on_activated()

    def on_activated(self) -> None:
        self.state.retry_lock()
        self.state.refresh()  # files another program added, removed or renamed meanwhile
        self.runs.refresh_if_changed()  # runs the command line made meanwhile

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.runner.busy() and not dialogs.confirm(
                self, "A job is running", "A job is still running. Stop it and quit?\n"
                "(Training keeps its last checkpoint.)"):
            event.ignore()
            return
        self.runner.shutdown()
        self.train_page.weights.shutdown()
        self.thumbs.clear()
        self.thumbs.wait(3000)
        self.settings.set_train_options(self.train_page.options())
        self.settings.set_geometry(self.saveGeometry())
        self.state.close()
        event.accept()
