"""Which images a dataset folder holds and where they belong: the one home of the layout rules.

Two layouts are understood:

* ``folders``: ``ROOT/<class>/*``, one folder per class;
* ``splits``: ``ROOT/{train,val|valid|validation,test}/<class>/*`` (Kaggle/Roboflow exports;
  ``training``/``testing`` too), recognised when a train folder (under any alias) exists.

In both, images loose in ROOT or under ``ROOT/unlabeled/`` are the unlabeled queue, and an
image labeled as class C goes to ``<class root>/C/``: ROOT, or the image's own split folder,
or for unlabeled images and new classes the train folder whatever its alias is.
Torch-free and Qt-free: the scanner, the labeling journal and the app all ask this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trainer.images import is_image_file
from trainer.names import name_key

FOLDERS, SPLITS = "folders", "splits"  # the two layout kinds
SPLIT_NAMES = ("train", "val", "test")
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
#: Folders that hold images without a class yet (the app's labeling queue).
UNLABELED_NAMES = frozenset({"unlabeled", "unlabelled", "_unlabeled"})
#: Where the review's "keep one" puts the other near-duplicates: never a class, never scanned.
SET_ASIDE = "_duplicates"
#: Files the operating system leaves in folders (Windows' thumbnail caches, folder settings):
#: never the user's, so never reported as "not a photo".
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"})


def walk_images(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder``, sorted; hidden entries skipped, symlink loops cut."""
    return [p for p in walk_files(folder, recursive) if is_image_file(p)]


def walk_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Visible files under ``folder``, sorted; hidden entries skipped, symlink loops cut."""
    folder = Path(folder)
    if not recursive:  # a dangling link is listed: it gets its reason, it is not silently left out
        return sorted(p for p in entries(folder) if (p.is_file() or _dangling(p)) and not p.name.startswith("."))
    found: list[Path] = []
    seen: set[str] = set()
    top = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen or _encloses(real, top):  # a symlink back up the tree: don't go round, don't climb out
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath, f) for f in filenames if not f.startswith("."))
    return sorted(found)


def _dangling(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _encloses(real: str, top: str) -> bool:
    """Whether folder ``real`` holds folder ``top`` (both real paths): a link to it leads back up."""
    return real != top and top.startswith(real.rstrip(os.sep) + os.sep)


def entries(folder: Path) -> list[Path]:
    """Sorted entries of ``folder``; an unreadable folder has none."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def subdirs(folder: Path) -> list[Path]:
    """Visible subfolders of ``folder``, sorted."""
    return [p for p in entries(folder) if p.is_dir() and not p.name.startswith(".")]


def is_unlabeled_dir(name: str) -> bool:
    return name.lower() in UNLABELED_NAMES


def find_split_dirs(root: Path) -> dict[str, Path]:
    """``{"train": ..., "val": ..., "test": ...}`` for an export layout, else ``{}``."""
    found: dict[str, Path] = {}
    for d in subdirs(root):
        split = SPLIT_ALIASES.get(d.name.lower())
        if split and split not in found:
            found[split] = d
    return found if "train" in found else {}


def class_dirs(folder: Path) -> list[Path]:
    """The class folders directly under ``folder`` (hidden, unlabeled and set-aside folders are not)."""
    return [d for d in subdirs(folder) if not is_unlabeled_dir(d.name) and d.name.lower() != SET_ASIDE]


def class_folder(class_root: Path, label: str) -> Path:
    """Where class ``label`` lives under ``class_root``: ``label``'s own folder, else the one whose
    name differs only in case (``Car`` for ``car``: one folder on Windows and macOS, so on Linux
    too), else a new ``class_root/label``."""
    folders = subdirs(class_root)
    exact = [d for d in folders if d.name == label]
    same = [d for d in folders if name_key(d.name) == name_key(label)]
    return (exact or same or [class_root / label])[0]


@dataclass(frozen=True)
class Layout:
    """A dataset folder's layout, read once from disk; every question about places is a method."""

    root: Path
    split_dirs: dict[str, Path]  # empty for the folders layout

    @property
    def kind(self) -> str:
        return SPLITS if self.split_dirs else FOLDERS

    def class_roots(self) -> list[tuple[str, Path]]:
        """``(split, folder)`` pairs whose subfolders are classes; split is "" in ``folders``."""
        return list(self.split_dirs.items()) if self.split_dirs else [("", self.root)]

    def train_root(self) -> Path:
        """Where unlabeled images and new classes go: the train folder (any alias), else ROOT."""
        return self.split_dirs.get("train", self.root)

    def unlabeled(self) -> list[Path]:
        """The labeling queue: images loose in ROOT and anywhere under ``ROOT/unlabeled/``."""
        loose = walk_images(self.root, recursive=False)
        for d in subdirs(self.root):
            if is_unlabeled_dir(d.name):
                loose.extend(walk_images(d))
        return sorted(loose)

    def not_photos(self) -> list[Path]:
        """Files in the class and unlabeled folders that are not images (notes, videos,
        annotation files): never used, so worth saying. Files loose in ROOT (an export's
        README, data.yaml) are the folder's own papers and are not listed."""
        folders = [d for _, root in self.class_roots() for d in class_dirs(root)]
        folders += [d for d in subdirs(self.root) if is_unlabeled_dir(d.name)]
        return [p for d in folders for p in walk_files(d)
                if not is_image_file(p) and p.name.lower() not in SYSTEM_FILES]

    def is_unlabeled(self, image: Path) -> bool:
        rel = Path(image).relative_to(self.root)
        return len(rel.parts) == 1 or is_unlabeled_dir(rel.parts[0])

    def _split_of(self, image: Path) -> tuple[str, Path] | None:
        for split, folder in self.split_dirs.items():
            if Path(image).is_relative_to(folder):
                return split, folder
        return None

    def class_root(self, image: Path) -> Path:
        """The folder whose subfolders are the classes ``image`` is (or will be) among."""
        found = None if self.is_unlabeled(image) else self._split_of(image)
        return found[1] if found else self.train_root()

    def set_aside_dir(self) -> Path:
        """Where images put aside (duplicates) go: ``ROOT/_duplicates/``, ignored by every scan."""
        return self.root / SET_ASIDE

    def destination(self, image: Path, label: str) -> Path:
        """The folder ``image`` moves to when it is labeled as ``label``."""
        return class_folder(self.class_root(image), label)

    def describe(self, image: Path) -> tuple[str | None, str]:
        """``(class, split)`` of an image by its place; class None when unlabeled, split "" if none."""
        if self.is_unlabeled(image):
            return None, ""
        split, folder = self._split_of(image) or ("", self.root)
        return Path(image).relative_to(folder).parts[0], split

    def member_key(self, rel: str) -> str:
        """What identifies an image across relabels: its file name, and its split folder in an
        export. ``rel`` is a ``/``-separated path relative to ROOT."""
        parts = rel.split("/")
        if self.split_dirs and len(parts) >= 3:
            return f"{parts[0]}/{parts[-1]}"
        return parts[-1]


def detect(root: str | os.PathLike[str]) -> Layout:
    """The layout of the folder ``root`` (as given; resolve it first for stable paths)."""
    root = Path(root)
    return Layout(root, find_split_dirs(root))
