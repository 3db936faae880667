"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# ../shared beside the checkout (CI has it, a user's clone does not); VEHICLES_SHARED_DIR points
# elsewhere (a GPU machine that gets a copy)
SHARED = Path(os.environ.get("VEHICLES_SHARED_DIR") or ROOT.parent / "shared")
REAL_DATA = SHARED / "datasets" / "vehicles-real-dev"
REAL_WEIGHTS = SHARED / "weights" / "mobilenet_v2-keras-imagenet-features.pth"


def mobilenet_weights() -> str:
    """The shared real MobileNetV2 file when present, else random init."""
    return str(REAL_WEIGHTS) if REAL_WEIGHTS.is_file() else "none"


def wait(ms: int) -> None:
    """Let the Qt event loop run for ``ms`` milliseconds (GUI benchmarks)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class Heartbeat:
    """A 20 ms Qt timer whose gaps show how long the GUI thread was busy (GUI benchmarks):
    ``start()``, the work, ``stop()``, then ``worst`` and ``median`` in milliseconds."""

    def __init__(self, interval_ms: int = 20) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock, self.gaps, self.last = QElapsedTimer(), [], 0
        self.timer = QTimer(interval=interval_ms)
        self.timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now

    def start(self) -> None:
        self.clock.start()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def worst(self) -> int:
        return max(self.gaps[1:])

    @property
    def median(self) -> int:
        return sorted(self.gaps)[len(self.gaps) // 2]


def scratch_dir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
