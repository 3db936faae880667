"""Finding images on disk: ImageFolder trees and train/val/test exports.

Two layouts are understood:

* ``ROOT/<class>/*`` - one pool, split into train/val here (stratified, seeded);
* ``ROOT/{train,val|valid|validation,test}/<class>/*`` - Kaggle/Roboflow exports, used as given.

Scanning only lists files; decoding (and skipping bad files) happens in :mod:`trainer.images`.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from trainer.images import is_image_file
from trainer.protocol import UsageError

SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
#: Folders that hold images without a class yet (the app's labeling queue).
UNLABELED_NAMES = frozenset({"unlabeled", "unlabelled", "_unlabeled"})


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

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {class: n}}`` for every split and class (zeros included)."""
        out: dict[str, dict[str, int]] = {}
        for split, samples in self.splits.items():
            row = dict.fromkeys(self.classes, 0)
            for s in samples:
                row[self.classes[s.label]] += 1
            out[split] = row
        return out

    def all_samples(self) -> list[Sample]:
        return [s for split in self.splits.values() for s in split]

    def fingerprint(self) -> str:
        """Hash of every file's relative path, size and mtime: changes when the data does."""
        h = hashlib.sha256()
        for s in sorted(self.all_samples(), key=lambda s: str(s.path)):
            st = _stat(s.path)
            h.update(f"{s.path.relative_to(self.root)}|{st[0]}|{st[1]}\n".encode())
        return h.hexdigest()[:16]


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def walk_images(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder``, sorted; hidden entries skipped, symlink loops cut."""
    folder = Path(folder)
    if not recursive:
        return sorted(p for p in _entries(folder) if p.is_file() and is_image_file(p))
    found: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink back up the tree: don't go round forever
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath, f) for f in filenames if is_image_file(Path(f)))
    return sorted(found)


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _subdirs(folder: Path) -> list[Path]:
    return [p for p in _entries(folder) if p.is_dir() and not p.name.startswith(".")]


def find_split_dirs(root: Path) -> dict[str, Path]:
    """``{"train": ..., "val": ..., "test": ...}`` for an export layout, else ``{}``."""
    found: dict[str, Path] = {}
    for d in _subdirs(root):
        split = SPLIT_ALIASES.get(d.name.lower())
        if split and split not in found:
            found[split] = d
    return found if "train" in found else {}


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """``{class_name: [images]}`` for the class folders directly under ``folder``."""
    return {
        d.name: walk_images(d)
        for d in _subdirs(folder)
        if d.name.lower() not in UNLABELED_NAMES
    }


def scan(root: str | os.PathLike[str], val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Describe the dataset under ``root`` without decoding any image.

    Raises:
        DatasetError: missing folder, fewer than 2 classes with images, or an empty split.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    split_dirs = find_split_dirs(root)
    ds = _scan_splits(root, split_dirs, val_fraction, seed) if split_dirs else _scan_folders(root, val_fraction, seed)
    check_usable(ds)
    return ds


def _unlabeled(root: Path) -> list[Path]:
    loose = walk_images(root, recursive=False)
    for d in _subdirs(root):
        if d.name.lower() in UNLABELED_NAMES:
            loose.extend(walk_images(d))
    return sorted(loose)


def _scan_folders(root: Path, val_fraction: float, seed: int) -> Dataset:
    per_class, warnings = _nonempty(class_folders(root), "")
    classes = sorted(per_class)
    train, val = stratified_split(per_class, classes, val_fraction, seed)
    splits = {"train": train, "val": val} if val_fraction > 0 else {"train": train}
    return Dataset(root, "folders", classes, splits, _unlabeled(root), warnings)


def _scan_splits(root: Path, dirs: dict[str, Path], val_fraction: float, seed: int) -> Dataset:
    train_classes, warnings = _nonempty(class_folders(dirs["train"]), "train/")
    classes = sorted(train_classes)
    if "val" in dirs:
        train = _samples(train_classes, classes)
        splits = {"train": train}
    else:
        train, val = stratified_split(train_classes, classes, val_fraction, seed)
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
    return Dataset(root, "splits", classes, splits, _unlabeled(root), warnings)


def _nonempty(per_class: dict[str, list[Path]], prefix: str) -> tuple[dict, list[str]]:
    warnings = [f"{prefix}{c}/ has no images, class ignored" for c, v in per_class.items() if not v]
    return {c: v for c, v in per_class.items() if v}, warnings


def _samples(per_class: dict[str, list[Path]], classes: list[str]) -> list[Sample]:
    index = {c: i for i, c in enumerate(classes)}
    return [Sample(p, index[c]) for c in sorted(per_class) if c in index for p in per_class[c]]


def stratified_split(
    per_class: dict[str, list[Path]], classes: list[str], val_fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Seeded per-class shuffle; each class with 2+ images gives at least one to val."""
    rng = random.Random(seed)
    train: list[Sample] = []
    val: list[Sample] = []
    for label, name in enumerate(classes):
        paths = sorted(per_class[name])
        rng.shuffle(paths)
        n_val = round(len(paths) * val_fraction)
        if val_fraction > 0 and len(paths) >= 2:
            n_val = min(max(n_val, 1), len(paths) - 1)
        val.extend(Sample(p, label) for p in paths[:n_val])
        train.extend(Sample(p, label) for p in paths[n_val:])
    return sorted(train, key=_key), sorted(val, key=_key)


def _key(s: Sample) -> str:
    return str(s.path)


def check_usable(ds: Dataset) -> None:
    """Raise :class:`DatasetError` unless 2+ classes have training images and no split is empty."""
    train_counts = ds.counts().get("train", {})
    usable = [c for c, n in train_counts.items() if n > 0]
    if len(usable) < 2:
        found = ", ".join(f"{c}={n}" for c, n in train_counts.items()) or "no class folders"
        raise DatasetError(
            f"need at least 2 classes with usable images in {ds.root} (found: {found}); "
            "expected ROOT/<class>/*.jpg or ROOT/train/<class>/*.jpg"
        )
    for split, samples in ds.splits.items():
        if not samples:
            raise DatasetError(f"the {split} split has no usable images")


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
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    split_dirs = find_split_dirs(root)
    entries: list[Entry] = []
    classes: set[str] = set()
    sources = split_dirs.items() if split_dirs else [("", root)]
    for split, folder in sources:
        for name, paths in class_folders(folder).items():
            classes.add(name)
            entries.extend(Entry(p, name, split) for p in paths)
    entries.extend(Entry(p, None, "") for p in _unlabeled(root))
    return ("splits" if split_dirs else "folders"), sorted(classes), entries
