"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
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


def scratch_dir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
