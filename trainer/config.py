"""Every training setting in one frozen dataclass, the only definition of the options.

Each field carries its default, its help text (plain words: the CLI's ``--help`` and the
app's tooltips both show it), its choices and its label in the app. The CLI parser is
generated from it and the app turns a config into child-process arguments with
:func:`trainer.options.config_to_args`. ``config.json`` in a run folder is its
serialisation. Adding a training option means adding a field here (and using it in the
engine). Torch-free: the app imports it.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from trainer.protocol import UsageError
from trainer.registry import list_models

BALANCE_CHOICES = ("none", "sampler", "loss")
TTA_MODES = ("off", "flip", "flip+zoom")  # test-time augmentation (trainer.tta)
TTA_CHOICES = ("auto", *TTA_MODES)  # train: auto decides on validation
TTA_OVERRIDES = ("auto", "on", *TTA_MODES)  # evaluate/classify/export: auto and on keep the run's choice
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
BACKEND_CHOICES = ("auto", "torch", "onnxruntime")  # where backbones run (trainer.backends)
PRECISION_CHOICES = ("auto", "fp32", "bf16")
DECODE_POOLS = ("threads", "processes")  # decode workers (trainer.batches)
DEFAULT_RUNS_DIR = "checkpoints"
#: The reference experiment's grid: every model x Adam lr {0.01, 0.001} x batch {4, 8}.
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 1024  # the networks were trained at 224; 1024 is ~20x its work
REFERENCE_LRS = (0.01, 0.001)
REFERENCE_BATCH_SIZES = (4, 8)


def option(default: Any = None, help: str = "", *, label: str = "", choices: Any = None,
           metavar: str | None = None, cli: bool = True, **extra: Any) -> Any:
    """A config field with its documentation (``dataclasses.field`` with metadata)."""
    meta = {"help": help, "label": label, "choices": choices, "metavar": metavar, "cli": cli, **extra}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    data: str = field(metadata={"help": "The dataset folder: ROOT/<class>/*.jpg or "
                                "ROOT/train|val|test/<class>/*.jpg.", "positional": True, "cli": True})
    model: str = option(
        "mobilenet_v2", "Which network to train. MobileNetV2 is small and quick; ResNet-50 is larger; "
        "the ensembles combine both (the regularized one overfits less).", label="Model", choices=list_models)
    weights: dict[str, str] | str = option(
        "imagenet", "Where the backbone starts: ImageNet knowledge (best; downloaded once), nothing "
        "(none: slow to learn, needs many images) or a weights file. Several backbones: "
        "BACKBONE=SPEC for each.", label="Backbone weights", metavar="SPEC")
    freeze: bool | None = option(
        None, "Keep the pretrained backbone fixed and train only the new last layers: much faster and "
        "best with few images. Default: pretrained backbones frozen, random ones trained.",
        label="Freeze the pretrained backbone")
    lr: float = option(1e-3, "How big each learning step is. 0.001 is a safe start; 0.01 learns faster "
                       "but can be unstable.", label="Learning rate")
    batch_size: int = option(8, "How many photos are looked at per step. Small batches (4-8) suit "
                             "small datasets.", label="Batch size")
    epochs: int = option(15, "How many times to go through all training photos.", label="Epochs")
    fine_tune: int = option(
        0, "After the epochs above (which train only the new last layers), unfreeze the backbone and train "
        "this many more epochs on the photos "
        "themselves (light augmentation, gentle learning rates): usually more accurate, much slower on a CPU "
        "(0 = keep the backbone frozen).", label="Fine-tune epochs", metavar="N")
    unfreeze_blocks: int = option(
        0, "How many of the backbone's last blocks fine-tuning trains (0 = all; fewer is faster).",
        label="Blocks to fine-tune", metavar="N")
    tta: str = option(
        "auto", "Test-time augmentation: also look at each photo flipped (and zoomed) and average. auto "
        "turns it on only when it does better on the validation photos (more right, or as many with a "
        "lower loss); it makes classifying 2-4x slower.", label="Test-time augmentation", choices=TTA_CHOICES)
    seed: int = option(0, "Seed for the random parts (validation split, shuffling, initial weights).",
                       label="Seed")
    device: str = option("auto", "Where to compute: auto uses a GPU when there is one.", label="Device",
                         choices=DEVICE_CHOICES)
    backend: str = option("auto", "What runs the frozen backbone when features are computed: auto measures "
                          "torch and onnxruntime on this computer once and keeps the faster one.",
                          label="Backend", choices=BACKEND_CHOICES)
    precision: str = option("auto", "Number format of the frozen backbone: auto uses bf16 only where the "
                            "hardware computes it natively and it is faster and agrees with fp32.",
                            label="Precision", choices=PRECISION_CHOICES)
    early_stop: int = option(0, "Stop when the validation loss has not improved for this many epochs "
                             "(0 = never stop early).", label="Early stopping", metavar="N")
    augment: bool = option(False, "Randomly crop, flip and recolour photos while training: more robust, "
                           "but slower (features cannot be cached).", label="Augment photos")
    balance: str = option("none", "Make rare classes count as much as common ones: sampler draws them "
                          "more often, loss weighs them more.", label="Balance classes", choices=BALANCE_CHOICES)
    image_size: int | None = option(None, "Photos are resized to this many pixels (default: the "
                                    "network's own, 224). Smaller is faster.", label="Image size", metavar="PX")
    val_fraction: float = option(0.2, "Share of the photos kept aside to check the model honestly "
                                 "(ignored when the folder has its own val split).", label="Validation share")
    cache: bool = option(True, "Compute frozen-backbone features once per image and keep them on disk "
                         "across runs (--no-cache decodes every image every epoch).", label="Cache features")
    cache_dir: str | None = option(None, "Folder of the feature cache (default: the user cache folder).",
                                   metavar="DIR")
    out: str = option(DEFAULT_RUNS_DIR, "Folder that receives the run folders.", label="Runs folder",
                      metavar="DIR")
    coverage: float = option(0.95, "Share of the validation photos that must keep their answer: the threshold "
                             "below which a photo is answered 'unknown' is set after training so that this "
                             "share passes it (1 = never answer unknown).", label="Known share kept",
                             metavar="SHARE")
    plateau_patience: int = option(3, "Epochs without val-loss improvement before the learning rate "
                                   "drops 5x.", metavar="N")
    workers: int = option(0, "Threads decoding images (0: one per core).", metavar="N")
    nproc: int = option(
        1, "Training processes on this machine, one per GPU (or CPU share), working as one (PyTorch DDP "
        "through torchrun); each takes --batch-size photos per step. Only for training the photos themselves "
        "(augmented or unfrozen): cached-feature training takes seconds in one process.", label="Processes",
        metavar="N")

    def validate(self) -> None:
        """Raise :class:`UsageError` with a one-line message for an impossible setting."""
        checks = [
            (math.isfinite(self.lr) and self.lr > 0, f"--lr must be a number > 0, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.early_stop >= 0, f"--early-stop must be >= 0, got {self.early_stop}"),
            (self.fine_tune >= 0, f"--fine-tune must be >= 0, got {self.fine_tune}"),
            (self.unfreeze_blocks >= 0, f"--unfreeze-blocks must be >= 0, got {self.unfreeze_blocks}"),
            (self.tta in TTA_CHOICES, f"--tta must be one of {TTA_CHOICES}"),
            (self.balance in BALANCE_CHOICES, f"--balance must be one of {BALANCE_CHOICES}"),
            (self.device in DEVICE_CHOICES, f"--device must be one of {DEVICE_CHOICES}"),
            (self.image_size is None or MIN_IMAGE_SIZE <= self.image_size <= MAX_IMAGE_SIZE,
             f"--image-size must be {MIN_IMAGE_SIZE}-{MAX_IMAGE_SIZE} pixels, got {self.image_size}"),
            (self.plateau_patience >= 0, f"--plateau-patience must be >= 0, got {self.plateau_patience}"),
            (not Path(self.out).expanduser().is_file(), f"--out {self.out} is a file; give a folder"),
            (0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1), got {self.val_fraction}"),
            (0 < self.coverage <= 1, f"--coverage must be in (0, 1], got {self.coverage}"),
            (self.workers >= 0, f"--workers must be >= 0 (0: one per core), got {self.workers}"),
            (self.backend in BACKEND_CHOICES, f"--backend must be one of {BACKEND_CHOICES}"),
            (self.precision in PRECISION_CHOICES, f"--precision must be one of {PRECISION_CHOICES}"),
            (not (self.backend == "onnxruntime" and self.precision == "bf16"),
             "--precision bf16 needs --backend torch (onnxruntime runs fp32 here)"),
            (self.nproc >= 1, f"--nproc must be >= 1, got {self.nproc}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def choices_of(name: str) -> tuple[str, ...] | None:
    """The allowed values of a field (resolved now: the model list comes from the registry)."""
    choices = TrainConfig.__dataclass_fields__[name].metadata.get("choices")
    return tuple(choices() if callable(choices) else choices) if choices else None


def help_of(name: str) -> str:
    return str(TrainConfig.__dataclass_fields__[name].metadata.get("help", ""))


def label_of(name: str) -> str:
    return str(TrainConfig.__dataclass_fields__[name].metadata.get("label", "")) or name


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


APP_NAME = "vehicleapp"  # the folder name under each OS's per-user cache and data folders


def default_cache_dir() -> Path:
    """Where backbone features are cached across runs (``$TRAINER_CACHE_DIR`` overrides).

    The OS's user cache folder (platformdirs): ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
    ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%\\vehicleapp\\Cache`` on Windows.
    """
    env = os.environ.get("TRAINER_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "features"


def user_data_dir() -> Path:
    """Per-user data folder (demo dataset, logs, predictions); ``$VEHICLEAPP_DATA_DIR`` overrides.

    The OS's user data folder (platformdirs): ``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux,
    ``~/Library/Application Support`` on macOS, ``%LOCALAPPDATA%`` on Windows.
    """
    env = os.environ.get("VEHICLEAPP_DATA_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def demo_data_dir() -> Path:
    return user_data_dir() / "demo-data"


def log_dir() -> Path:
    """Where the app and the CLI keep their logs (Help → Open log folder)."""
    return user_data_dir() / "logs"
