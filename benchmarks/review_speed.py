"""How long ``trainer review`` takes on 10,000 images once their features are cached.

Writes a 10,000-image demo dataset (64 px), runs ``trainer review`` once to fill the
feature and thumbnail caches, then times a second, warm run end to end (a child process:
start-up and torch import included) and prints both times and the machine.

    python benchmarks/review_speed.py [--images 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from _common import mobilenet_weights, scratch_dir

from trainer.demo_data import make_demo_data


def run_review(data: str, out: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trainer", "review", data, "--model", "mobilenet_v2", "--weights",
                    mobilenet_weights(), "--image-size", "64", "--out", out], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    args = ap.parse_args()
    work = scratch_dir("review-speed")
    t0 = time.perf_counter()
    data = make_demo_data(work / "data", per_class=args.images // 3, size=64)
    print(f"wrote {3 * (args.images // 3)} images in {time.perf_counter() - t0:.0f} s")
    env = {**os.environ, "TRAINER_CACHE_DIR": str(work / "cache")}
    cold = run_review(str(data), str(work / "review.csv"), env)
    warm = run_review(str(data), str(work / "review.csv"), env)
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores; weights: {mobilenet_weights()}")
    print(f"trainer review on {3 * (args.images // 3)} images: cold caches {cold:.1f} s, "
          f"features cached {warm:.1f} s (whole command)")


if __name__ == "__main__":
    main()
