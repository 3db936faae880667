"""Train page: options with plain-words tooltips, Start/Stop, progress with ETA, live curves."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from trainer import config as C
from trainer.config import TrainConfig
from trainer.protocol import PHASES, Event, Status
from trainer.registry import MODELS
from vehicleapp import dialogs
from vehicleapp.commands import sweep_args, train_args
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.widgets.charts import LiveCurves

WEIGHT_CHOICES = (("ImageNet (recommended)", "imagenet"), ("None (from scratch)", "none"), ("From a file…", "file"))


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TrainPage(QWidget):
    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.data_root = ""
        self.runs_dir = C.DEFAULT_RUNS_DIR
        self.job: Job | None = None
        self._phase_start = 0.0
        self._epoch_times: list[float] = []
        self._build()
        runner.finished.connect(self._on_finished)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        options = QGroupBox("Settings")
        ov = QVBoxLayout(options)
        self.data_label = QLabel("Dataset: none open (Dataset page)")
        self.data_label.setWordWrap(True)
        ov.addWidget(self.data_label)
        ov.addLayout(self._build_form())
        ov.addLayout(self._build_buttons())
        ov.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(options)
        layout.addWidget(self._build_progress(), 1)

    def _build_form(self) -> QFormLayout:
        """One row per option; labels and tooltips come from :class:`TrainConfig`'s fields."""
        d = TrainConfig(data="")
        self.model = QComboBox()
        for spec in MODELS.values():
            self.model.addItem(spec.title, spec.name)
            self.model.setItemData(self.model.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.weights = QComboBox()
        for label, value in WEIGHT_CHOICES:
            self.weights.addItem(label, value)
        self.weights.currentIndexChanged.connect(self._on_weights)
        self.weights_file = QLineEdit(placeholderText="path to a .pth state_dict", visible=False)
        self.freeze = QCheckBox(C.label_of("freeze"), checked=True)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=1.0, singleStep=0.0005, value=d.lr)
        self.batch = QSpinBox(minimum=1, maximum=512, value=d.batch_size)
        self.epochs = QSpinBox(minimum=1, maximum=500, value=d.epochs)
        self.size = QSpinBox(minimum=32, maximum=512, singleStep=16, value=224, suffix=" px")
        self.val = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.5, singleStep=0.05, value=d.val_fraction)
        self.augment = QCheckBox(C.label_of("augment"))
        self.early = QSpinBox(minimum=0, maximum=100, value=d.early_stop, specialValueText="off")
        self.device = QComboBox()
        for choice in C.choices_of("device") or ():
            self.device.addItem(choice, choice)
        form = QFormLayout()
        rows = [("model", self.model), ("weights", self.weights), ("", self.weights_file), ("freeze", self.freeze),
                ("lr", self.lr), ("batch_size", self.batch), ("epochs", self.epochs), ("image_size", self.size),
                ("val_fraction", self.val), ("augment", self.augment), ("early_stop", self.early),
                ("device", self.device)]
        for name, widget in rows:
            widget.setToolTip(C.help_of(name or "weights"))
            checkbox = isinstance(widget, QCheckBox)
            form.addRow("" if checkbox or not name else C.label_of(name), widget)
        return form

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train one model with these settings (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.sweep_button = QPushButton("Reference sweep")
        self.sweep_button.setToolTip(
            "Queue the reference grid: every model × learning rate {0.01, 0.001} × batch {4, 8}")
        self.sweep_button.clicked.connect(self.start_sweep)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.stop_button.setToolTip("Stop after the current batch; the last checkpoint is kept (Esc)")
        self.stop_button.clicked.connect(self.runner.cancel)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.sweep_button, self.stop_button):
            buttons.addWidget(b)
        return buttons

    def _build_progress(self) -> QSplitter:
        self.status = QLabel("Ready.")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.chart = LiveCurves()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Messages from the training job appear here.")
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.addWidget(self.status)
        tv.addWidget(self.progress)
        tv.addWidget(self.chart, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.log)
        right.setSizes([480, 160])
        return right

    def _on_weights(self) -> None:
        kind = self.weights.currentData()
        self.weights_file.setVisible(kind == "file")
        self.freeze.setChecked(kind != "none")
        if kind == "file" and not self.weights_file.text():
            self.weights_file.setText(dialogs.ask_open_file(self, "Backbone weights", "PyTorch (*.pth *.pt)"))

    # -- actions --------------------------------------------------------------------------
    def set_dataset(self, root: str) -> None:
        self.data_root = root
        self.data_label.setText(f"Dataset: <b>{root}</b>")

    def config(self) -> TrainConfig:
        """The settings on the page as the engine's one options schema."""
        kind = self.weights.currentData()
        return TrainConfig(
            data=self.data_root, model=self.model.currentData(),
            weights=self.weights_file.text() if kind == "file" else kind,
            freeze=self.freeze.isChecked(), lr=self.lr.value(), batch_size=self.batch.value(),
            epochs=self.epochs.value(), image_size=self.size.value(), val_fraction=self.val.value(),
            augment=self.augment.isChecked(), early_stop=self.early.value(),
            device=self.device.currentData(), out=self.runs_dir)

    def start(self) -> Job | None:
        return self._launch(train_args(self.config()), "Training")

    def start_sweep(self) -> Job | None:
        return self._launch(sweep_args(self.config()), "Reference sweep")

    def _launch(self, args: list[str], title: str) -> Job | None:
        if not self.data_root:
            self.status.setText("Open a dataset first (Dataset page).")
            return None
        job = self.runner.run(args, title)
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job = job
        self.chart.reset()
        self.log.clear()
        self._epoch_times = []
        job.event.connect(self._on_event)
        job.log.connect(self.log.appendPlainText)
        self._set_running(True)
        self.status.setText(f"{title}: starting…")
        return job

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.sweep_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    # -- events ---------------------------------------------------------------------------
    def _on_event(self, e: dict) -> None:
        kind = e["event"]
        sweep = f"run {e['sweep_index']} of {e['sweep_total']} · " if "sweep_index" in e else ""
        if kind == Event.START:
            self.chart.reset()
            self.total_epochs = int(e.get("epochs", 0))
            self._epoch_times = []
            self._phase_start = time.monotonic()
            images = sum(sum(v.values()) for v in e.get("counts", {}).values())
            self.status.setText(f"{sweep}{e.get('model')} on {e.get('device')} · {images} images")
        elif kind == Event.PROGRESS:
            self._on_progress(e, sweep)
        elif kind == Event.EPOCH:
            m = e["metrics"]
            self._epoch_times.append(m["seconds"])
            self.chart.add_epoch(m)
            self.log.appendPlainText(
                f"epoch {m['epoch']}/{e['epochs']}: train acc {m['train_acc']:.1%}, val acc {m['val_acc']:.1%}, "
                f"val loss {m['val_loss']:.3f}")
        elif kind in (Event.WARNING, Event.ERROR, Event.CANCELLED, Event.DONE):
            self.log.appendPlainText(f"{kind}: {e.get('message', '')}")
        elif kind == Event.FEATURES:
            self._phase_start = time.monotonic()

    def _on_progress(self, e: dict, sweep: str) -> None:
        done, total = int(e["done"]), max(int(e["total"]), 1)
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        if e["phase"] == "train":
            epoch = int(e.get("epoch", 1))
            if "loss" in e:
                self.chart.add_batch(epoch, done, total, float(e["loss"]))
            per_epoch = (sum(self._epoch_times) / len(self._epoch_times)) if self._epoch_times else None
            left = (self.total_epochs - epoch + 1 - done / total) * per_epoch if per_epoch else None
            eta = f" · ETA {_fmt_eta(left)}" if left is not None else ""
            self.status.setText(f"{sweep}epoch {epoch}/{self.total_epochs} · batch {done}/{total}{eta}")
        else:
            elapsed = time.monotonic() - self._phase_start
            eta = _fmt_eta(elapsed / done * (total - done)) if done else "…"
            what = PHASES.get(e["phase"], e["phase"])
            self.status.setText(f"{sweep}{what}: {done}/{total} · ETA {eta}")

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self._set_running(False)
        self.progress.setValue(self.progress.maximum() if status == Status.DONE else self.progress.value())
        self.status.setText({Status.DONE: "Finished.", Status.CANCELLED: "Stopped; the last checkpoint was kept."}.get(
            Status(status), f"Failed: {message}"))
        if status == Status.FAILED:
            self.log.appendPlainText(f"FAILED: {message}")
            dialogs.show_error(self, "Training failed", message, job.log_tail(20))
