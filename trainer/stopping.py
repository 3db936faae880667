"""Cooperative cancellation: a flag the loops check every batch.

Two ways set it: SIGINT/SIGTERM (Ctrl+C in a terminal; POSIX ``kill``), and, when asked for
(``--stop-on-stdin``, what the app uses), a ``stop`` line on stdin or stdin closing. The stdin
channel is the portable one: on Windows a console child never receives ``WM_CLOSE``, the only
thing ``QProcess.terminate()`` can send it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from trainer.protocol import STOP_LINE

log = logging.getLogger(__name__)


class StopFlag:
    """Callable flag; ``install()`` routes SIGINT/SIGTERM to it (a second Ctrl+C kills),
    ``watch_stdin()`` routes a ``stop`` line or end of input to it."""

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

    def watch_stdin(self, fd: int | None = None) -> StopFlag:
        """Read ``fd`` (stdin) in a daemon thread: the line ``stop`` or end of input requests a stop.

        Only for a parent that keeps the pipe open (the app): in a terminal or with stdin at
        /dev/null, end of input is no reason to stop, so the CLI enables this only when asked.
        """
        if fd is None:
            try:
                fd = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError):  # no stdin (pythonw), or not a real file
                log.warning("--stop-on-stdin: stdin is not a file; only signals can stop this job")
                return self
        threading.Thread(target=self._read_until_stop, args=(fd,), name="stop-on-stdin", daemon=True).start()
        return self

    def _read_until_stop(self, fd: int) -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader's lock makes
        # interpreter shutdown abort ("could not acquire lock for <stdin>"); the raw fd has no lock.
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 256)
            except OSError:
                chunk = b""
            if not chunk:  # end of input: the parent closed the pipe or died
                self.request()
                return
            *lines, pending = (pending + chunk).split(b"\n")
            if any(line.strip().decode("utf-8", "replace") == STOP_LINE for line in lines):
                self.request()
                return
