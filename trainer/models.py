"""The four reference models, built by name from a registry (timm's ``create_model``).

Every model is a :class:`TransferModel`: one or two torchvision backbones whose heads were
removed, and a trainable :class:`Head` on their pooled features. Keeping the backbones apart
from the head is what lets frozen features be computed once and cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchvision import models as tvm

from trainer import weights as W
from trainer.preprocess import Preprocess


class ModelError(ValueError):
    """Unknown model name or bad model options."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    out_dim: int
    build: Callable[[], nn.Module]  # torchvision model with its classifier kept
    strip: Callable[[nn.Module], None]  # replaces the classifier with Identity
    imagenet: object  # torchvision WeightsEnum member


def _strip_resnet(m: nn.Module) -> None:
    m.fc = nn.Identity()


def _strip_mobilenet(m: nn.Module) -> None:
    m.classifier = nn.Identity()


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec(
        "resnet50", 2048, lambda: tvm.resnet50(weights=None), _strip_resnet,
        tvm.ResNet50_Weights.DEFAULT,
    ),
    "mobilenet_v2": BackboneSpec(
        "mobilenet_v2", 1280, lambda: tvm.mobilenet_v2(weights=None), _strip_mobilenet,
        tvm.MobileNet_V2_Weights.DEFAULT,
    ),
}


def build_backbone(name: str, spec: str) -> nn.Module:
    """A backbone with ``spec`` weights (``imagenet``, ``none`` or a file path), head removed."""
    bb = BACKBONES[name]
    model = bb.build()
    if spec == W.IMAGENET:
        W.load_imagenet(model, bb.imagenet, name)
    bb.strip(model)
    if spec not in (W.IMAGENET, W.NONE):
        W.load_file(model, spec, name)
    return model


class Head(nn.Module):
    """Per-backbone branches whose outputs are concatenated and fed to ``fuse``."""

    def __init__(self, branches: dict[str, nn.Module], fuse: nn.Module | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(branches)
        self.fuse = fuse if fuse is not None else nn.Identity()

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [branch(feats[name]) for name, branch in self.branches.items()]
        return self.fuse(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))


class TransferModel(nn.Module):
    """Backbones (frozen ones stay in eval mode) + a head on their pooled features."""

    def __init__(self, backbones: dict[str, nn.Module], head: Head, frozen: set[str]) -> None:
        super().__init__()
        self.backbones = nn.ModuleDict(backbones)
        self.head = head
        self.frozen = set(frozen)
        for name in self.frozen:
            self.backbones[name].requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> TransferModel:
        super().train(mode)
        for name in self.frozen:
            self.backbones[name].eval()  # BatchNorm statistics must not drift
        return self

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
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


def _mobilenet_branch(out: int) -> nn.Module:
    # torchvision's MobileNetV2 classifier is Sequential(Dropout(0.2), Linear); keep its dropout.
    return nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, out))


def _regularized_fuse(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = []
    for d_in, d_out in ((2048, 1024), (1024, 512)):
        layers += [nn.LayerNorm(d_in), nn.Dropout(0.5), nn.Linear(d_in, d_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.LayerNorm(512), nn.Dropout(0.5), nn.Linear(512, num_classes))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backbones: tuple[str, ...]
    make_head: Callable[[int], Head]
    description: str


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in MODELS:
        raise ModelError(f"an entry is already registered under the name '{spec.name}'")
    MODELS[spec.name] = spec
    return spec


register_model(ModelSpec(
    "resnet50", ("resnet50",),
    lambda c: Head({"resnet50": nn.Linear(2048, c)}),
    "ResNet-50, frozen backbone, new Linear(2048, C) head",
))
register_model(ModelSpec(
    "mobilenet_v2", ("mobilenet_v2",),
    lambda c: Head({"mobilenet_v2": _mobilenet_branch(c)}),
    "MobileNetV2, frozen backbone, new Linear(1280, C) head",
))
register_model(ModelSpec(
    "ensemble", ("resnet50", "mobilenet_v2"),
    lambda c: Head(
        {"resnet50": nn.Linear(2048, c), "mobilenet_v2": _mobilenet_branch(c)},
        nn.Linear(2 * c, c),
    ),
    "both models' logits concatenated into Linear(2C, C)",
))
register_model(ModelSpec(
    "ensemble_regularized", ("resnet50", "mobilenet_v2"),
    lambda c: Head(
        {"resnet50": nn.Linear(2048, 1024), "mobilenet_v2": _mobilenet_branch(1024)},
        _regularized_fuse(c),
    ),
    "1024-d projection of each backbone, LayerNorm/Dropout MLP (cures overfitting)",
))


def list_models() -> list[str]:
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model '{name}'; choose one of: {', '.join(list_models())}")
    return MODELS[name]


def resolve_weights(model: str, weights: dict[str, str] | str) -> dict[str, str]:
    """One weight spec per backbone of ``model`` (a plain string applies to all)."""
    names = get_spec(model).backbones
    if isinstance(weights, str):
        return {n: W.validate_spec(weights) for n in names}
    unknown = set(weights) - set(names)
    if unknown:
        raise ModelError(f"{model} has no backbone named {', '.join(sorted(unknown))}")
    return {n: W.validate_spec(weights.get(n, W.IMAGENET)) for n in names}


def default_frozen(weights: dict[str, str]) -> set[str]:
    """Freeze pretrained backbones; random ones are trained (frozen random features are useless)."""
    return {name for name, spec in weights.items() if spec != W.NONE}


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
        frozen = default_frozen(wmap)
    return TransferModel(backbones, spec.make_head(num_classes), frozen)


def preprocess_for(name: str, image_size: int | None = None) -> Preprocess:
    """The preprocessing of the model's (first) backbone's ImageNet weights, optionally resized."""
    first = BACKBONES[get_spec(name).backbones[0]]
    return Preprocess.from_weights(first.imagenet, image_size)
