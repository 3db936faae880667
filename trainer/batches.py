"""Decoding images into normalised tensors, in parallel threads, skipping bad files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from trainer.images import ImageLoadError, load_image

Transform = Callable[[object], torch.Tensor]


def _load_one(path: Path, transform: Transform) -> torch.Tensor | str:
    try:
        return transform(load_image(path))
    except ImageLoadError as exc:
        return str(exc)


class ImageBatcher:
    """Turns lists of paths into ``(tensor batch, ok_mask, {path: reason})`` with a thread pool."""

    def __init__(self, transform: Transform, workers: int = 2,
                 on_failed: Callable[[dict[str, str]], None] | None = None) -> None:
        self.transform = transform
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.on_failed = on_failed  # told of files that failed (e.g. vanished during training)

    def __call__(self, paths: Sequence[Path]) -> tuple[torch.Tensor | None, list[bool], dict]:
        results = list(self.pool.map(lambda p: _load_one(p, self.transform), paths))
        ok = [isinstance(r, torch.Tensor) for r in results]
        failed = {str(p): r for p, r in zip(paths, results) if isinstance(r, str)}
        tensors = [r for r in results if isinstance(r, torch.Tensor)]
        if failed and self.on_failed is not None:
            self.on_failed(failed)
        return (torch.stack(tensors) if tensors else None), ok, failed

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def __enter__(self) -> ImageBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunks(seq: Sequence, size: int) -> list[Sequence]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]
