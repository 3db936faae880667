"""Trainable heads on pooled backbone features: the shapes of the four reference models."""

from __future__ import annotations

import torch
from torch import nn

from trainer.registry import BACKBONES


class Head(nn.Module):
    """Per-backbone branches whose outputs are concatenated and fed to ``fuse``."""

    def __init__(self, branches: dict[str, nn.Module], fuse: nn.Module | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.fuse = fuse if fuse is not None else nn.Identity()

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [branch(feats[name]) for name, branch in self.branches.items()]
        return self.fuse(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))


def branch(backbone: str, out: int) -> nn.Module:
    """A linear map of one backbone's features; MobileNetV2 keeps torchvision's Dropout(0.2)."""
    linear = nn.Linear(BACKBONES[backbone].out_dim, out)
    return nn.Sequential(nn.Dropout(0.2), linear) if backbone == "mobilenet_v2" else linear


def single(backbone: str, num_classes: int) -> Head:
    return Head({backbone: branch(backbone, num_classes)})


def logit_ensemble(num_classes: int) -> Head:
    """Both backbones' logits concatenated into Linear(2C, C)."""
    names = ("resnet50", "mobilenet_v2")
    return Head({n: branch(n, num_classes) for n in names}, nn.Linear(2 * num_classes, num_classes))


def regularized_ensemble(num_classes: int) -> Head:
    """1024-d projection of each backbone, then a LayerNorm/Dropout MLP."""
    layers: list[nn.Module] = []
    for d_in, d_out in ((2048, 1024), (1024, 512)):
        layers += [nn.LayerNorm(d_in), nn.Dropout(0.5), nn.Linear(d_in, d_out), nn.ReLU()]
    fuse = nn.Sequential(*layers, nn.LayerNorm(512), nn.Dropout(0.5), nn.Linear(512, num_classes))
    return Head({n: branch(n, 1024) for n in ("resnet50", "mobilenet_v2")}, fuse)
