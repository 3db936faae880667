"""Validation accuracy of each of the four models on the built-in demo data.

Usage: python benchmarks/demo_accuracy.py [--epochs 15] [--per-class 60] [--image-size 96]
Weights: MobileNetV2 backbones use ../shared's real file when present (frozen); ResNet-50
has no offline weights here, so it trains from scratch (``none``), as a user without
internet would.
"""

from __future__ import annotations

import argparse
import os
import time

from _common import mobilenet_weights, scratch_dir

from trainer.config import TrainConfig
from trainer.demo_data import make_demo_data
from trainer.engine import train
from trainer.events import Events
from trainer.models import list_models
from trainer.runs import load_run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--models", nargs="+", default=list_models())
    args = ap.parse_args()
    tmp = scratch_dir("demo-acc")
    os.environ["TRAINER_CACHE_DIR"] = str(tmp / "feature-cache")
    data = make_demo_data(tmp / "demo", per_class=args.per_class, size=args.image_size)
    mb = mobilenet_weights()
    print(f"demo data: {args.per_class}/class at {args.image_size}px, {args.epochs} epochs, "
          f"lr 0.001, batch 8; mobilenet weights={mb}; resnet50 weights=none")
    for model in args.models:
        weights = {"resnet50": "none", "mobilenet_v2": mb}
        used = {k: v for k, v in weights.items() if k in ("resnet50", "mobilenet_v2")}
        if model in ("resnet50", "mobilenet_v2"):
            used = {model: weights[model]}
        cfg = TrainConfig(data=str(data), model=model, weights=used, epochs=args.epochs,
                          image_size=args.image_size, out=str(tmp / "runs"))
        t0 = time.perf_counter()
        info = load_run(train(cfg, Events(), lambda: False))
        print(f"{model:<22} best val acc {info.best_val_acc:.3f}  final {info.metrics[-1]['val_acc']:.3f}"
              f"  frozen={info.config['frozen']}  {time.perf_counter() - t0:6.1f} s")


if __name__ == "__main__":
    main()
