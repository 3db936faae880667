"""Preprocessing that travels with a model: resize, crop and normalisation (timm's data config)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from trainer.augment import AugmentTransform
from trainer.decode import cropped, pixels

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """Eval transform: resize the short side to ``resize``, centre-crop ``crop``, normalise."""

    resize: int = 232
    crop: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def from_weights(cls, weights_enum: object, image_size: int | None = None) -> Preprocess:
        """Read torchvision's ``weights.transforms()`` settings; optionally rescale to a size."""
        t = weights_enum.transforms()  # type: ignore[attr-defined]
        base = cls(int(t.resize_size[0]), int(t.crop_size[0]), tuple(t.mean), tuple(t.std))
        return base.scaled(image_size) if image_size else base

    def scaled(self, image_size: int) -> Preprocess:
        """Same recipe at another crop size (the resize/crop ratio is kept)."""
        resize = max(image_size, round(image_size * self.resize / self.crop))
        return Preprocess(resize, image_size, self.mean, self.std)

    def transform(self, augment: bool = False) -> AugmentTransform | EvalTransform:
        """Training's random augmentation (:class:`trainer.augment.AugmentTransform`), or the
        evaluation transform (decoded by workers as uint8 pixels and normalised per batch:
        :class:`EvalTransform`)."""
        if augment:
            return AugmentTransform(self.crop, self.mean, self.std)
        return EvalTransform(self)

    def view(self, img: Image.Image) -> Image.Image:
        """The photo as the model sees it, before normalisation: resized, centre-cropped."""
        return cropped(img, self.resize, self.crop)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocess:
        return cls(int(d["resize"]), int(d["crop"]), tuple(d["mean"]), tuple(d["std"]))


class EvalTransform:
    """Resize, centre-crop, normalise: ``transform(img)`` for one image; for batches, decode
    workers produce uint8 :meth:`pixels` (:func:`trainer.decode.decode`) and :meth:`normalize`
    turns them into the model input. Matches torchvision's ``Resize``/``CenterCrop``/``ToTensor``/
    ``Normalize`` to float rounding (tested)."""

    def __init__(self, pre: Preprocess) -> None:
        self.pre = pre
        # (x / 255 - mean) / std == (x - 255 mean) / (255 std): two in-place passes, no temporaries
        self.shift = (torch.tensor(pre.mean) * 255).view(3, 1, 1)
        self.scale = (torch.tensor(pre.std) * 255).view(3, 1, 1)
        self._shift, self._scale = self.shift.numpy(), self.scale.numpy()

    def pixels(self, img: Image.Image) -> np.ndarray:
        return pixels(img, self.pre.resize, self.pre.crop)

    def normalize(self, hwc: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N,] H, W, 3`` -> contiguous float ``[N,] 3, H, W``, normalised."""
        x = hwc.movedim(-1, -3).to(torch.float32, memory_format=torch.contiguous_format)
        return x.sub_(self.shift).div_(self.scale)

    def normalize_into(self, hwc: np.ndarray, out: np.ndarray) -> None:
        """:meth:`normalize` of one uint8 ``H, W, 3`` image written into ``out`` (a float32 row of
        a batch, as numpy), by a decode thread. In numpy, not torch: torch ops in a worker thread
        start an OpenMP team of its own, which then slowed every small torch op of the process 2x
        (the 15 head-training epochs after a cold extraction: 1.5 s instead of 0.7 s); classify
        is 3-6% faster too."""
        np.copyto(out, hwc.transpose(2, 0, 1), casting="unsafe")
        out -= self._shift
        out /= self._scale

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return self.normalize(torch.from_numpy(self.pixels(img)))
