"""Scanning folders: both layouts, splits stable under relabeling, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from trainer.datasets import DatasetError, in_val, scan, walk_images


def _img(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def _tree(root: Path, spec: dict[str, int]) -> Path:
    """Images named after their folder (``car_000.png``): names are unique, as photos' are."""
    for rel, n in spec.items():
        for i in range(n):
            _img(root / rel / f"{rel.replace('/', '_')}_{i:03d}.png")
    return root


def test_folder_layout_split_is_seeded_disjoint_and_near_the_fraction(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"car": 100, "truck": 100, "bus": 50})
    a = scan(root, val_fraction=0.2, seed=1)
    assert a.layout == "folders"
    assert a.classes == ["bus", "car", "truck"]
    n_val = len(a.splits["val"])
    assert 30 <= n_val <= 70  # 20% of 250, give or take what a hash gives
    assert len(a.splits["train"]) + n_val == 250
    assert all(n > 0 for n in a.counts()["val"].values())
    assert {s.path for s in a.splits["train"]}.isdisjoint({s.path for s in a.splits["val"]})
    assert scan(root, 0.2, seed=1).splits == a.splits
    assert scan(root, 0.2, seed=2).splits["val"] != a.splits["val"]


def _split_by_name(root: Path) -> dict[str, str]:
    return {s.path.name: split for split, samples in scan(root).splits.items() for s in samples}


def test_relabeling_or_adding_images_never_moves_an_image_between_train_and_val(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"car": 30, "truck": 30})
    before = _split_by_name(root)
    for i in range(0, 30, 3):  # relabel a third of the cars as trucks
        (root / "car" / f"car_{i:03d}.png").rename(root / "truck" / f"car_{i:03d}.png")
    _tree(root, {"bus": 20, "car/more": 25})  # a new class, and new images of an old one
    after = _split_by_name(root)
    assert {name: after[name] for name in before} == before
    assert set(after) - set(before)  # the new images are there too


def test_any_file_name_gets_a_split(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a": 10, "b": 10})
    odd = [os.fsdecode(b"caf\xe9.png"), "\U0001f697 =x%\\.png"]
    for name in odd:
        _img(root / "a" / name)
    before = _split_by_name(root)
    (root / "a" / odd[0]).rename(root / "b" / odd[0])
    assert _split_by_name(root) == before
    assert set(odd) <= set(before)


def test_an_empty_val_split_on_tiny_data_is_the_usual_error(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a": 1, "b": 1})
    names = [p.name for p in root.glob("*/*.png")]
    seed = next(s for s in range(100) if not any(in_val(n, 0.2, s) for n in names))
    with pytest.raises(DatasetError, match="the val split has no usable images"):
        scan(root, 0.2, seed)


def test_split_layout_uses_given_splits_and_valid_alias(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"train/car": 4, "train/truck": 4, "valid/car": 2, "valid/truck": 1,
                            "test/car": 1})
    ds = scan(root)
    assert ds.layout == "splits"
    assert set(ds.splits) == {"train", "val", "test"}
    assert ds.counts()["val"] == {"car": 2, "truck": 1}
    assert any("truck" in w and "test" in w for w in ds.warnings)


def test_split_layout_without_val_holds_out_part_of_train(tmp_path: Path) -> None:
    ds = scan(_tree(tmp_path, {"training/a": 20, "training/b": 20}), val_fraction=0.2)
    assert ds.layout == "splits"
    assert 0 < len(ds.splits["val"]) < 20
    assert ds.splits["val"] == [s for s in ds.all_samples() if in_val(s.path.name, 0.2, 0)]
    assert any("no val" in w for w in ds.warnings)


def test_classes_come_from_the_folder_never_hard_coded(tmp_path: Path) -> None:
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    ds = scan(_tree(tmp_path, dict.fromkeys(names, 3)))
    assert ds.classes == sorted(names)


def test_fewer_than_two_classes_is_a_clear_error(tmp_path: Path) -> None:
    _tree(tmp_path, {"car": 5})
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetError, match="at least 2 classes"):
        scan(tmp_path)


def test_empty_split_is_a_clear_error(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"train/a": 3, "train/b": 3})
    (root / "val" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="val split has no usable images"):
        scan(root)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        scan(tmp_path / "nope")


def test_hidden_files_unlabeled_and_non_images_are_not_samples(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a": 2, "b": 2, "unlabeled": 3})
    _img(root / "a" / ".hidden.png")
    _img(root / ".thumbs" / "x.png")
    (root / "a" / "notes.txt").write_text("hi")
    _img(root / "loose.png")
    ds = scan(root)
    assert ds.classes == ["a", "b"]
    assert len(ds.all_samples()) == 4
    assert len(ds.unlabeled) == 4  # 3 in unlabeled/ + 1 loose at the root


def test_files_in_class_folders_that_are_not_photos_are_named(tmp_path: Path) -> None:
    """A notes.txt in a class folder was left out without a word; now the scan says which files
    it does not use. The operating system's own files and an export's papers at the top are
    not the user's photos either, but are not worth a word."""
    root = _tree(tmp_path, {"train/car": 3, "train/truck": 3, "valid/car": 1, "valid/truck": 1})
    (root / "train" / "car" / "notes.txt").write_text("hi")
    (root / "valid" / "truck" / "clip.mp4").write_bytes(b"\0")
    (root / "train" / "car" / "Thumbs.db").write_bytes(b"\0")
    (root / "train" / "car" / ".DS_Store").write_bytes(b"\0")
    (root / "README.roboflow.txt").write_text("export")
    ds = scan(root)
    assert ds.warnings == ["2 files in the class folders are not photos and are not used: "
                           "train/car/notes.txt, valid/truck/clip.mp4"]
    for i in range(3):
        (root / "train" / "truck" / f"list{i}.csv").write_text("x")
    assert scan(root).warnings[-1].startswith("5 files in the class folders are not photos") and \
        scan(root).warnings[-1].endswith("and 2 more")


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a": 2, "b": 2})
    os.symlink(root, root / "a" / "loop")
    os.symlink(root / "b", root / "b" / "self")
    found = walk_images(root)
    assert len(found) >= 4
    assert scan(root).counts()["train"]["a"] >= 1


def test_fingerprint_changes_when_data_changes(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a": 2, "b": 2})
    before = scan(root).fingerprint()
    _img(root / "a" / "new.png")
    assert scan(root).fingerprint() != before


def test_heic_photos_are_training_samples(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.new("RGB", (8, 8)).save(tmp_path / cls / f"{cls}{i}.heic", format="HEIF")
    ds = scan(tmp_path, val_fraction=0.5)
    assert sorted(s.path.suffix for s in ds.all_samples()) == [".heic"] * 12
