""""Why?": a Grad-CAM heatmap of where a run looked in a photo, made by a background job.

The button runs ``trainer explain RUN IMAGE --out DIR --events`` (torch stays in the child)
and hands the heatmap PNG to whoever shows the photo.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QPushButton

from trainer.config import user_data_dir
from trainer.protocol import Status, is_onnx
from vehicleapp.jobs import Job, JobRunner

TIP = "Where the model looked to decide (Grad-CAM), computed in the background"
ONNX_REASON = "an exported .onnx model cannot show where it looked; choose the run it came from (or its .pt file)"
NO_PHOTO = "Select a photo first: the heatmap shows where the model looked in it"


def explain_args(run: Path, image: Path, out_dir: Path) -> list[str]:
    return ["explain", str(run), str(image), "--out", str(out_dir), "--events"]


class WhyButton(QPushButton):
    ready = Signal(object)  # Path of the heatmap PNG (of the photo ``photo``)
    failed = Signal(str)

    def __init__(self, runner: JobRunner, run_of: Callable[[], str | None], image_of: Callable[[], Path | None],
                 parent: object = None) -> None:
        super().__init__("Why? (heatmap)")
        self.setToolTip(TIP)
        # a click leaves the keyboard where it was (the results table, the review grid): the
        # button turns itself off while it works, which would pass the focus on to whatever
        # widget is next, e.g. the label filter, where the next arrow key changed the filter
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.runner, self.run_of, self.image_of = runner, run_of, image_of
        self.job: Job | None = None
        self._busy = False  # a heatmap is being made
        self._out: Path | None = None
        self.photo: Path | None = None  # the photo of the last heatmap asked for
        self.clicked.connect(self.start)
        runner.finished.connect(self._on_finished)

    def update_state(self) -> None:
        """Off while a heatmap is made, and for an exported .onnx model (Grad-CAM needs the
        PyTorch model: the run, or its .pt file); the tooltip says why."""
        run = self.run_of()
        onnx = bool(run) and is_onnx(run)
        photo = self.image_of() is not None
        self.setEnabled(not self._busy and not onnx and photo)
        self.setToolTip(ONNX_REASON.capitalize() if onnx else TIP if photo else NO_PHOTO)

    def start(self) -> Job | None:
        run, image = self.run_of(), self.image_of()
        if not run or image is None:
            self.failed.emit("pick a trained run and a photo first")
            return None
        if is_onnx(run):
            self.failed.emit(ONNX_REASON)
            return None
        key = hashlib.sha1(os.fsencode(f"{run}|{image}")).hexdigest()[:16]
        self._out = user_data_dir() / "explain" / key
        job = self.runner.run(explain_args(Path(run), image, self._out), "Heatmap")
        if job is None:
            self.failed.emit("another job is running; stop it first")
            return None
        self.job, self.photo, self._busy = job, image, True
        self.update_state()
        return job

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self._busy = False
        self.update_state()
        png = self._out / f"{self.photo.stem}.png" if self._out and self.photo else None
        if status == Status.DONE and png is not None and png.is_file():
            self.ready.emit(png)
        else:
            self.failed.emit(message or "no heatmap was made")
