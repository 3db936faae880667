"""Property-based test (Hypothesis) of the labeling journal: any sequence of moves, put-asides,
undos, redos and restarts leaves every image exactly once, and undoing everything restores the
folder as it was."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vehicleapp.labeling import JOURNAL, Journal, LabelingError

CLASSES = ["car", "truck", "bus"]
FILES = 6
OP = st.one_of(
    st.tuples(st.just("assign"), st.integers(0, FILES - 1), st.sampled_from(CLASSES)),
    st.tuples(st.just("many"), st.lists(st.integers(0, FILES - 1), min_size=1, max_size=4, unique=True),
              st.sampled_from(CLASSES)),
    st.tuples(st.just("aside"), st.lists(st.integers(0, FILES - 1), min_size=1, max_size=3, unique=True)),
    st.tuples(st.just("undo")), st.tuples(st.just("redo")), st.tuples(st.just("restart")),
)


def _tree(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != JOURNAL}


def _images(root: Path, scanned_only: bool) -> list[Path]:
    return sorted(p for p in root.rglob("*.png") if not (scanned_only and "_duplicates" in p.parts))


@settings(max_examples=80, deadline=None)
@given(ops=st.lists(OP, max_size=14))
def test_any_sequence_keeps_every_image_exactly_once(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(FILES):  # same names in different classes: collisions get -1, -2 ...
            folder = root / CLASSES[i % 2]
            folder.mkdir(exist_ok=True)
            (folder / f"img{i % 3}.png").write_bytes(f"photo {i}".encode())
        (root / "loose.png").write_bytes(b"unlabeled photo")
        original = _tree(root)
        journal = Journal(root)
        for op in ops:
            images = _images(root, scanned_only=True)
            try:
                if op[0] == "assign" and images:
                    journal.assign(images[op[1] % len(images)], op[2])
                elif op[0] == "many" and images:
                    journal.assign_many({images[i % len(images)] for i in op[1]}, op[2])
                elif op[0] == "aside" and images:
                    journal.set_aside({images[i % len(images)] for i in op[1]})
                elif op[0] == "undo":
                    journal.undo()
                elif op[0] == "redo":
                    journal.redo()
                elif op[0] == "restart":
                    journal = Journal(root)
                    assert journal.recover() is None  # nothing was left half-done
            except LabelingError:
                pass  # e.g. "already in car": refused, nothing moved
            now = _tree(root)
            assert sorted(now.values()) == sorted(original.values())  # every image exactly once
        while journal.undo() is not None:
            pass
        assert _tree(root) == original  # all undone: every image back in its own place
