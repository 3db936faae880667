"""Checkpoints: atomic under SIGKILL, never unpickle code, standalone export."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import quiet_events
from trainer import runs
from trainer.atomic import atomic_open
from trainer.checkpoint import CheckpointError, export_checkpoint, load_model
from trainer.config import TrainConfig
from trainer.engine import train


def _run(data: Path, tmp_path: Path, **kw: Any) -> Path:
    cfg = TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(tmp_path / "runs"), workers=1, **kw)
    return train(cfg, quiet_events(), lambda: False)


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as f:
        f.write(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


KILL_LOOP = """
import sys, torch
from trainer.atomic import torch_save
big = torch.randn(4_000_000)  # 16 MB: each save takes a while
i = 0
while True:
    i += 1
    torch_save({"format": "test", "i": i, "x": big}, sys.argv[1])
    print(i, flush=True)
"""


def test_sigkill_during_checkpoint_writes_leaves_a_loadable_file(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    for delay in (0.05, 0.13, 0.29):
        proc = subprocess.Popen([sys.executable, "-c", KILL_LOOP, str(target)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one complete save happened
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        obj = torch.load(target, weights_only=True)
        assert obj["x"].numel() == 4_000_000 and obj["i"] >= 1


class Evil:
    def __reduce__(self):  # noqa: ANN204 - the classic pickle exploit
        return (os.system, (f"touch {MARKER}",))


MARKER = ""


def test_malicious_checkpoint_is_refused_without_running_code(tmp_path: Path) -> None:
    global MARKER
    MARKER = str(tmp_path / "pwned")
    path = tmp_path / "evil.pt"
    torch.save({"format": "vehicleapp-checkpoint", "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_model(path)
    assert not Path(MARKER).exists()


def test_foreign_and_damaged_files_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, plain)
    with pytest.raises(CheckpointError, match="not a vehicleapp checkpoint"):
        load_model(plain)
    junk = tmp_path / "junk.pt"
    rng = random.Random(0)
    for size in [1, 2, 7, 64, 300, 4096] * 40:  # random bytes make the unpickler fail in many ways
        junk.write_bytes(rng.randbytes(size))
        with pytest.raises(CheckpointError):
            load_model(junk)
    good = tmp_path / "good.pt"
    torch.save({"format": "vehicleapp-checkpoint"}, good)
    junk.write_bytes(good.read_bytes()[:-30])  # truncated zip
    with pytest.raises(CheckpointError):
        load_model(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.pt")


def test_checkpoint_carries_what_classification_needs(demo_root: Path, tmp_path: Path) -> None:
    run_dir = _run(demo_root, tmp_path)
    model, ckpt = load_model(run_dir)
    assert ckpt["model"] == "mobilenet_v2"
    assert ckpt["classes"] == ["car", "motorcycle", "truck"]
    assert ckpt["preprocess"]["crop"] == 48
    assert not model.training


def test_export_is_standalone(demo_root: Path, tmp_path: Path) -> None:
    run_dir = _run(demo_root, tmp_path)
    out = export_checkpoint(run_dir, tmp_path / "model.pt")
    reference, _ = load_model(run_dir)
    (run_dir / runs.BACKBONE).unlink()  # the export must not need the run folder
    with pytest.raises(CheckpointError, match=r"best.pt needs its run's backbone.pt beside it: give the whole run "
                                              r"folder, or carry one standalone file made by `trainer export"):
        load_model(run_dir)
    model, ckpt = load_model(out)
    x = torch.randn(1, 3, 48, 48)
    assert torch.allclose(model(x), reference(x))
    assert "optimizer" not in ckpt


def test_tampered_backbone_is_detected(demo_root: Path, tmp_path: Path) -> None:
    run_dir = _run(demo_root, tmp_path)
    with open(run_dir / runs.BACKBONE, "r+b") as f:
        f.seek(2000)
        f.write(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="the backbone.pt beside best.pt is not the one it was trained with"):
        load_model(run_dir / runs.BEST)


def test_a_dataset_given_as_the_model_is_named_a_folder_of_photos(tmp_path: Path) -> None:
    """`trainer classify DATASET INBOX` said only "no checkpoint (best.pt or last.pt) in DATASET"."""
    from PIL import Image

    from trainer.checkpoint import CheckpointError, resolve

    (tmp_path / "data" / "car").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "data" / "car" / "a.jpg")
    with pytest.raises(CheckpointError, match="it looks like a folder of photos; give a run folder"):
        resolve(tmp_path / "data")
    (tmp_path / "kaggle" / "train" / "car").mkdir(parents=True)  # an export: photos two levels down
    Image.new("RGB", (8, 8)).save(tmp_path / "kaggle" / "train" / "car" / "a.jpg")
    with pytest.raises(CheckpointError, match="it looks like a folder of photos"):
        resolve(tmp_path / "kaggle")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"in .*empty$"):
        resolve(tmp_path / "empty")


def test_a_file_is_hashed_once_per_version(tmp_path) -> None:  # noqa: ANN001
    """Every checkpoint names its weights file by hash: read once, not once per epoch; a file
    rewritten since (in place, same size) is read again."""
    import hashlib
    import os

    from trainer.weights import _sha256_of, file_sha256

    path = tmp_path / "weights.pth"
    path.write_bytes(b"a" * 4096)
    first = file_sha256(path)
    misses = _sha256_of.cache_info().misses
    assert file_sha256(path) == first and _sha256_of.cache_info().misses == misses
    with open(path, "r+b") as f:
        f.write(b"b")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a coarse clock may not have ticked
    assert file_sha256(path) == hashlib.sha256(b"b" + b"a" * 4095).hexdigest() != first
