"""Model-assisted labeling: a run suggests a class for each unlabeled image.

The bar picks a run and runs ``trainer classify RUN DATASET --unlabeled`` as a background job;
its CSV gives each unlabeled image a suggested class and confidence. The Labeling page shows
them, orders its queue by confidence (least confident first: label what the model is unsure
of; most confident first: accept quickly) and accepts them one by one (Enter) or in bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from trainer.config import user_data_dir
from trainer.csvfile import read_predictions
from trainer.pathtext import for_display
from trainer.protocol import Status
from vehicleapp.commands import classify_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.run_picker import fill_run_combo, forget_choice, run_combo, user_choice
from vehicleapp.widgets.text import ElidedLabel

ORDERS = (("File order", "file"), ("Least confident first", "least"), ("Most confident first", "most"))

NO_RUN = "Train a model first (Train page)."


class SuggestionBar(QWidget):
    changed = Signal()  # suggestions loaded or the order changed
    accept_all = Signal(float)  # "Accept all >= N%": the minimum confidence (0-1)

    def __init__(self, runner: JobRunner, runs: RunsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner, self.runs = runner, runs
        self.root: Path | None = None
        self.job: Job | None = None
        self.suggested: dict[Path, tuple[str, float]] = {}
        self._used: dict[Path, tuple[str, float]] = {}  # photos labeled since: an undo brings theirs back
        self.unlabeled: Callable[[], int] | None = None  # how many photos wait for a class (the page's)
        self._build()
        runs.changed.connect(self._refresh_runs)
        runner.finished.connect(self._on_finished)

    def _build(self) -> None:
        self.run_combo = run_combo("The trained run that suggests a class for each unlabeled image", 18)
        self.suggest_button = QPushButton("Suggest classes")
        self.suggest_button.setToolTip("Let the run classify every unlabeled image (a background job)")
        self.suggest_button.clicked.connect(self.start)
        self.order = QComboBox()
        for text, key in ORDERS:
            self.order.addItem(text, key)
        self.order.setToolTip("Least confident first: label what the model is unsure of. "
                              "Most confident first: accept quickly.")
        self.order.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.minimum = QSpinBox(minimum=50, maximum=100, value=90, suffix=" %")
        self.accept_button = QPushButton("Accept all ≥")
        self.accept_button.setToolTip("Label every unlabeled image whose suggestion is at least this sure "
                                      "(one step: Ctrl+Z takes it all back)")
        self.accept_button.clicked.connect(lambda: self.accept_all.emit(self.minimum.value() / 100))
        self.status = ElidedLabel("")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Suggestions:"), self.run_combo, self.suggest_button, self.order,
                  self.accept_button, self.minimum):
            row.addWidget(w)
        row.addWidget(self.status, 1)
        self._enable()

    def follow(self, old: Path, new: Path, labeled: bool) -> None:
        """A photo moved: labeled, its suggestion is used up (the count and *Accept all* follow;
        they read "12 suggestions" with none left); put back unlabeled (an undo), it returns."""
        if labeled and old in self.suggested:
            self._used[new] = self.suggested.pop(old)
        elif not labeled and old in self._used:
            self.suggested[new] = self._used.pop(old)
        else:
            return
        self._show_count()
        self._enable()

    def _show_count(self) -> None:
        n = len(self.suggested)
        self.status.setText(f"{n} suggestion{'' if n == 1 else 's'}" if n or not self._used
                            else "Every suggestion is used.")

    def _enable(self) -> None:
        has = bool(self.suggested)
        for w in (self.order, self.accept_button, self.minimum):
            w.setEnabled(has)

    def _refresh_runs(self) -> None:
        """The runs again: the user's pick stays, else the best run trained on the open dataset."""
        fill_run_combo(self.run_combo, self.runs.runs(), str(self.root or ""), user_choice(self.run_combo))
        if self.run_combo.currentData() and self.status.text() == NO_RUN:  # it stayed beside a new run
            self.status.setText("")

    def set_dataset(self, root: Path | None) -> None:
        if root != self.root:  # a run picked for the previous dataset is not kept for this one
            forget_choice(self.run_combo)
        self.root, self.suggested, self._used = root, {}, {}
        self.status.setText("")
        self._refresh_runs()
        self._enable()
        self.changed.emit()

    def suggestion(self, path: Path) -> tuple[str, float] | None:
        return self.suggested.get(Path(path))

    def order_key(self) -> str:
        return str(self.order.currentData())

    def start(self) -> Job | None:
        run = self.run_combo.currentData()
        if self.root is None or not run:
            self.status.setText(NO_RUN)
            return None
        if self.unlabeled is not None and self.unlabeled() == 0:  # a job would only say "0 suggestions"
            self.status.setText("Nothing to suggest: every photo has a class.")
            return None
        out = user_data_dir() / "suggestions" / "unlabeled.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        job = self.runner.run(classify_args(Path(run), self.root, out, False, unlabeled=True), "Suggestions")
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job, self._out = job, out
        self.suggest_button.setEnabled(False)
        self.status.setText("Suggesting…")
        return job

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self.suggest_button.setEnabled(True)
        if status != Status.DONE or self.root is None:
            self.status.setText("Stopped." if status == Status.CANCELLED else for_display(f"Failed: {message}"))
            return
        _, rows = read_predictions(self._out)
        self.suggested = {self.root.joinpath(*p.path.split("/")): (p.label, float(p.confidence))
                          for p in rows if p.label and p.confidence is not None}
        self._used = {}
        self._show_count()
        self._enable()
        self.changed.emit()
