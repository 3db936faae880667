"""Training's augmentation: torchvision's recipe, each photo's draws from its own seed, so two
runs with the same seed train the same whatever the decode threads' timing."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import trainer.batches as batches
from tests.conftest import quiet_events
from trainer.augment import AugmentTransform, crop_box
from trainer.batches import ImageBatcher
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.images import load_image
from trainer.preprocess import Preprocess
from trainer.runs import load_run


def _photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
        paths.append(folder / f"p{i}.png")
    return paths


def test_a_photos_seed_decides_its_augmentation(tmp_path: Path) -> None:
    img = load_image(_photos(tmp_path, 1)[0])
    t = Preprocess(40, 32).transform(augment=True)
    assert isinstance(t, AugmentTransform)
    a, b, c = t(img, 7), t(img, 7), t(img, 8)
    assert a.shape == (3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):  # every crop lies inside the photo and covers 60-100% of it (ratio allowing)
        top, left, h, w = crop_box(60, 40, g)
        assert top >= 0 and top + h <= 40 and left >= 0 and left + w <= 60 and h * w >= 0.5 * 2400


def test_threads_timing_does_not_change_the_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With torchvision's transforms the threads drew from torch's one generator in whatever
    order they ran: the same seed gave other batches when the timing differed."""
    paths = _photos(tmp_path, 12)
    slow = random.Random(1)

    def load_slowly(path: Path, max_side: int | None = None) -> Image.Image:
        time.sleep(slow.random() * 0.01)  # threads finish in a different order each time
        return load_image(path, max_side)

    monkeypatch.setattr(batches, "load_image", load_slowly)
    seen = []
    for _ in range(3):
        torch.manual_seed(0)
        with ImageBatcher(Preprocess(40, 32).transform(augment=True), 4) as batcher:
            seen.append([batcher(paths[i:i + 6])[0] for i in (0, 6)])
    assert all(torch.equal(x, y) for other in seen[1:] for x, y in zip(seen[0], other))


def test_two_augmented_runs_with_one_seed_train_alike(demo_root: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        cfg = TrainConfig(data=str(demo_root), weights="none", epochs=2, image_size=32, augment=True, workers=2,
                          out=str(tmp_path / name), tta="off")
        runs.append(load_run(train(cfg, quiet_events(), lambda: False)))
    first, second = ([(m["train_loss"], m["val_loss"]) for m in r.metrics] for r in runs)
    assert first == second
