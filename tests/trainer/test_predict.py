"""classify: CSV columns, sorting, unreadable files, formula injection, recursion, copies."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import quiet_events
from trainer.checkpoint import read_trust
from trainer.config import TrainConfig
from trainer.csvfile import Prediction, read_predictions, safe_cell, write_predictions
from trainer.engine import train
from trainer.features import Cancelled
from trainer.files import copy_by_label
from trainer.predict import classify_folder


@pytest.fixture(scope="module")
def run_dir(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(tmp_path_factory.mktemp("runs")), workers=1)
    return train(cfg, quiet_events(), lambda: False)


@pytest.fixture
def inbox(demo_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    for i, src in enumerate(sorted(demo_root.glob("*/*.jpg"))[:4]):
        shutil.copy(src, folder / f"img{i}.jpg")
    shutil.copy(src, folder / "sub" / "deep.jpg")
    shutil.copy(src, folder / "=cmd.jpg")
    shutil.copy(src, folder / "@sum.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / "readme.txt").write_text("not an image and not listed")
    return folder


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_columns_sorting_errors_and_injection(run_dir: Path, inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    summary = classify_folder(run_dir, inbox, out, quiet_events(), lambda: False)
    rows = _rows(out)
    assert rows[0] == ["path", "label", "confidence", "prob_car", "prob_motorcycle", "prob_truck", "error"]
    paths = [r[0] for r in rows[1:]]
    assert paths == ["'=cmd.jpg", "'@sum.jpg", "broken.jpg", "img0.jpg", "img1.jpg", "img2.jpg", "img3.jpg"]
    broken = rows[1:][2]
    assert broken[1] == "" and broken[2] == "" and broken[-1]
    trust = read_trust(run_dir)
    for r in rows[1:]:
        if not r[-1]:
            probs = [float(x) for x in r[3:6]]
            assert sum(probs) == pytest.approx(1.0, abs=1e-4)
            if trust.score == "msp":  # the calibrated top probability ...
                assert float(r[2]) == pytest.approx(max(probs), abs=1e-6)
            else:  # ... or that times the photo's familiarity
                assert 0 <= float(r[2]) <= max(probs) + 1e-6
            best = ("car", "motorcycle", "truck")[probs.index(max(probs))]
            assert r[1] == (best if float(r[2]) >= trust.threshold else "unknown")
    labels = ("car", "motorcycle", "truck", "unknown")
    per_label = {c: sum(r[1] == c for r in rows[1:]) for c in labels}
    assert sum(per_label.values()) == 6  # every readable image counted once, under its CSV label
    assert summary == {"rows": 7, "errors": 1, "counts": per_label, "unknown": per_label["unknown"],
                       "threshold": trust.threshold, "out": str(out), "tta": "off",
                       "backends": {"mobilenet_v2": "torch fp32 on cpu"}}  # 7 photos: too few to measure


def test_recursive_includes_subfolders_with_relative_paths(run_dir: Path, inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    classify_folder(run_dir, inbox, out, quiet_events(), lambda: False, recursive=True)
    paths = [r[0] for r in _rows(out)[1:]]
    assert "sub/deep.jpg" in paths
    assert paths == sorted(paths, key=lambda p: p.lstrip("'"))


def test_cancel_leaves_no_partial_csv(run_dir: Path, inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    with pytest.raises(Cancelled):
        classify_folder(run_dir, inbox, out, quiet_events(), lambda: True)
    assert not out.exists()
    assert list(tmp_path.glob(".pred.csv*")) == []


@pytest.mark.parametrize("text", ["=1+1", "+A1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert safe_cell("car") == "car"


def test_csv_round_trip_and_copy_by_label(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (4, 4)).save(src / name)
    preds = [Prediction("a.png", "car", 0.9, [0.9, 0.1]), Prediction("b.png", "=bad", 0.6, [0.4, 0.6]),
             Prediction("c.png", error="unreadable")]
    write_predictions(tmp_path / "p.csv", ["car", "=bad"], preds)
    classes, rows = read_predictions(tmp_path / "p.csv")
    rows = list(rows)
    assert classes == ["car", "=bad"]
    assert [r.label for r in rows] == ["car", "=bad", None]
    (tmp_path / "dest" / "car").mkdir(parents=True)
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "dest" / "car" / "a.png")  # another photo, same name
    assert copy_by_label(rows, src, tmp_path / "dest") == 2
    assert sorted(p.name for p in (tmp_path / "dest" / "car").iterdir()) == ["a-1.png", "a.png"]


def test_classify_only_the_unlabeled_queue_of_a_dataset(demo_copy: Path, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import run_cli

    (demo_copy / "unlabeled").mkdir()
    shutil.copy(demo_copy / "car" / "car_0000.jpg", demo_copy / "unlabeled" / "u1.jpg")
    shutil.copy(demo_copy / "truck" / "truck_0000.jpg", demo_copy / "loose.jpg")
    res = run_cli("train", str(demo_copy), "--weights", "none", "--freeze", "--image-size", "48", "--epochs", "1",
                  "--workers", "1", "--out", str(tmp_path / "runs"))
    assert res.returncode == 0, res.stderr
    out = tmp_path / "u.csv"
    res = run_cli("classify", res.stdout.strip().splitlines()[-1], str(demo_copy), "--unlabeled", "--out", str(out))
    assert res.returncode == 0, res.stderr
    _, rows = read_predictions(out)
    assert [p.path for p in rows] == ["loose.jpg", "unlabeled/u1.jpg"]


def test_phone_photos_heic_and_avif_classify(run_dir: Path, demo_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    from trainer import images

    folder = tmp_path / "phone"
    folder.mkdir()
    photo = Image.open(sorted((demo_root / "car").iterdir())[0])
    photo.save(folder / "IMG_0001.HEIC", format="HEIF")  # as an iPhone names it
    if images.AVIF_SUPPORTED:
        photo.save(folder / "PXL_0002.avif", format="AVIF")
    summary = classify_folder(run_dir, folder, tmp_path / "p.csv", quiet_events(), lambda: False)
    _, rows = read_predictions(tmp_path / "p.csv")
    rows = list(rows)
    assert summary["errors"] == 0 and len(rows) == (2 if images.AVIF_SUPPORTED else 1)
    assert all(r.label and len(r.probs) == 3 and not r.error for r in rows)
