"""Small file helpers shared by labeling and classification (torch-free: the app imports them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from trainer.csvfile import Prediction
from trainer.layout import class_folder
from trainer.names import name_key
from trainer.pathtext import join_relative


class FreeNames:
    """Picks names that are free in their folders — never overwrite: a taken name gets ``-1``,
    ``-2``, ... Names are compared as Windows and macOS compare them (:func:`name_key`), on
    every OS, so ``car.JPG`` moved beside ``car.jpg`` becomes ``car-1.JPG`` everywhere and the
    folder still copies to a case-insensitive disk. Names claimed earlier count as taken (for
    several moves planned at once); each folder is listed once."""

    def __init__(self) -> None:
        self._taken: dict[Path, set[str]] = {}

    def _keys(self, folder: Path) -> set[str]:
        if folder not in self._taken:
            try:
                names = os.listdir(folder)
            except OSError:  # not there yet
                names = []
            self._taken[folder] = {name_key(n) for n in names}
        return self._taken[folder]

    def claim(self, path: Path) -> Path:
        """``path``, or ``name-N.ext`` with the smallest free N; the name is taken from now on."""
        taken = self._keys(path.parent)
        for i in range(1_000_000):
            candidate = path.with_name(f"{path.stem}-{i}{path.suffix}") if i else path
            if name_key(candidate.name) not in taken:
                taken.add(name_key(candidate.name))
                return candidate
        raise FileExistsError(f"no free name for {path}")


def copy_by_label(predictions: Iterable[Prediction], folder: Path, dest: Path) -> int:
    """Copy each classified image into ``dest/<label>/`` (never overwriting); returns count."""
    n, free = 0, FreeNames()
    for p in predictions:
        if not p.label:
            continue
        target_dir = class_folder(dest, p.label)
        target_dir.mkdir(parents=True, exist_ok=True)
        source = join_relative(folder, p.path)
        shutil.copy2(source, free.claim(target_dir / source.name))
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
