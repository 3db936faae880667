"""The labeling journal (no Qt): moves never overwrite, and undo works after a restart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from trainer.datasets import browse, scan
from trainer.layout import SPLIT_ALIASES, detect
from vehicleapp.labeling import JOURNAL, Journal, LabelingError

TRAIN_ALIASES = [name for name, split in SPLIT_ALIASES.items() if split == "train"] + ["Training"]


def _img(path: Path, colour: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (colour, 0, 0)).save(path)
    return path


def test_assign_moves_and_undo_restores(tmp_path: Path) -> None:
    src = _img(tmp_path / "car" / "a.png")
    journal = Journal(tmp_path)
    move = journal.assign(src, "truck")
    assert move.dest == tmp_path / "truck" / "a.png"
    assert not src.exists()
    assert move.dest.exists()
    back = journal.undo()
    assert back is not None
    assert src.exists()
    assert not move.dest.exists()
    assert journal.undo() is None


def test_name_collision_gets_a_new_name_never_overwrites(tmp_path: Path) -> None:
    src = _img(tmp_path / "car" / "a.png", 10)
    existing = _img(tmp_path / "truck" / "a.png", 200)
    move = Journal(tmp_path).assign(src, "truck")
    assert move.dest.name == "a-1.png"
    assert Image.open(existing).getpixel((0, 0))[0] == 200


def test_undo_survives_a_restart(tmp_path: Path) -> None:
    first = _img(tmp_path / "car" / "a.png")
    second = _img(tmp_path / "car" / "b.png")
    Journal(tmp_path).assign(first, "bus")
    Journal(tmp_path).assign(second, "bus")
    assert (tmp_path / JOURNAL).is_file()
    reopened = Journal(tmp_path)  # e.g. the app was closed and opened again
    reopened.undo()
    assert second.exists()
    assert not first.exists()
    Journal(tmp_path).undo()
    assert first.exists()


def test_unlabeled_images_go_to_the_dataset_classes(tmp_path: Path) -> None:
    _img(tmp_path / "car" / "x.png")
    loose = _img(tmp_path / "unlabeled" / "new.png")
    move = Journal(tmp_path).assign(loose, "car")
    assert move.dest == tmp_path / "car" / "new.png"


def test_split_layout_moves_within_the_split(tmp_path: Path) -> None:
    img = _img(tmp_path / "train" / "car" / "a.png")
    _img(tmp_path / "val" / "car" / "b.png")
    assert detect(tmp_path).class_root(img) == tmp_path / "train"
    move = Journal(tmp_path).assign(img, "truck")
    assert move.dest == tmp_path / "train" / "truck" / "a.png"


@pytest.mark.parametrize("train", TRAIN_ALIASES)
def test_export_labels_go_to_the_train_folder_whatever_its_alias(tmp_path: Path, train: str) -> None:
    for name in ("a", "b", "c"):
        _img(tmp_path / train / "car" / f"car_{name}.png")
        _img(tmp_path / train / "truck" / f"truck_{name}.png")
    _img(tmp_path / "validation" / "car" / "v.png")
    _img(tmp_path / "validation" / "truck" / "w.png")
    queued = _img(tmp_path / "unlabeled" / "new.png")
    loose = _img(tmp_path / "loose.png")
    journal = Journal(tmp_path)
    assert journal.assign(queued, "car").dest == tmp_path / train / "car" / "new.png"
    assert journal.add_class("bus") == tmp_path / train / "bus"
    assert journal.assign(loose, "bus").dest == tmp_path / train / "bus" / "loose.png"
    layout, classes, entries = browse(tmp_path)  # a rescan sees both as labeled training images
    labeled = {e.path.name: (e.label, e.split) for e in entries}
    assert layout == "splits" and classes == ["bus", "car", "truck"]
    assert labeled["new.png"] == ("car", "train") and labeled["loose.png"] == ("bus", "train")
    assert not [e for e in entries if e.label is None]
    train_names = {s.path.name for s in scan(tmp_path).splits["train"]}
    assert {"new.png", "loose.png"} <= train_names


def test_a_labeled_validation_image_stays_in_validation(tmp_path: Path) -> None:
    _img(tmp_path / "training" / "car" / "a.png")
    img = _img(tmp_path / "validation" / "car" / "v.png")
    move = Journal(tmp_path).assign(img, "truck")
    assert move.dest == tmp_path / "validation" / "truck" / "v.png"


@pytest.mark.parametrize("bad", ["", "../evil", ".hidden", "a/b"])
def test_invalid_class_names_are_refused(tmp_path: Path, bad: str) -> None:
    img = _img(tmp_path / "car" / "a.png")
    with pytest.raises(LabelingError):
        Journal(tmp_path).assign(img, bad)
    assert img.exists()


def test_undo_of_a_file_deleted_outside_the_app_is_reported(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    move = journal.assign(_img(tmp_path / "car" / "a.png"), "truck")
    move.dest.unlink()
    with pytest.raises(LabelingError, match="outside the app"):
        journal.undo()
    assert journal.moves() == []


def test_any_file_name_moves_and_undoes_after_a_restart(tmp_path: Path) -> None:
    _img(tmp_path / "car" / "x.png")
    name = os.fsdecode(b"caf\xe9 \\ =1.png")
    try:
        queued = _img(tmp_path / "unlabeled" / name)
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")
    move = Journal(tmp_path).assign(queued, "car")
    assert move.dest == tmp_path / "car" / name and move.dest.is_file()
    (tmp_path / JOURNAL).read_bytes().decode("utf-8")  # the journal stays valid UTF-8
    assert Journal(tmp_path).moves() == [move]
    Journal(tmp_path).undo()
    assert queued.is_file() and not move.dest.exists()


def test_a_bulk_step_undoes_and_redoes_as_one(tmp_path: Path) -> None:
    images = [_img(tmp_path / "unlabeled" / f"{i}.png") for i in range(3)]
    _img(tmp_path / "car" / "c.png")
    journal = Journal(tmp_path)
    moves = journal.assign_many(images, "truck")
    assert [m.dest for m in moves] == [tmp_path / "truck" / f"{i}.png" for i in range(3)]
    assert len(journal.undo() or []) == 3 and all(p.exists() for p in images)
    assert journal.undo() is None  # the whole step came back at once
    assert len(Journal(tmp_path).redo() or []) == 3  # redo survives a restart too
    assert not any(p.exists() for p in images) and (tmp_path / "truck" / "2.png").exists()
    assert journal.redo() is None


def test_a_new_step_clears_redo_and_old_journals_still_undo(tmp_path: Path) -> None:
    a, b = _img(tmp_path / "car" / "a.png"), _img(tmp_path / "car" / "b.png")
    old = {"op": "move", "src": "car/a.png", "dest": "bus/a.png", "time": 0}  # the format before steps
    (tmp_path / "bus").mkdir()
    a.rename(tmp_path / "bus" / "a.png")
    (tmp_path / JOURNAL).write_text(json.dumps(old) + "\n", encoding="utf-8")
    journal = Journal(tmp_path)
    journal.undo()
    assert a.exists()
    journal.assign(b, "bus")
    assert journal.redo() is None  # a new step replaced what could be redone


def test_put_aside_keeps_files_out_of_every_scan_and_undoes(tmp_path: Path) -> None:
    for i in range(3):
        _img(tmp_path / "car" / f"c{i}.png")
        _img(tmp_path / "truck" / f"t{i}.png", 100)
    dup = _img(tmp_path / "truck" / "c0.png", 5)
    journal = Journal(tmp_path)
    (move,) = journal.set_aside([dup])
    assert move.dest == tmp_path / "_duplicates" / "c0.png"
    layout, classes, entries = browse(tmp_path)
    assert classes == ["car", "truck"] and all("_duplicates" not in e.path.parts for e in entries)
    assert scan(tmp_path, 0.4).classes == ["car", "truck"]
    journal.undo()
    assert dup.exists()


def test_moves_planned_together_never_collide(tmp_path: Path) -> None:
    a, b = _img(tmp_path / "car" / "x.png", 1), _img(tmp_path / "truck" / "x.png", 2)
    first, second = Journal(tmp_path).set_aside([a, b])
    assert first.dest.name == "x.png" and second.dest.name == "x-1.png"


def test_relabel_moves_to_several_classes_in_one_step(tmp_path: Path) -> None:
    a, b = _img(tmp_path / "unlabeled" / "a.png"), _img(tmp_path / "unlabeled" / "b.png")
    _img(tmp_path / "car" / "c.png")
    journal = Journal(tmp_path)
    journal.relabel([(a, "car"), (b, "truck")])
    assert (tmp_path / "car" / "a.png").exists() and (tmp_path / "truck" / "b.png").exists()
    assert len(journal.undo() or []) == 2 and a.exists() and b.exists()


def test_a_case_variant_name_is_never_overwritten_on_any_os(tmp_path: Path) -> None:
    kept = _img(tmp_path / "car" / "photo.jpg", 1)
    before = kept.read_bytes()
    loose = _img(tmp_path / "photo.JPG", 200)  # on Windows and macOS the same name as car/photo.jpg
    move = Journal(tmp_path).assign(loose, "car")
    assert move.dest == tmp_path / "car" / "photo-1.JPG"
    assert kept.read_bytes() == before
    Journal(tmp_path).undo()
    assert loose.is_file()


def test_a_class_name_in_another_case_uses_the_existing_folder(tmp_path: Path) -> None:
    _img(tmp_path / "Car" / "a.png")
    img = _img(tmp_path / "truck" / "b.png")
    assert Journal(tmp_path).assign(img, "car").dest == tmp_path / "Car" / "b.png"
    with pytest.raises(LabelingError, match="class 'Car' already exists"):
        Journal(tmp_path).add_class("CAR")
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["Car", "truck"]


@pytest.mark.parametrize("bad", ["CON", "aux", "com1.jpg", "bus:1", "van.", "what?"])
def test_class_names_windows_cannot_hold_are_refused(tmp_path: Path, bad: str) -> None:
    img = _img(tmp_path / "car" / "a.png")
    with pytest.raises(LabelingError, match="invalid class name"):
        Journal(tmp_path).assign(img, bad)
    with pytest.raises(LabelingError, match="invalid class name"):
        Journal(tmp_path).add_class(bad)
    assert img.exists() and sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["car"]


def test_a_journal_path_that_leaves_the_dataset_is_refused(tmp_path: Path) -> None:
    img = _img(tmp_path / "car" / "a.png")
    (tmp_path / JOURNAL).write_text(json.dumps({"op": "step", "moves": [["car/a.png", "../outside/a.png"]]}) + "\n")
    with pytest.raises(LabelingError, match="not a relative path"):
        Journal(tmp_path).undo()
    assert img.exists()
