"""The one CSV module: predictions (CLI and app), evaluation results and a run's split record.

Every file is UTF-8, written atomically and safe to open in a spreadsheet. Paths and class
names (folder names: any bytes the OS allows) go through :mod:`trainer.pathtext`'s one
escaping rule, so any file name survives a write and a read; free text (error messages) is
written for people, with undecodable bytes shown as U+FFFD.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trainer.atomic import atomic_open
from trainer.pathtext import decode, encode, for_display

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """Text cells starting with a formula character get a leading ``'`` (CSV injection); so do
    cells that already start with ``'``, so that reading strips exactly what writing added."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith((*FORMULA_PREFIXES, "'")) else text


def _unescape(cell: str) -> str:
    """Undo :func:`safe_cell`."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith((*FORMULA_PREFIXES, "'")) else cell


def name_cell(name: str | None) -> str:
    """A path or class name as a cell: escaped by :func:`trainer.pathtext.encode`, then made safe."""
    return "" if name is None else safe_cell(encode(name))


def cell_name(cell: str) -> str:
    """The path or class name :func:`name_cell` wrote as ``cell``."""
    return decode(_unescape(cell))


def _text_cell(text: str) -> str:
    return safe_cell(for_display(text))


@dataclass
class Prediction:
    path: str  # relative to the classified folder, POSIX separators, os.fsdecode form
    label: str | None = None
    confidence: float | None = None
    probs: list[float] = field(default_factory=list)
    error: str = ""


def _prob_columns(classes: list[str]) -> list[str]:
    return [f"prob_{encode(c)}" for c in classes]


def _classes_of(head: list[str]) -> list[str]:
    return [decode(_unescape(h).removeprefix("prob_")) for h in head]


def header(classes: list[str]) -> list[str]:
    return ["path", "label", "confidence", *_prob_columns(classes), "error"]


def row(p: Prediction, classes: list[str]) -> list[str]:
    probs = [f"{x:.6f}" for x in p.probs] if p.probs else [""] * len(classes)
    conf = "" if p.confidence is None else f"{p.confidence:.6f}"
    return [name_cell(p.path), name_cell(p.label), conf, *probs, _text_cell(p.error)]


def _write(path: str | os.PathLike[str], head: list[str], rows: Iterable[list[str]]) -> int:
    """Stream ``rows`` under ``head`` into ``path`` atomically; returns the number of rows."""
    n = 0
    with atomic_open(Path(path), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([safe_cell(h) for h in head])
        for r in rows:
            writer.writerow(r)
            n += 1
    return n


def write_predictions(path: str | os.PathLike[str], classes: list[str],
                      predictions: Iterable[Prediction]) -> int:
    """Stream rows into ``path`` atomically; returns the number of rows written."""
    return _write(path, header(classes), (row(p, classes) for p in predictions))


@dataclass
class EvaluatedImage:
    """One row of ``evaluate``'s ``predictions.csv``."""

    path: str  # relative to the evaluated dataset folder, POSIX separators
    split: str
    true_label: str
    predicted_label: str
    confidence: float
    probs: list[float]


def evaluation_header(classes: list[str]) -> list[str]:
    return ["path", "split", "true_label", "predicted_label", "confidence", *_prob_columns(classes)]


def write_evaluation(path: str | os.PathLike[str], classes: list[str], results: Iterable[EvaluatedImage]) -> int:
    """``evaluate``'s per-image results, atomically; returns the number of rows."""
    rows = ([name_cell(r.path), r.split, name_cell(r.true_label), name_cell(r.predicted_label),
             f"{r.confidence:.6f}", *(f"{x:.6f}" for x in r.probs)] for r in results)
    return _write(path, evaluation_header(classes), rows)


def read_evaluation(path: str | os.PathLike[str]) -> tuple[list[str], list[EvaluatedImage]]:
    """``(classes, results)`` from a file written by :func:`write_evaluation`."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        classes = _classes_of(next(reader)[5:])
        results = [EvaluatedImage(cell_name(r[0]), r[1], cell_name(r[2]), cell_name(r[3]), float(r[4]),
                                  [float(x) for x in r[5:]]) for r in reader if r]
    return classes, results


SPLITS_HEADER = ["path", "split"]


def write_splits(path: str | os.PathLike[str], root: Path, members: Iterable[tuple[Path, str]]) -> int:
    """``path,split`` of each image (``path`` relative to ``root``, ``/``-separated), sorted."""
    rows = sorted((p.relative_to(root).as_posix(), split) for p, split in members)
    return _write(path, SPLITS_HEADER, ([name_cell(rel), split] for rel, split in rows))


def read_splits(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative path: split}`` from a file written by :func:`write_splits`."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if [_unescape(h) for h in next(reader, [])] != SPLITS_HEADER:
            raise ValueError(f"{path}: not a split record (expected columns {','.join(SPLITS_HEADER)})")
        return {cell_name(r[0]): r[1] for r in reader if r}


def read_predictions(path: str | os.PathLike[str]) -> tuple[list[str], Iterator[Prediction]]:
    """``(classes, predictions)`` from a CSV written by :func:`write_predictions`."""
    f = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the generator
    reader = csv.reader(f)
    classes = _classes_of(next(reader)[3:-1])

    def rows() -> Iterator[Prediction]:
        with f:
            for r in reader:
                probs = [float(x) for x in r[3:-1]] if r[3] else []
                yield Prediction(cell_name(r[0]), cell_name(r[1]) or None,
                                 float(r[2]) if r[2] else None, probs, _unescape(r[-1]))

    return classes, rows()


@dataclass
class ReviewRow:
    """One row of ``review.csv``: an image, what the data says and what the review suspects."""

    path: str  # relative to the reviewed dataset folder, POSIX separators
    split: str
    given_label: str
    suggested_label: str
    label_score: float  # 0-1, low = likely wrong
    is_label_issue: bool
    duplicate_group: int | None
    is_outlier: bool
    probs: list[float]


REVIEW_FIXED = ["path", "split", "given_label", "suggested_label", "label_score", "is_label_issue",
                "duplicate_group", "is_outlier"]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def write_review(path: str | os.PathLike[str], classes: list[str], rows: Iterable[ReviewRow]) -> int:
    """``review.csv``, rows in the order given (most suspicious first), atomically."""
    cells = ([name_cell(r.path), r.split, name_cell(r.given_label), name_cell(r.suggested_label),
              f"{r.label_score:.6f}", _flag(r.is_label_issue),
              "" if r.duplicate_group is None else str(r.duplicate_group), _flag(r.is_outlier),
              *(f"{x:.6f}" for x in r.probs)] for r in rows)
    return _write(path, [*REVIEW_FIXED, *_prob_columns(classes)], cells)


def read_review(path: str | os.PathLike[str]) -> tuple[list[str], list[ReviewRow]]:
    """``(classes, rows)`` from a file written by :func:`write_review`."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        head = [_unescape(h) for h in next(reader, [])]
        if head[: len(REVIEW_FIXED)] != REVIEW_FIXED:
            raise ValueError(f"{path}: not a review file (expected columns {','.join(REVIEW_FIXED)},...)")
        classes = _classes_of(head[len(REVIEW_FIXED):])
        rows = [ReviewRow(cell_name(r[0]), r[1], cell_name(r[2]), cell_name(r[3]), float(r[4]), r[5] == "true",
                          int(r[6]) if r[6] else None, r[7] == "true", [float(x) for x in r[8:]])
                for r in reader if r]
    return classes, rows


MAP_HEADER = ["path", "x", "y"]


def write_map(path: str | os.PathLike[str], points: Iterable[tuple[str, float, float]]) -> int:
    """The review's 2-D projection: ``path,x,y`` per image, atomically."""
    return _write(path, MAP_HEADER, ([name_cell(p), f"{x:.5f}", f"{y:.5f}"] for p, x, y in points))


def read_map(path: str | os.PathLike[str]) -> list[tuple[str, float, float]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        if [_unescape(h) for h in next(reader, [])] != MAP_HEADER:
            raise ValueError(f"{path}: not a review map (expected columns {','.join(MAP_HEADER)})")
        return [(cell_name(r[0]), float(r[1]), float(r[2])) for r in reader if r]
