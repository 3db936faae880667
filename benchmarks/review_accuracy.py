"""How well ``trainer review`` finds deliberately flipped labels and planted copies, on real photos.

Copies the shared real photos, flips 10% of the labels (moves files to another class folder),
adds re-encoded + resized copies and lightly cropped copies of some photos, runs the review
and prints: precision of the top-k rows (k = number of flips), recall of ``is_label_issue``,
how often ``suggested_label`` is the true class, and the copies found — beside two references
measured on the same out-of-sample probabilities: cleanlab's ``find_label_issues`` on a
5-fold logistic regression, and plain "prediction != given label".

    python benchmarks/review_accuracy.py [--flip 0.1] [--image-size 224]
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import time
from pathlib import Path

from _common import REAL_DATA, REAL_WEIGHTS, scratch_dir
from PIL import Image


def corrupt(src: Path, dest: Path, flip: float, copies: int, seed: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """A noisy copy of ``src``: ``({flipped relative path: true class}, {copy: original})``."""
    rng = random.Random(seed)
    shutil.copytree(src, dest)
    images = sorted(p for p in dest.glob("*/*.jpg"))
    classes = sorted({p.parent.name for p in images})
    flipped: dict[str, str] = {}
    for p in rng.sample(images, round(flip * len(images))):
        wrong = rng.choice([c for c in classes if c != p.parent.name])
        target = dest / wrong / f"flip-{p.name}"
        p.rename(target)
        flipped[target.relative_to(dest).as_posix()] = p.parent.name
    originals = [p for p in sorted(dest.glob("*/*.jpg")) if not p.name.startswith("flip-")]
    planted: dict[str, str] = {}
    for i, p in enumerate(rng.sample(originals, copies)):
        with Image.open(p) as img:
            img = img.convert("RGB")
            if i % 2:  # lightly cropped (4% per side)
                w, h = img.size
                img = img.crop((w // 25, h // 25, w - w // 25, h - h // 25))
            else:  # re-encoded and resized
                img = img.resize((max(32, img.width * 3 // 5), max(32, img.height * 3 // 5)))
            copy = p.with_name(f"copy-{p.stem}.jpg")
            img.save(copy, quality=70)
        planted[copy.relative_to(dest).as_posix()] = p.relative_to(dest).as_posix()
    return flipped, planted


def label_scores(rows: list, flipped: dict[str, str], k: int) -> dict[str, float]:
    top = [r.path for r in rows[:k]]
    flagged = {r.path for r in rows if r.is_label_issue}
    return {
        "precision@k": sum(p in flipped for p in top) / k,
        "recall": len(flagged & set(flipped)) / len(flipped),
        "flagged": len(flagged),
        "suggestion right": sum(r.suggested_label == flipped[r.path] for r in rows if r.path in flipped) / len(flipped),
    }


def reference(data: Path, bb: object, cache: Path, flipped: dict[str, str], k: int) -> dict[str, float]:
    """The issue's reference: cleanlab's find_label_issues on a 5-fold logistic regression."""
    import numpy as np
    import torch
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from trainer.crossval import _logistic, folds_of
    from trainer.events import Events
    from trainer.pathtext import relative_text
    from trainer.review import labeled_features

    lab = labeled_features(data, bb, Events([]), lambda: False, torch.device("cpu"), 2, cache)  # type: ignore[arg-type]
    x = np.concatenate([f.numpy() for f in lab.feats.values()], axis=1)
    probs = np.zeros((len(x), len(lab.classes)))
    for train, test in folds_of(lab.labels, 5, 0):
        probs[test] = _logistic(x[train], lab.labels[train], x[test], len(lab.classes), 0)
    scores = get_label_quality_scores(lab.labels, probs)
    issues = find_label_issues(lab.labels, probs)
    paths = [relative_text(p, lab.root) for p in lab.paths]
    order = np.argsort(scores, kind="stable")
    flagged = {paths[i] for i in np.flatnonzero(issues)}
    return {"precision@k": sum(paths[i] in flipped for i in order[:k]) / k,
            "recall": len(flagged & set(flipped)) / len(flipped),
            "suggestion right": sum(lab.classes[int(probs[i].argmax())] == flipped[p]
                                    for i, p in enumerate(paths) if p in flipped) / len(flipped)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flip", type=float, default=0.1)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0, help="which labels are flipped and which photos copied")
    args = ap.parse_args()
    if not REAL_DATA.is_dir() or not REAL_WEIGHTS.is_file():
        raise SystemExit(f"needs {REAL_DATA} and {REAL_WEIGHTS}")
    from trainer.csvfile import read_review
    from trainer.review import from_weights, review_dataset

    work = scratch_dir("review")
    data = work / "data"
    flipped, planted = corrupt(REAL_DATA, data, args.flip, args.copies, args.seed)
    bb = from_weights("mobilenet_v2", str(REAL_WEIGHTS), args.image_size, 0)
    from trainer.events import Events

    t0 = time.perf_counter()
    review_dataset(data, bb, work / "review.csv", Events([]), lambda: False, cache_dir=work / "cache")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = review_dataset(data, bb, work / "review.csv", Events([]), lambda: False, cache_dir=work / "cache")
    warm = time.perf_counter() - t0
    classes, rows = read_review(work / "review.csv")
    k = len(flipped)
    ours = label_scores(rows, flipped, k)
    group = {r.path: r.duplicate_group for r in rows}
    found = sum(group.get(c) is not None and group.get(c) == group.get(o) for c, o in planted.items())
    planted_paths = set(planted) | set(planted.values())
    false_groups = {g for p, g in group.items() if g is not None and p not in planted_paths}
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"data: {len(rows)} real photos, {k} flipped labels, {len(planted)} planted copies; "
          f"image size {args.image_size}; seed {args.seed}")
    print(f"review time: cold cache {cold:.1f} s, warm cache {warm:.1f} s; method {summary['method']}; "
          f"out-of-sample log loss {summary['out_of_sample_log_loss']}")
    print(f"label issues: precision@{k} {ours['precision@k']:.2f}, recall {ours['recall']:.2f} "
          f"({ours['flagged']} flagged), suggestion right {ours['suggestion right']:.2f}")
    ref = reference(data, bb, work / "cache", flipped, k)
    print(f"reference (cleanlab on 5-fold logistic regression): precision@{k} {ref['precision@k']:.2f}, "
          f"recall {ref['recall']:.2f}, suggestion right {ref['suggestion right']:.2f}")
    mismatch = [r for r in rows if r.suggested_label != r.given_label]
    plain = sum(r.path in flipped for r in mismatch) / max(len(mismatch), 1)
    print(f"plain 'prediction != given label': {len(mismatch)} rows, precision {plain:.2f}")
    print(f"near-duplicates: {found}/{len(planted)} planted copies grouped with their original; "
          f"{len(false_groups)} groups among the other photos; {summary['duplicate_groups']} groups in all")
    print(f"outliers flagged: {summary['outliers']}")


if __name__ == "__main__":
    main()
