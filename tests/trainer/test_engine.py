"""The training loop: cached vs plain agreement, caching across runs, freezing, resume, cancel."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from tests.conftest import quiet_events
from trainer import runs
from trainer.checkpoint import load_model, read_checkpoint
from trainer.config import TrainConfig
from trainer.datasets import DatasetError
from trainer.engine import Fit, train
from trainer.features import Cancelled


def _cfg(data: Path, tmp_path: Path, **kw: Any) -> TrainConfig:
    base = dict(data=str(data), model="mobilenet_v2", weights="none", freeze=True, epochs=2,
                batch_size=8, image_size=48, out=str(tmp_path / "runs"), workers=1)
    return TrainConfig(**{**base, **kw})


def _metrics(run_dir: Path) -> list[dict]:
    return runs.read_metrics(run_dir)


def test_cached_and_plain_paths_agree(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, model="ensemble_regularized", epochs=2)
    cached = _metrics(train(cfg, quiet_events(), lambda: False))
    plain = _metrics(train(dataclasses.replace(cfg, cache=False), quiet_events(), lambda: False))
    assert len(cached) == len(plain) == 2
    for a, b in zip(cached, plain):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            # cached features come from the chosen backend (channels-last torch here): float rounding only
            assert a[key] == pytest.approx(b[key], abs=1e-3), key


def test_feature_cache_is_reused_across_runs(demo_root: Path, tmp_path: Path) -> None:
    first, second = quiet_events(), quiet_events()
    train(_cfg(demo_root, tmp_path, lr=0.01), first, lambda: False)
    train(_cfg(demo_root, tmp_path, lr=0.001, batch_size=4), second, lambda: False)
    f1 = next(e for e in first.seen if e["event"] == "features")
    f2 = next(e for e in second.seen if e["event"] == "features")
    assert f1["cached"] == 0
    assert f2["cached"] == f2["total"] == 36
    assert not any(e["event"] == "progress" and e["phase"] == "features" for e in second.seen)


def test_frozen_backbone_weights_and_bn_statistics_do_not_change(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, model="ensemble", cache=False, epochs=1, batch_size=12)
    fit = Fit(cfg, quiet_events(), lambda: False, None)
    before = {k: v.clone() for k, v in fit.model.backbones.state_dict().items()}
    bn_modes: list[bool] = []
    for bb in fit.model.backbones.values():
        for m in bb.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.register_forward_hook(lambda mod, i, o: bn_modes.append(mod.training))
    fit.run()
    after = fit.model.backbones.state_dict()
    assert bn_modes and not any(bn_modes), "a frozen BatchNorm ran in training mode"
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any("running_mean" in k for k in before)


def test_run_folder_has_config_metrics_events_and_checkpoints(demo_root: Path, tmp_path: Path) -> None:
    run_dir = train(_cfg(demo_root, tmp_path), quiet_events(), lambda: False)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.csv", "events.jsonl", "best.pt", "last.pt", "backbone.pt"} <= names
    info = runs.load_run(run_dir)
    assert info.config["classes"] == ["car", "motorcycle", "truck"]
    assert info.config["status"] == "done"
    assert set(info.config["versions"]) >= {"torch", "torchvision", "python"}
    assert len(info.config["dataset_fingerprint"]) == 16
    assert [m["epoch"] for m in info.metrics] == [1, 2]
    assert all(m["lr"] and m["seconds"] is not None and m["images_per_s"] for m in info.metrics)
    assert info.duration >= sum(m["seconds"] for m in info.metrics)  # wall time, features included


def test_frozen_backbone_is_written_once_per_run(demo_root: Path, tmp_path: Path) -> None:
    run_dir = train(_cfg(demo_root, tmp_path, epochs=3), quiet_events(), lambda: False)
    backbone = (run_dir / runs.BACKBONE).stat().st_size
    assert backbone > 5_000_000  # MobileNetV2 features
    assert (run_dir / runs.LAST).stat().st_size < 200_000  # head + optimizer only
    events = (run_dir / runs.EVENTS).read_text().count('"checkpoint"')
    assert events >= 3


def test_bad_images_are_skipped_reported_and_never_stop_the_run(demo_copy: Path, tmp_path: Path) -> None:
    (demo_copy / "car" / "zero.jpg").write_bytes(b"")
    (demo_copy / "truck" / "text.jpg").write_text("not an image")
    ev = quiet_events()
    run_dir = train(_cfg(demo_copy, tmp_path, cache=False, epochs=1), ev, lambda: False)
    report = (run_dir / "skipped.txt").read_text()
    assert "zero.jpg: empty file" in report and "text.jpg" in report
    warnings = [e["message"] for e in ev.seen if e["event"] == "warning"]
    assert sum("skipped" in w for w in warnings) == 2
    assert runs.load_run(run_dir).config["status"] == "done"


def test_too_few_usable_classes_fails_before_training(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        (tmp_path / "d" / cls).mkdir(parents=True)
    for i in range(10):  # enough distinct names that the name-hash split holds some out for val
        Image.new("RGB", (40, 40)).save(tmp_path / "d" / "a" / f"a{i}.png")
        (tmp_path / "d" / "b" / f"b{i}.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="need at least 2 classes with usable images"):
        train(_cfg(tmp_path / "d", tmp_path), quiet_events(), lambda: False)


@pytest.mark.parametrize("name", ["unknown", "Unknown"])
def test_a_class_named_unknown_is_refused_before_training(demo_copy: Path, tmp_path: Path, name: str) -> None:
    (demo_copy / "truck").rename(demo_copy / name)  # "unknown" is the answer for unrecognised photos
    with pytest.raises(DatasetError, match=f"class folder is named '{name}'.*rename"):
        train(_cfg(demo_copy, tmp_path), quiet_events(), lambda: False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("balance", ["sampler", "loss"])
def test_balance_options_train(demo_copy: Path, tmp_path: Path, balance: str) -> None:
    for p in sorted((demo_copy / "truck").glob("*.jpg"))[3:]:
        p.unlink()
    run_dir = train(_cfg(demo_copy, tmp_path, balance=balance, epochs=1), quiet_events(), lambda: False)
    assert runs.read_metrics(run_dir)[0]["train_loss"] > 0


def test_early_stop_ends_the_run(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=30, early_stop=1, lr=0.05)
    ev = quiet_events()
    run_dir = train(cfg, ev, lambda: False)
    assert len(runs.read_metrics(run_dir)) < 30
    assert any("early stop" in e.get("message", "") for e in ev.seen)


class StopAfter:
    """A should_stop flag that trips after ``n`` checks (simulates SIGINT mid-epoch)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self) -> bool:
        self.n -= 1
        return self.n < 0


def test_cancel_stops_within_a_batch_and_saves_a_loadable_checkpoint(demo_root: Path, tmp_path: Path) -> None:
    ev = quiet_events()
    with pytest.raises(Cancelled):
        train(_cfg(demo_root, tmp_path, epochs=5, batch_size=4), ev, StopAfter(15))
    run_dir = next((tmp_path / "runs").iterdir())
    assert runs.load_run(run_dir).config["status"] == "cancelled"
    model, ckpt = load_model(run_dir / runs.LAST)
    assert ckpt["interrupted"] is True
    assert ev.seen[-1]["event"] == "cancelled"


def test_resume_continues_from_the_last_checkpoint(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=2)
    run_dir = train(cfg, quiet_events(), lambda: False)
    head_before = read_checkpoint(run_dir / runs.LAST)["state_dict"]
    train(dataclasses.replace(cfg, epochs=4), quiet_events(), lambda: False, resume=run_dir)
    metrics = runs.read_metrics(run_dir)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    after = read_checkpoint(run_dir / runs.LAST)
    assert after["epoch"] == 4
    key = next(k for k in head_before if k.startswith("head."))
    assert not torch.equal(head_before[key], after["state_dict"][key])


def test_resume_after_cancel_finishes_the_run(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=3, batch_size=4)
    with pytest.raises(Cancelled):
        train(cfg, quiet_events(), StopAfter(20))
    run_dir = next((tmp_path / "runs").iterdir())
    done_epochs = len(runs.read_metrics(run_dir))
    assert done_epochs < 3
    train(cfg, quiet_events(), lambda: False, resume=run_dir)
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]
    assert runs.load_run(run_dir).config["status"] == "done"


def test_split_layout_reports_test_metrics(tmp_path: Path) -> None:
    from trainer.demo_data import make_demo_data

    data = make_demo_data(tmp_path / "split", per_class=10, size=48, splits=True)
    run_dir = train(_cfg(data, tmp_path, epochs=1), quiet_events(), lambda: False)
    m = runs.read_metrics(run_dir)[0]
    assert m["test_acc"] is not None and m["test_loss"] is not None


def test_run_folders_are_unique(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=1)
    a = train(cfg, quiet_events(), lambda: False)
    b = train(cfg, quiet_events(), lambda: False)
    assert a != b
    shutil.rmtree(a)
    assert b.is_dir()
