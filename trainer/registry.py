"""The model registry: every model the product offers, by name (timm's ``register_model``).

Torch-free, so the app lists the models (with their descriptions) without importing torch;
a model's head is built by its ``make_head``, which imports torch only when called.

Adding a model touches only this file: register a :class:`ModelSpec` whose backbones are in
:data:`BACKBONES` (add a torchvision backbone there if needed) and whose head comes from
:mod:`trainer.heads`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainer.protocol import UsageError


class ModelError(UsageError):
    """Unknown model name or bad model options."""


@dataclass(frozen=True)
class BackboneInfo:
    """A torchvision backbone: its builder, ImageNet weights enum and the head to strip.

    The last three fields are facts about torchvision's ImageNet weights that the app needs
    without importing torch (a test checks them against torchvision's weights enums).
    """

    name: str
    title: str
    out_dim: int  # size of the pooled feature vector
    builder: str  # torchvision.models.<builder>(weights=None)
    weights_enum: str  # torchvision.models.<weights_enum>.DEFAULT
    head_attr: str  # the classifier attribute replaced by Identity
    imagenet_file: str  # the file torch.hub downloads into <hub>/checkpoints/
    imagenet_mb: float  # its download size
    gflops: float  # one 224 px forward pass
    cam_layer: str  # the last convolutional block: where Grad-CAM looks (``explain``)
    blocks: tuple[str, ...]  # submodules input to output: fine-tuning unfreezes the last ones


BACKBONES: dict[str, BackboneInfo] = {
    b.name: b for b in (
        BackboneInfo("resnet50", "ResNet-50", 2048, "resnet50", "ResNet50_Weights", "fc",
                     "resnet50-11ad3fa6.pth", 97.8, 4.089, "layer4",
                     ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")),
        BackboneInfo("mobilenet_v2", "MobileNetV2", 1280, "mobilenet_v2", "MobileNet_V2_Weights", "classifier",
                     "mobilenet_v2-7ebf99e0.pth", 13.6, 0.301, "features.18",
                     tuple(f"features.{i}" for i in range(19))),
    )
}


def backbone_info(name: str) -> BackboneInfo:
    """A model's backbone by its name in the model (an ensemble of runs names them ``m<i>-<backbone>``)."""
    return BACKBONES[name.split("-", 1)[-1]]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str  # what the app shows
    backbones: tuple[str, ...]
    make_head: Callable[[int], Any]  # num_classes -> trainer.heads.Head
    description: str


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in MODELS:
        raise ModelError(f"an entry is already registered under the name '{spec.name}'")
    unknown = [b for b in spec.backbones if b not in BACKBONES]
    if unknown:
        raise ModelError(f"{spec.name}: unknown backbone(s) {', '.join(unknown)}")
    MODELS[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model '{name}'; choose one of: {', '.join(list_models())}")
    return MODELS[name]


def _single(backbone: str) -> Callable[[int], Any]:
    def make(num_classes: int) -> Any:
        from trainer import heads

        return heads.single(backbone, num_classes)

    return make


def _ensemble(regularized: bool) -> Callable[[int], Any]:
    def make(num_classes: int) -> Any:
        from trainer import heads

        return heads.regularized_ensemble(num_classes) if regularized else heads.logit_ensemble(num_classes)

    return make


register_model(ModelSpec(
    "mobilenet_v2", "MobileNetV2 (fast)", ("mobilenet_v2",), _single("mobilenet_v2"),
    "MobileNetV2, frozen backbone, new Linear(1280, C) head",
))
register_model(ModelSpec(
    "resnet50", "ResNet-50", ("resnet50",), _single("resnet50"),
    "ResNet-50, frozen backbone, new Linear(2048, C) head",
))
register_model(ModelSpec(
    "ensemble", "Ensemble (ResNet-50 + MobileNetV2)", ("resnet50", "mobilenet_v2"), _ensemble(False),
    "both models' logits concatenated into Linear(2C, C)",
))
register_model(ModelSpec(
    "ensemble_regularized", "Regularized ensemble", ("resnet50", "mobilenet_v2"), _ensemble(True),
    "1024-d projection of each backbone, LayerNorm/Dropout MLP (cures overfitting)",
))
