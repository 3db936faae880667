"""Decoding images into normalised batches, in parallel, ahead of the model, skipping bad files.

Evaluation-style decoding (features, classification, evaluation) runs :func:`trainer.decode.decode`
in a pool of threads (default) or spawned processes, one per core, and hands back uint8
pixels that are normalised once per batch. :meth:`ImageBatcher.stream` keeps the next batches
decoding while the model works on the current one (a bounded prefetch: memory stays flat).
Training's augmentation (:mod:`trainer.augment`) runs per image in the threads, each photo's random
draws seeded here in the order the photos are handed out, so a seed gives the same run.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.augment import AugmentTransform
from trainer.config import DECODE_POOLS as POOLS
from trainer.decode import decode
from trainer.images import ImageLoadError, default_workers, load_image
from trainer.preprocess import EvalTransform

PREFETCH = 2  # batches decoding ahead of the one the model is working on
Batch = tuple[torch.Tensor | None, list[bool], dict[str, str]]


@dataclass
class Submitted:
    """A batch being decoded: its paths, one future per path, and (threads) the batch tensor
    the workers fill."""

    paths: Sequence[Path]
    futures: list[Future]
    out: torch.Tensor | None = None


def _into(path: Path, i: int, pixels: Callable[[Path], np.ndarray | str], transform: EvalTransform,
          out: np.ndarray) -> bool | str:
    """A decode thread's whole job: pixels, normalised into row ``i`` of the batch (beside the model)."""
    arr = pixels(path)
    if isinstance(arr, str):
        return arr
    transform.normalize_into(arr, out[i])
    return True


def _augmented(path: Path, seed: int, transform: AugmentTransform) -> torch.Tensor | str:
    try:
        return transform(load_image(path), seed)
    except ImageLoadError as exc:
        return str(exc)


class ImageBatcher:
    """Turns lists of paths into ``(tensor batch, ok_mask, {path: reason})``.

    ``pool`` is ``threads`` or ``processes`` (spawned, so the same on Windows and macOS;
    evaluation transforms only). ``workers`` defaults to the number of cores.
    """

    def __init__(self, transform: AugmentTransform | EvalTransform, workers: int | None = None,
                 on_failed: Callable[[dict[str, str]], None] | None = None, pool: str = "threads") -> None:
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.transform = transform
        self.workers = workers or default_workers()
        self.evaluating = isinstance(transform, EvalTransform)
        self.pool: Executor
        if pool == "processes" and self.evaluating:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            self.pool = ThreadPoolExecutor(max_workers=self.workers)
        self.on_failed = on_failed  # told of files that failed (e.g. vanished during training)

    def _job(self) -> Callable[..., Any]:
        if isinstance(self.transform, EvalTransform):
            # uint8 crosses a process boundary (4x less than float) and is normalised per batch
            return partial(decode, resize=self.transform.pre.resize, crop=self.transform.pre.crop)
        return partial(_augmented, transform=self.transform)

    def submit(self, paths: Sequence[Path]) -> Submitted:
        """Start decoding ``paths``; decode threads write normalised images straight into the batch."""
        t = self.transform
        if isinstance(t, EvalTransform) and isinstance(self.pool, ThreadPoolExecutor):
            out = torch.empty(len(paths), 3, t.pre.crop, t.pre.crop)
            into = partial(_into, pixels=self._job(), transform=t, out=out.numpy())  # the same memory
            return Submitted(paths, [self.pool.submit(into, p, i) for i, p in enumerate(paths)], out)
        job = self._job()
        if isinstance(t, AugmentTransform):  # each photo's draws: seeded here, in the order handed out
            seeds = torch.randint(0, 2**62, (len(paths),)).tolist()
            return Submitted(paths, [self.pool.submit(job, p, s) for p, s in zip(paths, seeds)])
        return Submitted(paths, [self.pool.submit(job, p) for p in paths])

    def collect(self, job: Submitted) -> Batch:
        """The batch once its decodes are done."""
        results = [f.result() for f in job.futures]
        ok = [not isinstance(r, str) for r in results]
        failed = {str(p): r for p, r in zip(job.paths, results) if isinstance(r, str)}
        if failed and self.on_failed is not None:
            self.on_failed(failed)
        if not any(ok):
            return None, ok, failed
        if job.out is not None:
            return (job.out if all(ok) else job.out[torch.tensor(ok)]), ok, failed
        good = [r for r in results if not isinstance(r, str)]
        if isinstance(good[0], np.ndarray):
            assert isinstance(self.transform, EvalTransform)
            return self.transform.normalize(torch.from_numpy(np.stack(good))), ok, failed
        return torch.stack(good), ok, failed

    def __call__(self, paths: Sequence[Path]) -> Batch:
        return self.collect(self.submit(paths))

    def stream(self, batches: Iterable[Sequence[Path]], ahead: int = PREFETCH) -> Iterator[Batch]:
        """The batches in order, each decoded while the previous ones are being used."""
        pending: deque[Submitted] = deque()
        source = iter(batches)
        try:
            for paths in source:
                pending.append(self.submit(paths))
                if len(pending) > ahead:
                    yield self.collect(pending.popleft())
            while pending:
                yield self.collect(pending.popleft())
        finally:  # stopped early: drop what was queued
            for job in pending:
                for f in job.futures:
                    f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ImageBatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU batch onto ``device``: through pinned memory and without waiting, on CUDA."""
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def chunks(seq: Sequence, size: int) -> list[Sequence]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]
