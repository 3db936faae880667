"""Train page: options with plain-words tooltips, Start/Stop, progress with ETA, live curves, and
"Find the best model" (a ``trainer search`` within a time budget, with a live leaderboard)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from trainer import config as C
from trainer.config import TrainConfig
from trainer.protocol import PHASES, WEIGHTS_ERROR, Event, Status
from trainer.registry import BACKBONES, MODELS
from trainer.runs import RunInfo
from trainer.wording import count_of
from vehicleapp import dialogs
from vehicleapp.commands import resume_args, search_args, sweep_args, train_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.sweep_plan import plan_sweep
from vehicleapp.widgets.charts import LiveCurves
from vehicleapp.widgets.leaderboard import Leaderboard, is_search_event
from vehicleapp.widgets.text import ElidedLabel, Hint
from vehicleapp.widgets.weights import NONE, WeightsChooser

CHOOSE_FILE, FROM_SCRATCH, CANCEL = "Choose a file…", "Train from scratch", "Cancel"
SEARCH_MINUTES = (5, 15, 60)  # the time budgets "Find the best model" offers
WEIGHTS_ADVICE = ("Choose a weights file, or train from scratch (nothing to download, but slow to learn and "
                  "needs many photos).")


def _test_text(values: dict) -> str:
    """", test acc 91.0%" when ``values`` (an epoch's metrics, the done event) has a test accuracy."""
    acc = values.get("test_acc")
    return f", test acc {float(acc):.1%}" if acc is not None else ""


OWN_VAL_TIP = "Not used: this dataset has its own validation folder (val/ or valid/), used as it is"


def done_words(e: dict) -> str | None:
    """A finished training run in words, not "done: finished: best val acc 98.5%; temperature
    0.417; unknown below confidence 0.250 (knn; …)" (None: not a training run's done event)."""
    best = e.get("best_val_acc")
    if best is None:
        return None
    test = e.get("test_acc")
    line = f"Finished: at its best it got {float(best):.1%} of the validation photos right"
    line += f" ({float(test):.1%} of the test photos)." if test is not None else "."
    trust = e.get("trust") or {}
    threshold = float(trust.get("threshold") or 0)
    if threshold > 0:
        line += (f" It answers \"unknown\" when it is less than {threshold:.0%} sure; that left "
                 f"{float(trust.get('val_coverage') or 0):.0%} of the validation photos answered.")
    return line


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def app_words(message: str) -> str:
    """An engine message without the sentences that tell command-line users which flag to use."""
    sentences = [s for s in message.split(". ") if " --" not in s and not s.startswith("--")]
    return ". ".join(sentences).rstrip(".") + "."


def blocked_reason(counts: dict[str, int]) -> str:
    """Why a dataset with these labeled images per class cannot be trained on ("" when it can)."""
    with_images = [c for c, n in counts.items() if n]
    if not counts:
        return ("No classes in this folder. Put the photos in one subfolder per class (car/, truck/, …) "
                "or label them on the Labeling page.")
    if len(with_images) < 2:
        have = f"only {with_images[0]} has photos" if with_images else "no class has photos yet"
        return f"Training needs photos in at least two classes; {have}. Label some on the Labeling page."
    return ""


class TrainPage(QWidget):
    options_changed = Signal()

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.data_root = ""
        self.counts: dict[str, int] = {}
        self._own_val = False  # the open dataset has its own val/ split
        self.runs_dir = C.DEFAULT_RUNS_DIR
        self.job: Job | None = None
        self.total_epochs = 0
        self._epoch = 0  # the epoch under way (or last finished): where a stop leaves the run
        self._done_test = ""  # the finished job's test accuracy, as words (", test acc 91.0%")
        self._history: list[dict] = []  # a resumed run's epochs so far, drawn again at its start
        self._phase_seen: tuple[str, float, int] | None = None  # (phase, when, done) at its first progress
        self._epoch_times: list[float] = []
        self._build()
        runner.finished.connect(self._on_finished)
        self.weights.changed.connect(self._update_buttons)
        self.epochs.valueChanged.connect(self._show_epochs_to_come)
        self.fine_tune.valueChanged.connect(self._show_epochs_to_come)
        self._show_epochs_to_come()
        self._update_buttons()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        options = self.settings_box = QGroupBox("Settings")
        ov = QVBoxLayout(options)
        self.data_label = ElidedLabel("Dataset: none open (Dataset page)", mode=Qt.TextElideMode.ElideMiddle)
        ov.addWidget(self.data_label)
        ov.addLayout(self._build_form())
        ov.addStretch(1)
        scroll = QScrollArea()  # a short window scrolls the settings instead of clipping them
        scroll.setWidget(options)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(options.minimumSizeHint().width() + 20)
        self.blocker = Hint("")
        self.blocker.setObjectName("warning")
        left = QWidget()  # the buttons under the settings, never scrolled out of sight
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(scroll, 1)
        lv.addLayout(self._build_buttons())
        lv.addWidget(self.blocker)
        left.setMaximumWidth(max(left.minimumSizeHint().width(), 440))
        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addWidget(self._build_progress(), 1)

    def _build_form(self) -> QFormLayout:
        """One row per option; labels and tooltips come from :class:`TrainConfig`'s fields."""
        d = TrainConfig(data="")
        self.model = QComboBox()
        for spec in MODELS.values():
            self.model.addItem(spec.title, spec.name)
            self.model.setItemData(self.model.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.weights = WeightsChooser()
        self.weights.spare_source = self.runner.lend_spare
        self.model.currentIndexChanged.connect(self._on_model)
        self.weights.mode.currentIndexChanged.connect(self._on_weights_mode)
        self.freeze = QCheckBox(C.label_of("freeze"), checked=True)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=1.0, singleStep=0.0005, value=d.lr)
        self.batch = QSpinBox(minimum=1, maximum=512, value=d.batch_size)
        self.epochs = QSpinBox(minimum=1, maximum=500, value=d.epochs)
        self.fine_tune = QSpinBox(minimum=0, maximum=200, value=d.fine_tune, specialValueText="off")
        self.size = QSpinBox(minimum=32, maximum=512, singleStep=16, value=224, suffix=" px")
        self.val = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.5, singleStep=0.05, value=d.val_fraction)
        self.augment = QCheckBox(C.label_of("augment"))
        self.early = QSpinBox(minimum=0, maximum=100, value=d.early_stop, specialValueText="off")
        self.tta, self.device = QComboBox(), QComboBox()
        self.nproc = QSpinBox(minimum=1, maximum=64, value=d.nproc)  # --nproc: DDP processes (torchrun)
        for box, name in ((self.tta, "tta"), (self.device, "device")):
            for choice in C.choices_of(name) or ():
                box.addItem(choice, choice)
        form = QFormLayout()
        rows = [("model", self.model), ("weights", self.weights), ("freeze", self.freeze), ("lr", self.lr),
                ("batch_size", self.batch), ("epochs", self.epochs), ("fine_tune", self.fine_tune),
                ("image_size", self.size), ("val_fraction", self.val), ("augment", self.augment),
                ("early_stop", self.early), ("tta", self.tta), ("device", self.device), ("nproc", self.nproc)]
        for name, widget in rows:
            if widget is not self.weights:
                widget.setToolTip(C.help_of(name))
            form.addRow("" if isinstance(widget, QCheckBox) else C.label_of(name), widget)
        self._on_model()
        return form

    def _build_buttons(self) -> QVBoxLayout:
        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train one model with these settings (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.sweep_button = QPushButton("Reference sweep…")
        self.sweep_button.setToolTip(
            "Train the reference grid: every model × learning rate {0.01, 0.001} × batch {4, 8} "
            "(asks first, with the number of runs and an estimated time)")
        self.sweep_button.clicked.connect(self.start_sweep)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.stop_button.setToolTip("Stop after the current batch; the last checkpoint is kept (Esc asks first)")
        self.stop_button.clicked.connect(self.runner.cancel)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.sweep_button, self.stop_button):
            buttons.addWidget(b)
        rows = QVBoxLayout()
        rows.addLayout(buttons)
        rows.addLayout(self._build_search_row())
        return rows

    def _build_search_row(self) -> QHBoxLayout:
        self.search_button = QPushButton("Find the best model…")
        self.search_button.setToolTip(
            "Let the trainer try the models whose weights load, a smaller image size on small photos, "
            "fine-tuning of the most promising one and an ensemble, within the time budget; it keeps the best "
            "on validation (asks first). Uses this page's weights and device; every step is a run on the Runs page.")
        self.search_button.clicked.connect(lambda *_: self.start_search())
        self.budget = QComboBox()
        for minutes in SEARCH_MINUTES:
            self.budget.addItem(f"within {minutes} min", minutes)
        self.budget.setCurrentIndex(1)
        self.budget.setToolTip("How long the search may take; it plans its steps to fit")
        row = QHBoxLayout()
        row.addWidget(self.search_button, 1)
        row.addWidget(self.budget)
        return row

    def _build_progress(self) -> QSplitter:
        self.status = ElidedLabel("Ready.")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)  # the status line above says "batch 28/30"
        self.chart = LiveCurves()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Messages from the training job appear here.")
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.addWidget(self.status)
        tv.addWidget(self.progress)
        tv.addWidget(self.chart, 1)
        self.board = Leaderboard()
        self.board.setVisible(False)  # until a search starts
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.board)
        right.addWidget(self.log)
        right.setSizes([400, 200, 120])
        right.setChildrenCollapsible(False)
        return right

    def _show_epochs_to_come(self) -> None:
        """Before a job the empty chart spans the epochs the settings ask for (fine-tuning's too)."""
        if self.job is None or self.job.status is not None:
            if self.job is not None and self.chart.epochs:  # the last run's curves go, its bar and words too
                self.progress.setValue(0)
                self.status.setText("Settings changed: the last run's curves are on the Runs page.")
            self.chart.reset(self.epochs.value() + self.fine_tune.value())

    def _on_model(self) -> None:
        self.weights.set_backbones(MODELS[self.model.currentData()].backbones)

    def _on_weights_mode(self) -> None:
        self.freeze.setChecked(self.weights.kind() != NONE)
        self.weights.check_connection()

    # -- remembered settings --------------------------------------------------------------
    def _fields(self) -> dict[str, tuple[Any, Any]]:
        """Each remembered setting's getter and setter (the weights come first: they set freeze)."""
        def combo(box: QComboBox) -> tuple[Any, Any]:
            return box.currentData, lambda v: box.setCurrentIndex(max(box.findData(v), 0))

        return {"model": combo(self.model), "weights": (self.weights.options, self.weights.set_options),
                "freeze": (self.freeze.isChecked, self.freeze.setChecked), "lr": (self.lr.value, self.lr.setValue),
                "batch_size": (self.batch.value, self.batch.setValue),
                "epochs": (self.epochs.value, self.epochs.setValue),
                "fine_tune": (self.fine_tune.value, self.fine_tune.setValue), "tta": combo(self.tta),
                "image_size": (self.size.value, self.size.setValue),
                "val_fraction": (self.val.value, self.val.setValue),
                "augment": (self.augment.isChecked, self.augment.setChecked),
                "early_stop": (self.early.value, self.early.setValue), "device": combo(self.device),
                "nproc": (self.nproc.value, self.nproc.setValue),
                "search_minutes": combo(self.budget)}

    def options(self) -> dict[str, Any]:
        """The page's settings, to remember them across restarts."""
        return {name: get() for name, (get, _set) in self._fields().items()}

    def set_options(self, options: dict[str, Any]) -> None:
        for name, (_get, put) in self._fields().items():
            if name in options:
                try:
                    put(options[name])
                except (TypeError, ValueError, AttributeError):
                    continue  # a value from an older version: keep the default

    def watch_options(self) -> None:
        """Emit ``options_changed`` whenever a setting changes (the window saves them)."""
        def changed(*_: object) -> None:
            self.options_changed.emit()

        for box in (self.model, self.device, self.tta, self.budget):
            box.currentIndexChanged.connect(changed)
        for check in (self.freeze, self.augment):
            check.toggled.connect(changed)
        for spin in (self.lr, self.batch, self.epochs, self.fine_tune, self.size, self.val, self.early, self.nproc):
            spin.valueChanged.connect(changed)
        self.weights.changed.connect(changed)

    # -- actions --------------------------------------------------------------------------
    def set_dataset(self, root: str, counts: dict[str, int], own_val: bool = False) -> None:
        """The open dataset and its labeled images per class (Start stays off while it can't train);
        ``own_val``: it has a val/ (valid/) split, so *Validation share* does not apply."""
        self.data_root = root
        self.counts = dict(counts)
        self.data_label.setText(f"Dataset: {root} ({sum(counts.values())} labeled photos)")
        self._own_val = own_val
        self._update_buttons()

    def config(self) -> TrainConfig:
        """The settings on the page as the engine's one options schema."""
        model = self.model.currentData()
        return TrainConfig(
            data=self.data_root, model=model, weights=self.weights.spec(MODELS[model].backbones),
            freeze=self.freeze.isChecked(), lr=self.lr.value(), batch_size=self.batch.value(),
            epochs=self.epochs.value(), fine_tune=self.fine_tune.value(), image_size=self.size.value(),
            val_fraction=self.val.value(), augment=self.augment.isChecked(), early_stop=self.early.value(),
            tta=self.tta.currentData(),
            device=self.device.currentData(), out=self.runs_dir, nproc=self.nproc.value())

    def start(self) -> Job | None:
        if not self._can_start() or not self._weights_ok(MODELS[self.model.currentData()].backbones):
            return None
        return self._launch(train_args(self.config()), "Training")

    def start_sweep(self) -> Job | None:
        """Confirm the reference sweep (run count, estimated time, skipped models), then start it."""
        if not self._can_start():
            return None
        plan = plan_sweep(self._sweep_base(), self.weights.problems(BACKBONES), sum(self.counts.values()))
        if not plan.runs:
            if not self._weights_ok(tuple(BACKBONES)):
                return None
            plan = plan_sweep(self._sweep_base(), self.weights.problems(BACKBONES), sum(self.counts.values()))
        if not plan.runs or not dialogs.confirm(self, "Start the reference sweep?", plan.summary()):
            return None
        job = self._launch(sweep_args(plan.base, plan.grid), "Reference sweep")
        if job is not None:
            for model, why in plan.skipped.items():
                self.log.appendPlainText(f"skipped {model}: {why}")
        return job

    def start_search(self, image_size: int | None = None) -> Job | None:
        """Confirm, then find the best model within the chosen budget (a ``trainer search`` job)."""
        if not self._can_start():
            return None
        problems = self.weights.problems(BACKBONES)
        if len(problems) == len(BACKBONES) and not self._weights_ok(tuple(BACKBONES)):
            return None
        minutes = int(self.budget.currentData())
        if not dialogs.confirm(self, "Find the best model?", self._search_plan(minutes)):
            return None
        job = self._launch(search_args(self.config(), minutes, image_size), "Finding the best model")
        if job is not None:
            self.board.reset(minutes)
        return job

    def _search_plan(self, minutes: int) -> str:
        skipped = [BACKBONES[b].title for b in self.weights.problems(BACKBONES)]
        lack = f"\n\nModels that need {' or '.join(skipped)} are skipped: no usable weights." if skipped else ""
        return (f"Up to {minutes} minutes. The search measures this computer's speed, then trains a frozen-backbone "
                "head for each model whose weights load, fine-tunes the most promising one and tries an ensemble "
                "of the best two, as far as the time allows, and picks the best on validation. Every step is a run "
                "on the Runs page; the pick is marked ★ there.\n\nIt uses this page's backbone weights and device; "
                f"the other settings are the search's own.{lack}")

    def _sweep_base(self) -> TrainConfig:
        return dataclasses.replace(self.config(), weights=self.weights.spec(BACKBONES))

    def resume(self, run: RunInfo) -> Job | None:
        """Continue a stopped run from its last checkpoint to its epoch target."""
        job = self._launch(resume_args(run.path, str(run.config.get("data", ""))), f"Resuming {run.name}")
        if job is not None:
            self._history = list(run.metrics)
        return job

    def _can_start(self) -> bool:
        reason = blocked_reason(self.counts) if self.data_root else "Open a dataset first (Dataset page)."
        if reason:
            self.status.setText(reason)
        return not reason

    def _weights_ok(self, backbones: tuple[str, ...]) -> bool:
        """True when the backbones have usable weights, or the user chose a file or a random start."""
        problems = self.weights.problems(backbones)
        if not problems:
            return True
        text = "\n".join(f"{BACKBONES[b].title}: {why}." for b, why in problems.items())
        return self._offer_weights("Backbone weights not available", text)

    def _offer_weights(self, title: str, text: str) -> bool:
        answer = dialogs.ask_choice(self, title, f"{text}\n\n{WEIGHTS_ADVICE}", [CHOOSE_FILE, FROM_SCRATCH, CANCEL])
        return self._on_weights_choice(answer)

    def _on_weights_choice(self, answer: str) -> bool:
        if answer == CHOOSE_FILE:
            return self.weights.choose_file(next(iter(self.weights.problems()), None))
        if answer == FROM_SCRATCH:
            self.weights.set_mode(NONE)
            return True
        return False

    def _launch(self, args: list[str], title: str) -> Job | None:
        job = self.runner.run(args, title)
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job = job
        self._history = []
        self.board.setVisible(job.command == "search")
        self.chart.reset(self.epochs.value())
        self.log.clear()
        self._done_test = ""
        self._epoch_times = []
        self.total_epochs = self._epoch = 0
        self.progress.setRange(0, 1)  # nothing of the previous job's "28 / 30"
        self.progress.setValue(0)
        job.event.connect(self._on_event)
        job.log.connect(self.log.appendPlainText)
        self._update_buttons()
        self.status.setText(f"{title}: starting…")
        return job

    def _update_buttons(self) -> None:
        running = self.job is not None and self.job.status is None
        reason = blocked_reason(self.counts) if self.data_root else ""
        self.start_button.setEnabled(not running and not reason)
        self.sweep_button.setEnabled(not running and not reason)
        self.search_button.setEnabled(not running and not reason)
        self.budget.setEnabled(not running)
        self.stop_button.setEnabled(running)
        # a running job has its settings: editing them then changed nothing, silently
        self.settings_box.setEnabled(not running)
        self.val.setEnabled(not self._own_val)  # the folder's own val/ split is used as it is
        self.val.setToolTip(OWN_VAL_TIP if self._own_val else C.help_of("val_fraction"))
        whose = {"search": "the search chooses its own", "sweep": "the sweep's grid"}.get(
            self.job.command if self.job is not None else "", "this run's")
        self.settings_box.setTitle(f"Settings ({whose}; editable when it ends)" if running else "Settings")
        self.blocker.setText(reason)
        self.blocker.setVisible(bool(reason))

    # -- events ---------------------------------------------------------------------------
    def _searching(self) -> bool:
        return self.job is not None and self.job.command == "search"

    def _on_search_event(self, e: dict) -> None:
        line = self.board.on_event(e)
        if line:
            self.log.appendPlainText(line)
        if e["event"] in (Event.START, Event.PROGRESS):
            self.progress.setRange(0, 0)  # busy until the step's own progress arrives
            self.status.setText(self.board.summary.text())

    def _on_event(self, e: dict) -> None:
        if self._searching() and is_search_event(e):
            self._on_search_event(e)
            return
        kind = e["event"]
        sweep = f"run {e['sweep_index']} of {e['sweep_total']} · " if "sweep_index" in e else ""
        step = f"{e['search_step']} · " if "search_step" in e else ""  # the log names a search's step
        sweep = step or sweep
        if kind == Event.START:
            self.total_epochs = int(e.get("epochs", 0))
            self.chart.reset(self.total_epochs)
            for metrics in self._history:
                self.chart.add_epoch(metrics)
            self._epoch_times, self._epoch = [], 0
            images = sum(sum(v.values()) for v in e.get("counts", {}).values())
            self.status.setText(f"{sweep}{e.get('model')} on {e.get('device')} · {count_of(images, 'image')}")
        elif kind == Event.PROGRESS:
            self._on_progress(e, sweep)
        elif kind == Event.EPOCH:
            m = e["metrics"]
            if int(e.get("epochs", 0)) > self.total_epochs:  # fine-tuning's epochs follow the head's
                self.total_epochs = int(e["epochs"])
                self.chart.extend(self.total_epochs)
            self._epoch = int(m["epoch"])
            self._epoch_times.append(m["seconds"])
            self.chart.add_epoch(m)
            self.log.appendPlainText(
                f"{step}epoch {m['epoch']}/{e['epochs']}: train acc {m['train_acc']:.1%}, val acc {m['val_acc']:.1%}, "
                f"val loss {m['val_loss']:.3f}{_test_text(m)}")
        elif kind in (Event.WARNING, Event.ERROR, Event.CANCELLED, Event.DONE):
            message = str(e.get("message", ""))
            if kind == Event.DONE:
                self._done_test = _test_text(e)
                message += self._done_test if "test" not in message else ""
            if e.get("skipped") or e.get("code") == WEIGHTS_ERROR:
                message = app_words(message)
            plain = done_words(e) if kind == Event.DONE else None
            self.log.appendPlainText(f"{step}{plain or f'{kind}: {message}'}")
        elif kind == Event.STAGE:
            self.log.appendPlainText(f"{sweep}{e.get('message', '')}")
            if e.get("stage") == "fine-tune":
                self._epoch_times = []  # the ETA counts fine-tuning's slower epochs, not the head's
                # the whole run's epochs: fewer after an early stop, known before a resumed
                # run's first fine-tuning epoch (it read "epoch 22/20" until that epoch ended)
                self.total_epochs = int(e.get("epochs", self.total_epochs))
                self.chart.extend(self.total_epochs)

    def _on_progress(self, e: dict, sweep: str) -> None:
        done, total = int(e["done"]), max(int(e["total"]), 1)
        if e["phase"] == "train" or not self._epoch:  # after the epochs, the bar stays where they left it
            self.progress.setMaximum(total)  # (it went 100% -> 33% -> 67% -> 50% through the last steps)
            self.progress.setValue(done)
        if e["phase"] == "train":
            epoch = self._epoch = int(e.get("epoch", 1))
            if self.total_epochs >= epoch:  # the bar spans the run, not each epoch (it restarted 15 times)
                self.progress.setMaximum(self.total_epochs * total)
                self.progress.setValue((epoch - 1) * total + done)
            if "loss" in e:
                self.chart.add_batch(epoch, done, total, float(e["loss"]))
            per_epoch = (sum(self._epoch_times) / len(self._epoch_times)) if self._epoch_times else None
            left = (self.total_epochs - epoch + 1 - done / total) * per_epoch if per_epoch else None
            eta = f" · ETA {_fmt_eta(left)}" if left is not None else ""
            self.status.setText(f"{sweep}epoch {epoch}/{self.total_epochs} · batch {done}/{total}{eta}")
        else:
            eta = self._phase_eta(str(e["phase"]), done, total)
            what = PHASES.get(e["phase"], e["phase"])
            self.status.setText(f"{sweep}{what}: {done}/{total} · ETA {eta}")

    def _phase_eta(self, phase: str, done: int, total: int) -> str:
        """The time left in a phase, from its own pace since its first progress event: the
        calibration after training read "ETA 1:59" for 20 s of work, timed from the run's start."""
        now = time.monotonic()
        if self._phase_seen is None or self._phase_seen[0] != phase or done < self._phase_seen[2]:
            self._phase_seen = (phase, now, done)
        _, since, first = self._phase_seen
        if done == first or now <= since:  # no pace of its own yet
            return "…"
        return _fmt_eta((now - since) / (done - first) * (total - done))

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self.board.stop_clock()
        self._update_buttons()
        self.progress.setRange(0, max(self.progress.maximum(), 1))
        if status == Status.DONE:
            self.progress.setValue(self.progress.maximum())
            picked = self.board.picked if self._searching() else ""
            self.status.setText(f"Finished: {picked}; ★ on the Runs page." if picked
                                else f"Finished{self._done_test}.")
        elif status == Status.CANCELLED and self._searching():
            self._show_where_stopped()
            self.status.setText("Search stopped before its pick; the finished steps are on the Runs page.")
            self.board.summary.setText(self.status.text())
        elif status == Status.CANCELLED:
            self.status.setText(f"Stopped {self._show_where_stopped()}; the last checkpoint was kept. "
                                "Resume it from the Runs page.")
        else:
            self._show_where_stopped()
            self._on_failed(job, message)

    def _show_where_stopped(self) -> str:
        """A job that ended early: the bar shows the epochs finished out of all (not the last
        epoch's full batch count, which looks finished); returns "at epoch N of M"."""
        finished = max((int(m["epoch"]) for m in self.chart.epochs), default=0)
        self.progress.setRange(0, max(self.total_epochs, 1))
        self.progress.setValue(min(finished, self.progress.maximum()))
        return f"at epoch {self._epoch} of {self.total_epochs}" if self._epoch else "before the first epoch"

    def _on_failed(self, job: Job, message: str) -> None:
        """One log line per error (the error event's, else this one), the status, and a dialog."""
        weights = job.last_error_code == WEIGHTS_ERROR
        words = app_words(message) if weights else message
        self.status.setText(f"Failed: {words}")
        if not job.last_error:
            self.log.appendPlainText(f"error: {message}")
        if weights:  # not modal: the job is over, nothing waits for the answer
            dialogs.offer_choice(self, "Backbone weights could not be loaded", f"{words}\n\n{WEIGHTS_ADVICE}",
                                 [CHOOSE_FILE, FROM_SCRATCH, CANCEL], self._on_weights_choice)
        else:
            dialogs.show_error(self, "Training failed", message, job.log_tail(20))
