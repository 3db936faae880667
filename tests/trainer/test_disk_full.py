"""A real full disk (a 5 MB tmpfs) and file modes: every writer fails with one line naming the
file, the space it needed and the space free; the previous file stays, no temp file remains."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import fill, run_cli
from trainer import runs
from trainer.atomic import DiskFull, append_line, atomic_open, torch_save, write_json
from trainer.csvfile import Prediction, read_predictions, write_predictions

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1", "--epochs", "1"]


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path: Path, umask: int) -> None:
    if os.name != "posix":
        pytest.skip("POSIX file modes")
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
        write_json(tmp_path / "config.json", {"a": 1})
        with atomic_open(tmp_path / "metrics.csv") as f:
            f.write("epoch\n")
    finally:
        os.umask(old)
    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert plain == 0o666 & ~umask
    for name in ("config.json", "metrics.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == plain, name


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX file modes")
    target = tmp_path / "config.json"
    write_json(target, {"a": 1})
    target.chmod(0o640)
    write_json(target, {"a": 2})
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def _writers() -> dict:
    import torch

    rows = [Prediction(f"img_{i:05d}.jpg", "car", 0.9, [0.9, 0.1]) for i in range(3000)]
    return {
        "json": lambda p: write_json(p, {"x": "y" * 200_000}),
        "csv": lambda p: write_predictions(p, ["car", "truck"], rows),
        "checkpoint": lambda p: torch_save({"w": torch.zeros(100_000)}, p),
    }


@pytest.mark.parametrize("kind", ["json", "csv", "checkpoint"])
def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temp_file(tiny_disk: Path, kind: str) -> None:
    target = tiny_disk / f"result.{kind}"
    target.write_bytes(b"previous")
    fill(tiny_disk, leave=4096)
    with pytest.raises(DiskFull) as info:
        _writers()[kind](target)
    text = str(info.value)
    assert f"could not write {target}" in text and f"free in {tiny_disk}" in text
    assert "needs" in text and ("KB" in text or "MB" in text)
    assert "\n" not in text
    assert target.read_bytes() == b"previous"
    assert _temp_files(tiny_disk) == []


def test_a_full_disk_never_leaves_half_a_line_in_an_appended_file(tiny_disk: Path) -> None:
    journal = tiny_disk / "journal.jsonl"
    append_line(journal, json.dumps({"op": "step", "n": 1}))
    fill(tiny_disk, leave=0)
    with pytest.raises(DiskFull, match="journal.jsonl"):
        for _ in range(1000):  # the filesystem may still hold a few bytes of the last page
            append_line(journal, json.dumps({"op": "step", "pad": "x" * 3000}))
    lines = journal.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # every line whole


def test_a_full_disk_keeps_the_feature_cache(tiny_disk: Path) -> None:
    import torch

    from trainer.features import FeatureStore

    path = tiny_disk / "cache.pt"
    store = FeatureStore(path)
    store.rows = {"a": torch.ones(2048)}
    store.dirty = True
    store.save()
    before = path.read_bytes()
    fill(tiny_disk, leave=4096)
    store.rows.update({str(i): torch.zeros(2048) for i in range(50)})
    store.dirty = True
    with pytest.raises(DiskFull, match="cache.pt"):
        store.save()
    assert path.read_bytes() == before
    assert set(FeatureStore(path).rows) == {"a"}


def test_train_on_a_full_disk_ends_with_one_line_and_a_failed_run(demo_root: Path, tiny_disk: Path) -> None:
    res = run_cli("train", str(demo_root), *FAST, "--out", str(tiny_disk / "runs"), "--events")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "the disk is full: could not write" in lines[0] and ".pt (it needs" in lines[0], lines[0]
    error = json.loads(res.stdout.strip().splitlines()[-1])
    assert error["event"] == "error" and error["code"] == "disk_full"
    assert error["needed"] > error["free"]
    run_dir = next((tiny_disk / "runs").iterdir())
    info = runs.load_run(run_dir)
    assert info.status == "failed" and "the disk is full" in info.config["error"]
    assert _temp_files(tiny_disk) == []


def test_classify_on_a_full_disk_keeps_the_previous_csv(demo_root: Path, tiny_disk: Path, tmp_path: Path) -> None:
    from tests.conftest import quiet_events
    from trainer.config import TrainConfig
    from trainer.engine import train

    run = train(TrainConfig(data=str(demo_root), model="mobilenet_v2", weights="none", freeze=True, epochs=1,
                            image_size=48, out=str(tmp_path / "runs"), workers=1), quiet_events(), lambda: False)
    out = tiny_disk / "predictions.csv"
    write_predictions(out, ["car"], [Prediction("old.jpg", "car", 1.0, [1.0])])
    fill(tiny_disk, leave=1024)
    res = run_cli("classify", str(run), str(demo_root), "--recursive", "--workers", "1", "--out", str(out))
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]  # after the progress lines a terminal shows
    assert "Traceback" not in res.stderr and last.startswith(f"trainer classify: error: the disk is full: "
                                                              f"could not write {out} (it needs at least"), res.stderr
    assert [p.path for p in read_predictions(out)[1]] == ["old.jpg"]
    assert _temp_files(tiny_disk) == []
