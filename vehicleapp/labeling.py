"""Relabeling by moving files between class folders, journaled so every step can be undone
and redone.

A step is one user action — one image labeled, a bulk "accept all", a "keep one" that puts
duplicates aside — and undo/redo take back or repeat a whole step. Where a labeled image goes
is :mod:`trainer.layout`'s rule. No Qt here: the journal is a JSON-lines file in the dataset
root. A step is written whole before any file moves and a ``done`` line follows its last move
(write-ahead), so a crash or a kill in the middle of a bulk move is finished by
:meth:`Journal.recover` on the next open: every image exists exactly once, the journal says
what happened and undo takes the step back. A move never overwrites: a taken name gets
``-1``, ``-2``, ... Names follow :mod:`trainer.names` on every OS (no reserved Windows names;
names differing only in case are one name), and the journal's paths are ``/``-separated
relative paths, so a dataset and its history move between OSes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.atomic import append_line
from trainer.files import FreeNames
from trainer.layout import class_folder, detect
from trainer.names import name_problem
from trainer.pathtext import join_relative

JOURNAL = ".vehicleapp-journal.jsonl"
OPS = ("move", "step", "undo", "redo")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    src: Path
    dest: Path


class LabelingError(ValueError):
    """A move that cannot be done; the message says why."""


class Vanished(LabelingError):
    """An image was moved or deleted by another program (the message names it)."""


def class_name_problem(label: str) -> str | None:
    """Why ``label`` cannot be a class, or None: a class is a folder whose name must work on every
    OS (the dataset may move to Windows) and not be hidden."""
    return name_problem(label) or ("a class name cannot start with a dot" if label.startswith(".") else None)


def check_class_name(label: str) -> None:
    problem = class_name_problem(label)
    if problem:
        raise LabelingError(f"invalid class name: {problem}")


class Journal:
    """Moves images in steps and remembers each step (persisted), for undo and redo."""

    def __init__(self, dataset_root: Path) -> None:
        self.root = Path(dataset_root)
        self.path = self.root / JOURNAL

    # -- the log --------------------------------------------------------------------------
    def _lines(self) -> list[dict[str, Any]]:
        """Every whole record (a line cut off by a crash or a full disk is skipped)."""
        if not self.path.is_file():
            return []
        records = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(), 1):
            try:
                rec = json.loads(line) if line.strip() else None
            except ValueError:
                log.warning("%s: line %d is cut off; skipped", self.path, n)
                continue
            if isinstance(rec, dict) and "op" in rec:
                records.append(rec)
        return records

    def _entries(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """``(finished, pending)``: the step records with the moves they really made (a ``done``
        line may say fewer than planned), and the last step when no ``done`` line followed it
        (interrupted). Journals written before ``done`` lines existed count as finished."""
        finished: list[dict[str, Any]] = []
        pending: dict[str, Any] | None = None
        for rec in self._lines():
            if rec["op"] in OPS:
                if pending is not None:  # never recovered (an older app went on): as planned
                    finished.append(pending)
                pending = rec
            elif rec["op"] == "done" and pending is not None:
                finished.append({**pending, "moves": rec["moves"]} if "moves" in rec else pending)
                pending = None
        if pending is not None and pending.get("v") != 2:  # an older journal: no done lines
            finished.append(pending)
            pending = None
        return finished, pending

    def _records(self) -> list[dict[str, Any]]:
        return self._entries()[0]

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

    def _pairs(self, moves: list[Move]) -> list[list[str]]:
        return [[m.src.relative_to(self.root).as_posix(), m.dest.relative_to(self.root).as_posix()] for m in moves]

    def _append(self, op: str, moves: list[Move]) -> None:
        rec = {"op": op, "moves": self._pairs(moves), "time": time.time(), "v": 2}
        append_line(self.path, json.dumps(rec))

    def _finish(self, moves: list[Move], **extra: Any) -> None:
        append_line(self.path, json.dumps({"op": "done", "moves": self._pairs(moves), **extra}))

    def _perform(self, op: str, planned: list[tuple[Path, Path]]) -> list[Move]:
        """Journal the whole step first, move, then say it is done (a crash in between is
        finished by :meth:`recover`); names never collide."""
        free = FreeNames()
        moves = [Move(src, free.claim(target)) for src, target in planned]
        self._append(op, moves)
        made: list[Move] = []
        try:
            for m in moves:
                m.dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(m.src, m.dest)
                made.append(m)
        except OSError:
            self._finish(made)  # the journal says exactly what moved before the failure
            raise
        self._finish(made)
        return made

    def recover(self) -> list[Move] | None:
        """Finish a step a crash interrupted: the moves not made yet are made (those whose image
        vanished meanwhile are left out), and the journal records what the step did in the end.
        None when no step was interrupted. Call it only while holding the dataset's lock."""
        _, pending = self._entries()
        if pending is None:
            return None
        made: list[Move] = []
        for m in self._moves(pending["moves"]):
            if m.dest.exists() and not m.src.exists():
                made.append(m)  # moved before the crash
            elif m.src.is_file() and not m.dest.exists():
                m.dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(m.src, m.dest)
                made.append(m)
        self._finish(made, recovered=True)
        return made

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
                raise Vanished(f"{image.name} no longer exists (moved or deleted outside the app)")
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
            raise Vanished(f"{missing[0]} no longer exists (moved or deleted outside the app)")
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
            raise Vanished(f"{done[-1][0].dest.name} was moved or deleted outside the app")
        return moves

    def redo(self) -> list[Move] | None:
        """Repeat the last undone step; None when there is nothing to redo."""
        _, undone = self.history()
        if not undone:
            return None
        present = [m for m in undone[-1] if m.src.is_file()]
        moves = self._perform("redo", [(m.src, m.dest) for m in present])
        if not moves:
            raise Vanished(f"{undone[-1][0].src.name} was moved or deleted outside the app")
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
