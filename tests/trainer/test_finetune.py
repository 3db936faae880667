"""Fine-tuning after the head: discriminative rates, BatchNorm kept, resume mid-fine-tuning."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from tests.conftest import quiet_events
from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.features import Cancelled
from trainer.finetune import FineTune, OneCycle, unfreeze
from trainer.loop import Callback, FitLoop, LoopSettings
from trainer.models import create_model


def _cfg(data: Path, tmp_path: Path, **kw: Any) -> TrainConfig:
    base = dict(data=str(data), model="mobilenet_v2", weights="none", freeze=True, epochs=1, fine_tune=2,
                batch_size=8, image_size=48, out=str(tmp_path / "runs"), workers=1, tta="off",
                cache_dir=str(tmp_path / "cache"))
    return TrainConfig(**{**base, **kw})


def test_unfreeze_gives_deeper_blocks_faster_rates_and_keeps_batchnorm_in_eval() -> None:
    model = create_model("mobilenet_v2", 3, "none", frozen={"mobilenet_v2"})
    groups = unfreeze(model, blocks=4, base_lr=1e-3)
    rates = [g["lr"] for g in groups]
    assert [g["name"] for g in groups][-1] == "head"
    assert rates == sorted(rates) and rates[0] < rates[-1] / 10  # early blocks learn slowest, the head fastest
    assert len(groups) == 5  # four blocks and the head
    bb = model.backbones["mobilenet_v2"]
    assert not any(p.requires_grad for p in bb.features[:15].parameters())
    assert all(p.requires_grad for p in bb.features[15:].parameters())
    model.train()
    assert model.head.training
    assert not any(m.training for m in bb.modules() if isinstance(m, nn.BatchNorm2d))


def test_fine_tuning_changes_the_backbone_but_not_its_batchnorm_statistics(demo_root: Path, tmp_path: Path) -> None:
    ev = quiet_events()
    run_dir = train(_cfg(demo_root, tmp_path, epochs=2, fine_tune=1), ev, lambda: False)
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]
    assert any(e["event"] == "stage" and e["stage"] == "fine-tune" for e in ev.seen)
    frozen = ckpt_io._safe_load(run_dir / runs.BACKBONE)["state_dict"]  # the backbone the head epochs saw
    last = ckpt_io.read_checkpoint(run_dir / runs.LAST)
    assert last["frozen"] == [] and last["fine_tune_from"] == 2
    state = last["state_dict"]
    stats = [k for k in frozen if k.endswith(("running_mean", "running_var"))]
    convs = [k for k in frozen if k.endswith(".weight") and frozen[k].dim() == 4]
    assert stats and all(torch.equal(frozen[k], state[k]) for k in stats)
    assert any(not torch.equal(frozen[k], state[k]) for k in convs)
    model, _ = ckpt_io.load_model(run_dir)  # the fine-tuned run classifies like any other
    assert model(torch.zeros(2, 3, 48, 48)).shape == (2, 3)


class StopInEpoch(Callback):
    """Asks the run to stop during epoch ``epoch`` (1-based), after one batch of it."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.stop = epoch, False

    def on_train_batch_end(self, loop: FitLoop, batch: int, batches: int, loss: float) -> None:
        self.stop = self.stop or len(loop.history) + 1 == self.epoch


def test_a_run_stopped_while_fine_tuning_resumes_fine_tuning(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path)
    stopper = StopInEpoch(3)
    with pytest.raises(Cancelled):
        train(cfg, quiet_events(), lambda: stopper.stop, callbacks=[stopper])
    run_dir = next((tmp_path / "runs").iterdir())
    assert ckpt_io.peek(run_dir / runs.LAST, "fine_tune_from") == 1
    assert len(runs.read_metrics(run_dir)) == 2
    stopped_s = runs.load_run(run_dir).config["duration_s"]  # a stopped run's time counts too
    assert stopped_s > sum(m["seconds"] for m in runs.read_metrics(run_dir))  # its start and features too
    ev = quiet_events()
    train(cfg, ev, lambda: False, resume=run_dir)
    assert runs.load_run(run_dir).config["duration_s"] > stopped_s  # the whole run's, both sessions
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]
    # the whole run's epochs are known before the first batch (the app read "epoch 3/1" until then)
    start = next(e for e in ev.seen if e["event"] == "start")
    stage = next(i for i, e in enumerate(ev.seen) if e.get("stage") == "fine-tune")
    first_batch = next(i for i, e in enumerate(ev.seen) if e["event"] == "progress" and e.get("phase") == "train")
    assert start["epochs"] == ev.seen[stage]["epochs"] == 3 and stage < first_batch
    assert runs.load_run(run_dir).config["status"] == "done"
    # resumed in the fine-tuning stage: the optimizer restored had one group per block and the head
    last = ckpt_io.read_checkpoint(run_dir / runs.LAST)
    assert len(last["optimizer"]["param_groups"]) > 1
    assert last["fine_tune_from"] == 1


def test_early_stop_in_the_head_epochs_starts_fine_tuning(demo_root: Path, tmp_path: Path) -> None:
    run_dir = train(_cfg(demo_root, tmp_path, epochs=6, early_stop=1, lr=0.5), quiet_events(), lambda: False)
    start = ckpt_io.peek(run_dir / runs.LAST, "fine_tune_from")
    assert start is not None and start < 6
    assert runs.load_run(run_dir).config["fine_tune_from"] == start  # the curves mark it
    # at least one fine-tuning epoch ran (its own patience may end it after one)
    assert start + 1 <= len(runs.read_metrics(run_dir)) <= start + 2


def test_a_deadline_ends_fine_tuning_at_an_epochs_end_and_the_run_finishes(demo_root: Path, tmp_path: Path) -> None:
    ev = quiet_events()
    run_dir = train(_cfg(demo_root, tmp_path, epochs=2, fine_tune=4), ev, lambda: False, deadline=time.monotonic())
    assert len(runs.read_metrics(run_dir)) == 3  # the head's two epochs run; fine-tuning stops after one
    assert runs.load_run(run_dir).config["status"] == "done"
    assert any("time budget" in e.get("message", "") for e in ev.seen if e["event"] == "warning")


def test_a_deadline_shortens_the_one_cycle_to_the_epochs_that_fit() -> None:
    model = create_model("mobilenet_v2", 3, "none", frozen={"mobilenet_v2"})
    groups = unfreeze(model, blocks=2, base_lr=1e-3)
    optimizer = torch.optim.Adam(groups)
    scheduler = OneCycle(optimizer, max_lr=[g["lr"] for g in groups], total_steps=8 * 2)
    for _ in range(2):  # one epoch of two batches done
        optimizer.step()
        scheduler.step()
    loop = SimpleNamespace(settings=LoopSettings(epochs=10, batch_size=8, seed=0), history=[{}] * 3,
                           splits={"train": list(range(16))}, optimizer=optimizer, scheduler=scheduler,
                           stop_training=False)
    tune = FineTune(2, 8, 2, 1e-3, lambda: None, quiet_events(), Path("."), False,  # type: ignore[arg-type]
                    deadline=time.monotonic() + 350)
    tune.start = 2
    tune.fit_deadline(loop, epoch_s=100)  # type: ignore[arg-type]
    assert loop.settings.epochs == 3 + 2  # two more epochs fit, one epoch's time kept for the wrap-up
    assert loop.scheduler.total_steps == 2 + 2 * 2 and loop.scheduler.last_epoch == 2
    tune.fit_deadline(loop, epoch_s=1000)  # type: ignore[arg-type]
    assert loop.stop_training
