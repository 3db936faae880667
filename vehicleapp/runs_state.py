"""The runs folder, shared by the Train, Runs and Classify pages (they subscribe to it).

It owns the folder and the one :class:`RunsModel` listing it; ``refresh`` re-reads the
folder once (after every job, on F5) and tells every subscriber; ``refresh_if_changed`` (the
window regains focus, a page listing runs is shown) does so only when a listing of the folder
differs, so a run made meanwhile by the command line appears without F5.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.runs import RunInfo
from vehicleapp.models.runs_model import RunsModel


class RunsState(QObject):
    about_to_refresh = Signal()  # subscribers remember their selection
    changed = Signal()  # the folder or its runs changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs_dir: Path | None = None
        self.model = RunsModel(parent=self)
        self._seen: frozenset[tuple[str, int]] = frozenset()  # the folder as the last refresh found it

    def set_runs_dir(self, path: str | Path) -> None:
        self.runs_dir = Path(path).expanduser().resolve()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.refresh()

    def _listing(self) -> frozenset[tuple[str, int]]:
        """Each run folder's name and its config's change time (a new, finished or resumed run)."""
        if self.runs_dir is None:
            return frozenset()
        try:
            with os.scandir(self.runs_dir) as it:
                folders = [e.path for e in it if e.is_dir()]
        except OSError:
            return frozenset()
        return frozenset((f, _mtime(Path(f) / "config.json")) for f in folders)

    def refresh_if_changed(self) -> bool:
        """Refresh when the runs folder changed since the last refresh; True when it did."""
        if self.runs_dir is None or self._listing() == self._seen:
            return False
        self.refresh()
        return True

    def refresh(self) -> None:
        self._seen = self._listing()
        self.about_to_refresh.emit()
        self.model.refresh(self.runs_dir)
        self.changed.emit()

    def follow(self, run_dir: Path) -> None:
        """A running run's row, read again (its epochs so far); the whole folder when it is new."""
        if not self.model.update_run(Path(run_dir)):
            self.refresh()

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        return list(self.model.runs)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
