"""A rough duration of a training job or a sweep before it starts (torch-free: the app asks).

The cost model follows the engine: frozen backbones without augmentation compute each image's
features once (shared by every run of a sweep through the feature cache) and then only the
small head trains; a trained backbone costs a forward and a backward pass per image and epoch.
The figures are for an ordinary CPU; a GPU is many times faster, so this is an upper bound.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainer.config import TrainConfig
from trainer.registry import BACKBONES, get_spec

CPU_GFLOPS = 60.0  # effective throughput of a laptop CPU on a batch of images (measured: 50-85)
DECODE_SECONDS = 0.01  # reading, decoding and resizing one photo
TRAIN_FACTOR = 3.0  # forward + backward + update, against one forward pass
HEAD_SECONDS = 0.0005  # one image through a head on cached features
RUN_SECONDS = 4.0  # each run: building the model, loading features, writing checkpoints


def _spec_of(cfg: TrainConfig, backbone: str) -> str:
    return cfg.weights.get(backbone, "imagenet") if isinstance(cfg.weights, dict) else cfg.weights


def _frozen(cfg: TrainConfig, backbone: str) -> bool:
    return cfg.freeze if cfg.freeze is not None else _spec_of(cfg, backbone) != "none"


def image_seconds(backbone: str, image_size: int | None) -> float:
    """One forward pass of one image through ``backbone`` (decoding included)."""
    scale = ((image_size or 224) / 224) ** 2
    return DECODE_SECONDS + BACKBONES[backbone].gflops * scale / CPU_GFLOPS


def estimate_seconds(configs: Sequence[TrainConfig], images: int) -> float:
    """Upper bound of the wall time of training ``configs`` one after another on ``images`` photos."""
    total, extracted = 0.0, set()
    for cfg in configs:
        backbones = get_spec(cfg.model).backbones
        cached = cfg.cache and not cfg.augment and all(_frozen(cfg, b) for b in backbones)
        for b in backbones:
            per_image = image_seconds(b, cfg.image_size)
            key = (b, _spec_of(cfg, b), cfg.image_size)
            if cached and key not in extracted:
                extracted.add(key)
                total += images * per_image
            elif not cached:
                total += cfg.epochs * images * per_image * (1.0 if _frozen(cfg, b) else TRAIN_FACTOR)
            total += cfg.fine_tune * images * per_image * TRAIN_FACTOR  # photos decoded, backbone trained
        total += RUN_SECONDS + (cfg.epochs * images * HEAD_SECONDS if cached else 0.0)
    return total


def format_duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min``, ``about 2.5 h``."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
