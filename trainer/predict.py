"""Classifying a folder with a run, checkpoint or exported ``.onnx`` model: batched,
streaming, never stopped by a bad file; low-confidence photos are answered ``unknown``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import torch

from trainer.backends import check as check_backend
from trainer.backends import torch_threads
from trainer.batches import ImageBatcher, chunks
from trainer.csvfile import Prediction, write_predictions
from trainer.events import Events
from trainer.features import Cancelled
from trainer.layout import detect, walk_images
from trainer.pathtext import encode
from trainer.preprocess import Preprocess
from trainer.protocol import UNKNOWN, Event, UsageError, is_onnx
from trainer.trust import Trust, answer, check_threshold


class Scorer(Protocol):
    """A model ready to classify: batches of preprocessed images -> (calibrated probabilities,
    confidence). :class:`trainer.scoring.TorchScorer` and :class:`trainer.onnx_export.OnnxScorer`."""

    classes: list[str]
    model_name: str
    preprocess: Preprocess
    trust: Trust

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def torch_threads(self) -> int | None:
        """torch's intra-op threads while classifying (``None``: as they are)."""


def load_scorer(model: str | Path, device: torch.device | None = None, tta: str | None = None,
                backend: str = "auto", precision: str = "auto") -> Scorer:
    """A run folder, checkpoint or exported ``.onnx`` file, ready to classify (``tta``: see
    :func:`trainer.tta.resolve`; an exported model has its own built in). ``backend`` and
    ``precision`` (:mod:`trainer.backends`) are applied by :func:`use_backends`."""
    check_backend(backend, precision)
    if is_onnx(model):
        from trainer.onnx_export import OnnxScorer

        if tta not in (None, "auto"):
            raise UsageError("--tta: an exported .onnx model has its test-time augmentation built in "
                             "(export the run again with --tta to change it)")
        if backend == "torch" or precision == "bf16":
            raise UsageError("an exported .onnx model runs on onnxruntime in fp32 (use the run folder for "
                             "--backend torch or --precision bf16)")
        return OnnxScorer(model, device or "cpu")
    from trainer.scoring import load_torch_scorer

    return load_torch_scorer(model, device, tta)


def use_backends(scorer: Scorer, batcher: ImageBatcher, paths: list[Path], backend: str, precision: str,
                 events: Events, n_images: int | None = None) -> dict[str, str]:
    """Put a run's backbones on the fastest backend for this machine (measured on the first
    photos when needed); returns where each runs, in words. ``n_images``: how many photos the
    job will score, when ``paths`` are only the first (a Ray actor's first batch)."""
    choose = getattr(scorer, "use_backends", None)
    if choose is None:  # an exported .onnx model: onnxruntime already
        return {"model": "onnxruntime fp32"}

    decoded: list[torch.Tensor | None] = []

    def probe() -> torch.Tensor | None:  # measuring and verifying both use it: decoded once
        if not decoded:
            decoded.append(batcher(paths[:32])[0])
        return decoded[0]

    def note(message: str) -> None:
        events.emit(Event.BACKEND, message=message)

    choose(backend, precision, probe, len(paths) if n_images is None else n_images, note)
    return scorer.choices()  # type: ignore[attr-defined]


def list_inputs(folder: Path, recursive: bool, unlabeled: bool = False) -> list[tuple[str, Path]]:
    """``(relative POSIX path, absolute path)`` of every image (or, with ``unlabeled``, of a
    dataset's labeling queue), sorted by relative path."""
    paths = detect(folder).unlabeled() if unlabeled else walk_images(folder, recursive)
    if not paths and not unlabeled:  # a labeling queue may be empty; a folder to classify may not
        raise UsageError(_no_images(folder, recursive))
    return sorted((p.relative_to(folder).as_posix(), p) for p in paths)


def _no_images(folder: Path, recursive: bool) -> str:
    """Why there is nothing to classify, and what to do (a finished job with 0 rows says neither)."""
    below = 0 if recursive else len(walk_images(folder, recursive=True))
    if below:
        return (f"no images directly in {folder}; its subfolders hold {below}: classify them with "
                "--recursive (in the app: Include subfolders)")
    return f"no images in {folder} (looked for .jpg, .png, .webp, .heic and other photo files)"


def scored_prediction(rel: str, probs: list[float], confidence: float, classes: list[str],
                      threshold: float) -> Prediction:
    """One readable image's row: the top class, or ``unknown`` below ``threshold`` (probabilities kept).
    Shared by the local loop below and the Ray path (:mod:`trainer.ray_classify`)."""
    best = max(range(len(probs)), key=probs.__getitem__)
    return Prediction(rel, answer(classes[best], confidence, threshold), confidence, probs)


@torch.no_grad()
def predict(scorer: Scorer, batcher: ImageBatcher, items: list[tuple[str, Path]], events: Events,
            should_stop: Callable[[], bool], threshold: float = 0.0, batch_size: int = 32) -> Iterator[Prediction]:
    """Yield one :class:`Prediction` per item, in order; unreadable files carry ``error``.
    Below ``threshold`` (0: never) a prediction's label is ``unknown``, its probabilities kept."""
    done = 0
    batches = chunks(items, batch_size)
    with torch_threads(scorer.torch_threads()):
        for batch, (x, ok, failed) in zip(batches, batcher.stream([p for _, p in b] for b in batches)):
            if should_stop():
                raise Cancelled("classification stopped")
            probs, conf = scorer(x) if x is not None else (torch.empty(0), torch.empty(0))
            k = 0
            for (rel, path), good in zip(batch, ok):
                if not good:
                    yield Prediction(rel, error=failed[str(path)])
                    continue
                yield scored_prediction(rel, probs[k].tolist(), float(conf[k]), scorer.classes, threshold)
                k += 1
            done += len(batch)
            events.progress("classify", done, len(items))


def classify_folder(model: str | Path, folder: str | Path, out_csv: str | Path,
                    events: Events, should_stop: Callable[[], bool], recursive: bool = False,
                    device: torch.device | None = None, workers: int = 0,
                    threshold: float | None = None, unlabeled: bool = False, tta: str | None = None,
                    backend: str = "auto", precision: str = "auto", decode: str = "threads") -> dict:
    """Classify every image in ``folder`` into ``out_csv``; returns a summary dict.

    ``model`` is a run folder, a checkpoint or an exported ``.onnx`` file; ``threshold``
    overrides the model's own (0 turns ``unknown`` off).
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"folder not found: {folder}")
    scorer = load_scorer(model, device, tta, backend, precision)
    threshold = scorer.trust.threshold if threshold is None else check_threshold(threshold)
    classes = scorer.classes
    items = list_inputs(folder, recursive, unlabeled)
    events.emit("start", total=len(items), classes=classes, model=scorer.model_name, out=str(out_csv),
                threshold=threshold)
    with ImageBatcher(scorer.preprocess.transform(), workers, pool=decode) as batcher:
        backends = use_backends(scorer, batcher, [p for _, p in items], backend, precision, events)
        return write_classified(out_csv, classes, predict(scorer, batcher, items, events, should_stop, threshold),
                                events, threshold, getattr(scorer, "tta", None), backends)


def write_classified(out_csv: str | Path, classes: list[str], predictions: Iterable[Prediction], events: Events,
                     threshold: float, tta: str | None = None, backends: dict[str, str] | None = None) -> dict:
    """Stream ``predictions`` into ``out_csv`` (atomically), counting labels and warning of each
    unreadable file; emits ``done`` and returns the summary. Shared by the local and the Ray path."""
    counts = dict.fromkeys([*classes, UNKNOWN], 0)
    errors = 0

    def counted() -> Iterator[Prediction]:
        nonlocal errors
        for p in predictions:
            if p.error:
                errors += 1
                events.warning(f"skipped {encode(p.path)}: {p.error}")
            else:
                counts[p.label or ""] += 1
            yield p

    n = write_predictions(out_csv, classes, counted())
    summary = {"rows": n, "errors": errors, "counts": counts, "unknown": counts[UNKNOWN],
               "threshold": threshold, "out": str(out_csv), "tta": tta, "backends": backends or {}}
    events.emit("done", message=f"classified {n - errors} images ({counts[UNKNOWN]} unknown, {errors} "
                f"unreadable) -> {out_csv}", **summary)
    return summary
