"""The built-in demo dataset: seeded drawings of car, truck and motorcycle silhouettes.

Colours, sizes, positions and backgrounds vary, so a small model must learn the shapes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from trainer.atomic import atomic_open
from trainer.images import IMAGE_EXTENSIONS
from trainer.protocol import UsageError

CLASSES = ("car", "truck", "motorcycle")
Box = tuple[float, float, float]  # x, y (ground line), scale


def _colour(rng: random.Random, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def _wheel(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(20, 20, 20))
    d.ellipse([cx - r / 2.2, cy - r / 2.2, cx + r / 2.2, cy + r / 2.2], fill=(170, 170, 170))


def draw_car(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    body = _colour(rng, 40, 230)
    d.rounded_rectangle([x, y - 0.32 * s, x + s, y - 0.1 * s], radius=0.06 * s, fill=body)
    d.polygon([(x + 0.22 * s, y - 0.32 * s), (x + 0.34 * s, y - 0.52 * s),
               (x + 0.68 * s, y - 0.52 * s), (x + 0.82 * s, y - 0.32 * s)], fill=body)
    d.polygon([(x + 0.38 * s, y - 0.34 * s), (x + 0.42 * s, y - 0.48 * s),
               (x + 0.64 * s, y - 0.48 * s), (x + 0.72 * s, y - 0.34 * s)], fill=(180, 210, 240))
    for cx in (0.22, 0.78):
        _wheel(d, x + cx * s, y - 0.1 * s, 0.11 * s)


def draw_truck(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    d.rectangle([x, y - 0.7 * s, x + 0.68 * s, y - 0.14 * s], fill=_colour(rng, 40, 230))
    cab = _colour(rng, 40, 230)
    d.rectangle([x + 0.7 * s, y - 0.5 * s, x + s, y - 0.14 * s], fill=cab)
    d.rectangle([x + 0.78 * s, y - 0.46 * s, x + 0.96 * s, y - 0.32 * s], fill=(180, 210, 240))
    for cx in (0.14, 0.32, 0.86):
        _wheel(d, x + cx * s, y - 0.1 * s, 0.1 * s)


def draw_motorcycle(d: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: random.Random) -> None:
    r = 0.17 * s
    _wheel(d, x + r, y - r, r)
    _wheel(d, x + s - r, y - r, r)
    frame = _colour(rng, 40, 230)
    w = max(2, int(0.05 * s))
    d.line([(x + r, y - r), (x + 0.45 * s, y - 0.45 * s), (x + s - r, y - r)], fill=frame, width=w)
    d.line([(x + 0.45 * s, y - 0.45 * s), (x + 0.8 * s, y - 0.62 * s)], fill=frame, width=w)
    d.ellipse([x + 0.3 * s, y - 0.55 * s, x + 0.62 * s, y - 0.38 * s], fill=frame)
    rider = _colour(rng, 0, 120)
    d.line([(x + 0.45 * s, y - 0.55 * s), (x + 0.52 * s, y - 0.9 * s)], fill=rider, width=2 * w)
    d.ellipse([x + 0.46 * s, y - 1.05 * s, x + 0.62 * s, y - 0.89 * s], fill=rider)


DRAWERS: dict[str, Callable[..., None]] = {
    "car": draw_car, "truck": draw_truck, "motorcycle": draw_motorcycle,
}


def _background(size: int, rng: random.Random) -> Image.Image:
    top, bottom = _colour(rng, 90, 255), _colour(rng, 30, 200)
    img = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(img)
    for row in range(size):
        t = row / max(size - 1, 1)
        d.line([(0, row), (size, row)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    for _ in range(rng.randint(0, 4)):  # clutter
        x, y, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(2, size / 8)
        d.ellipse([x - r, y - r, x + r, y + r], fill=_colour(rng, 60, 220))
    return img


def draw_sample(kind: str, size: int, rng: random.Random) -> Image.Image:
    img = _background(size, rng)
    scale = rng.uniform(0.45, 0.85) * size
    x = rng.uniform(0, size - scale)
    y = rng.uniform(scale * (1.05 if kind == "motorcycle" else 0.75), size - 1)
    DRAWERS[kind](ImageDraw.Draw(img), x, y, scale, rng)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))


def make_demo_data(out: str | Path, per_class: int = 60, size: int = 96, seed: int = 0,
                   splits: bool = False) -> Path:
    """Write ``out/<class>/*.jpg`` (or ``out/{train,val,test}/<class>/``); returns ``out``.

    Raises:
        UsageError: ``out`` holds photos of someone's own (drawings must not mix into real data).
    """
    out = Path(out)
    found = own_photos(out)
    if found:
        raise UsageError(f"{out} already holds {found} photo(s) of its own; the demo drawings go into an empty "
                         "or new folder")
    rng = random.Random(seed)
    for kind in CLASSES:
        for i in range(per_class):
            if splits:
                split = "test" if i % 10 == 0 else "val" if i % 10 in (1, 2) else "train"
                folder = out / split / kind
            else:
                folder = out / kind
            folder.mkdir(parents=True, exist_ok=True)
            img = draw_sample(kind, size, rng)
            with atomic_open(folder / f"{kind}_{i:04d}.jpg", "wb") as f:
                img.save(f, format="JPEG", quality=90)
    return out


def own_photos(folder: Path) -> int:
    """How many image files under ``folder`` are not demo drawings (named ``<class>_NNNN.jpg``)."""
    if not folder.is_dir():
        return 0
    drawing = re.compile(rf"^({'|'.join(CLASSES)})_\d{{4}}\.jpg$")
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not drawing.match(p.name))
