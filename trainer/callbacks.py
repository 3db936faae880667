"""What a training run does besides optimizing, one :class:`~trainer.loop.Callback` each.

:func:`standard_callbacks` lists them in the order they run at each hook: progress events,
precise BN, metrics, early stopping, calibration, then checkpoints (which save every
callback's state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer.calibration import calibrate
from trainer.events import Events
from trainer.features import Cancelled
from trainer.loop import Callback, FitLoop
from trainer.optimizers import load_state
from trainer.protocol import Event
from trainer.scoring import BANK
from trainer.trust import Trust


class ProgressEvents(Callback):
    """A throttled ``progress`` event per batch, with the batch's loss (the app's live chart)."""

    def __init__(self, events: Events) -> None:
        self.events = events

    def on_train_batch_end(self, loop: FitLoop, batch: int, batches: int, loss: float) -> None:
        self.events.progress("train", batch, batches, epoch=len(loop.history) + 1, loss=round(loss, 5))


class PreciseBN(Callback):
    """Re-estimate BatchNorm statistics of *trainable* backbones after each training epoch.

    From scratch on small data the running averages lag far behind fast-changing weights and
    eval-mode predictions collapse to one class; one no-grad pass with cumulative averaging
    fixes that. Frozen backbones are never touched; cached features have no backbone pass.
    """

    def __init__(self, max_images: int = 512) -> None:
        self.max_images = max_images

    @torch.no_grad()
    def on_train_epoch_end(self, loop: FitLoop) -> None:
        model, split = loop.model, loop.splits["train"]
        bns = [m for name, bb in model.backbones.items() if name not in model.frozen | model.tuned
               for m in bb.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns or split.paths is None:
            return
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative moving average over the pass
        model.train()
        n = min(len(split), self.max_images)
        size = max(loop.settings.batch_size, 16)
        for start in range(0, n, size):
            loop.check_stop("stopped while updating batch-norm statistics")
            split.forward(model, list(range(start, min(start + size, n))), loop.eval_batcher, loop.device)
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum


class MetricsWriter(Callback):
    """``metrics.csv`` rewritten atomically after every epoch, and an ``epoch`` event."""

    def __init__(self, run_dir: Path, events: Events) -> None:
        self.run_dir, self.events = run_dir, events

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        runs.write_metrics(self.run_dir, loop.history)
        self.events.emit(Event.EPOCH, epochs=loop.settings.epochs, metrics=row)


class EarlyStopping(Callback):
    """Ends the run after ``patience`` epochs without a val-loss improvement (0: never)."""

    def __init__(self, patience: int, events: Events) -> None:
        self.patience, self.events = patience, events
        self.best_loss, self.stale = float("inf"), 0

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        if row["val_loss"] < self.best_loss - 1e-6:
            self.best_loss, self.stale = row["val_loss"], 0
        else:
            self.stale += 1
        if self.patience and self.stale >= self.patience:
            loop.stop_training = True
            if int(row.get("epoch", 0)) < loop.settings.epochs:  # at the last epoch it stops nothing: no word
                self.events.warning(f"early stop: val loss did not improve for {self.patience} epochs")

    def on_unfreeze(self, loop: FitLoop) -> None:
        self.stale = 0  # fine-tuning gets its own patience

    def state_dict(self) -> dict[str, Any]:
        return {"best_val_loss": self.best_loss, "stale": self.stale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_loss = float(state.get("best_val_loss", float("inf")))
        self.stale = int(state.get("stale", 0))


class Checkpointer(Callback):
    """``best.pt`` for the best epoch so far (:func:`trainer.runs.epoch_rank`: val accuracy, at a
    tie the lower val loss), ``last.pt`` every epoch and on a stop.

    Frozen backbones go to ``backbone.pt`` once per run; checkpoints name it by hash. Every
    callback's :meth:`~trainer.loop.Callback.state_dict` is saved, so a resume continues them.
    """

    def __init__(self, run_dir: Path, events: Events, meta: Callable[[list[dict[str, Any]]], dict[str, Any]],
                 resume: bool = False) -> None:
        self.run_dir, self.events, self.meta, self.resume = run_dir, events, meta, resume
        self.best: tuple[float, float] = (-1.0, -math.inf)  # epoch_rank of best.pt's epoch
        self.backbone_ref: dict[str, str] | None = None

    def on_fit_start(self, loop: FitLoop) -> None:
        if self.resume:
            self.restore(loop)

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        rank = runs.epoch_rank(row)  # a tie on accuracy (small val splits tie often): the lower loss
        if rank > self.best:
            self.best = rank
            self.save(loop, runs.BEST)
        self.save(loop, runs.LAST)

    @property
    def best_acc(self) -> float:
        return self.best[0]

    def on_cancel(self, loop: FitLoop, exc: Cancelled) -> None:
        self.save(loop, runs.LAST, interrupted=True)

    def state_dict(self) -> dict[str, Any]:
        return {"best_val_acc": self.best[0], "best_val_loss": -self.best[1]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = (float(state.get("best_val_acc", -1.0)), -float(state.get("best_val_loss", math.inf)))

    def _backbone(self, loop: FitLoop) -> dict[str, str] | None:
        if not loop.model.frozen:  # nothing frozen (any more, after fine-tuning): checkpoints hold it all
            return None
        if self.backbone_ref is None:
            if (self.run_dir / runs.BACKBONE).is_file():  # written before a resume
                self.backbone_ref = ckpt_io.backbone_ref(self.run_dir)
            else:
                self.backbone_ref = ckpt_io.save_backbone(loop.model, self.run_dir)
        return self.backbone_ref

    def save(self, loop: FitLoop, name: str, **extra: Any) -> None:
        states = {k: v for cb in loop.callbacks for k, v in cb.state_dict().items()}
        ckpt_io.save_checkpoint(
            self.run_dir / name, loop.model, self.meta(loop.history), self._backbone(loop),
            optimizer=loop.optimizer.state_dict(), scheduler=loop.scheduler.state_dict(), **states, **extra,
        )
        self.events.emit(Event.CHECKPOINT, path=str(self.run_dir / name), epoch=len(loop.history))

    def restore(self, loop: FitLoop) -> None:
        """Continue from ``last.pt``: weights, optimizer, scheduler, callbacks, history."""
        last = ckpt_io.read_checkpoint(self.run_dir / runs.LAST)
        loop.model.load_state_dict(last["state_dict"])
        load_state(loop.optimizer, last["optimizer"])
        loop.scheduler.load_state_dict(last["scheduler"])
        for cb in loop.callbacks:
            cb.load_state_dict(last)
        loop.history = loop.history[: int(last["epoch"])]


class Calibrator(Callback):
    """After the last epoch, every saved checkpoint gets its temperature and rejection
    threshold (and feature bank), fitted on val with that checkpoint's own weights
    (:mod:`trainer.calibration`); ``config.json`` shows the run's (best) checkpoint's."""

    def __init__(self, run_dir: Path, events: Events, coverage: float, seed: int) -> None:
        self.run_dir, self.events, self.coverage, self.seed = run_dir, events, coverage, seed
        self.trust: Trust | None = None  # the checkpoint the run folder stands for

    def on_fit_end(self, loop: FitLoop) -> None:
        last_state, _ = ckpt_io.split_state(loop.model)
        names = [n for n in (runs.LAST, runs.BEST) if (self.run_dir / n).is_file()]
        fitted: dict[int, tuple[Trust, torch.Tensor | None]] = {}  # by epoch: best may be last
        try:
            for i, name in enumerate(names):
                ckpt = ckpt_io.read_checkpoint(self.run_dir / name)
                if int(ckpt["epoch"]) not in fitted:
                    loop.model.load_state_dict(ckpt["state_dict"])
                    fitted[int(ckpt["epoch"])] = calibrate(loop.model, loop.splits, loop.eval_batcher, loop.device,
                                                           loop.should_stop, self.coverage, self.seed)
                trust, bank = fitted[int(ckpt["epoch"])]
                ckpt_io.write_trust(self.run_dir / name, trust, **{BANK: bank})
                self.trust = trust
                self.events.progress("calibrate", i + 1, len(names))
        finally:
            loop.model.load_state_dict(last_state, strict=False)  # the loop's model is the last epoch's


def standard_callbacks(run_dir: Path, events: Events, early_stop: int,
                       meta: Callable[[list[dict[str, Any]]], dict[str, Any]], resume: bool,
                       coverage: float, seed: int) -> list[Callback]:
    return [ProgressEvents(events), PreciseBN(), MetricsWriter(run_dir, events), EarlyStopping(early_stop, events),
            Calibrator(run_dir, events, coverage, seed), Checkpointer(run_dir, events, meta, resume)]
