"""One writer per dataset: the lock the app and the engine take before moving or copying images
into a dataset folder (torch-free and Qt-free: both import it).

The lock is an OS file lock (``filelock``: ``flock`` on Linux and macOS, ``msvcrt.locking`` on
Windows) on ``ROOT/.vehicleapp.lock``, so it vanishes with the process that held it: a crash or
a kill never leaves a stale lock behind. Beside it, ``.vehicleapp.lock.json`` says who holds it
(program, pid, host, since), for the message the other opener shows. Within one process the
lock is re-entrant (the app's own background copy into the dataset it has open).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from trainer.atomic import write_json
from trainer.protocol import UsageError

LOCK = ".vehicleapp.lock"
HOLDER = ".vehicleapp.lock.json"
LOCKED = "locked"  # ``code`` of the error event when a dataset is locked by someone else


class DatasetLocked(UsageError):
    """Another program labels this dataset; the message says which and what to do."""

    code = LOCKED


class DatasetLock:
    """The writer's lock on one dataset folder."""

    def __init__(self, root: str | os.PathLike[str], program: str = "trainer") -> None:
        self.root = Path(root).expanduser().resolve()
        self.program = program
        self._lock = FileLock(self.root / LOCK, timeout=0, is_singleton=True, thread_local=False)
        self.held = False

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it (or the folder is
        read-only: then nobody can label it anyway)."""
        if self.held:
            return True
        try:
            self._lock.acquire(timeout=0)
        except (Timeout, OSError):
            return False
        self.held = True
        if self._lock.lock_counter == 1:  # the first holder in this process says who it is
            with contextlib.suppress(OSError):
                write_json(self.root / HOLDER, {"program": self.program, "pid": os.getpid(),
                                                "host": socket.gethostname(), "since": time.strftime("%H:%M")})
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._lock.lock_counter == 1:
            with contextlib.suppress(OSError):
                (self.root / HOLDER).unlink()
        self._lock.release()

    def holder(self) -> str:
        """Who holds the lock, in words ("vehicleapp (pid 123 on host, since 14:02)")."""
        info = read_holder(self.root)
        if not info:
            return "another program"
        host = f" on {info['host']}" if info.get("host") and info["host"] != socket.gethostname() else ""
        since = f", since {info['since']}" if info.get("since") else ""
        return f"{info.get('program', 'another program')} (pid {info.get('pid', '?')}{host}{since})"

    def __enter__(self) -> DatasetLock:
        if not self.acquire():
            raise DatasetLocked(f"{self.root} is being labeled by {self.holder()}: close it there first, "
                                "or write somewhere else")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(root: Path) -> dict[str, Any]:
    try:
        info = json.loads((Path(root) / HOLDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


@contextlib.contextmanager
def locked(root: str | os.PathLike[str], program: str = "trainer") -> Iterator[DatasetLock]:
    """``with locked(folder):`` write into a dataset folder, or raise :class:`DatasetLocked`."""
    with DatasetLock(root, program) as lock:
        yield lock
