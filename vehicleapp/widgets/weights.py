"""The Train page's backbone weights choice, with each backbone's weights state shown before a
job starts: ImageNet weights downloaded / will download N MB on first use / not available
offline, or whether a chosen file fits the backbone.

No torch here: torch's cache path comes from :mod:`trainer.hub`, the connection is checked
off the GUI thread, and a chosen file is checked by a ``trainer check-weights`` child job.
Ensembles and the reference sweep need one file per backbone, so there is a file row for each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from trainer import hub
from trainer.config import help_of
from trainer.hub import Availability
from trainer.registry import BACKBONES
from vehicleapp import dialogs
from vehicleapp.commands import check_weights_args
from vehicleapp.jobs import Job
from vehicleapp.workers import run_in_background

IMAGENET, NONE, FILE = "imagenet", "none", "file"
MODES = (("ImageNet (recommended)", IMAGENET), ("None (from scratch)", NONE), ("From a file…", FILE))
RECHECK_S = 60.0  # how long a connection check is trusted


class WeightsChooser(QWidget):
    """Mode (ImageNet / none / files), one file row per backbone and a state line per backbone."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backbones: tuple[str, ...] = tuple(BACKBONES)
        self.online: bool | None = None
        self._checked_at = -RECHECK_S
        self.fits: dict[str, dict[str, Any]] = {}  # file -> {backbone: {matched, total, reason}} or {error}
        self.probes: dict[str, Job] = {}
        self.spare_source: Callable[[], QProcess | None] = lambda: None  # the window's runner lends its spare
        self.mode = QComboBox()
        for label, value in MODES:
            self.mode.addItem(label, value)
        self.mode.setToolTip(help_of("weights"))
        self.mode.currentIndexChanged.connect(self._refresh)
        self.files: dict[str, QLineEdit] = {}
        self._rows: dict[str, QWidget] = {}
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.state.linkActivated.connect(self._on_link)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mode)
        for name in BACKBONES:
            layout.addWidget(self._file_row(name))
        layout.addWidget(self.state)
        self.check_connection()

    def _file_row(self, name: str) -> QWidget:
        info = BACKBONES[name]
        edit = QLineEdit(placeholderText=f"{info.title} weights (.pth)")
        edit.setToolTip(f"A PyTorch state_dict file for the {info.title} backbone")
        edit.editingFinished.connect(lambda n=name: self._file_changed(n))
        button = QPushButton("Choose…")
        button.clicked.connect(lambda *_, n=name: self.choose_file(n))
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(QLabel(f"{info.title}:"))
        h.addWidget(edit, 1)
        h.addWidget(button)
        self.files[name], self._rows[name] = edit, row
        return row

    # -- the choice -----------------------------------------------------------------------
    def kind(self) -> str:
        return str(self.mode.currentData())

    def set_mode(self, kind: str) -> None:
        self.mode.setCurrentIndex(max(self.mode.findData(kind), 0))

    def file(self, backbone: str) -> str:
        return self.files[backbone].text().strip()

    def set_file(self, backbone: str, path: str) -> None:
        self.files[backbone].setText(path)
        self._file_changed(backbone)

    def set_backbones(self, backbones: Iterable[str]) -> None:
        """The backbones the current choice is for (a model's, or every one for the sweep)."""
        self.backbones = tuple(backbones)
        self._refresh()

    def spec(self, backbones: Iterable[str] | None = None) -> dict[str, str] | str:
        """The weights for :class:`TrainConfig`: a word, or a file per backbone (others: ImageNet)."""
        if self.kind() != FILE:
            return self.kind()
        files = {b: self.file(b) for b in (backbones or self.backbones) if self.file(b)}
        return files or IMAGENET

    def options(self) -> dict[str, Any]:
        return {"mode": self.kind(), "files": {b: self.file(b) for b in BACKBONES if self.file(b)}}

    def set_options(self, options: dict[str, Any]) -> None:
        for name, path in dict(options.get("files") or {}).items():
            if name in self.files and isinstance(path, str):
                self.set_file(name, path)
        self.set_mode(str(options.get("mode", IMAGENET)))

    def choose_file(self, backbone: str | None = None) -> bool:
        """Ask for a weights file (for ``backbone`` or the first one shown); True when one was chosen."""
        name = backbone or self.backbones[0]
        path = dialogs.ask_open_file(self, f"{BACKBONES[name].title} weights", "PyTorch weights (*.pth *.pt)")
        if not path:
            return False
        self.set_file(name, path)
        self.set_mode(FILE)
        return True

    # -- what is known about each backbone's weights --------------------------------------
    def problems(self, backbones: Iterable[str] | None = None) -> dict[str, str]:
        """``{backbone: why it has no usable weights}`` as far as is known now (in the app's words)."""
        out = {}
        for name in backbones or self.backbones:
            problem = self._problem(name)
            if problem:
                out[name] = problem
        return out

    def _problem(self, name: str) -> str:
        if self.kind() == NONE:
            return ""
        path = self.file(name) if self.kind() == FILE else ""
        if not path:
            if hub.availability(name, self.online) != Availability.OFFLINE:
                return ""
            return (f"its ImageNet weights ({BACKBONES[name].imagenet_mb:.0f} MB) are not on this computer "
                    "and cannot be downloaded (no internet)")
        fit = self.fits.get(path, {})
        if "error" in fit:
            return f"{Path(path).name}: {fit['error']}"
        if name in fit and not fit[name]["matched"]:
            reason = str(fit[name].get("reason", ""))
            if reason.startswith("no tensor") or not reason:
                return f"{Path(path).name} does not fit it (no tensor matches)"
            return reason.replace(str(Path(path).expanduser()), Path(path).name)
        return ""

    def _line(self, name: str) -> str:
        title = BACKBONES[name].title
        path = self.file(name) if self.kind() == FILE else ""
        if self._problem(name):
            return f"✗ {title}: {self._problem(name)}"
        if path:
            fit = self.fits.get(path, {}).get(name)
            if fit is None:
                return f"… {title}: checking {Path(path).name}…"
            return f"✓ {title}: {Path(path).name} fits ({fit['matched']} of {fit['total']} tensors)"
        state = hub.availability(name, self.online)
        prefix = "no file, so " if self.kind() == FILE else ""
        return {
            Availability.CACHED: f"✓ {title}: {prefix}ImageNet weights, downloaded",
            Availability.DOWNLOAD: f"↓ {title}: {prefix}ImageNet weights, will download "
                                   f"{BACKBONES[name].imagenet_mb:.0f} MB on first use",
            Availability.UNKNOWN: f"… {title}: {prefix}ImageNet weights, checking the connection…",
        }.get(state, "")

    def _refresh(self) -> None:
        kind = self.kind()
        for name, row in self._rows.items():
            row.setVisible(kind == FILE and name in self.backbones)
        if kind == NONE:
            text = "Random start: nothing to download, but slow to learn and needs many photos."
        else:
            text = "<br>".join(self._line(b) for b in self.backbones)
            if self.problems():
                text += ("<br><a href='file'>Choose a file…</a> &nbsp;·&nbsp; "
                         "<a href='none'>Train from scratch</a>")
        self.state.setText(text)
        self.state.setToolTip(f"ImageNet weights are kept in {hub.hub_dir() / 'checkpoints'}")
        self.changed.emit()

    def _on_link(self, link: str) -> None:
        if link == NONE:
            self.set_mode(NONE)
        else:
            self.choose_file(next(iter(self.problems()), None))

    # -- checks off the GUI thread --------------------------------------------------------
    def check_connection(self) -> None:
        """Ask (again, if the last answer is old) whether ImageNet weights can be downloaded."""
        if time.monotonic() - self._checked_at < RECHECK_S:
            return
        self._checked_at = time.monotonic()
        run_in_background(hub.reachable, self._on_online, lambda _msg: self._on_online(False))

    def _on_online(self, online: bool) -> None:
        self.online = bool(online)
        self._refresh()

    def _file_changed(self, name: str) -> None:
        path = self.file(name)
        if path and path not in self.fits and path not in self.probes:
            if not Path(path).expanduser().is_file():
                self.fits[path] = {"error": "file not found"}
            else:
                self._probe(path)
        self._refresh()

    def _probe(self, path: str) -> None:
        job = Job(check_weights_args(str(Path(path).expanduser())), "Checking weights", self,
                  spare=self.spare_source())  # warm: the answer comes in a fraction of a second
        job.event.connect(lambda e, p=path: self.fits.__setitem__(p, e["fit"]) if "fit" in e else None)
        job.finished.connect(lambda status, message, p=path: self._on_probed(p, message))
        self.probes[path] = job
        job.start()

    def _on_probed(self, path: str, message: str) -> None:
        self.probes.pop(path, None)
        self.fits.setdefault(path, {"error": message})
        self._refresh()

    def shutdown(self) -> None:
        """Stop file checks still running (closing the window)."""
        for job in list(self.probes.values()):
            job.kill_and_wait(2000)
