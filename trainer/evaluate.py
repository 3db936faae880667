"""``evaluate RUN DATA``: a trained run measured on a dataset split, its calibration included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from trainer import checkpoint as ckpt_io
from trainer import datasets, runs
from trainer.atomic import read_json, write_json
from trainer.batches import ImageBatcher
from trainer.csvfile import EvaluatedImage, write_evaluation
from trainer.events import Events
from trainer.layout import detect
from trainer.metrics import calibration_bins, expected_calibration_error, measured_on, report
from trainer.pathtext import encode
from trainer.predict import Scorer, predict, use_backends
from trainer.scoring import TorchScorer, load_scored
from trainer.trust import Trust, uncalibrated

Picked = list[tuple[datasets.Sample, str]]  # each sample with its split


def pick_samples(run_dir: Path | None, data: Path, split: str,
                 events: Events | None = None) -> tuple[Picked, list[str], str]:
    """Samples to evaluate with their splits, the data's class names and the split used.

    On the data a run was trained on, ``train``/``val``/``test`` are the images the run
    recorded in that split (relabeled ones included, with their new class); images added
    since are left out with a warning. Other data, and runs without a record, are split now.
    """
    cfg = read_json(run_dir / runs.CONFIG) if run_dir and (run_dir / runs.CONFIG).is_file() else {}
    ds = datasets.scan(data, cfg.get("val_fraction", 0.2), cfg.get("seed", 0))
    same_data = bool(cfg.get("data")) and Path(cfg["data"]).resolve() == ds.root
    if split == "auto":
        split = "test" if "test" in ds.splits else "val" if same_data else "all"
    events = events or Events()
    if split == "all":
        if run_dir is None:
            events.warning("a model file records no splits: every image is evaluated, including any it was "
                           "trained on; evaluate its run folder on that data for an honest figure")
        return [(s, name) for name, samples in ds.splits.items() for s in samples], ds.classes, split
    recorded = runs.recorded_splits(run_dir) if same_data else None
    if same_data and cfg.get("dataset_fingerprint") not in (None, ds.fingerprint()):
        how = "the images it recorded as" if recorded is not None else "a split derived now for"
        events.warning(f"the data changed since the run; evaluating {how} {split}")
    if recorded is not None:
        return [(s, split) for s in recorded_members(ds, recorded, split, events)], ds.classes, split
    if split not in ds.splits:
        raise datasets.DatasetError(f"{data} has no {split} split (has: {', '.join(ds.splits)})")
    return [(s, split) for s in ds.splits[split]], ds.classes, split


def recorded_members(ds: datasets.Dataset, recorded: dict[str, str], split: str,
                     events: Events) -> list[datasets.Sample]:
    """The samples of ``ds`` that the run recorded in ``split``, found by path or, after a
    relabel moved them, by :meth:`~trainer.layout.Layout.member_key`; new images are reported."""
    if split not in set(recorded.values()):
        has = ", ".join(sorted(set(recorded.values())))
        raise datasets.DatasetError(f"the run recorded no {split} split (has: {has})")
    layout = detect(ds.root)
    by_key = {layout.member_key(rel): s for rel, s in recorded.items()}
    chosen, new = [], 0
    for sample in ds.all_samples():
        rel = sample.path.relative_to(ds.root).as_posix()
        was = recorded.get(rel) or by_key.get(layout.member_key(rel))
        new += was is None
        if was == split:
            chosen.append(sample)
    if new:
        events.warning(f"{new} images are new since the run and left out of the {split} evaluation")
    return chosen


def evaluate_run(run: str | Path, data: str | Path, events: Events,
                 should_stop: Callable[[], bool], split: str = "auto",
                 device: torch.device | None = None, tta: str | None = None, backend: str = "auto",
                 precision: str = "auto") -> dict[str, Any]:
    """Accuracy, per-class P/R/F1, confusion matrix, calibration error before and after the
    temperature, and the share answered ``unknown``, saved as ``evaluation.json``; each image's
    result saved as ``predictions.csv`` (both in the run folder, when there is one)."""
    ckpt_path = ckpt_io.resolve(run)
    run_dir = ckpt_path.parent if (ckpt_path.parent / runs.CONFIG).is_file() else None
    scored, ckpt = load_scored(ckpt_path, tta)
    scorer = TorchScorer(scored, ckpt, device or torch.device("cpu"))
    classes = scorer.classes
    picked, data_classes, used = pick_samples(run_dir, Path(data), split, events)
    unknown = sorted(set(data_classes) - set(classes))
    if unknown:
        events.warning(f"classes not known to the model are skipped: {', '.join(unknown)}")
    picked = [(s, name) for s, name in picked if data_classes[s.label] in classes]
    events.emit("start", total=len(picked), split=used, model=scorer.model_name)
    root = Path(data).expanduser().resolve()
    with ImageBatcher(scorer.preprocess.transform()) as batcher:
        where = use_backends(scorer, batcher, [s.path for s, _ in picked], backend, precision, events)
        results = list(_results(scorer, data_classes, batcher, picked, root, events, should_stop))
    index = {c: i for i, c in enumerate(classes)}
    y_true = [index[r.true_label] for r in results]
    y_pred = [index[r.predicted_label] for r in results]
    rep = {**report(y_true, y_pred, classes), **trust_report(results, scorer.trust),
           "split": used, "data": str(root), "checkpoint": str(ckpt_path), "tta": scored.model.tta,
           "backends": where}
    if run_dir:
        write_json(run_dir / runs.EVALUATION, rep)
        write_evaluation(run_dir / runs.PREDICTIONS, classes, results)
    events.emit("done", message=f"accuracy {rep['accuracy']:.1%} on {measured_on(rep)}", report=rep)
    return rep


def trust_report(results: list[EvaluatedImage], trust: Trust) -> dict[str, Any]:
    """``calibration``: expected calibration error of the top probability without and with the
    temperature, and the reliability bins; ``unknown``: what the threshold answers unknown."""
    correct = [r.true_label == r.predicted_label for r in results]
    top = [max(r.probs) for r in results]
    raw_top = [max(uncalibrated(r.probs, trust.temperature)) for r in results]
    kept = [ok for r, ok in zip(results, correct) if r.confidence >= trust.threshold]
    n = len(results)
    return {
        "calibration": {"temperature": trust.temperature, "ece_before": expected_calibration_error(raw_top, correct),
                        "ece_after": expected_calibration_error(top, correct), "bins": calibration_bins(top, correct)},
        "unknown": {"threshold": trust.threshold, "score": trust.score, "rate": (n - len(kept)) / n if n else 0.0,
                    "accuracy_of_answered": sum(kept) / len(kept) if kept else 0.0},
    }


def _results(scorer: Scorer, data_classes: list[str], batcher: ImageBatcher, picked: Picked, root: Path,
             events: Events, should_stop: Callable[[], bool]) -> Iterator[EvaluatedImage]:
    """One :class:`EvaluatedImage` per readable sample (classify's predictor, threshold off: the
    predicted class is always a class); unreadable samples warn."""
    items = [(s.path.relative_to(root).as_posix(), s.path) for s, _ in picked]
    for (s, split), p in zip(picked, predict(scorer, batcher, items, events, should_stop)):
        if p.error:
            events.warning(f"skipped {encode(p.path)}: {p.error}")
            continue
        assert p.label is not None and p.confidence is not None  # a readable image has a prediction
        yield EvaluatedImage(p.path, split, data_classes[s.label], p.label, p.confidence, p.probs)
