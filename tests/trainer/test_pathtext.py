"""Paths as text: one escaping rule, exact round trips, and every CSV we write honours it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from trainer.csvfile import (
    EvaluatedImage,
    Prediction,
    read_evaluation,
    read_predictions,
    read_splits,
    write_evaluation,
    write_predictions,
    write_splits,
)
from trainer.pathtext import decode, encode, for_display, from_relative_text, relative_text

TRICKY = [
    "plain.jpg",
    "back\\slash.jpg",
    "\\\\double\\x41.jpg",  # looks like an escape: must survive as written
    "100% \\\\ done.jpg",
    os.fsdecode(b"caf\xe9.jpg"),  # Latin-1 byte: not UTF-8
    os.fsdecode(b"\xff\xfe\\raw.png"),
    "\U0001f697 car.png",  # emoji: valid UTF-8, written as is
    "=cmd|' /C calc'!A0.jpg",
    "'=quoted.jpg",
    "+1.jpg",
    "sub dir/na\u00efve \u65e5\u672c.jpg",
    'quote" and, comma.jpg',
    "line\nbreak.jpg",
]


@pytest.mark.parametrize("name", TRICKY)
def test_round_trip_is_exact_and_valid_utf8(name: str) -> None:
    text = encode(name)
    assert decode(text) == name
    text.encode("utf-8")  # never raises: the text is valid UTF-8
    assert not any("\udc80" <= ch <= "\udcff" for ch in text)


def test_the_one_escaping_rule() -> None:
    assert encode("a\\b") == "a\\\\b"
    assert encode(os.fsdecode(b"caf\xe9.jpg")) == "caf\\xe9.jpg"
    assert encode("caf\u00e9 \U0001f697 =%.jpg") == "caf\u00e9 \U0001f697 =%.jpg"  # as is
    assert encode(os.fsdecode(b"\xab\xcd")) == "\\xab\\xcd"  # two lower-case hex digits


@pytest.mark.parametrize("bad", ["a\\b", "trailing\\", "\\xZZ", "\\XAB"])
def test_a_stray_backslash_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="bad escape"):
        decode(bad)


def test_relative_text_uses_slashes_and_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "car" / os.fsdecode(b"caf\xe9.jpg")
    assert relative_text(path, tmp_path) == "car/caf\\xe9.jpg"
    assert from_relative_text("car/caf\\xe9.jpg", tmp_path) == path
    assert for_display(os.fsdecode(b"caf\xe9.jpg")) == "caf\ufffd.jpg"


def _raw_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:  # strict UTF-8: fails on a bad byte
        return list(csv.reader(f))


def test_every_csv_round_trips_tricky_names(tmp_path: Path) -> None:
    classes = ["car", "=evil", os.fsdecode(b"v\xe9lo")]
    preds = [Prediction(n, classes[i % 3], 0.5, [0.5, 0.25, 0.25]) for i, n in enumerate(TRICKY)]
    preds.append(Prediction(os.fsdecode(b"bad\xff.jpg"), error="unreadable: " + os.fsdecode(b"x\xff")))
    write_predictions(tmp_path / "p.csv", classes, preds)
    got_classes, rows = read_predictions(tmp_path / "p.csv")
    rows = list(rows)
    assert got_classes == classes
    assert [(r.path, r.label) for r in rows] == [(p.path, p.label) for p in preds]
    assert rows[-1].error == "unreadable: x\ufffd"  # free text: shown, not escaped
    raw = _raw_rows(tmp_path / "p.csv")
    assert raw[0][3:6] == ["prob_car", "prob_=evil", "prob_v\\xe9lo"]
    assert [r[0] for r in raw[1:5]] == ["plain.jpg", "back\\\\slash.jpg", "\\\\\\\\double\\\\x41.jpg",
                                        "100% \\\\\\\\ done.jpg"]
    assert "'=cmd|' /C calc'!A0.jpg" in [r[0] for r in raw] and "''=quoted.jpg" in [r[0] for r in raw]

    evaluated = [EvaluatedImage(n, "val", classes[2], classes[1], 0.5, [0.2, 0.5, 0.3]) for n in TRICKY]
    write_evaluation(tmp_path / "e.csv", classes, evaluated)
    assert read_evaluation(tmp_path / "e.csv") == (classes, evaluated)

    members = [(tmp_path / "d" / n, "train") for n in TRICKY]
    write_splits(tmp_path / "s.csv", tmp_path / "d", members)
    assert read_splits(tmp_path / "s.csv") == dict.fromkeys(TRICKY, "train")
