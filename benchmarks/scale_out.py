"""Images per second of ``classify`` locally and on Ray (per actor), and of ``train --nproc``.

Usage: python benchmarks/scale_out.py [--images 1200] [--image-size 224] [--actors 1 2] [--train]
A MobileNetV2 run (the shared weights file where there is one, else random) classifies
``--images`` generated 224 px drawings: once in this process (the local path), then on a Ray
started here (``num_cpus=2``) with each actor count. The first local run measures the backend
(torch or onnxruntime; cached per machine) and is shown apart; Ray's start-up (10-20 s) is not
counted; each actor loads the model inside the timed call.
``--train`` also times 2 epochs of augmented training with 1 and 2 processes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import mobilenet_weights, scratch_dir

from trainer.config import TrainConfig
from trainer.demo_data import make_demo_data
from trainer.engine import train
from trainer.events import Events
from trainer.predict import classify_folder


def timed(label: str, images: int, fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - t0
    print(f"{label:<34} {images} images in {seconds:6.1f} s = {images / seconds:6.1f} images/s")
    return seconds


def classify_figures(run: Path, folder: Path, n: int, actors: list[int], tmp: Path) -> None:
    import ray

    from trainer.ray_classify import RaySettings, classify_on_ray

    # the backend choice (torch or onnxruntime, with an export) is measured once per machine and cached
    timed("local, first (measures the backend)", n,
          lambda: classify_folder(run, folder, tmp / "first.csv", Events(), lambda: False, recursive=True))
    timed("local (1 process)", n,
          lambda: classify_folder(run, folder, tmp / "local.csv", Events(), lambda: False, recursive=True))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for k in actors:
            s = timed(f"ray, {k} actor(s)", n, lambda k=k: classify_on_ray(
                run, folder, tmp / f"ray{k}.csv", Events(), lambda: False, RaySettings(actors=k), recursive=True))
            print(f"{'':<34} per actor {n / s / k:6.1f} images/s")
    finally:
        ray.shutdown()


def train_figures(data: Path, weights: str, tmp: Path) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "trainer", "train", str(data), "--weights", weights, "--augment", "--epochs", "2",
            "--image-size", "96", "--workers", "1"]
    for nproc, batch, threads in ((1, 16, "2"), (1, 16, "1"), (2, 8, "1")):
        env = {**os.environ, "OMP_NUM_THREADS": threads}
        t0 = time.perf_counter()
        subprocess.run([*base, "--batch-size", str(batch), "--nproc", str(nproc), "--out", str(tmp / f"t{nproc}")],
                       check=True, capture_output=True, env=env)
        print(f"train --nproc {nproc} x {threads} thread(s), global batch 16: 2 epochs, whole command "
              f"{time.perf_counter() - t0:6.1f} s wall")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1200)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--actors", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--no-classify", action="store_true")
    args = ap.parse_args()
    tmp = scratch_dir("scale-out")
    os.environ["TRAINER_CACHE_DIR"] = str(tmp / "cache")
    weights = mobilenet_weights()
    data = make_demo_data(tmp / "demo", per_class=20, size=96)
    run = train(TrainConfig(data=str(data), weights=weights, epochs=1, image_size=args.image_size,
                            out=str(tmp / "runs")), Events(), lambda: False)
    n = 3 * (args.images // 3)
    folder = tmp / "archive"
    if not args.no_classify:
        make_demo_data(folder, per_class=n // 3, size=224, seed=7)
    print(f"model: mobilenet_v2 ({weights}) at {args.image_size} px; {os.cpu_count()} CPUs")
    if not args.no_classify:
        classify_figures(run, folder, n, args.actors, tmp)
    if args.train:
        train_figures(make_demo_data(tmp / "train", per_class=100, size=96, seed=2), weights, tmp)


if __name__ == "__main__":
    main()
