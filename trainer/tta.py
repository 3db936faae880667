"""Test-time augmentation: a photo's pooled backbone features averaged over a few views.

Views are made from the preprocessed tensor itself (a horizontal flip; a centre zoom resized
back to the crop size), so the engine, the feature cache and the exported ONNX graph compute
exactly the same thing. Averaging *features* (not logits) keeps one code path for every
consumer: for a linear head it equals averaging logits, and the knn score's embedding sees
the same averaged features. A run decides its mode on validation (:mod:`trainer.finetune`'s
:class:`TTAChooser`) and records it in its checkpoints; ``--tta`` overrides it per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from trainer.config import TTA_MODES as MODES

OFF = "off"
ZOOM = 0.875  # the centre zoom keeps this share of each side


def zoom(x: torch.Tensor) -> torch.Tensor:
    """The centre ``ZOOM`` of each image, resized back to the input size (bilinear)."""
    h, w = x.shape[-2:]
    ch, cw = round(h * ZOOM), round(w * ZOOM)
    top, left = (h - ch) // 2, (w - cw) // 2
    return F.interpolate(x[..., top : top + ch, left : left + cw], size=(h, w), mode="bilinear",
                         align_corners=False)


def flip(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=[-1])


VIEW_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "flip": flip, "zoom": zoom, "zoom+flip": lambda x: flip(zoom(x)),
}


def views_of(x: torch.Tensor, names: Iterable[str]) -> Iterator[tuple[str, torch.Tensor]]:
    """Each named view of ``x`` in turn (``""``: ``x`` itself), the zoom resized once for both
    zoom views (the resize is the costly part: 14 ms a batch of 32 on one thread here)."""
    zoomed: torch.Tensor | None = None
    for name in names:
        if name in ("zoom", "zoom+flip"):
            zoomed = zoom(x) if zoomed is None else zoomed
            yield name, zoomed if name == "zoom" else flip(zoomed)
        else:
            yield name, VIEW_FNS[name](x) if name else x


def extra_views(mode: str) -> tuple[str, ...]:
    """The views a mode adds to the photo itself."""
    return {OFF: (), "flip": ("flip",), "flip+zoom": ("flip", "zoom", "zoom+flip")}[check(mode)]


def candidates(setting: str) -> tuple[str, ...]:
    """The modes a run with ``setting`` (``auto`` or a mode) tries on validation."""
    return MODES if setting == "auto" else (check(setting),)


def check(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown test-time augmentation '{mode}' (choose: {', '.join(MODES)})")
    return mode


def resolve(override: str | None, recorded: str) -> str:
    """The mode to use: ``override`` (``auto``/None keeps the run's ``recorded`` one)."""
    if override in (None, "auto"):
        return check(recorded or OFF)
    if override == "on":
        return recorded if recorded and recorded != OFF else "flip"
    return check(override)


def averaged(features: Callable[[torch.Tensor], dict[str, torch.Tensor]], x: torch.Tensor,
             mode: str) -> dict[str, torch.Tensor]:
    """``features(x)`` averaged over the photo and the mode's extra views."""
    out = features(x)
    views = extra_views(mode)
    if not views:
        return out
    for _, seen in views_of(x, views):
        for name, f in features(seen).items():
            out[name] = out[name] + f
    return {name: f / (1 + len(views)) for name, f in out.items()}
