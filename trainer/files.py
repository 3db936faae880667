"""Small file helpers shared by labeling and classification (torch-free: the app imports them)."""

from __future__ import annotations

import contextlib
import filecmp
import glob
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from trainer.atomic import atomic_open
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


def copy_by_label(predictions: Iterable[Prediction], folder: Path, dest: Path, program: str = "trainer") -> int:
    """Copy each classified image into ``dest/<label>/`` (never overwriting), holding ``dest``'s
    dataset lock; returns the count. Each copy appears whole or not at all, and an image already
    copied there (same name, same bytes: a copy that was interrupted and started again) is not
    copied twice."""
    from trainer.datalock import locked

    dest.mkdir(parents=True, exist_ok=True)
    n, free = 0, FreeNames()
    cleaned: set[Path] = set()
    with locked(dest, program):
        for p in predictions:
            if not p.label:
                continue
            src, target_dir = join_relative(folder, p.path), class_folder(dest, p.label)
            target_dir.mkdir(parents=True, exist_ok=True)
            if target_dir not in cleaned:  # half copies a killed copy left (we hold the lock: none is live)
                cleaned.add(target_dir)
                for stale in target_dir.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        stale.unlink()
            if not _already_there(src, target_dir):
                copy_atomic(src, free.claim(target_dir / src.name))
            n += 1
    return n


def _already_there(src: Path, folder: Path) -> bool:
    """A file in ``folder`` named like ``src`` (``name``, ``name-1`` ...) with the same bytes."""
    size = src.stat().st_size
    for candidate in (folder / src.name, *folder.glob(f"{glob.escape(src.stem)}-*{glob.escape(src.suffix)}")):
        with contextlib.suppress(OSError):
            if candidate.stat().st_size == size and filecmp.cmp(src, candidate, shallow=False):
                return True
    return False


def copy_atomic(src: Path, target: Path) -> None:
    """Copy ``src`` to ``target`` (bytes and times) through a temp file: never half a copy."""
    with open(src, "rb") as fin, atomic_open(target, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    with contextlib.suppress(OSError):
        shutil.copystat(src, target)


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
