"""Finding images on disk: ImageFolder trees and train/val/test exports.

The layouts (which folders are classes, splits, unlabeled) are :mod:`trainer.layout`'s rules:

* ``ROOT/<class>/*`` - one pool, split into train/val here by a hash of each file's name;
* ``ROOT/{train,val|valid|validation,test}/<class>/*`` - Kaggle/Roboflow exports, used as given.

A file's split depends only on its name, the seed and the val fraction (TensorFlow's
``retrain.py`` scheme), so relabeling or adding images never moves an image between train
and val. Scanning only lists files; decoding (and skipping bad files) happens in
:mod:`trainer.images`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from trainer.layout import class_dirs, detect, find_split_dirs, walk_images
from trainer.names import name_key
from trainer.pathtext import for_display
from trainer.protocol import UNKNOWN, UsageError
from trainer.wording import count_of

__all__ = ["Dataset", "DatasetError", "Entry", "Sample", "browse", "check_class_names", "check_usable",
           "class_folders", "find_split_dirs", "hash_split", "in_val", "not_photos_warning", "scan", "walk_images"]


class DatasetError(UsageError):
    """The data cannot be trained on; the message says why in one line."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass
class Dataset:
    """What a folder holds: classes, samples per split, and anything worth reporting."""

    root: Path
    layout: str  # "folders" or "splits"
    classes: list[str]
    splits: dict[str, list[Sample]]
    unlabeled: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self, skip: Collection[str] = ()) -> dict[str, dict[str, int]]:
        """``{split: {class: n}}`` for every split and class (zeros included); paths in
        ``skip`` (files found unreadable) are not counted."""
        out: dict[str, dict[str, int]] = {}
        for split, samples in self.splits.items():
            row = dict.fromkeys(self.classes, 0)
            for s in samples:
                if str(s.path) not in skip:
                    row[self.classes[s.label]] += 1
            out[split] = row
        return out

    def all_samples(self) -> list[Sample]:
        return [s for split in self.splits.values() for s in split]

    def members(self) -> list[tuple[Path, str]]:
        """``(path, split)`` of every sample: what a run records as its split."""
        return [(s.path, split) for split, samples in self.splits.items() for s in samples]

    def fingerprint(self) -> str:
        """Hash of every file's relative path, size and mtime: changes when the data does."""
        h = hashlib.sha256()
        for s in sorted(self.all_samples(), key=lambda s: str(s.path)):
            st = _stat(s.path)
            rel = os.fsencode(s.path.relative_to(self.root).as_posix())  # any file name's bytes
            h.update(rel + f"|{st[0]}|{st[1]}\n".encode())
        return h.hexdigest()[:16]


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """``{class_name: [images]}`` for the class folders directly under ``folder``."""
    return {d.name: walk_images(d) for d in class_dirs(folder)}


def _check_folder(root: Path) -> None:
    if root.is_file():
        raise DatasetError(f"{root} is a file; give the dataset folder (one subfolder of photos per class)")
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")


def scan(root: str | os.PathLike[str], val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Describe the dataset under ``root`` without decoding any image.

    Raises:
        DatasetError: missing folder, fewer than 2 classes with images, or an empty split.
    """
    root = Path(root).expanduser().resolve()
    _check_folder(root)
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    layout = detect(root)
    split_dirs = layout.split_dirs
    ds = _scan_splits(root, split_dirs, val_fraction, seed) if split_dirs else _scan_folders(root, val_fraction, seed)
    check_usable(ds)
    ds.warnings += not_photos_warning(root, layout.not_photos())
    return ds


def not_photos_warning(root: Path, files: list[Path]) -> list[str]:
    """One line naming the files in class folders that are not photos (the first three)."""
    if not files:
        return []
    names = ", ".join(for_display(p.relative_to(root).as_posix()) for p in files[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    if len(files) == 1:
        return [f"1 file in the class folders is not a photo and is not used: {names}"]
    return [f"{len(files)} files in the class folders are not photos and are not used: {names}{more}"]


def _scan_folders(root: Path, val_fraction: float, seed: int) -> Dataset:
    per_class, warnings = _nonempty(class_folders(root), "")
    classes = sorted(per_class)
    train, val = hash_split(_samples(per_class, classes), val_fraction, seed)
    splits = {"train": train, "val": val} if val_fraction > 0 else {"train": train}
    return Dataset(root, "folders", classes, splits, detect(root).unlabeled(), warnings)


def _scan_splits(root: Path, dirs: dict[str, Path], val_fraction: float, seed: int) -> Dataset:
    train_classes, warnings = _nonempty(class_folders(dirs["train"]), f"{dirs['train'].name}/")
    classes = sorted(train_classes)
    if "val" in dirs:
        splits = {"train": _samples(train_classes, classes)}
    else:
        train, val = hash_split(_samples(train_classes, classes), val_fraction, seed)
        splits = {"train": train, "val": val}
        warnings.append(f"no val/valid split: holding out {val_fraction:.0%} of train for val")
    for split in ("val", "test"):
        if split not in dirs:
            continue
        found = class_folders(dirs[split])
        for name in sorted(set(found) - set(classes)):
            warnings.append(f"{split}/{name}: class not in train, ignored")
        for name in classes:
            if not found.get(name):
                warnings.append(f"class '{name}' has no images in {dirs[split].name}/")
        splits[split] = _samples(found, classes)
    return Dataset(root, "splits", classes, splits, detect(root).unlabeled(), warnings)


def _nonempty(per_class: dict[str, list[Path]], prefix: str) -> tuple[dict, list[str]]:
    warnings = [f"{prefix}{c}/ has no images, class ignored" for c, v in per_class.items() if not v]
    return {c: v for c, v in per_class.items() if v}, warnings


def _samples(per_class: dict[str, list[Path]], classes: list[str]) -> list[Sample]:
    index = {c: i for i, c in enumerate(classes)}
    return [Sample(p, index[c]) for c in sorted(per_class) if c in index for p in per_class[c]]


def in_val(name: str, val_fraction: float, seed: int) -> bool:
    """Whether the file called ``name`` is held out for val: sha1 of ``"{seed}:{name}"`` (raw
    bytes, so any file name works) read as a number in [0, 1), compared with ``val_fraction``."""
    digest = hashlib.sha1(os.fsencode(f"{seed}:{name}")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


def hash_split(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """``(train, val)`` by :func:`in_val` of each file's name (not its class folder), so an
    image keeps its split when it is relabeled or other images are added. A class may get no
    val image on tiny data; :func:`check_usable` refuses an empty val split as a whole."""
    val = [s for s in samples if in_val(s.path.name, val_fraction, seed)]
    held = set(val)
    return [s for s in samples if s not in held], val


def check_usable(ds: Dataset, unreadable: Collection[str] = ()) -> None:
    """Raise :class:`DatasetError` unless 2+ classes have usable training images and no split
    is empty; files in ``unreadable`` (found when decoding) do not count."""
    counts = ds.counts(skip=unreadable)
    train_counts = counts.get("train", {})
    usable = [c for c, n in train_counts.items() if n > 0]
    if len(usable) < 2:
        roots = find_split_dirs(ds.root).values() if ds.layout == "splits" else [ds.root]
        empty = sorted({d.name for r in roots for d in class_dirs(r)} - set(train_counts))
        found = ", ".join([*(_class_count(c, n, sum(row.get(c, 0) for row in counts.values()))
                             for c, n in train_counts.items()), *(f"{c} (empty)" for c in empty)])
        found = found or "no class folders"
        raise DatasetError(
            f"need at least 2 classes with usable images in {ds.root} (found: {found}); "
            "expected ROOT/<class>/*.jpg or ROOT/train/<class>/*.jpg"
        )
    for split, row in counts.items():
        if not sum(row.values()):
            raise DatasetError(f"the {split} split has no usable images")


def _class_count(name: str, train: int, total: int) -> str:
    """``car (75 photos)``, ``truck (empty)``, ``bus (1 photo, none left for training)``."""
    if not total:
        return f"{name} (empty)"
    return f"{name} ({count_of(total, 'photo')}" + (")" if train else ", none left for training)")


def check_class_names(classes: Collection[str]) -> None:
    """Refuse a class that could be mistaken for the ``unknown`` answer (in any case), and two
    classes whose folders are one on Windows and macOS (names differing only in case)."""
    clash = sorted(c for c in classes if c.casefold() == UNKNOWN)
    if clash:
        raise DatasetError(
            f"a class folder is named '{clash[0]}', the answer given to photos the model does not "
            "recognise; rename that folder (e.g. to 'other') to train on it"
        )
    by_key: dict[str, list[str]] = {}
    for c in sorted(classes):
        by_key.setdefault(name_key(c), []).append(c)
    same = next((names for names in by_key.values() if len(names) > 1), None)
    if same:
        raise DatasetError(
            f"class folders {' and '.join(repr(n) for n in same)} differ only in case: on Windows and "
            "macOS they are one folder; merge them (or rename one) to train on them"
        )


@dataclass(frozen=True)
class Entry:
    """One image as a browser shows it: its class (None when unlabeled) and split ("" if none)."""

    path: Path
    label: str | None
    split: str


def browse(root: str | os.PathLike[str]) -> tuple[str, list[str], list[Entry]]:
    """``(layout, classes, entries)`` for showing a folder, including unlabeled images.

    Unlike :func:`scan` this never refuses a folder: empty classes and a folder holding only
    unlabeled images are shown as they are, so they can be labeled.
    """
    root = Path(root).expanduser().resolve()
    _check_folder(root)
    layout = detect(root)
    entries: list[Entry] = []
    classes: set[str] = set()
    for split, folder in layout.class_roots():
        for name, paths in class_folders(folder).items():
            classes.add(name)
            entries.extend(Entry(p, name, split) for p in paths)
    entries.extend(Entry(p, None, "") for p in layout.unlabeled())
    return layout.kind, sorted(classes), entries
