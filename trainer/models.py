"""Building the registry's models (timm's ``create_model``); see :mod:`trainer.registry`.

Every model is a :class:`TransferModel`: one or two torchvision backbones whose heads were
removed, and a trainable :class:`Head` on their pooled features. Keeping the backbones apart
from the head is what lets frozen features be computed once and cached.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainer import tta as TTA
from trainer import weights as W
from trainer.heads import Head
from trainer.preprocess import Preprocess
from trainer.registry import BACKBONES, ModelError, ModelSpec, get_spec, list_models, register_model
from trainer.vision import torchvision

tvm = torchvision.models

__all__ = ["BACKBONES", "Head", "ModelError", "ModelSpec", "TransferModel", "create_model", "frozen_backbones",
           "get_spec", "list_models", "preprocess_for", "register_model", "resolve_weights"]


def imagenet_weights(backbone: str) -> Any:
    """torchvision's ImageNet ``WeightsEnum`` member for a backbone (weights carry their transforms)."""
    return getattr(tvm, BACKBONES[backbone].weights_enum).DEFAULT


def build_backbone(name: str, spec: str) -> nn.Module:
    """A backbone with ``spec`` weights (``imagenet``, ``none`` or a file path), head removed."""
    info = BACKBONES[name]
    model = getattr(tvm, info.builder)(weights=None)
    if spec == W.IMAGENET:
        W.load_imagenet(model, imagenet_weights(name), name)
    setattr(model, info.head_attr, nn.Identity())
    if spec not in (W.IMAGENET, W.NONE):
        W.load_file(model, spec, name)
    return model


class TransferModel(nn.Module):
    """Backbones (frozen ones stay in eval mode) + a head on their pooled features.

    ``tuned`` backbones are being fine-tuned (:mod:`trainer.finetune`): they get gradients but,
    like frozen ones, stay in eval mode. ``tta`` (a :mod:`trainer.tta` mode) averages the
    features over views in eval mode.
    """

    def __init__(self, backbones: dict[str, nn.Module], head: nn.Module, frozen: set[str]) -> None:
        super().__init__()
        self.backbones = nn.ModuleDict(backbones)
        self.head = head
        self.frozen = set(frozen)
        self.tuned: set[str] = set()
        self.tta = TTA.OFF
        for name in self.frozen:
            self.backbones[name].requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> TransferModel:
        super().train(mode)
        for name in self.frozen | self.tuned:
            self.backbones[name].eval()  # BatchNorm statistics must not drift
        return self

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.tta != TTA.OFF and not self.training:
            return TTA.averaged(self._features, x, self.tta)
        return self._features(x)

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for name, bb in self.backbones.items():
            if name in self.frozen:
                with torch.no_grad():
                    out[name] = bb(x)
            else:
                out[name] = bb(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def resolve_weights(model: str, weights: dict[str, str] | str) -> dict[str, str]:
    """One weight spec per backbone of ``model`` (a plain string applies to all)."""
    names = get_spec(model).backbones
    if isinstance(weights, str):
        return {n: W.validate_spec(weights) for n in names}
    unknown = set(weights) - set(names)
    if unknown:
        raise ModelError(f"{model} has no backbone named {', '.join(sorted(unknown))}")
    return {n: W.validate_spec(weights.get(n, W.IMAGENET)) for n in names}


def frozen_backbones(weights: dict[str, str], freeze: bool | None = None) -> set[str]:
    """Which backbones to freeze: all or none when ``freeze`` says so; by default the
    pretrained ones (frozen random features are useless, so random backbones train)."""
    if freeze is None:
        return {name for name, spec in weights.items() if spec != W.NONE}
    return set(weights) if freeze else set()


def create_model(
    name: str,
    num_classes: int,
    weights: dict[str, str] | str = W.IMAGENET,
    frozen: set[str] | None = None,
    load_backbones: bool = True,
) -> TransferModel:
    """Build a registered model. ``load_backbones=False`` skips weight loading (a checkpoint
    will provide every tensor)."""
    if num_classes < 2:
        raise ModelError(f"need at least 2 classes, got {num_classes}")
    spec = get_spec(name)
    wmap = resolve_weights(name, weights) if load_backbones else dict.fromkeys(spec.backbones, "none")
    backbones = {n: build_backbone(n, wmap[n]) for n in spec.backbones}
    if frozen is None:
        frozen = frozen_backbones(wmap)
    return TransferModel(backbones, spec.make_head(num_classes), frozen)


def weights_fit(path: str) -> dict[str, dict[str, Any]]:
    """For every registered backbone, how many tensors of the weights file ``path`` it would take
    (training loads a file that matches at least one; ``reason`` says why one matches none)."""
    path = W.validate_spec(path)
    fit = {}
    for name, info in BACKBONES.items():
        model = getattr(tvm, info.builder)(weights=None)
        setattr(model, info.head_attr, nn.Identity())
        total, matched, reason = len(model.state_dict()), 0, ""
        try:
            matched = W.load_file(model, path, name)
        except W.WeightsError as exc:
            reason = str(exc)
        fit[name] = {"matched": matched, "total": total, "reason": reason}
    return fit


def preprocess_for(name: str, image_size: int | None = None) -> Preprocess:
    """The preprocessing of the model's (first) backbone's ImageNet weights, optionally resized."""
    return Preprocess.from_weights(imagenet_weights(get_spec(name).backbones[0]), image_size)
