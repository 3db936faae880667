"""What ``trainer search`` delivers on a real folder: validation and test accuracy and wall time of
each step (frozen head, fine-tuned, test-time augmentation, ensemble) and of its pick.

Usage: python benchmarks/search_accuracy.py [--data DIR] [--budget MIN] [--folds K] [--weights SPEC ...]

A small folder is cross-validated: its photos are dealt, class by class, into five folds; for
fold k the test split is fold k, validation fold k+1 and training the other three (symlinks in
a scratch folder, as a ``train/ val/ test/`` export). The search chooses on validation only;
test is reported. Defaults: ../shared's 300 real photos and its MobileNetV2 backbone file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from _common import REAL_DATA, REAL_WEIGHTS, scratch_dir

from trainer.evaluate import evaluate_run
from trainer.events import Events
from trainer.layout import walk_images
from trainer.search import run_search

FOLDS = 5


def fold_layout(data: Path, k: int, out: Path) -> Path:
    """``out`` as train/val/test of symlinks: test = fold k, val = fold k+1, train = the rest."""
    for cls in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for i, photo in enumerate(sorted(walk_images(cls, False))):
            fold = i % FOLDS
            split = "test" if fold == k else "val" if fold == (k + 1) % FOLDS else "train"
            dest = out / split / cls.name / photo.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(photo.resolve())
    return out


def fold_figures(data: Path, budget: float, weights: object, work: Path) -> list[tuple[str, float, float, float]]:
    """(step, val acc, test acc, seconds) of each finished step, the pick and the pick with TTA forced."""
    done: list[dict] = []
    events = Events([lambda e: done.append(e) if e["event"] == "done" and "search_step" not in e else None])
    t0 = time.perf_counter()
    pick = run_search(str(data), budget, str(work / "runs"), weights, events, lambda: False)
    wall = time.perf_counter() - t0
    rows = [(f"{r['name']} ({r['method']})", r["val_acc"], r["test_acc"], r["seconds"])
            for r in done[-1]["leaderboard"] if r["status"] == "done"]
    best = rows[0]
    rows.append(("PICK: " + best[0], best[1], best[2], wall))
    for mode in ("off", "flip+zoom"):
        rep = evaluate_run(pick, data, Events(), lambda: False, split="test", tta=mode)
        rows.append((f"pick, test-time augmentation {mode}", float("nan"), rep["accuracy"], float("nan")))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REAL_DATA)
    ap.add_argument("--budget", type=float, default=5.0, help="minutes per search")
    ap.add_argument("--folds", type=int, default=3, help=f"how many of the {FOLDS} folds to run (0: no CV)")
    ap.add_argument("--weights", nargs="+", default=[f"mobilenet_v2={REAL_WEIGHTS}"])
    args = ap.parse_args()
    from trainer.options import weights_from_args

    weights = weights_from_args(args.weights)
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} "
          f"cores; data {args.data}; budget {args.budget:g} min per search; weights {weights}")
    work = scratch_dir("search")
    per_fold = []
    for k in range(max(args.folds, 1)):
        data = fold_layout(args.data, k, work / f"fold{k}" / "data") if args.folds else args.data
        rows = fold_figures(data, args.budget, weights, work / f"fold{k}")
        per_fold.append(rows)
        print(f"\nfold {k}:" if args.folds else "\nno cross-validation:")
        for name, val, test, seconds in rows:
            print(f"  {name[:70]:<70} val {val:6.1%}  test {test:6.1%}  {seconds:6.0f} s")
    picks = [next(r for r in rows if r[0].startswith("PICK")) for rows in per_fold]
    print(f"\npick over {len(picks)} fold(s): mean val {statistics.mean(p[1] for p in picks):.1%}, mean test "
          f"{statistics.mean(p[2] for p in picks):.1%}, mean wall {statistics.mean(p[3] for p in picks):.0f} s")


if __name__ == "__main__":
    main()
