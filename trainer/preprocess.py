"""Preprocessing that travels with a model: resize, crop and normalisation (timm's data config)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from PIL import Image
from torchvision import transforms as T

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

    def transform(self, augment: bool = False) -> T.Compose:
        norm = [T.ToTensor(), T.Normalize(self.mean, self.std)]
        if augment:
            return T.Compose([
                T.RandomResizedCrop(self.crop, scale=(0.6, 1.0), antialias=True),
                T.RandomHorizontalFlip(),
                T.ColorJitter(0.2, 0.2, 0.2),
                *norm,
            ])
        return T.Compose([T.Resize(self.resize, antialias=True), T.CenterCrop(self.crop), *norm])

    def view(self, img: Image.Image) -> Image.Image:
        """The photo as the model sees it, before normalisation: resized, centre-cropped."""
        return T.CenterCrop(self.crop)(T.Resize(self.resize, antialias=True)(img))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocess:
        return cls(int(d["resize"]), int(d["crop"]), tuple(d["mean"]), tuple(d["std"]))
