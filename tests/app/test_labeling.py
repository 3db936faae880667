"""The labeling journal (no Qt): moves never overwrite, and undo works after a restart."""

from __future__ import annotations

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
