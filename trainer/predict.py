"""Classifying a folder with a checkpoint: batched, streaming, never stopped by a bad file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from trainer import checkpoint as ckpt_io
from trainer.batches import ImageBatcher, chunks
from trainer.csvfile import Prediction, write_predictions
from trainer.events import Events
from trainer.features import Cancelled
from trainer.layout import detect, walk_images
from trainer.models import TransferModel
from trainer.pathtext import encode
from trainer.protocol import UsageError


def list_inputs(folder: Path, recursive: bool, unlabeled: bool = False) -> list[tuple[str, Path]]:
    """``(relative POSIX path, absolute path)`` of every image (or, with ``unlabeled``, of a
    dataset's labeling queue), sorted by relative path."""
    paths = detect(folder).unlabeled() if unlabeled else walk_images(folder, recursive)
    return sorted((p.relative_to(folder).as_posix(), p) for p in paths)


@torch.no_grad()
def predict(model: TransferModel, classes: list[str], batcher: ImageBatcher,
            items: list[tuple[str, Path]], device: torch.device, events: Events,
            should_stop: Callable[[], bool], batch_size: int = 32) -> Iterator[Prediction]:
    """Yield one :class:`Prediction` per item, in order; unreadable files carry ``error``."""
    done = 0
    for batch in chunks(items, batch_size):
        if should_stop():
            raise Cancelled("classification stopped")
        x, ok, failed = batcher([p for _, p in batch])
        probs = torch.softmax(model(x.to(device)), dim=1).cpu() if x is not None else torch.empty(0)
        k = 0
        for (rel, path), good in zip(batch, ok):
            if not good:
                yield Prediction(rel, error=failed[str(path)])
                continue
            row = probs[k].tolist()
            k += 1
            best = max(range(len(row)), key=row.__getitem__)
            yield Prediction(rel, classes[best], row[best], row)
        done += len(batch)
        events.progress("classify", done, len(items))


def classify_folder(checkpoint: str | Path, folder: str | Path, out_csv: str | Path,
                    events: Events, should_stop: Callable[[], bool], recursive: bool = False,
                    device: torch.device | None = None, workers: int = 2, unlabeled: bool = False) -> dict:
    """Classify every image in ``folder`` into ``out_csv``; returns a summary dict."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"folder not found: {folder}")
    model, ckpt = ckpt_io.load_model(checkpoint)
    device = device or torch.device("cpu")
    model.to(device)
    classes = list(ckpt["classes"])
    items = list_inputs(folder, recursive, unlabeled)
    events.emit("start", total=len(items), classes=classes, model=ckpt["model"], out=str(out_csv))
    counts = dict.fromkeys(classes, 0)
    errors = 0

    def counted() -> Iterator[Prediction]:
        nonlocal errors
        for p in predict(model, classes, batcher, items, device, events, should_stop):
            if p.error:
                errors += 1
                events.warning(f"skipped {encode(p.path)}: {p.error}")
            else:
                counts[p.label] += 1
            yield p

    with ImageBatcher(ckpt_io.preprocess_of(ckpt).transform(), workers) as batcher:
        n = write_predictions(out_csv, classes, counted())
    summary = {"rows": n, "errors": errors, "counts": counts, "out": str(out_csv)}
    events.emit("done", message=f"classified {n - errors} images ({errors} unreadable) -> {out_csv}",
                **summary)
    return summary
