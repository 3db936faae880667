"""Relabeling by moving files between class folders, journaled so every step can be undone
and redone.

A step is one user action — one image labeled, a bulk "accept all", a "keep one" that puts
duplicates aside — and undo/redo take back or repeat a whole step. Where a labeled image goes
is :mod:`trainer.layout`'s rule. No Qt here: the journal is a JSON-lines file in the dataset
root, written before any file moves, so undo works after a restart or a crash. A move never
overwrites: a taken name gets ``-1``, ``-2``, ... Names follow :mod:`trainer.names` on every
OS (no reserved Windows names; names differing only in case are one name), and the journal's
paths are ``/``-separated relative paths, so a dataset and its history move between OSes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.files import FreeNames
from trainer.layout import class_folder, detect
from trainer.names import name_problem
from trainer.pathtext import join_relative

JOURNAL = ".vehicleapp-journal.jsonl"


@dataclass(frozen=True)
class Move:
    src: Path
    dest: Path


class LabelingError(ValueError):
    """A move that cannot be done; the message says why."""


def check_class_name(label: str) -> None:
    """A class is a folder: its name must work on every OS (and not be hidden)."""
    problem = name_problem(label) or ("a class name cannot start with a dot" if label.startswith(".") else None)
    if problem:
        raise LabelingError(f"invalid class name: {problem}")


class Journal:
    """Moves images in steps and remembers each step (persisted), for undo and redo."""

    def __init__(self, dataset_root: Path) -> None:
        self.root = Path(dataset_root)
        self.path = self.root / JOURNAL

    # -- the log --------------------------------------------------------------------------
    def _records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _moves(self, pairs: Iterable[list[str]]) -> list[Move]:
        try:
            return [Move(join_relative(self.root, src), join_relative(self.root, dest)) for src, dest in pairs]
        except ValueError as exc:  # e.g. a Linux name with a backslash, opened on Windows
            raise LabelingError(f"{JOURNAL}: {exc}") from exc

    def history(self) -> tuple[list[list[Move]], list[list[Move]]]:
        """``(done, undone)``: steps that can be undone (oldest first) and redone (next last)."""
        done: list[list[Move]] = []
        undone: list[list[Move]] = []
        for rec in self._records():
            op = rec["op"]
            if op in ("move", "step"):  # "move": one-image steps of older journals
                done.append(self._moves(rec["moves"]) if op == "step" else self._moves([[rec["src"], rec["dest"]]]))
                undone.clear()
            elif op == "undo" and done:
                step = done.pop()
                performed = self._moves(rec["moves"]) if "moves" in rec else [Move(m.dest, m.src) for m in step]
                undone.append([Move(p.dest, p.src) for p in reversed(performed)])  # redo: back where it was
            elif op == "redo" and undone:
                undone.pop()
                done.append(self._moves(rec["moves"]))
        return done, undone

    def moves(self) -> list[Move]:
        """Every move of the steps not undone, oldest first."""
        return [m for step in self.history()[0] for m in step]

    def _append(self, op: str, moves: list[Move]) -> None:
        rec = {"op": op, "moves": [[m.src.relative_to(self.root).as_posix(), m.dest.relative_to(self.root).as_posix()]
                                   for m in moves], "time": time.time()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _perform(self, op: str, planned: list[tuple[Path, Path]]) -> list[Move]:
        """Journal first (a crash after this is still undoable), then move; names never collide."""
        free = FreeNames()
        moves = [Move(src, free.claim(target)) for src, target in planned]
        self._append(op, moves)
        for m in moves:
            m.dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(m.src, m.dest)
        return moves

    # -- steps ----------------------------------------------------------------------------
    def assign(self, image: Path, label: str) -> Move:
        """Move ``image`` into the class folder ``label`` (created if new): one step."""
        return self.assign_many([image], label)[0]

    def assign_many(self, images: Iterable[Path], label: str) -> list[Move]:
        """Move every image into class ``label`` as ONE step (undone and redone together)."""
        return self.relabel((image, label) for image in images)

    def relabel(self, pairs: Iterable[tuple[Path, str]]) -> list[Move]:
        """Move each image into its class as ONE step (e.g. "accept all suggestions ≥ 90%")."""
        layout = detect(self.root)
        planned = []
        for image, label in pairs:
            check_class_name(label)
            image = Path(image)
            if not image.is_file():
                raise LabelingError(f"{image.name} no longer exists")
            folder = layout.destination(image, label)
            if image.parent == folder:
                raise LabelingError(f"{image.name} is already in {label}")
            planned.append((image, folder / image.name))
        return self._perform("step", planned)

    def set_aside(self, images: Iterable[Path]) -> list[Move]:
        """Move images into ``ROOT/_duplicates/`` (never deleted, never scanned) as one step."""
        folder = detect(self.root).set_aside_dir()
        planned = [(Path(i), folder / Path(i).name) for i in images]
        missing = [src.name for src, _ in planned if not src.is_file()]
        if missing:
            raise LabelingError(f"{missing[0]} no longer exists")
        return self._perform("step", planned)

    def undo(self) -> list[Move] | None:
        """Take back the last step; returns the moves made (files moved away outside the app
        are left where they are), or None when there is nothing to undo."""
        done, _ = self.history()
        if not done:
            return None
        present = [m for m in reversed(done[-1]) if m.dest.is_file()]
        moves = self._perform("undo", [(m.dest, m.src) for m in present])
        if not moves:
            raise LabelingError(f"{done[-1][0].dest.name} was moved or deleted outside the app")
        return moves

    def redo(self) -> list[Move] | None:
        """Repeat the last undone step; None when there is nothing to redo."""
        _, undone = self.history()
        if not undone:
            return None
        present = [m for m in undone[-1] if m.src.is_file()]
        moves = self._perform("redo", [(m.src, m.dest) for m in present])
        if not moves:
            raise LabelingError(f"{undone[-1][0].src.name} was moved or deleted outside the app")
        return moves

    def add_class(self, label: str) -> Path:
        """Create an (empty) class folder beside the others (in the train folder of an export)."""
        check_class_name(label)
        folder = class_folder(detect(self.root).train_root(), label)
        if folder.name != label:
            raise LabelingError(f"class '{folder.name}' already exists: '{label}' differs only in case, "
                                "and on Windows and macOS the two are one folder")
        folder.mkdir(parents=True, exist_ok=True)
        return folder
