"""The decode pipeline: torchvision's numbers, reduced-size JPEG decoding, threads = spawned
processes, prefetch in order, bad files reported wherever they are."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from trainer.batches import ImageBatcher, chunks, default_workers
from trainer.decode import decode
from trainer.images import load_image
from trainer.preprocess import Preprocess


def _photo(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)  # smooth: JPEG keeps it
    Image.fromarray(base).resize(size, Image.Resampling.BICUBIC).save(path, quality=92)
    return path


@pytest.mark.parametrize("size", [(100, 100), (97, 300), (640, 181), (233, 232), (30, 20)])
def test_eval_transform_equals_torchvision(tmp_path: Path, size: tuple[int, int]) -> None:
    """Batch normalisation of uint8 pixels gives torchvision's Resize/CenterCrop/ToTensor/Normalize."""
    pre = Preprocess(resize=64, crop=56)
    img = load_image(_photo(tmp_path / "a.jpg", size))
    reference = T.Compose([T.Resize(pre.resize, antialias=True), T.CenterCrop(pre.crop), T.ToTensor(),
                           T.Normalize(pre.mean, pre.std)])(img)
    ours = pre.transform()(img)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference, atol=1e-6, rtol=0)  # float rounding of the fused normalisation


def test_crop_larger_than_resize_pads_like_torchvision(tmp_path: Path) -> None:
    pre = Preprocess(resize=40, crop=48)
    img = load_image(_photo(tmp_path / "a.jpg", (90, 60)))
    reference = T.Compose([T.Resize(40, antialias=True), T.CenterCrop(48), T.ToTensor(),
                           T.Normalize(pre.mean, pre.std)])(img)
    assert torch.allclose(pre.transform()(img), reference, atol=1e-6, rtol=0)


def test_big_jpegs_decode_at_reduced_size_and_look_the_same(tmp_path: Path) -> None:
    """A 12-megapixel-like JPEG is decoded by DCT scaling (no full decode), never below the
    resize target, and the model input differs from the full decode only by resampling noise."""
    path = _photo(tmp_path / "big.jpg", (4000, 3000))
    reduced = load_image(path, max_side=232)
    assert min(reduced.size) >= 232 and reduced.size[0] <= 1000  # 1/4 or 1/8 scale
    fast = decode(path, 232, 224)
    assert isinstance(fast, np.ndarray) and fast.shape == (224, 224, 3)
    full = np.asarray(T.CenterCrop(224)(T.Resize(232, antialias=True)(load_image(path))), dtype=np.float32)
    assert np.abs(fast.astype(np.float32) - full).mean() < 2.0  # of 255


def test_small_jpegs_decode_exactly_as_before(tmp_path: Path) -> None:
    path = _photo(tmp_path / "small.jpg", (300, 200))
    assert load_image(path, max_side=232).size == load_image(path).size == (300, 200)


def _folder(tmp_path: Path, n: int = 10) -> list[Path]:
    paths = [_photo(tmp_path / f"{i:02d}.jpg", (60 + i, 50), seed=i) for i in range(n)]
    (tmp_path / "05.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "08.jpg").unlink()
    return paths


def test_spawned_decode_processes_give_what_threads_give(tmp_path: Path) -> None:
    """Processes use the spawn start method (as on Windows and macOS) and return the same batch."""
    paths = _folder(tmp_path)
    transform = Preprocess(resize=40, crop=32).transform()
    with ImageBatcher(transform, 2) as threads, ImageBatcher(transform, 2, pool="processes") as procs:
        a, ok_a, failed_a = threads(paths)
        b, ok_b, failed_b = procs(paths)
    assert ok_a == ok_b and ok_a.count(False) == 2
    assert failed_a == failed_b and set(failed_a) == {str(paths[5]), str(paths[8])}
    assert a is not None and b is not None and torch.equal(a, b) and a.shape == (8, 3, 32, 32)
    assert a.is_contiguous()


def test_stream_keeps_order_and_reports_failures(tmp_path: Path) -> None:
    paths = _folder(tmp_path)
    transform = Preprocess(resize=40, crop=32).transform()
    with ImageBatcher(transform, 2) as batcher:
        whole, _, _ = batcher(paths)
        batches = chunks(paths, 3)
        streamed = list(batcher.stream(batches, ahead=2))
    assert [ok for _, ok, _ in streamed] == [[True] * 3, [True, True, False], [True, True, False], [True]]
    assert {p for _, _, failed in streamed for p in failed} == {str(paths[5]), str(paths[8])}
    assert whole is not None and torch.equal(torch.cat([x for x, _, _ in streamed if x is not None]), whole)


def test_stream_stopped_early_cancels_what_was_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _folder(tmp_path)
    calls: list[Path] = []

    def slow_decode(path: Path, resize: int, crop: int) -> np.ndarray | str:
        calls.append(path)
        time.sleep(0.05)
        return decode(path, resize, crop)

    monkeypatch.setattr("trainer.batches.decode", slow_decode)
    with ImageBatcher(Preprocess(resize=40, crop=32).transform(), 1) as batcher:
        stream = batcher.stream(chunks(paths, 1), ahead=5)
        next(stream)  # batches 0-5 were queued; the consumer takes one and stops
        stream.close()
    assert len(calls) <= 3  # the one running finished, the queued ones never ran


def test_one_decode_worker_per_core_by_default() -> None:
    with ImageBatcher(Preprocess().transform()) as batcher:
        assert batcher.workers == default_workers() >= 1
