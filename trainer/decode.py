"""A photo as the model's input pixels: decoded, resized, centre-cropped, as uint8.

Torch-free (Pillow and NumPy only), so decode worker *processes* start fast under the
``spawn`` start method. The arithmetic is torchvision's ``Resize(int)`` + ``CenterCrop``
on a PIL image (a test checks they match pixel for pixel); normalisation is done later on
the whole batch at once (:meth:`trainer.preprocess.EvalTransform.normalize`).

JPEGs much larger than the model input decode at reduced size (Pillow ``draft``: the
DCT-domain 1/2, 1/4 or 1/8 scaling, never below the resize target), so a 12-megapixel phone
photo does not cost a full decode. Photos already near the model input decode exactly as
before.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from trainer.images import ImageLoadError, load_image


def resized_size(width: int, height: int, short: int) -> tuple[int, int]:
    """``(w, h)`` with the shorter side ``short`` (torchvision's ``Resize(int)`` rounding)."""
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def center_box(width: int, height: int, crop: int) -> tuple[int, int, int, int]:
    """The ``crop`` x ``crop`` box in the middle (torchvision's ``CenterCrop`` rounding)."""
    top = int(round((height - crop) / 2.0))
    left = int(round((width - crop) / 2.0))
    return left, top, left + crop, top + crop


def pixels(img: Image.Image, resize: int, crop: int) -> np.ndarray:
    """An RGB image resized (bilinear, antialiased) and centre-cropped: ``crop x crop x 3`` uint8."""
    return np.array(cropped(img, resize, crop), dtype=np.uint8)  # writable: torch wraps it


def cropped(img: Image.Image, resize: int, crop: int) -> Image.Image:
    """The photo as the model sees it, before normalisation: shorter side ``resize``, centre ``crop``."""
    w, h = img.size
    size = resized_size(w, h, resize)
    if size != (w, h):
        img = img.resize(size, Image.Resampling.BILINEAR)
    if crop > min(size):  # torchvision pads a crop larger than the image with zeros
        canvas = Image.new("RGB", (max(crop, size[0]), max(crop, size[1])))
        canvas.paste(img, ((canvas.width - size[0]) // 2, (canvas.height - size[1]) // 2))
        img, size = canvas, canvas.size
    return img.crop(center_box(size[0], size[1], crop))


def decode(path: str | os.PathLike[str], resize: int, crop: int) -> np.ndarray | str:
    """The model input of one file, or the one-line reason it cannot be used (never raises)."""
    try:
        return pixels(load_image(path, max_side=resize), resize, crop)
    except ImageLoadError as exc:
        return str(exc)
