"""Any file name the OS allows works everywhere: train, the feature cache, classify, evaluate."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import quiet_events, run_cli
from trainer import runs
from trainer.config import TrainConfig
from trainer.csvfile import read_evaluation, read_predictions, read_splits
from trainer.datasets import scan
from trainer.engine import train

LATIN1 = os.fsdecode(b"caf\xe9.jpg")  # a str holding the lone surrogate '\udce9'
QUEUED = os.fsdecode(b"na\xefve.jpg")
BROKEN = os.fsdecode(b"bad\xff.jpg")
FAST = ["--weights", "none", "--image-size", "48", "--epochs", "1", "--workers", "1"]


@pytest.fixture
def odd_data(demo_copy: Path) -> Path:
    """The demo data plus files whose names are not UTF-8, in a class and in the queue."""
    src = next(demo_copy.glob("car/*.jpg"))
    (demo_copy / "unlabeled").mkdir()
    try:
        shutil.copy(src, demo_copy / "car" / LATIN1)
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")
    shutil.copy(src, demo_copy / "unlabeled" / QUEUED)
    shutil.copy(src, demo_copy / "truck" / "=back\\slash 100%.jpg")
    (demo_copy / "truck" / BROKEN).write_bytes(b"not an image")
    return demo_copy


def _utf8(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # strict: a stray byte fails the test


def test_train_classify_and_evaluate_from_the_command_line(odd_data: Path, tmp_path: Path) -> None:
    res = run_cli("train", str(odd_data), *FAST, "--out", str(tmp_path / "runs"))
    assert res.returncode == 0, res.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    assert runs.load_run(run_dir).config["status"] == "done"
    assert "truck/bad\\xff.jpg: not a recognised image format" in _utf8(run_dir / "skipped.txt")
    events = [json.loads(line) for line in _utf8(run_dir / runs.EVENTS).splitlines()]
    assert any(e.get("message", "").startswith("skipped truck/bad\\xff.jpg") for e in events)
    recorded = read_splits(run_dir / runs.SPLITS)
    assert f"car/{LATIN1}" in recorded and "truck/=back\\slash 100%.jpg" in recorded
    assert "car/caf\\xe9.jpg," in _utf8(run_dir / runs.SPLITS)

    out = tmp_path / "pred.csv"
    res = run_cli("classify", str(run_dir), str(odd_data), "--recursive", "--out", str(out), "--workers", "1")
    assert res.returncode == 0, res.stderr
    _, rows = read_predictions(out)
    by_path = {r.path: r for r in rows}
    assert by_path[f"car/{LATIN1}"].label and by_path[f"unlabeled/{QUEUED}"].label
    assert by_path[f"truck/{BROKEN}"].error
    assert "unlabeled/na\\xefve.jpg," in _utf8(out) and "'=back" not in _utf8(out)  # not at a cell start

    res = run_cli("evaluate", str(run_dir), str(odd_data), "--split", "all")
    assert res.returncode == 0, res.stderr
    _, results = read_evaluation(run_dir / runs.PREDICTIONS)
    evaluated = {r.path: r for r in results}
    assert evaluated[f"car/{LATIN1}"].true_label == "car"
    assert evaluated[f"car/{LATIN1}"].split == recorded[f"car/{LATIN1}"]
    assert "car/caf\\xe9.jpg," in _utf8(run_dir / runs.PREDICTIONS)


def test_feature_cache_and_fingerprint_take_any_name(odd_data: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(odd_data), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(tmp_path / "runs"), workers=1)
    first = train(cfg, quiet_events(), lambda: False)
    again = quiet_events()
    second = train(cfg, again, lambda: False)
    features = next(e for e in again.seen if e["event"] == "features")
    assert features["cached"] == features["total"] == 39  # 36 + café + backslash + the broken one
    fingerprints = {runs.load_run(r).config["dataset_fingerprint"] for r in (first, second)}
    assert fingerprints == {scan(odd_data).fingerprint()}
