"""The GUI heartbeat while a training job runs and the dataset grid loads thumbnails.

Usage: python benchmarks/gui_heartbeat.py [--runs 3] [--epochs 3]
The real main window (offscreen unless a display is set) opens 450 demo photos at 160 px,
starts training from the Train page and scrolls the grid every 60 ms while a 20 ms timer
measures how long the GUI thread was ever busy. Goal: worst gap < 100 ms. The slowest
GUI-thread callbacks are listed, so a regression says where it comes from.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from _common import Heartbeat, wait
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from trainer.demo_data import make_demo_data


class Watchdog(threading.Thread):
    """Samples the GUI thread's stack whenever it has not beaten for ``after_ms``: where it was busy."""

    def __init__(self, heartbeat: Heartbeat, after_ms: int = 60) -> None:
        super().__init__(daemon=True)
        self.heartbeat, self.after, self.main = heartbeat, after_ms / 1000, threading.main_thread().ident
        self.seen: collections.Counter[str] = collections.Counter()
        self.running = True

    def run(self) -> None:
        while self.running:
            time.sleep(0.01)
            beats = len(self.heartbeat.gaps)
            time.sleep(self.after)
            if self.running and len(self.heartbeat.gaps) == beats:  # no beat for after_ms
                frame = sys._current_frames().get(self.main)  # a profiler's job
                if frame is not None:
                    stack = traceback.extract_stack(frame)
                    ours = [f for f in stack if "/vehicleapp/" in f.filename or "/matplotlib/" in f.filename]
                    where = ours[-3:] if ours else stack[-3:]
                    self.seen[" < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(where))] += 1


def one_run(app: QApplication, data: Path, tmp: Path, epochs: int) -> Heartbeat:
    from vehicleapp.main_window import MainWindow
    from vehicleapp.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings=settings, runs_dir=str(tmp / "runs"))
    win.show()
    win.open_dataset(str(data))
    deadline = time.monotonic() + 30
    while win.dataset_page.model.rowCount() == 0 and time.monotonic() < deadline:
        wait(50)
    tp = win.train_page
    tp.weights.set_mode("none")
    tp.freeze.setChecked(True)
    tp.size.setValue(48)
    tp.epochs.setValue(epochs)
    win.tabs.setCurrentIndex(0)
    grid, proxy = win.dataset_page.grid, win.dataset_page.proxy
    heartbeat = Heartbeat()
    heartbeat.start()
    dog = Watchdog(heartbeat)
    dog.start()
    tp.start()
    row = 0
    while win.runner.busy():
        if row < proxy.rowCount():
            grid.scrollTo(proxy.index(row, 0))
            row += 8
        wait(60)
    wait(300)
    heartbeat.stop()
    dog.running = False
    for where, n in dog.seen.most_common(5):
        print(f"  GUI thread busy > 60 ms, sampled {n}x in: {where}")
    win.runner.shutdown()
    win.state.close()
    win.thumbs.clear()
    win.thumbs.wait(10_000)
    win.close()
    return heartbeat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench-heartbeat-"))
    os.environ["TRAINER_CACHE_DIR"] = str(tmp / "cache")
    os.environ["VEHICLEAPP_DATA_DIR"] = str(tmp / "data")
    data = make_demo_data(tmp / "many", per_class=150, size=160)
    worst = []
    for k in range(args.runs):
        hb = one_run(app, data, tmp / f"r{k}", args.epochs)
        worst.append(hb.worst)
        print(f"run {k + 1}: {len(hb.gaps)} beats, worst gap {hb.worst} ms, median {hb.median} ms", flush=True)
    print(f"heartbeat worst gap {min(worst)}-{max(worst)} ms over {args.runs} runs (goal < 100 ms)")


if __name__ == "__main__":
    main()
