"""Every training setting in one frozen dataclass; ``config.json`` is its serialisation."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BALANCE_CHOICES = ("none", "sampler", "loss")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def default_cache_dir() -> Path:
    """Where backbone features are cached across runs (``$TRAINER_CACHE_DIR`` overrides)."""
    env = os.environ.get("TRAINER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vehicleapp" / "features"


@dataclass(frozen=True)
class TrainConfig:
    data: str
    model: str = "mobilenet_v2"
    weights: dict[str, str] | str = "imagenet"
    freeze: bool | None = None  # None: freeze pretrained backbones, train random ones
    lr: float = 1e-3
    batch_size: int = 8
    epochs: int = 15
    seed: int = 0
    device: str = "auto"
    early_stop: int = 0  # epochs without val-loss improvement before stopping; 0 = off
    augment: bool = False
    balance: str = "none"
    image_size: int | None = None  # None: the weights' own crop size (224)
    val_fraction: float = 0.2
    cache: bool = True
    cache_dir: str | None = None
    out: str = "checkpoints"
    plateau_patience: int = 3
    workers: int = 2  # threads decoding images
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ValueError`` with a one-line message for an impossible setting."""
        checks = [
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.early_stop >= 0, f"--early-stop must be >= 0, got {self.early_stop}"),
            (self.balance in BALANCE_CHOICES, f"--balance must be one of {BALANCE_CHOICES}"),
            (self.device in DEVICE_CHOICES, f"--device must be one of {DEVICE_CHOICES}"),
            (self.image_size is None or self.image_size >= 32,
             f"--image-size must be >= 32, got {self.image_size}"),
            (0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1), got {self.val_fraction}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def user_data_dir() -> Path:
    """Per-user data folder (demo dataset, labeling journal); ``$VEHICLEAPP_DATA_DIR`` overrides."""
    env = os.environ.get("VEHICLEAPP_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "vehicleapp"


def demo_data_dir() -> Path:
    return user_data_dir() / "demo-data"
