"""Training's random augmentation, reproducible: each photo's random draws come from its own
generator, seeded in the order the photos are handed out.

torchvision's ``RandomResizedCrop``/``RandomHorizontalFlip``/``ColorJitter`` draw from torch's
one global generator; run in decode threads, the threads' timing decided which photo got which
draw, so two runs with the same seed trained differently. Same recipe, same distributions,
drawn from a :class:`torch.Generator` per photo.
"""

from __future__ import annotations

import math

import torch
from PIL import Image

from trainer.vision import torchvision

F = torchvision.transforms.functional

SCALE = (0.6, 1.0)  # share of the photo's area a crop covers
RATIO = (3 / 4, 4 / 3)  # a crop's aspect ratio
JITTER = 0.2  # brightness, contrast and saturation each scaled by a factor in [0.8, 1.2]


def _uniform(low: float, high: float, g: torch.Generator) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=g))


def crop_box(width: int, height: int, g: torch.Generator) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a random crop (``RandomResizedCrop.get_params``' rule)."""
    area = width * height
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target = area * _uniform(*SCALE, g)
        aspect = math.exp(_uniform(*log_ratio, g))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=g))
            left = int(torch.randint(0, width - w + 1, (1,), generator=g))
            return top, left, h, w
    ratio = width / height  # no luck: the centre, at the nearest allowed aspect ratio
    w, h = (width, round(width / RATIO[0])) if ratio < RATIO[0] else (
        (round(height * RATIO[1]), height) if ratio > RATIO[1] else (width, height))
    return (height - h) // 2, (width - w) // 2, h, w


def jitter(img: Image.Image, g: torch.Generator) -> Image.Image:
    """Brightness, contrast and saturation, each by a random factor, in a random order."""
    ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation)
    factors = [_uniform(1 - JITTER, 1 + JITTER, g) for _ in ops]
    for i in torch.randperm(len(ops), generator=g).tolist():
        img = ops[i](img, factors[i])
    return img


class AugmentTransform:
    """A photo -> a normalised ``3 x crop x crop`` tensor: random resized crop, horizontal flip
    half the time, colour jitter. ``seed`` makes the draws the photo's own."""

    def __init__(self, crop: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.crop, self.mean, self.std = crop, list(mean), list(std)

    def __call__(self, img: Image.Image, seed: int | None = None) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed) if seed is not None else torch.default_generator
        top, left, h, w = crop_box(img.width, img.height, g)
        img = F.resized_crop(img, top, left, h, w, [self.crop, self.crop], antialias=True)
        if float(torch.rand(1, generator=g)) < 0.5:
            img = F.hflip(img)
        return F.normalize(F.to_tensor(jitter(img, g)), self.mean, self.std)
