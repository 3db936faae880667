"""The one CSV writer for predictions (CLI and app), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trainer.atomic import atomic_open

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """Text cells starting with a formula character get a leading ``'`` (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@dataclass
class Prediction:
    path: str  # relative to the classified folder, POSIX separators
    label: str | None = None
    confidence: float | None = None
    probs: list[float] = field(default_factory=list)
    error: str = ""


def header(classes: list[str]) -> list[str]:
    return ["path", "label", "confidence", *[f"prob_{c}" for c in classes], "error"]


def row(p: Prediction, classes: list[str]) -> list[str]:
    probs = [f"{x:.6f}" for x in p.probs] if p.probs else [""] * len(classes)
    conf = "" if p.confidence is None else f"{p.confidence:.6f}"
    return [safe_cell(p.path), safe_cell(p.label), conf, *probs, safe_cell(p.error)]


def write_predictions(path: str | os.PathLike[str], classes: list[str],
                      predictions: Iterable[Prediction]) -> int:
    """Stream rows into ``path`` atomically; returns the number of rows written."""
    n = 0
    with atomic_open(Path(path), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([safe_cell(h) for h in header(classes)])
        for p in predictions:
            writer.writerow(row(p, classes))
            n += 1
    return n


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def read_predictions(path: str | os.PathLike[str]) -> tuple[list[str], Iterator[Prediction]]:
    """``(classes, predictions)`` from a CSV written by :func:`write_predictions`."""
    f = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the generator
    reader = csv.reader(f)
    head = [_unescape(h) for h in next(reader)]
    classes = [h.removeprefix("prob_") for h in head[3:-1]]

    def rows() -> Iterator[Prediction]:
        with f:
            for r in reader:
                probs = [float(x) for x in r[3:-1]] if r[3] else []
                yield Prediction(_unescape(r[0]), _unescape(r[1]) or None,
                                 float(r[2]) if r[2] else None, probs, _unescape(r[-1]))

    return classes, rows()
