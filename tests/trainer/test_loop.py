"""The training loop and its callbacks: hook order, cancellation, state carried across a resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import quiet_events
from trainer import runs
from trainer.checkpoint import read_checkpoint
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.features import Cancelled
from trainer.loop import Callback, FitLoop


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.seen_epochs = 0

    def on_fit_start(self, loop: FitLoop) -> None:
        self.calls.append("fit_start")

    def on_train_batch_end(self, loop: FitLoop, batch: int, batches: int, loss: float) -> None:
        if batch == batches:
            self.calls.append("last_batch")

    def on_train_epoch_end(self, loop: FitLoop) -> None:
        self.calls.append("train_epoch_end")

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        assert loop.history[-1] is row and "val_acc" in row
        self.seen_epochs += 1
        self.calls.append("epoch_end")

    def on_fit_end(self, loop: FitLoop) -> None:
        self.calls.append("fit_end")

    def on_cancel(self, loop: FitLoop, exc: Cancelled) -> None:
        self.calls.append("cancel")

    def state_dict(self) -> dict[str, Any]:
        return {"recorder_epochs": self.seen_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seen_epochs = int(state.get("recorder_epochs", 0))


def _cfg(data: Path, tmp_path: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(data=str(data), weights="none", freeze=True, epochs=2, image_size=48,
                                out=str(tmp_path / "runs"), workers=1)
    return TrainConfig(**{**base, **kw})


def test_hooks_run_in_order(demo_root: Path, tmp_path: Path) -> None:
    rec = Recorder()
    train(_cfg(demo_root, tmp_path), quiet_events(), lambda: False, callbacks=[rec])
    epoch = ["last_batch", "train_epoch_end", "epoch_end"]
    assert rec.calls == ["fit_start", *epoch, *epoch, "fit_end"]


def test_a_stop_calls_on_cancel_and_a_resume_restores_callback_state(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=1)
    run_dir = train(cfg, quiet_events(), lambda: False, callbacks=[Recorder()])
    assert read_checkpoint(run_dir / runs.LAST)["recorder_epochs"] == 1  # saved with the checkpoint
    rec = Recorder()
    checks = iter(range(1000))
    with pytest.raises(Cancelled):  # stop on the 3rd batch of the resumed epoch
        train(dataclasses.replace(cfg, epochs=3), quiet_events(), lambda: next(checks) >= 2, resume=run_dir,
              callbacks=[rec])
    assert rec.calls[-1] == "cancel" and rec.seen_epochs == 1  # restored from last.pt, no new epoch ended
    rec = Recorder()
    train(dataclasses.replace(cfg, epochs=3), quiet_events(), lambda: False, resume=run_dir, callbacks=[rec])
    assert rec.seen_epochs == 3 and [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]


def test_early_stopping_state_survives_a_resume(demo_root: Path, tmp_path: Path) -> None:
    cfg = _cfg(demo_root, tmp_path, epochs=2, early_stop=50)
    run_dir = train(cfg, quiet_events(), lambda: False)
    last = read_checkpoint(run_dir / runs.LAST)
    best_loss = min(m["val_loss"] for m in runs.read_metrics(run_dir))
    assert last["best_val_loss"] == pytest.approx(best_loss) and last["stale"] in (0, 1)


class Shortens(Callback):
    """Cuts the run to ``to`` epochs at the end of epoch ``at`` (as fine-tuning's deadline does)."""

    def __init__(self, at: int, to: int) -> None:
        self.at, self.to = at, to

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        if row["epoch"] == self.at:
            loop.settings.epochs = self.to


def test_a_run_shortened_on_the_way_ends_at_its_new_length(demo_root: Path, tmp_path: Path) -> None:
    """A search's fine-tuning step shortened to fit its budget ran on to the old length (epoch
    27 of 23, at a learning rate of 1e-9), overrunning the budget."""
    events = quiet_events()
    run_dir = train(_cfg(demo_root, tmp_path, epochs=5), events, lambda: False, callbacks=[Shortens(at=2, to=3)])
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]
    assert [(e["metrics"]["epoch"], e["epochs"]) for e in events.seen if e["event"] == "epoch"][-1] == (3, 3)
