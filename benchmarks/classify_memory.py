"""Peak memory of ``trainer classify`` as the folder grows (streaming: it should stay flat).

Usage: python benchmarks/classify_memory.py [--sizes 1000 10000 30000]
Each folder holds copies of one small JPEG; a tiny run is trained first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from _common import scratch_dir

from trainer.config import TrainConfig
from trainer.demo_data import make_demo_data
from trainer.engine import train
from trainer.events import Events


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` and return (peak RSS in MB, seconds), read from /usr/bin/time -v."""
    t0 = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    line = next(s for s in res.stderr.splitlines() if "Maximum resident set size" in s)
    return int(line.split()[-1]) / 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 30000])
    args = ap.parse_args()
    tmp = scratch_dir("classify-mem")
    os.environ["TRAINER_CACHE_DIR"] = str(tmp / "cache")
    data = make_demo_data(tmp / "demo", per_class=12, size=64)
    run = train(TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                            out=str(tmp / "runs")), Events(), lambda: False)
    sample = next(data.glob("car/*.jpg"))
    for n in args.sizes:
        folder = tmp / f"in{n}"
        folder.mkdir()
        for i in range(n):
            shutil.copyfile(sample, folder / f"img{i:06d}.jpg")
        mb, secs = peak_rss_mb([sys.executable, "-m", "trainer", "classify", str(run), str(folder),
                                "--out", str(tmp / f"p{n}.csv")])
        print(f"{n:>7} files: peak RSS {mb:7.1f} MB, {secs:6.1f} s")
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
