"""The open dataset, shared by the Dataset and Labeling pages (they subscribe to its signals).

Scans run on the thread pool; moves go through the journal in steps that can be undone and redone.
Ctrl+Z takes back the last step of either kind: a move, or a :class:`SideStep` (Review's "not an
issue" mark), which lives in this session's memory beside the journal.
Labeling needs the dataset's lock (:mod:`trainer.datalock`): when another window or a
``trainer`` job holds it, or the folder is read-only, the dataset opens read-only and says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.datalock import DatasetLock
from trainer.datasets import Entry, browse
from trainer.files import is_writable
from trainer.images import find_unreadable
from trainer.layout import SET_ASIDE, detect
from trainer.pathtext import for_display
from trainer.wording import count_of
from vehicleapp.labeling import Journal, LabelingError, Move, Vanished
from vehicleapp.workers import run_in_background

READ_ONLY = "this folder is read-only, so photos cannot be moved between class folders"


@dataclass(frozen=True)
class SideStep:
    """An undoable step that moves no file (a review mark): each callable does it and says so."""

    undo: Callable[[], str]
    redo: Callable[[], str]


class DatasetState(QObject):
    loading = Signal(str)
    loaded = Signal()  # root, classes and entries replaced
    failed = Signal(str)
    # Paths go as Python objects: a Qt string cannot hold a file name that is not UTF-8.
    moved = Signal(object, object)  # old Path, new Entry
    replayed = Signal(object)  # [new Path]: the photos an undo or redo just moved
    classes_changed = Signal()
    problems = Signal(object)  # {path: reason} from the background check
    message = Signal(str)
    read_only_changed = Signal()  # labeling became possible (the other window closed) or impossible

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root: Path | None = None
        self.layout = ""
        self.classes: list[str] = []
        self.entries: list[Entry] = []
        self.journal: Journal | None = None
        self.unreadable: dict[str, str] = {}
        self.not_photos: list[Path] = []  # files in class folders that are not images: never used
        self.lock: DatasetLock | None = None
        self.read_only = ""  # why labeling is off; "" when this window may move photos
        self._generation = 0
        self._refreshing = False
        # Side steps with the journal's count of done steps when each was taken: Ctrl+Z undoes a
        # side step when no move was made after it, else the move first.
        self._side: list[tuple[int, SideStep]] = []
        self._side_redo: list[tuple[int, SideStep]] = []

    def open(self, root: str | Path) -> None:
        """Scan ``root`` in the background; ``loaded`` or ``failed`` follows."""
        root = Path(root).expanduser().resolve()
        self._generation += 1
        gen = self._generation
        self.loading.emit(str(root))
        run_in_background(lambda: browse(root), lambda res: self._on_browsed(gen, root, res),
                          self.failed.emit)

    def _on_browsed(self, gen: int, root: Path, result: tuple) -> None:
        if gen != self._generation:
            return  # another folder was opened meanwhile
        self.close()
        if root != self.root:
            self._side, self._side_redo = [], []
        self.root = root
        self.layout, self.classes, self.entries = result
        self.journal = Journal(root)
        self.read_only = self._take_lock(root)
        if not self.read_only and self._recover(self.journal):
            self.open(root)  # the finished step moved images: scan again
            return
        self.unreadable, self.not_photos = {}, []
        self.loaded.emit()
        self._check(gen)

    def _check(self, gen: int) -> None:
        paths, layout = [e.path for e in self.entries], detect(self.root or Path("."))
        run_in_background(lambda: (find_unreadable(paths), layout.not_photos()),
                          lambda res: self._on_checked(gen, *res), self.failed.emit)

    def refresh(self) -> None:
        """Pick up images another program (file manager, sync client) added, deleted or renamed:
        scan again in the background and, when the files differ, show the new list."""
        if self.root is None or self._refreshing:
            return
        root, gen = self.root, self._generation
        self._refreshing = True

        def done(result: tuple) -> None:
            self._refreshing = False
            if gen != self._generation or {e.path for e in result[2]} == {e.path for e in self.entries}:
                return
            self.layout, self.classes, self.entries = result
            self.unreadable = {k: v for k, v in self.unreadable.items() if Path(k).exists()}
            self.loaded.emit()
            self.message.emit("Images were added, removed or renamed outside the app: the list is up to date.")
            self._check(gen)

        def failed(message: str) -> None:
            self._refreshing = False
            if gen == self._generation:
                self.message.emit(for_display(f"The dataset folder cannot be read any more: {message}"))

        run_in_background(lambda: browse(root), done, failed)

    def _take_lock(self, root: Path) -> str:
        """Take the dataset's lock; the reason labeling is off when that is not possible."""
        if not is_writable(root):
            return READ_ONLY
        lock = DatasetLock(root, "vehicleapp")
        if not lock.acquire():
            return f"{lock.holder()} is labeling this folder, so it is open read-only here"
        self.lock = lock
        return ""

    def _recover(self, journal: Journal) -> bool:
        """Finish a step a crash interrupted (the lock holder only); True when images moved."""
        try:
            moves = journal.recover()
        except OSError as exc:
            self.message.emit(for_display(f"An interrupted step could not be finished: {exc}"))
            return False
        if moves is None:
            return False
        self.message.emit(f"The last step was interrupted (the app closed mid-way); it is finished now: "
                          f"{count_of(len(moves), 'image')} in place  (Ctrl+Z undoes)")
        return bool(moves)

    def retry_lock(self) -> bool:
        """When read-only because another program held the lock: try again (on window focus);
        True when labeling just became possible."""
        if self.root is None or self.lock is not None or not self.read_only:
            return False
        self.read_only = self._take_lock(self.root)
        if not self.read_only:
            self.read_only_changed.emit()
            self.message.emit("The other window closed this dataset: labeling is on here now.")
            if self.journal is not None and self._recover(self.journal):  # it may have been killed mid-step
                self.open(self.root)
        return not self.read_only

    def close(self) -> None:
        """Let go of the dataset's lock (on quit, or before opening another folder)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _on_checked(self, gen: int, failed: dict, not_photos: list[Path]) -> None:
        if gen == self._generation:
            self.unreadable, self.not_photos = failed, not_photos
            self.problems.emit(failed)

    def counts(self, readable: bool = False) -> dict[str, dict[str, int]]:
        """Labeled images per split and class; ``readable``: without the files the background
        check found unreadable (what training will use)."""
        out: dict[str, Counter] = {}
        bad = {str(k) for k in self.unreadable} if readable else set()
        for e in self.entries:
            if e.label and str(e.path) not in bad:
                out.setdefault(e.split, Counter())[e.label] += 1
        return {split: {c: cnt.get(c, 0) for c in self.classes} for split, cnt in sorted(out.items())}

    def unlabeled(self) -> list[Entry]:
        return [e for e in self.entries if e.label is None]

    def _entry_for(self, path: Path) -> Entry:
        assert self.root is not None
        return Entry(path, *detect(self.root).describe(path))

    def _apply(self, old: Path, new: Path) -> None:
        entry = self._entry_for(new)
        self.entries = [entry if e.path == old else e for e in self.entries]
        if entry.label and entry.label not in self.classes:
            self.classes = sorted({*self.classes, entry.label})
            self.classes_changed.emit()
        self.moved.emit(old, entry)

    def _apply_moves(self, moves: list[Move]) -> None:
        """Show the moves; a step that involves set-aside duplicates rescans the folder."""
        aside = detect(self.root).set_aside_dir() if self.root else None
        if aside and any(aside in (m.src.parent, m.dest.parent) for m in moves):
            self.open(self.root)  # images leave or re-enter the dataset: rescan
            return
        for m in moves:
            self._apply(m.src, m.dest)

    def _step(self, action: Callable[[Journal], list[Move] | None], done: Callable[[list[Move]], str],
              nothing: str = "") -> list[Move]:
        """Run one journal step; the moves it made, none (with a message) when it can't or there
        is nothing to do."""
        if self.journal is None:
            return []
        if self.read_only:
            self.message.emit(f"Nothing moved: {self.read_only}.")
            return []
        try:
            moves = action(self.journal)
        except (LabelingError, OSError) as exc:
            self.message.emit(for_display(str(exc)))
            if isinstance(exc, (Vanished, FileNotFoundError)):
                self.refresh()  # another program moved images: show the folder as it is now
            return []
        if not moves:
            if nothing:
                self.message.emit(nothing)
            return []
        self._apply_moves(moves)
        self.message.emit(for_display(done(moves)))
        return moves

    def assign(self, path: str | Path, label: str) -> bool:
        """Move an image into class ``label``; False (with a message) when it can't."""
        return self.assign_many([path], label)

    def assign_many(self, paths: Iterable[str | Path], label: str) -> bool:
        """Move images into class ``label`` as one undoable step; those already in it stay
        (unless every one is: then the journal says so)."""
        paths = [Path(p) for p in paths]
        labels = {e.path: e.label for e in self.entries}
        return self.relabel((p, label) for p in [p for p in paths if labels.get(p) != label] or paths)

    def relabel(self, pairs: Iterable[tuple[str | Path, str]]) -> bool:
        """Move each image into its class, all as one undoable step."""
        pairs = [(Path(p), label) for p, label in pairs]
        labels = sorted({label for _, label in pairs})

        def said(moves: list[Move]) -> str:
            what = moves[0].src.name if len(moves) == 1 else f"{len(moves)} images"
            return f"{what} → {', '.join(labels)}  (Ctrl+Z undoes)"

        return self._new_step(lambda j: j.relabel(pairs), said)

    def set_aside(self, paths: Iterable[str | Path]) -> bool:
        """Move images into ``_duplicates/`` (kept, never scanned) as one undoable step."""
        paths = [Path(p) for p in paths]
        return self._new_step(lambda j: j.set_aside(paths),
                          lambda moves: f"{len(moves)} put aside in {SET_ASIDE}/  (Ctrl+Z undoes)")

    def _new_step(self, action: Callable[[Journal], list[Move] | None], done: Callable[[list[Move]], str]) -> bool:
        """A new move step: like the journal's redo list, the side steps undone before it go."""
        moved = bool(self._step(action, done))
        if moved:
            self._side_redo.clear()
        return moved

    def _done_count(self) -> int:
        return len(self.journal.history()[0]) if self.journal is not None else 0

    def record(self, step: SideStep) -> None:
        """A step that moved no file was just taken (it is done already): Ctrl+Z can take it back."""
        self._side.append((self._done_count(), step))
        self._side_redo.clear()

    def undo(self) -> bool:
        """Take back the last step: a side step taken after the last move, else that move."""
        if self._side and self._side[-1][0] >= self._done_count():
            self._side_redo.append(entry := self._side.pop())
            self.message.emit(for_display(f"undone: {entry[1].undo()}"))
            return True
        return self._replay(Journal.undo, "undone", "nothing to undo")

    def redo(self) -> bool:
        """Repeat the last undone step, in the order they were taken."""
        if self._side_redo and self._side_redo[-1][0] <= self._done_count():
            self._side.append(entry := self._side_redo.pop())
            self.message.emit(for_display(f"redone: {entry[1].redo()}"))
            return True
        return self._replay(Journal.redo, "redone", "nothing to redo")

    def _replay(self, action: Callable[[Journal], list[Move] | None], word: str, nothing: str) -> bool:
        """An undo or redo of a journal step; ``replayed`` then names the photos it moved."""
        moved = self._step(action, lambda moves: f"{word}: {_where(moves)}", nothing)
        if moved:
            self.replayed.emit([m.dest for m in moved])
        return bool(moved)

    def add_class(self, name: str) -> bool:
        if self.journal is None or self.root is None or self.read_only:
            return False
        try:
            self.journal.add_class(name)
        except (LabelingError, OSError) as exc:
            self.message.emit(for_display(str(exc)))
            return False
        if name not in self.classes:
            self.classes = sorted({*self.classes, name})
            self.classes_changed.emit()
        return True


def _where(moves: list[Move]) -> str:
    """Where an undo or redo put the photos: "car_1.jpg is in truck", "5 images are in car" (a
    redo is no move "back")."""
    if len(moves) == 1:
        return f"{moves[0].dest.name} is in {moves[0].dest.parent.name}"
    folders = sorted({m.dest.parent.name for m in moves})
    where = ", ".join(folders[:3]) + (f" and {len(folders) - 3} more folders" if len(folders) > 3 else "")
    return f"{len(moves)} images are in {where}"
