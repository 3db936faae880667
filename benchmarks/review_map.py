"""The Review page's map with 10,000 points: GUI heartbeat while the mouse sweeps over it.

Draws 10,000 points (a synthetic projection; the map only needs paths, positions, labels),
then moves the mouse across the plot in 300 steps (each a hover: nearest-point search and a
preview request) and measures a 20 ms heartbeat timer. Goal: worst gap < 100 ms.

Usage: python benchmarks/review_map.py [--points 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import numpy as np
from _common import Heartbeat, wait
from matplotlib.backend_bases import MouseEvent
from PySide6.QtWidgets import QApplication


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    args = ap.parse_args()
    app = QApplication([])
    from vehicleapp.widgets.review_map import ReviewMap

    rng = np.random.default_rng(0)
    n = args.points
    xy = np.concatenate([rng.normal(c, 1.0, (n // 3 + 1, 2)) for c in (0, 4, 8)])[:n]
    labels = [("car", "truck", "motorcycle")[i % 3] for i in range(n)]
    chart = ReviewMap()
    chart.resize(900, 700)
    chart.show()
    hovered: list[Path] = []
    chart.hovered.connect(hovered.append)
    t0 = time.perf_counter()
    chart.show_points([Path(f"/x/{i}.jpg") for i in range(n)], xy, labels, [i % 50 == 0 for i in range(n)])
    app.processEvents()
    chart.draw()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{n} points drawn in {time.perf_counter() - t0:.2f} s")
    heartbeat = Heartbeat()
    heartbeat.start()
    (x0, y0), (x1, y1) = chart.ax.transData.transform([xy.min(0), xy.max(0)])
    for k in range(300):
        x = x0 + (x1 - x0) * k / 299
        y = y0 + (y1 - y0) * ((k * 7) % 300) / 299
        chart.callbacks.process("motion_notify_event", MouseEvent("motion_notify_event", chart, x, y))
        wait(15)
    wait(500)
    heartbeat.stop()
    print(f"300 hover moves: {len(hovered)} distinct points reported; heartbeat worst gap {heartbeat.worst} ms, "
          f"median {heartbeat.median} ms (goal: worst < 100 ms)")


if __name__ == "__main__":
    main()
