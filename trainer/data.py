"""Training data in two forms with one interface: cached feature rows or image files.

Both hand out batches by index lists, so the cached and the plain path see the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.batches import ImageBatcher, to_device
from trainer.models import TransferModel

HELD_OUT = ("val", "test")  # the splits a run evaluates but never trains on


@dataclass
class SplitData:
    name: str
    labels: torch.Tensor  # int64 [N]
    feats: dict[str, torch.Tensor] | None = None  # cached path: rows per backbone
    paths: list[Path] | None = None  # plain path: files to decode

    def __len__(self) -> int:
        return int(self.labels.numel())

    def forward(self, model: TransferModel, idx: list[int], batcher: ImageBatcher | None,
                device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Logits and labels of the samples at ``idx`` (files that vanished are dropped)."""
        feats, labels = self.features(model, idx, batcher, device)
        return (model.head(feats) if feats is not None else None), labels

    def features(self, model: TransferModel, idx: list[int], batcher: ImageBatcher | None,
                 device: torch.device) -> tuple[dict[str, torch.Tensor] | None, torch.Tensor]:
        """Pooled backbone features (cached rows, or the model's backbones) and labels at ``idx``."""
        labels = self.labels[idx]
        if self.feats is not None:
            return {n: to_device(f[idx], device) for n, f in self.feats.items()}, labels.to(device)
        assert self.paths is not None and batcher is not None
        x, ok, _ = batcher([self.paths[i] for i in idx])
        if x is None:
            return None, labels[:0].to(device)
        return model.features(to_device(x, device)), labels[torch.tensor(ok)].to(device)


def batch_order(n: int, batch_size: int, generator: torch.Generator,
                weights: torch.Tensor | None = None) -> list[list[int]]:
    """Shuffled index batches; with ``weights``, a class-balanced draw with replacement."""
    if weights is not None:
        order = torch.multinomial(weights, n, replacement=True, generator=generator)
    else:
        order = torch.randperm(n, generator=generator)
    flat = order.tolist()
    return [flat[i : i + batch_size] for i in range(0, n, batch_size)]


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``N / (C * count)`` per class (0 for an absent class)."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    w = labels.numel() / (num_classes * counts.clamp(min=1))
    return torch.where(counts > 0, w, torch.zeros_like(w))
