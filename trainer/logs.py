"""Logging for the engine: a rotating ``trainer.log`` in the user's log folder, and a
``train.log`` in each run folder while the run trains, so a user can send a log.

Failures are logged with their traceback here; the terminal and the app get one line.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainer.atomic import DiskFull
from trainer.config import log_dir

LOGGER = "trainer"
LOG_FILE = "trainer.log"
RUN_LOG = "train.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_handler: logging.Handler | None = None


def setup_logging(folder: Path | None = None) -> Path | None:
    """Send the ``trainer`` loggers to ``folder/trainer.log`` (rotating); returns its path.

    Best effort: a folder that cannot be written leaves logging off rather than failing a job.
    """
    global _handler
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    if _handler is not None:
        logger.removeHandler(_handler)
        _handler.close()
        _handler = None
    path = (folder or log_dir()) / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                                        encoding="utf-8", errors="backslashreplace")
    except OSError:
        return None
    _handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(_handler)
    return path


def log_path() -> Path | None:
    """The current ``trainer.log``, if logging is set up."""
    return Path(_handler.baseFilename) if isinstance(_handler, logging.FileHandler) else None


@contextlib.contextmanager
def run_log(run_dir: Path) -> Iterator[None]:
    """While the block runs, ``trainer`` log records also go to ``run_dir/train.log``."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(run_dir / RUN_LOG, encoding="utf-8", errors="backslashreplace")
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def log_sink(event: dict[str, Any]) -> None:
    """An events sink writing each readable event (not progress) to the log."""
    from trainer.events import format_event

    if event.get("event") == "progress":
        return
    line = format_event(event)
    if line:
        level = logging.WARNING if event["event"] in ("warning", "error") else logging.INFO
        logging.getLogger("trainer.events").log(level, line)


def describe_failure(exc: BaseException) -> str:
    """One line for an unexpected failure: what failed, on which file, and where the details are."""
    if isinstance(exc, DiskFull):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.filename:
        what = "no space left on the disk" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        text = f"could not write or read {exc.filename}: {what}"
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    where = log_path()
    return f"{text} (details in {where})" if where else text
