"""``trainer explain RUN IMAGE_OR_FOLDER... --out DIR``: where the model looked (Grad-CAM).

For each photo, a PNG of the photo as the model saw it (resized, centre-cropped) with the
class-activation heatmap of the predicted class (or ``--class NAME``) laid over it: Captum's
``LayerGradCam`` on each backbone's last convolutional block (``BackboneInfo.cam_layer``);
an ensemble gets one panel per backbone, side by side. Frozen backbones work: their weights
do not require grad, but Captum makes the input require it, so gradients reach the
activations (a test checks the maps are not flat).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from trainer import checkpoint as ckpt_io
from trainer.atomic import atomic_open
from trainer.events import Events
from trainer.features import Cancelled
from trainer.images import ImageLoadError, load_image
from trainer.layout import walk_images
from trainer.names import name_key
from trainer.pathtext import for_display
from trainer.preprocess import Preprocess
from trainer.protocol import UNKNOWN, MissingDependency, UsageError
from trainer.registry import backbone_info
from trainer.scoring import ScoredModel, load_scored
from trainer.trust import answer
from trainer.wording import count_of

PANEL = 320  # each heatmap panel is drawn at least this many pixels wide
CAPTION = 22
ALPHA = 0.45  # heatmap opacity


def heatmaps(scored: ScoredModel, x: torch.Tensor, target: int) -> dict[str, torch.Tensor]:
    """Per backbone, the Grad-CAM map of class ``target`` for the one image in ``x``, upsampled
    to the input size and scaled to [0, 1] (all zeros when nothing speaks for the class)."""
    try:
        attr = importlib.import_module("captum.attr")
    except ImportError:
        raise MissingDependency("explain needs captum (pip install captum)") from None

    def logits(t: torch.Tensor) -> torch.Tensor:
        return scored.model.head(scored.plain_features(t))  # one pass: Grad-CAM hooks the layer once

    maps = {}
    for name, backbone in scored.model.backbones.items():
        cam = attr.LayerGradCam(logits, backbone.get_submodule(backbone_info(name).cam_layer))
        raw = cam.attribute(x, target=target, relu_attributions=True)
        up = attr.LayerAttribution.interpolate(raw, tuple(x.shape[-2:]), "bilinear")[0, 0].detach().float().cpu()
        top = float(up.max())
        maps[name] = up / top if top > 0 else torch.zeros_like(up)
    return maps


def overlay(photo: Image.Image, heat: torch.Tensor, caption: str) -> Image.Image:
    """``photo`` with ``heat`` (jet colours) blended over it, enlarged, captioned underneath."""
    from matplotlib import colormaps

    coloured = Image.fromarray((colormaps["jet"](heat.numpy())[..., :3] * 255).astype(np.uint8))
    size = max(PANEL, photo.width)
    blended = Image.blend(photo, coloured.resize(photo.size), ALPHA).resize((size, size), Image.Resampling.BICUBIC)
    panel = Image.new("RGB", (size, size + CAPTION), "white")
    panel.paste(blended, (0, 0))
    ImageDraw.Draw(panel).text((6, size + 5), caption, fill="black")
    return panel


def explain_image(scored: ScoredModel, img: Image.Image, pre: Preprocess, classes: list[str],
                  target: int | None, device: torch.device) -> tuple[Image.Image, str]:
    """The PNG's picture for one photo (one captioned panel per backbone, side by side) and its
    caption: the answer ``classify`` gives (``unknown`` below the run's threshold, with the best
    guess), or ``--class``'s map with that answer."""
    x = pre.transform()(img).unsqueeze(0).to(device)
    with torch.no_grad():
        probs, confidence, _ = scored(x)
    probs = probs[0].cpu()
    predicted = int(probs.argmax())
    said = f"{classes[predicted]} {float(probs[predicted]):.0%}"
    if answer(classes[predicted], float(confidence[0]), scored.trust.threshold) == UNKNOWN:
        said = f"{UNKNOWN} (best guess {said})"
    caption = said if target is None else f"{classes[target]} (answer: {said})"
    photo = pre.view(img)
    maps = heatmaps(scored, x, predicted if target is None else target)
    panels = [overlay(photo, heat, f"{backbone_info(name).title}: {caption}") for name, heat in maps.items()]
    sheet = Image.new("RGB", (sum(p.width for p in panels), panels[0].height), "white")
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * panels[0].width, 0))
    return sheet, caption


def list_photos(inputs: Sequence[str | Path]) -> list[Path]:
    """The files named, and the images directly inside the folders named, in the order given."""
    photos: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            photos += walk_images(item, recursive=False)
        elif item.is_file():
            photos.append(item)
        else:
            raise UsageError(f"not found: {item}")
    return photos


def explain(run: str | Path, inputs: Sequence[str | Path], out_dir: str | Path, events: Events,
            should_stop: Callable[[], bool], target: str | None = None,
            device: torch.device | None = None) -> dict[str, Any]:
    """Write one heatmap PNG per readable photo into ``out_dir``; returns a summary dict."""
    scored, ckpt = load_scored(ckpt_io.resolve(run))
    classes, pre = list(ckpt["classes"]), ckpt_io.preprocess_of(ckpt)
    if target is not None and target not in classes:
        raise UsageError(f"--class {target!r}: the model's classes are {', '.join(classes)}")
    device = device or torch.device("cpu")
    scored.to(device)
    photos = list_photos(inputs)
    if not photos:
        raise UsageError(f"no photos in {', '.join(for_display(str(i)) for i in inputs)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events.emit("start", total=len(photos), model=ckpt["model"], out=str(out))
    written: list[str] = []
    captions: dict[str, str] = {}
    reason = ""
    for i, path in enumerate(photos):
        if should_stop():
            raise Cancelled("explain stopped")
        try:  # decoded as classify decodes it (reduced-size JPEG decode), so the answers agree
            sheet, caption = explain_image(scored, load_image(path, max_side=pre.resize), pre, classes,
                                           None if target is None else classes.index(target), device)
        except ImageLoadError as exc:
            reason = f"{for_display(str(path))}: {exc}"
            events.warning(f"skipped {reason}")
            continue
        name = _free_name(path.stem, written)
        with atomic_open(out / name, "wb") as f:
            sheet.save(f, format="PNG")
        written.append(name)
        captions[name] = caption
        events.progress("explain", i + 1, len(photos))
    if not written:  # every photo unreadable: not an empty success
        raise UsageError(f"no heatmap written: {reason}" if len(photos) == 1 else
                         f"no heatmap written: none of the {len(photos)} photos could be read (last: {reason})")
    summary = {"out": str(out), "count": len(written), "skipped": len(photos) - len(written),
               "captions": captions}
    events.emit("done", message=f"wrote {count_of(len(written), 'heatmap')} to {out}", **summary)
    return summary


def _free_name(stem: str, taken: list[str]) -> str:
    """``stem.png``, or ``stem-1.png``... when another photo of this run already has that name
    (compared as Windows and macOS do: ``Car.png`` and ``car.png`` are one file there)."""
    keys = {name_key(t) for t in taken}
    name, k = f"{stem}.png", 0
    while name_key(name) in keys:
        k += 1
        name = f"{stem}-{k}.png"
    return name
