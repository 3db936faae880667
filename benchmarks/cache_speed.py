"""Wall time of 15 epochs with cached features vs ``--no-cache`` on the same data.

Usage: python benchmarks/cache_speed.py [DATA] [--epochs 15]
Default data: ../shared/datasets/vehicles-real-dev (else a generated demo set).
"""

from __future__ import annotations

import argparse
import os
import time

from _common import REAL_DATA, mobilenet_weights, scratch_dir

from trainer.config import TrainConfig
from trainer.demo_data import make_demo_data
from trainer.engine import train
from trainer.events import Events
from trainer.runs import load_run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--image-size", type=int, default=None)
    args = ap.parse_args()
    tmp = scratch_dir("cache")
    os.environ["TRAINER_CACHE_DIR"] = str(tmp / "feature-cache")  # start cold
    data = args.data or (str(REAL_DATA) if REAL_DATA.is_dir() else str(make_demo_data(tmp / "demo")))
    weights = mobilenet_weights()
    print(f"data={data}\nweights={weights}\nepochs={args.epochs} image_size={args.image_size or 224}")
    for label, cache in (("cached (cold cache)", True), ("cached (warm cache)", True), ("--no-cache", False)):
        cfg = TrainConfig(data=data, model="mobilenet_v2", weights=weights, freeze=True,
                          epochs=args.epochs, image_size=args.image_size, cache=cache,
                          out=str(tmp / "runs"))
        t0 = time.perf_counter()
        run_dir = train(cfg, Events(), lambda: False)
        wall = time.perf_counter() - t0
        info = load_run(run_dir)
        print(f"{label:<22} wall {wall:7.1f} s   final val acc {info.metrics[-1]['val_acc']:.3f}")


if __name__ == "__main__":
    main()
