"""Atomic writes: a temp file in the same folder, fsync, then ``os.replace`` (timm's saver).

The one place where the engine and the app write files: a failed write leaves the previous
file as it was and no temp file behind; the new file gets the mode a plain ``open()`` would
give it (the umask, or the mode of the file it replaces), so a run folder on a shared drive
stays readable to teammates; a full disk becomes :class:`DiskFull`, whose message names the
file, the space it needed and the space that is free.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from trainer.protocol import DISK_FULL


class DiskFull(OSError):
    """A write failed for lack of space; ``str()`` is the one line a user reads."""

    def __init__(self, path: Path, needed: int | None, at_least: bool = True) -> None:
        self.path, self.needed = Path(path), needed
        self.free = free = free_space(self.path.parent)
        need = "" if needed is None else f"it needs {'at least ' if at_least else ''}{human_size(needed)}, "
        have = f"{human_size(free)} free" if free is not None else "free space unknown"
        message = f"the disk is full: could not write {self.path} ({need}{have} in {self.path.parent})"
        super().__init__(errno.ENOSPC, message, str(self.path))

    def __str__(self) -> str:
        return str(self.strerror)

    def fields(self) -> dict[str, Any]:
        """What a client needs to say it in its own words (the ``error`` event's fields)."""
        return {"code": DISK_FULL, "path": str(self.path), "needed": self.needed, "free": self.free}


def is_disk_full(exc: BaseException | None) -> bool:
    """True for "no space" / "quota exceeded", also when a library (torch's zip writer) raised
    its own error while handling it."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def human_size(n: int | float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


def free_space(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _umask() -> int:
    """The process umask (read without changing it where the OS tells; else set and restore)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _plain_open_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave: the old file's, else 0666 minus umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kw: Any) -> Iterator[IO]:
    """Open a temp file beside ``path``; on success it replaces ``path``, on error it vanishes
    (a full disk raises :class:`DiskFull`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    written = 0
    try:
        if sys.platform != "win32":
            os.fchmod(fd, _plain_open_mode(path))
        with os.fdopen(fd, mode, **kw) as f:
            try:
                yield f
                f.flush()
                os.fsync(f.fileno())
            finally:
                with contextlib.suppress(OSError, ValueError):  # what was written or waits in the buffer
                    written = max(os.fstat(f.fileno()).st_size, getattr(f, "buffer", f).tell())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise DiskFull(path, written or None) from exc
        raise


def append_line(path: str | os.PathLike[str], line: str, sync: bool = True) -> None:
    """Append one line (fsynced unless ``sync`` is False); on failure the file is cut back to
    what it was, so a reader never meets half a line (a full disk raises :class:`DiskFull`)."""
    path = Path(path)
    data = (line.rstrip("\n") + "\n").encode("utf-8", "surrogateescape")
    try:
        with open(path, "ab", buffering=0) as f:  # unbuffered: a failed write leaves nothing pending
            size = f.tell()
            try:
                view = memoryview(data)
                while view:  # a short write (disk nearly full) is followed by the one that fails
                    view = view[f.write(view) or 0:]
                if sync:
                    os.fsync(f.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    f.truncate(size)
                raise
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(path, len(data), at_least=False) from exc
        raise


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    try:
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except DiskFull as exc:
        raise DiskFull(Path(path), len(text.encode("utf-8")), at_least=False) from exc.__cause__


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class _Counter:
    """A write-only sink that only counts bytes (the size a failed save needed)."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, b: bytes) -> int:
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        pass


def torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    import torch  # lazily: this module belongs to the torch-free core the app imports

    try:
        with atomic_open(path, "wb") as f:
            torch.save(obj, f)
    except DiskFull as exc:
        counter = _Counter()
        torch.save(obj, counter)  # type: ignore[arg-type]
        raise DiskFull(Path(path), counter.n, at_least=False) from exc.__cause__
