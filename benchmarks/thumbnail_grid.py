"""The Dataset page with 10,000 images: scan time, and GUI heartbeat while scrolling the grid.

Usage: python benchmarks/thumbnail_grid.py [--images 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from _common import Heartbeat, scratch_dir, wait

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings
from PySide6.QtWidgets import QApplication

from trainer.demo_data import make_demo_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10000)
    args = ap.parse_args()
    tmp = scratch_dir("grid")
    src = make_demo_data(tmp / "src", per_class=20, size=160)
    samples = sorted(src.glob("*/*.jpg"))
    for i in range(args.images):
        s = samples[i % len(samples)]
        (tmp / "big" / s.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(s, tmp / "big" / s.parent.name / f"{i:06d}.jpg")
    app = QApplication([])
    from vehicleapp.main_window import MainWindow
    from vehicleapp.settings import AppSettings

    win = MainWindow(AppSettings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)), str(tmp / "runs"))
    win.resize(1400, 880)
    win.show()
    t0 = time.perf_counter()
    loop = QEventLoop()
    win.state.loaded.connect(loop.quit)
    win.open_dataset(str(tmp / "big"))
    loop.exec()
    print(f"{args.images} images: scanned and shown in {time.perf_counter() - t0:.2f} s")
    heartbeat = Heartbeat()
    heartbeat.start()
    grid, bar = win.dataset_page.grid, win.dataset_page.grid.verticalScrollBar()
    steps = 200
    t1 = time.perf_counter()
    for k in range(steps + 1):  # scroll top to bottom in 200 steps, 30 ms apart
        bar.setValue(bar.maximum() * k // steps)
        wait(30)
    wait(1500)
    heartbeat.stop()
    print(f"scrolled through in {time.perf_counter() - t1:.1f} s; thumbnails cached: {len(win.thumbs.cache)}; "
          f"heartbeat worst gap {heartbeat.worst} ms, median {heartbeat.median} ms")
    win.runner.shutdown()
    win.thumbs.clear()
    win.thumbs.wait(5000)
    app.processEvents()
    del grid


if __name__ == "__main__":
    main()
