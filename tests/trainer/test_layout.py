"""The layout rules: which layout a folder has, its unlabeled queue, where labeled images go."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from trainer.layout import FOLDERS, SPLITS, detect


def _img(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)
    return path


def test_one_folder_per_class(tmp_path: Path) -> None:
    car = _img(tmp_path / "car" / "sub" / "a.png")
    layout = detect(tmp_path)
    assert layout.kind == FOLDERS
    assert layout.class_roots() == [("", tmp_path)]
    assert layout.describe(car) == ("car", "")
    assert layout.destination(car, "truck") == tmp_path / "truck"
    assert layout.train_root() == tmp_path


@pytest.mark.parametrize(("train", "val"), [("train", "val"), ("training", "validation"), ("Train", "valid")])
def test_exports_are_recognised_by_any_alias(tmp_path: Path, train: str, val: str) -> None:
    a = _img(tmp_path / train / "car" / "a.png")
    v = _img(tmp_path / val / "car" / "v.png")
    t = _img(tmp_path / "testing" / "car" / "t.png")
    layout = detect(tmp_path)
    assert layout.kind == SPLITS
    assert dict(layout.class_roots()) == {"train": tmp_path / train, "val": tmp_path / val,
                                          "test": tmp_path / "testing"}
    assert [layout.describe(p) for p in (a, v, t)] == [("car", "train"), ("car", "val"), ("car", "test")]
    assert layout.destination(v, "bus") == tmp_path / val / "bus"
    assert layout.train_root() == tmp_path / train


def test_split_names_without_a_train_folder_are_classes(tmp_path: Path) -> None:
    img = _img(tmp_path / "val" / "a.png")
    _img(tmp_path / "car" / "b.png")
    layout = detect(tmp_path)
    assert layout.kind == FOLDERS
    assert layout.describe(img) == ("val", "")


def test_unlabeled_queue_is_loose_images_and_unlabeled_folders(tmp_path: Path) -> None:
    loose = _img(tmp_path / "loose.png")
    deep = _img(tmp_path / "Unlabelled" / "batch1" / "x.png")
    _img(tmp_path / "train" / "car" / "a.png")
    _img(tmp_path / ".hidden" / "h.png")
    layout = detect(tmp_path)
    assert layout.unlabeled() == sorted([loose, deep])
    assert layout.is_unlabeled(loose) and layout.is_unlabeled(deep)
    assert layout.describe(deep) == (None, "")
    assert layout.destination(deep, "car") == tmp_path / "train" / "car"


def test_member_key_ignores_the_class_folder(tmp_path: Path) -> None:
    _img(tmp_path / "car" / "a.png")
    assert detect(tmp_path).member_key("car/sub/a.png") == detect(tmp_path).member_key("truck/a.png") == "a.png"
    _img(tmp_path / "train" / "car" / "a.png")
    assert detect(tmp_path).member_key("train/car/a.png") == "train/a.png"
    assert detect(tmp_path).member_key("valid/car/a.png") == "valid/a.png"
