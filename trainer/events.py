"""Events a job reports: one dict per happening, sent to any number of sinks.

With ``--events`` the CLI writes them as JSON lines on stdout; that stream is the protocol the
desktop app reads. Every event has ``event`` (its kind, one of :class:`trainer.protocol.Event`)
and ``time``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from trainer.atomic import append_line
from trainer.wording import count_of

Sink = Callable[[dict[str, Any]], None]


class Events:
    """Fan-out of events to sinks, with ``progress`` throttled to a few per second."""

    def __init__(self, sinks: list[Sink] | None = None, min_interval: float = 0.1) -> None:
        self.sinks: list[Sink] = list(sinks or [])
        self.context: dict[str, Any] = {}
        self._min_interval = min_interval
        self._last_progress = 0.0

    def emit(self, kind: str, **fields: Any) -> None:
        event = {"event": str(kind), "time": round(time.time(), 3), **self.context, **fields}
        for sink in list(self.sinks):
            sink(event)

    def progress(self, phase: str, done: int, total: int, **fields: Any) -> None:
        """Emit progress unless one went out less than ``min_interval`` ago (the last always goes)."""
        now = time.monotonic()
        if done < total and now - self._last_progress < self._min_interval:
            return
        self._last_progress = now
        self.emit("progress", phase=phase, done=done, total=total, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.emit("warning", message=message, **fields)


def json_lines(stream: TextIO = sys.stdout) -> Sink:
    def sink(event: dict[str, Any]) -> None:
        stream.write(json.dumps(event, default=str) + "\n")
        stream.flush()

    return sink


class FileSink:
    """Appends events to ``events.jsonl`` in a run folder (progress is left out: too chatty)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "progress":
            return
        append_line(self.path, json.dumps(event, default=str), sync=False)  # a log, not a record


def human(stream: TextIO = sys.stderr) -> Sink:
    """Readable one-line progress for people at a terminal."""

    def sink(event: dict[str, Any]) -> None:
        line = format_event(event)
        if line:
            stream.write(line + "\n")
            stream.flush()

    return sink


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{100 * x:5.1f}%"


def format_event(e: dict[str, Any]) -> str | None:
    kind = e["event"]
    if kind == "epoch":
        m = e["metrics"]
        test = f"  test {_pct(m.get('test_acc'))}" if m.get("test_acc") is not None else ""
        return (
            f"epoch {m['epoch']:>3}/{e['epochs']}  train loss {m['train_loss']:.4f} acc "
            f"{_pct(m['train_acc'])}  val loss {m['val_loss']:.4f} acc {_pct(m['val_acc'])}"
            f"{test}  lr {m['lr']:.2g}  {m['seconds']:.1f}s"
        )
    if kind == "progress" and e.get("phase") == "features" and e["done"] == e["total"]:
        return f"features: {e['total']} images done"
    if kind in ("stage", "backend"):
        return str(e.get("message", ""))
    if kind in ("warning", "error", "cancelled"):
        return f"{kind}: {e.get('message', '')}"
    if kind == "start" and "search_dir" in e:
        return f"search {e['search_dir']}: {e.get('images', '?')} images, budget {e.get('budget_s', 0) / 60:.0f} min"
    if kind == "start" and "run_dir" in e:
        return f"run {e['run_dir']}: {e.get('model', '')} on {e.get('device', '')}"
    if kind == "start":
        total = e.get("total")
        return f"{e.get('model', '')}: {count_of(total, 'image') if isinstance(total, int) else '? images'} to process"
    if kind == "done" and "report" not in e:  # evaluate prints its report itself
        return e.get("message") or "done"
    return None
