"""Train page: options with plain-words tooltips, Start/Stop, progress with ETA, live curves."""

from __future__ import annotations

import time

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

from vehicleapp import dialogs
from vehicleapp.commands import TrainOptions, sweep_args, train_args
from vehicleapp.jobs import DONE, Job, JobRunner
from vehicleapp.widgets.charts import LiveCurves

MODELS = [
    ("MobileNetV2 (fast)", "mobilenet_v2"),
    ("ResNet-50", "resnet50"),
    ("Ensemble (ResNet-50 + MobileNetV2)", "ensemble"),
    ("Regularized ensemble", "ensemble_regularized"),
]
TIPS = {
    "model": "Which network to train. MobileNetV2 is small and quick; ResNet-50 is larger; the "
             "ensembles combine both (the regularized one overfits less).",
    "weights": "Start from ImageNet knowledge (best; downloaded once), from nothing (slow to learn, "
               "needs many images), or from a weights file you have.",
    "freeze": "Keep the pretrained part fixed and train only the new last layers. Much faster, and "
              "best with few images. Turn off to fine-tune everything.",
    "lr": "How big each learning step is. 0.001 is a safe start; 0.01 learns faster but can be unstable.",
    "batch": "How many photos are looked at per step. Small batches (4–8) suit small datasets.",
    "epochs": "How many times to go through all training photos.",
    "size": "Photos are resized to this many pixels. 224 is what the networks were made for; smaller is faster.",
    "val": "Share of each class kept aside to check the model honestly "
           "(ignored when the folder has its own val split).",
    "augment": "Randomly crop, flip and recolour photos while training: more robust, but slower "
               "(features cannot be cached).",
    "early": "Stop when the validation loss has not improved for this many epochs (0 = never stop early).",
    "device": "Where to compute: Auto uses a GPU when there is one.",
}


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TrainPage(QWidget):
    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.data_root = ""
        self.runs_dir = "checkpoints"
        self.job: Job | None = None
        self._phase_start = 0.0
        self._epoch_times: list[float] = []
        self._build()
        runner.finished.connect(self._on_finished)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.model = QComboBox()
        for label, name in MODELS:
            self.model.addItem(label, name)
        self.weights = QComboBox()
        self.weights.addItem("ImageNet (recommended)", "imagenet")
        self.weights.addItem("None (from scratch)", "none")
        self.weights.addItem("From a file…", "file")
        self.weights.currentIndexChanged.connect(self._on_weights)
        self.weights_file = QLineEdit()
        self.weights_file.setPlaceholderText("path to a .pth state_dict")
        self.weights_file.setVisible(False)
        self.freeze = QCheckBox("Freeze the pretrained backbone")
        self.freeze.setChecked(True)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=1.0, singleStep=0.0005, value=0.001)
        self.batch = QSpinBox(minimum=1, maximum=512, value=8)
        self.epochs = QSpinBox(minimum=1, maximum=500, value=15)
        self.size = QSpinBox(minimum=32, maximum=512, singleStep=16, value=224, suffix=" px")
        self.val = QDoubleSpinBox(decimals=2, minimum=0.05, maximum=0.5, singleStep=0.05, value=0.2)
        self.augment = QCheckBox("Augment photos")
        self.early = QSpinBox(minimum=0, maximum=100, value=0, specialValueText="off")
        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(d, d)
        rows = [("Model", self.model, "model"), ("Backbone weights", self.weights, "weights"),
                ("", self.weights_file, "weights"), ("", self.freeze, "freeze"),
                ("Learning rate", self.lr, "lr"), ("Batch size", self.batch, "batch"),
                ("Epochs", self.epochs, "epochs"), ("Image size", self.size, "size"),
                ("Validation share", self.val, "val"), ("", self.augment, "augment"),
                ("Early stopping", self.early, "early"), ("Device", self.device, "device")]
        for label, widget, tip in rows:
            widget.setToolTip(TIPS[tip])
            form.addRow(label, widget)
        self.start_button = QPushButton("Start training")
        self.start_button.setToolTip("Train one model with these settings (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)
        self.sweep_button = QPushButton("Reference sweep")
        self.sweep_button.setToolTip(
            "Queue the reference grid: 4 models × learning rate {0.01, 0.001} × batch {4, 8}")
        self.sweep_button.clicked.connect(self.start_sweep)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the last checkpoint is kept (Esc)")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.runner.cancel)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.sweep_button, self.stop_button):
            buttons.addWidget(b)
        self.data_label = QLabel("Dataset: none open (Dataset page)")
        self.data_label.setWordWrap(True)
        options = QGroupBox("Settings")
        ov = QVBoxLayout(options)
        ov.addWidget(self.data_label)
        ov.addLayout(form)
        ov.addLayout(buttons)
        ov.addStretch(1)

        self.status = QLabel("Ready.")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.chart = LiveCurves()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Messages from the training job appear here.")
        right = QSplitter()
        right.setOrientation(right.orientation().Vertical)
        top = QWidget()
        tv = QVBoxLayout(top)
        tv.addWidget(self.status)
        tv.addWidget(self.progress)
        tv.addWidget(self.chart, 1)
        right.addWidget(top)
        right.addWidget(self.log)
        right.setSizes([480, 160])
        layout = QHBoxLayout(self)
        layout.addWidget(options)
        layout.addWidget(right, 1)

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

    def options(self) -> TrainOptions:
        kind = self.weights.currentData()
        return TrainOptions(
            data=self.data_root, model=self.model.currentData(),
            weights=self.weights_file.text() if kind == "file" else kind,
            freeze=self.freeze.isChecked(), lr=self.lr.value(), batch_size=self.batch.value(),
            epochs=self.epochs.value(), image_size=self.size.value(), val_fraction=self.val.value(),
            augment=self.augment.isChecked(), early_stop=self.early.value(),
            device=self.device.currentData(), out=self.runs_dir)

    def start(self) -> Job | None:
        return self._launch(train_args(self.options()), "Training")

    def start_sweep(self) -> Job | None:
        return self._launch(sweep_args(self.options()), "Reference sweep")

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
        if kind == "start":
            self.chart.reset()
            self.total_epochs = int(e.get("epochs", 0))
            self._epoch_times = []
            self._phase_start = time.monotonic()
            images = sum(sum(v.values()) for v in e.get("counts", {}).values())
            self.status.setText(f"{sweep}{e.get('model')} on {e.get('device')} · {images} images")
        elif kind == "progress":
            self._on_progress(e, sweep)
        elif kind == "epoch":
            m = e["metrics"]
            self._epoch_times.append(m["seconds"])
            self.chart.add_epoch(m)
            self.log.appendPlainText(
                f"epoch {m['epoch']}/{e['epochs']}: train acc {m['train_acc']:.1%}, val acc {m['val_acc']:.1%}, "
                f"val loss {m['val_loss']:.3f}")
        elif kind in ("warning", "error", "cancelled", "done"):
            self.log.appendPlainText(f"{kind}: {e.get('message', '')}")
        elif kind == "features":
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
            what = {"features": "Computing features (once per image)", "check": "Checking images",
                    "classify": "Classifying"}.get(e["phase"], e["phase"])
            self.status.setText(f"{sweep}{what}: {done}/{total} · ETA {eta}")

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self._set_running(False)
        self.progress.setValue(self.progress.maximum() if status == DONE else self.progress.value())
        self.status.setText({"done": "Finished.", "cancelled": "Stopped; the last checkpoint was kept."}.get(
            status, f"Failed: {message}"))
        if status not in ("done", "cancelled"):
            self.log.appendPlainText(f"FAILED: {message}")
            dialogs.show_error(self, "Training failed", message, job.log_tail(20))
