"""Cooperative cancellation: SIGINT/SIGTERM set a flag the loops check every batch."""

from __future__ import annotations

import signal
from types import FrameType


class StopFlag:
    """Callable flag; ``install()`` routes SIGINT/SIGTERM to it (a second Ctrl+C kills)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def request(self, *_: object) -> None:
        self.requested = True

    def install(self) -> StopFlag:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.request()

        signal.signal(signal.SIGINT, on_signal)
        if hasattr(signal, "SIGTERM"):
            signal.signal(signal.SIGTERM, on_signal)
        return self
