"""``trainer train --nproc 2``: DDP under torchrun on CPUs (Gloo), rank 0 the only writer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REAL_WEIGHTS, quiet_events, run_cli
from trainer import runs
from trainer.config import TrainConfig
from trainer.launch import worker_args
from trainer.protocol import Exit

pytestmark = pytest.mark.slow

TINY = ["--image-size", "32", "--workers", "1"]


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _one_run(out: Path) -> Path:
    found = [p for p in out.iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def test_nproc_2_writes_one_run_once_and_it_classifies(demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    res = run_cli("train", str(demo_root), "--weights", "none", "--augment", "--epochs", "2", "--batch-size", "4",
                  *TINY, "--nproc", "2", "--out", str(out), "--events")
    assert res.returncode == Exit.OK, res.stderr[-3000:]
    events = _events(res.stdout)  # every stdout line is one JSON event: rank 0's, relayed once
    kinds = [e["event"] for e in events]
    assert kinds.count("start") == 1 and kinds.count("done") == 1 and kinds.count("epoch") == 2
    run_dir = _one_run(out)
    assert events[-1]["run_dir"] == str(run_dir)
    assert len(runs.read_metrics(run_dir)) == 2
    logged = [json.loads(line)["event"] for line in (run_dir / runs.EVENTS).read_text().splitlines()]
    assert logged.count("epoch") == 2 and logged.count("start") == 1 and logged.count("done") == 1
    config = json.loads((run_dir / runs.CONFIG).read_text())
    assert (config["nproc"], config["world_size"], config["status"]) == (2, 2, "done")
    # the checkpoint is an ordinary one: it classifies
    from trainer.predict import classify_folder

    summary = classify_folder(run_dir, demo_root, tmp_path / "p.csv", quiet_events(), lambda: False, recursive=True)
    assert summary["rows"] == 36 and summary["errors"] == 0


@pytest.mark.skipif(not REAL_WEIGHTS.is_file(), reason="needs the shared MobileNetV2 weights in ../shared")
def test_two_processes_learn_as_well_as_one_with_the_same_global_batch(tmp_path: Path) -> None:
    """Frozen pretrained backbone, augmented photos: DDP trains the head on 2 x 4 photos a step,
    one process on 8; the best validation accuracies (30 val photos) stay close."""
    from trainer.demo_data import make_demo_data
    from trainer.engine import train

    data = make_demo_data(tmp_path / "data", per_class=50, size=64, seed=5)
    common = ["--weights", str(REAL_WEIGHTS), "--augment", "--epochs", "4", "--image-size", "64", "--workers", "1"]
    res = run_cli("train", str(data), *common, "--batch-size", "4", "--nproc", "2", "--out", str(tmp_path / "ddp"))
    assert res.returncode == Exit.OK, res.stderr[-3000:]
    ddp = max(r["val_acc"] for r in runs.read_metrics(_one_run(tmp_path / "ddp")))
    one = train(TrainConfig(data=str(data), weights=str(REAL_WEIGHTS), augment=True, epochs=4, image_size=64,
                            workers=1, batch_size=8, out=str(tmp_path / "one")), quiet_events(), lambda: False)
    single = max(r["val_acc"] for r in runs.read_metrics(one))
    print(f"best val acc: DDP 2x4 {ddp:.3f}, one process x8 {single:.3f}")
    assert single >= 0.8 and abs(ddp - single) <= 0.1, (ddp, single)


def test_a_stop_reaches_every_worker_and_the_run_resumes(demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "trainer", "train", str(demo_root), "--weights", "none", "--augment", "--epochs",
           "40", "--batch-size", "4", *TINY, "--nproc", "2", "--out", str(out), "--events", "--stop-on-stdin"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "epoch":
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            break
    rest, _ = proc.communicate(timeout=120)
    seen += _events(rest)
    assert proc.returncode == Exit.CANCELLED
    assert [e["event"] for e in seen].count("cancelled") == 1
    run_dir = _one_run(out)
    assert json.loads((run_dir / runs.CONFIG).read_text())["status"] == "cancelled"
    time.sleep(1)
    leftover = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout.split()
    assert leftover == [], "a worker outlived its job"
    # resume: the run's config says 2 processes, so it continues as DDP to its new target
    res = run_cli("train", str(demo_root), "--resume", str(run_dir), "--epochs", "3", "--events")
    assert res.returncode == Exit.OK, res.stderr[-3000:]
    assert len(runs.read_metrics(run_dir)) == 3
    assert json.loads((run_dir / runs.CONFIG).read_text())["status"] == "done"


def test_cached_feature_training_stays_in_one_process_and_says_why(demo_root: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from trainer import cli

    code = cli.main(["train", str(demo_root), "--weights", "none", "--freeze", "--epochs", "1", *TINY,
                     "--nproc", "2", "--out", str(tmp_path / "runs")])
    assert code == Exit.OK
    err = capsys.readouterr().err
    assert "--nproc 2: training in one process" in err and "cached features" in err
    assert "world_size" not in json.loads((_one_run(tmp_path / "runs") / runs.CONFIG).read_text())


def test_workers_get_the_callers_arguments_without_the_launchers() -> None:
    argv = ["train", "D", "--nproc", "2", "--nnodes=2", "--node-rank", "1", "--master-addr", "h", "--lr", "0.1",
            "--events", "--stop-on-stdin"]
    assert worker_args(argv) == ["train", "D", "--lr", "0.1", "--events", "--stop-on-stdin"]


def test_more_processes_than_gpus_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from trainer.launch import check_gpus
    from trainer.protocol import UsageError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UsageError, match="--nproc 2: this machine has 1 GPUs"):
        check_gpus("cuda", 2)
    check_gpus("cpu", 2)  # Gloo on CPUs: any number


def test_a_batch_whose_photos_all_vanished_still_steps_with_a_zero_gradient() -> None:
    """DDP needs every rank's backward: such a batch must not be skipped on one rank only."""
    import torch
    from torch import nn

    from trainer.distributed import DistributedSplit

    head = nn.Linear(3 * 4 * 4, 2)
    net = nn.Sequential(nn.Flatten(), head)
    model = nn.Module()
    model.training = True  # what the split looks at
    split = DistributedSplit("train", torch.tensor([0, 1, 1]), paths=[Path("a"), Path("b"), Path("c")], ddp=net)
    good = lambda paths: (torch.ones(len(paths), 3, 4, 4), [True] * len(paths), {})  # noqa: E731
    gone = lambda paths: (None, [False] * len(paths), {str(p): "vanished" for p in paths})  # noqa: E731
    assert split.forward(model, [0, 1], good, torch.device("cpu"))[0].shape == (2, 2)
    logits, labels = split.forward(model, [2], gone, torch.device("cpu"))
    assert logits is not None and labels.numel() == 1
    nn.functional.cross_entropy(logits, labels).backward()
    assert all(float(p.grad.abs().sum()) == 0.0 for p in head.parameters())
