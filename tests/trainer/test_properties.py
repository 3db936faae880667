"""Property-based tests (Hypothesis) of the parts that take arbitrary input: the CSV writer and
reader, and the layout scanner over any tree of folders and names."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainer.csvfile import FORMULA_PREFIXES, Prediction, read_predictions, write_predictions
from trainer.datasets import browse
from trainer.images import is_image_file
from trainer.layout import SET_ASIDE, detect

# A name as the OS hands it to Python: any bytes but "/" and NUL, decoded by os.fsdecode (bytes
# that are not UTF-8 arrive as lone surrogates U+DC80-U+DCFF), or any text, formula characters first.
_CHAR = st.one_of(st.characters(exclude_characters="/\0", exclude_categories=("Cs",)),
                  st.sampled_from("=+-@'\t\r\n\\,\" "))
_BYTES = st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b).map(os.fsdecode)
NAME = st.one_of(st.text(_CHAR, min_size=1, max_size=12), _BYTES).filter(lambda s: s not in (".", ".."))
PATH = st.lists(NAME, min_size=1, max_size=3).map("/".join)
PROB = st.floats(0, 1, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(classes=st.lists(NAME, min_size=1, max_size=4, unique=True),
       rows=st.lists(st.tuples(PATH, st.integers(0, 3), st.lists(PROB, min_size=4, max_size=4),
                               st.booleans()), max_size=8))
def test_predictions_round_trip_and_formulas_stay_neutral(classes: list[str], rows: list, ) -> None:
    preds = []
    for path, label_index, probs, failed in rows:
        if failed:
            preds.append(Prediction(path, error="unreadable image"))
        else:
            label = classes[label_index % len(classes)]
            preds.append(Prediction(path, label, probs[0], probs[: len(classes)]))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.csv"
        assert write_predictions(out, classes, preds) == len(preds)
        read_classes, read_rows = read_predictions(out)
        back = list(read_rows)
        with open(out, encoding="utf-8", newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
    assert read_classes == classes
    assert [p.path for p in back] == [p.path for p in preds]
    assert [p.label for p in back] == [p.label for p in preds]
    for got, want in zip(back, preds):
        assert got.error == want.error
        assert len(got.probs) == len(want.probs)
        assert all(abs(a - b) <= 5e-7 for a, b in zip(got.probs, want.probs))
        assert (got.confidence is None) == (want.confidence is None)
    assert not any(c.startswith(FORMULA_PREFIXES) for c in cells)  # a spreadsheet runs no formula


# -- the layout scanner -------------------------------------------------------------------
SPECIAL = st.sampled_from(["train", "Training", "val", "valid", "test", "unlabeled", "Unlabelled", SET_ASIDE,
                           ".hidden", "car", "truck", "car.jpg", "a b", "é", "x.PNG", "y.heic", "n.txt"])
DIR_NAME = st.one_of(SPECIAL, st.text(st.characters(exclude_characters="/\0", exclude_categories=("Cs",)),
                                      min_size=1, max_size=8).filter(lambda s: s not in (".", "..")))
FILE_NAME = st.one_of(SPECIAL, st.tuples(DIR_NAME, st.sampled_from([".jpg", ".png", ".txt", ".JPEG", ""]))
                      .map("".join))
TREE = st.recursive(st.dictionaries(FILE_NAME, st.none(), max_size=4),
                    lambda children: st.dictionaries(DIR_NAME, children, max_size=4), max_leaves=14)


def _make(folder: Path, tree: dict) -> None:
    for name, sub in tree.items():
        path = folder / name
        if sub is None:
            if not path.exists():
                path.write_bytes(b"not really an image")
        elif isinstance(sub, dict):
            if path.exists() and not path.is_dir():
                continue
            path.mkdir(exist_ok=True)
            _make(path, sub)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.dictionaries(DIR_NAME, TREE, max_size=5))
def test_any_tree_scans_each_image_once_where_the_layout_says(tree: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        _make(root, tree)
        layout_kind, classes, entries = browse(root)
        layout = detect(root)
        paths = [e.path for e in entries]
        assert len(paths) == len(set(paths))  # never twice
        visible = {p for p in root.rglob("*") if p.is_file() and is_image_file(p)
                   and not any(part.startswith(".") for part in p.relative_to(root).parts)}
        assert set(paths) <= visible
        for e in entries:
            assert e.path.relative_to(root).parts[0].lower() != SET_ASIDE  # put-aside duplicates never are
            assert layout.describe(e.path) == (e.label, e.split)  # where it is says what it is
            assert e.label is None or e.label in classes
        if layout_kind == "folders":  # every visible image outside the set-aside folder is listed
            expected = {p for p in visible if p.relative_to(root).parts[0].lower() != SET_ASIDE}
            assert set(paths) == expected
