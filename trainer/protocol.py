"""The job protocol between the ``trainer`` CLI and its clients (the desktop app, scripts).

One module for every shared fact of a job: its exit codes, the status a job or run ends
with, the kinds of event it writes as JSON lines under ``--events``, and the exceptions
that mean "the user's own mistake" (exit 2) or "an optional package is missing" (exit 5).
Torch-free and Qt-free: both sides import it.
"""

from __future__ import annotations

import os
from enum import Enum, IntEnum
from pathlib import PurePath
from typing import Any, TypedDict


class Exit(IntEnum):
    """Exit codes of every ``trainer`` command."""

    OK = 0
    FAILED = 1  # one-line message on stderr, traceback in the log
    USAGE = 2  # the user's own mistake: bad argument, unusable input
    CANCELLED = 3
    VERIFY_FAILED = 4  # a verification failed (e.g. an export's parity check)
    MISSING_DEPENDENCY = 5  # an optional package is missing; the message says how to install it


class Status(str, Enum):
    """How a job (app side) or a run folder (``config.json``) stands."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    DAMAGED = "damaged"  # a run folder whose files cannot be read (RunInfo.problem says why)

    def __str__(self) -> str:
        return self.value


#: The portable stop channel (no POSIX signal needed, so it works on Windows too): a job started
#: with this flag stops within one batch, saves and exits ``Exit.CANCELLED`` when it reads the
#: line ``STOP_LINE`` on stdin, or when stdin closes (the app that started it is gone).
STOP_ON_STDIN = "--stop-on-stdin"
STOP_LINE = "stop"


def status_of_exit(code: int, cancel_requested: bool = False) -> Status:
    """The job status a finished child process's exit code means."""
    if code == Exit.OK:
        return Status.DONE
    if code == Exit.CANCELLED or cancel_requested:
        return Status.CANCELLED
    return Status.FAILED


class Event(str, Enum):
    """The ``event`` field of every JSON line a job writes."""

    START = "start"  # the job began: model, device, classes, counts, total ...
    FEATURES = "features"  # cached / total images before feature extraction
    PROGRESS = "progress"  # phase, done, total (throttled)
    EPOCH = "epoch"  # epochs, metrics
    CHECKPOINT = "checkpoint"  # path, epoch
    WARNING = "warning"  # message
    STAGE = "stage"  # stage, message: a run moves on (fine-tuning, test-time augmentation ...)
    BACKEND = "backend"  # backbone, choice, message: where a backbone runs (trainer.backends)
    COPIED = "copied"  # count, dest
    DONE = "done"  # message and the command's result (run_dir, out, report ...)
    CANCELLED = "cancelled"  # message
    ERROR = "error"  # message

    def __str__(self) -> str:
        return self.value


#: Phases of ``progress`` events, with the words the app shows for them.
PHASES = {
    "check": "Checking images",
    "features": "Computing features (once per image)",
    "train": "Training",
    "classify": "Classifying",
    "evaluate": "Evaluating",
    "tta": "Trying test-time augmentation",
    "calibrate": "Calibrating confidence",
    "explain": "Drawing heatmaps",
    "verify": "Checking the exported model",
}

#: The ``label`` a prediction gets when its confidence is below the rejection threshold
#: (never a class name: training refuses a class folder of that name).
UNKNOWN = "unknown"
#: The model files ``trainer export`` writes: an ONNX model, or one standalone checkpoint.
ONNX_SUFFIX = ".onnx"
CHECKPOINT_SUFFIXES = (".pt", ".pth")  # any torch zip file is tried too
MODEL_SUFFIXES = (ONNX_SUFFIX, *CHECKPOINT_SUFFIXES)


def is_onnx(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an exported ONNX model (it classifies; it has no run behind it)."""
    return PurePath(path).suffix.lower() == ONNX_SUFFIX


#: The product's one parity tolerance: an exported model must agree with PyTorch on at least
#: this share of top-1 answers, and no probability may differ by more than this.
PARITY_MIN_AGREEMENT = 0.999
PARITY_MAX_PROB_DIFF = 1e-3
#: bf16 inference must give the same top-1 class as fp32 on this share of photos
BF16_MIN_AGREEMENT = 0.995


class ProgressEvent(TypedDict, total=False):
    event: str
    time: float
    phase: str
    done: int
    total: int
    epoch: int
    loss: float


class EpochEvent(TypedDict, total=False):
    event: str
    time: float
    epochs: int
    metrics: dict[str, Any]
    run_dir: str


class DoneEvent(TypedDict, total=False):
    event: str
    time: float
    message: str
    run_dir: str  # train / sweep / demo
    out: str  # classify, explain, export
    report: dict[str, Any]  # evaluate


class MessageEvent(TypedDict, total=False):
    event: str
    time: float
    message: str


class UsageError(ValueError):
    """The user's own mistake (bad argument, unusable input): exit 2 with a one-line message.

    ``code`` goes into the ``error`` event, so a client can say what to do in its own words.
    """

    code = "usage"


#: ``code`` of the error event when backbone weights cannot be loaded or downloaded.
WEIGHTS_ERROR = "weights"
#: ``code`` of the error event when a file could not be written for lack of space; the event
#: also has ``path``, ``needed`` and ``free`` (bytes; ``needed``/``free`` may be null).
DISK_FULL = "disk_full"


def report_line(command: str, kind: str, message: str) -> str:
    """The one stderr line a command ends with when it fails or is cancelled. With ``--events``
    the same message also comes as an event, so a client that shows events can drop the line."""
    return f"trainer {command}: {kind}: {message}"


def is_report_line(line: str, command: str) -> bool:
    return any(line.startswith(report_line(command, str(kind), "")) for kind in (Event.ERROR, Event.CANCELLED))


class MissingDependency(RuntimeError):
    """An optional package is missing: exit 5; the message says how to install it."""


class VerificationFailed(RuntimeError):
    """A check of a result failed (e.g. an export's parity check): exit 4."""
