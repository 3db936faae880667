"""Argument lists for the trainer CLI jobs the app starts (no Qt: testable as plain data)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE_MODELS = ("resnet50", "mobilenet_v2", "ensemble", "ensemble_regularized")


@dataclass
class TrainOptions:
    data: str
    model: str = "mobilenet_v2"
    weights: str = "imagenet"  # imagenet | none | a file path
    freeze: bool = True
    lr: float = 0.001
    batch_size: int = 8
    epochs: int = 15
    image_size: int = 224
    val_fraction: float = 0.2
    augment: bool = False
    early_stop: int = 0
    device: str = "auto"
    out: str = "checkpoints"
    extra: list[str] = field(default_factory=list)


def trainer_command() -> list[str]:
    """How to start the trainer CLI with this very Python."""
    return [sys.executable, "-m", "trainer"]


def _common(o: TrainOptions) -> list[str]:
    args = [
        "--weights", o.weights, "--freeze" if o.freeze else "--no-freeze",
        "--epochs", str(o.epochs), "--image-size", str(o.image_size),
        "--val-fraction", f"{o.val_fraction:g}", "--early-stop", str(o.early_stop),
        "--device", o.device, "--out", o.out, "--events",
    ]
    if o.augment:
        args.append("--augment")
    return args + list(o.extra)


def train_args(o: TrainOptions) -> list[str]:
    return ["train", o.data, "--model", o.model, "--lr", f"{o.lr:g}",
            "--batch-size", str(o.batch_size), *_common(o)]


def sweep_args(o: TrainOptions, models: tuple[str, ...] = REFERENCE_MODELS,
               lrs: tuple[float, ...] = (0.01, 0.001), batches: tuple[int, ...] = (4, 8)) -> list[str]:
    """The reference grid: models x learning rates x batch sizes, one job."""
    return ["sweep", o.data, "--models", *models, "--lrs", *(f"{x:g}" for x in lrs),
            "--batch-sizes", *(str(b) for b in batches), *_common(o)]


def classify_args(run: Path, folder: Path, out_csv: Path, recursive: bool,
                  copy_to: Path | None = None) -> list[str]:
    args = ["classify", str(run), str(folder), "--out", str(out_csv), "--events"]
    if recursive:
        args.append("--recursive")
    if copy_to:
        args += ["--copy-to", str(copy_to)]
    return args


def evaluate_args(run: Path, data: Path) -> list[str]:
    return ["evaluate", str(run), str(data), "--events"]
