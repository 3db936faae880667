"""The runs folder, shared by the Train, Runs and Classify pages (they subscribe to it).

It owns the folder and the one :class:`RunsModel` listing it; ``refresh`` re-reads the
folder once (after every job, on F5) and tells every subscriber.
"""

from __future__ import annotations

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

    def set_runs_dir(self, path: str | Path) -> None:
        self.runs_dir = Path(path).expanduser().resolve()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.refresh()

    def refresh(self) -> None:
        self.about_to_refresh.emit()
        self.model.refresh(self.runs_dir)
        self.changed.emit()

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        return list(self.model.runs)
