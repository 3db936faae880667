"""Small file helpers shared by labeling and classification (torch-free: the app imports them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path

from trainer.csvfile import Prediction


def unique_path(path: Path, taken: Collection[Path] = ()) -> Path:
    """``path`` if free, else ``name-1.ext``, ``name-2.ext``, ... (never overwrite; names in
    ``taken`` are treated as used, for several moves planned at once)."""
    if not path.exists() and path not in taken:
        return path
    for i in range(1, 1_000_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists() and candidate not in taken:
            return candidate
    raise FileExistsError(f"no free name for {path}")


def copy_by_label(predictions: Iterable[Prediction], folder: Path, dest: Path) -> int:
    """Copy each classified image into ``dest/<label>/`` (never overwriting); returns count."""
    n = 0
    for p in predictions:
        if not p.label:
            continue
        target_dir = dest / p.label
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / p.path, unique_path(target_dir / Path(p.path).name))
        n += 1
    return n


def is_writable(folder: Path) -> bool:
    """True when files can be created in ``folder`` (so images in it can be moved).

    Tries it, because ``os.access`` says yes to root and misses read-only mounts.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".vehicleapp-write-test-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True
