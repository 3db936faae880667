"""Relabeling by moving files between class folders, journaled so every move can be undone.

Where a labeled image goes is :mod:`trainer.layout`'s rule. No Qt here: the journal is a
JSON-lines file in the dataset root, so an undo works even after the app restarts. A move
never overwrites: a taken name gets ``-1``, ``-2``, ...
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from trainer.files import unique_path
from trainer.layout import detect

JOURNAL = ".vehicleapp-journal.jsonl"


@dataclass(frozen=True)
class Move:
    src: Path
    dest: Path


class LabelingError(ValueError):
    """A move that cannot be done; the message says why."""


def check_class_name(label: str) -> None:
    if not label or "/" in label or "\\" in label or label.startswith("."):
        raise LabelingError(f"invalid class name: {label!r}")


class Journal:
    """Moves images between class folders and remembers each move (persisted)."""

    def __init__(self, dataset_root: Path) -> None:
        self.root = Path(dataset_root)
        self.path = self.root / JOURNAL

    def moves(self) -> list[Move]:
        """Moves not yet undone, oldest first."""
        if not self.path.is_file():
            return []
        entries: list[Move] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            move = Move(self.root / rec["src"], self.root / rec["dest"])
            if rec["op"] == "move":
                entries.append(move)
            elif rec["op"] == "undo" and entries:
                entries.pop()
        return entries

    def _append(self, op: str, move: Move) -> None:
        rec = {"op": op, "src": move.src.relative_to(self.root).as_posix(),
               "dest": move.dest.relative_to(self.root).as_posix(), "time": time.time()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def assign(self, image: Path, label: str) -> Move:
        """Move ``image`` into the class folder ``label`` (created if new)."""
        check_class_name(label)
        image = Path(image)
        if not image.is_file():
            raise LabelingError(f"{image.name} no longer exists")
        folder = detect(self.root).destination(image, label)
        if image.parent == folder:
            raise LabelingError(f"{image.name} is already in {label}")
        folder.mkdir(parents=True, exist_ok=True)
        move = Move(image, unique_path(folder / image.name))
        self._append("move", move)  # journal first: a crash after this is still undoable
        os.replace(move.src, move.dest)
        return move

    def undo(self) -> Move | None:
        """Move the last moved image back; returns the reversed move or None."""
        moves = self.moves()
        if not moves:
            return None
        last = moves[-1]
        if not last.dest.is_file():
            self._append("undo", last)
            raise LabelingError(f"{last.dest.name} was moved or deleted outside the app")
        back = unique_path(last.src)
        last.src.parent.mkdir(parents=True, exist_ok=True)
        self._append("undo", last)
        os.replace(last.dest, back)
        return Move(last.dest, back)

    def add_class(self, label: str) -> Path:
        """Create an (empty) class folder beside the others (in the train folder of an export)."""
        check_class_name(label)
        folder = detect(self.root).train_root() / label
        folder.mkdir(parents=True, exist_ok=True)
        return folder
