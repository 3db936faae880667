"""The training loop and its callbacks (Lightning's pattern: loop, model and data apart).

:class:`FitLoop` runs epochs and batches and evaluates the held-out splits; everything else
a run does — checkpoints, metrics files, early stopping, precise BN, progress events, and
what is to come (calibration, rank-0-only writing) — is a :class:`Callback` hooked into it.
The loop checks ``should_stop`` before every batch and raises :class:`Cancelled`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainer.batches import ImageBatcher
from trainer.data import HELD_OUT, SplitData, batch_order
from trainer.features import Cancelled
from trainer.models import TransferModel

Plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
Scheduler = Plateau | torch.optim.lr_scheduler.LRScheduler


class Callback:
    """Hooks the loop calls; each does nothing unless a subclass overrides it."""

    def on_fit_start(self, loop: FitLoop) -> None:
        """Before the first epoch (after a resume, before the first new one)."""

    def on_train_batch_end(self, loop: FitLoop, batch: int, batches: int, loss: float) -> None:
        """After each optimizer step; ``batch`` counts from 1."""

    def on_train_epoch_end(self, loop: FitLoop) -> None:
        """After an epoch's training batches, before the held-out splits are evaluated."""

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        """After evaluation: ``row`` holds the epoch's metrics and is in ``loop.history``."""

    def on_unfreeze(self, loop: FitLoop) -> None:
        """Fine-tuning begins: the backbones train from now on (:mod:`trainer.finetune`)."""

    def on_fit_end(self, loop: FitLoop) -> None:
        """After the last epoch (or an early stop)."""

    def on_cancel(self, loop: FitLoop, exc: Cancelled) -> None:
        """The user stopped the run; the loop re-raises ``exc`` afterwards."""

    def state_dict(self) -> dict[str, Any]:
        """What the callback needs to continue after a resume (saved in checkpoints)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (missing keys keep their defaults)."""


@dataclass
class LoopSettings:
    epochs: int
    batch_size: int
    seed: int


class FitLoop:
    """Runs epochs of optimizer steps over ``splits["train"]`` and evaluates val/test."""

    def __init__(self, model: TransferModel, optimizer: torch.optim.Optimizer,
                 scheduler: Scheduler, splits: dict[str, SplitData],
                 loss_fn: nn.Module, settings: LoopSettings, device: torch.device,
                 batchers: tuple[ImageBatcher, ImageBatcher], callbacks: Sequence[Callback],
                 should_stop: Callable[[], bool], sample_weights: torch.Tensor | None = None,
                 history: list[dict[str, Any]] | None = None) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.splits, self.loss_fn, self.settings, self.device = splits, loss_fn, settings, device
        self.eval_loss_fn = loss_fn  # training may smooth its labels; held-out losses stay plain
        self.batcher, self.eval_batcher = batchers
        self.callbacks = list(callbacks)
        self.should_stop = should_stop
        self.sample_weights = sample_weights
        self.history: list[dict[str, Any]] = list(history or [])
        self.stop_training = False  # set by a callback (early stopping) to end after this epoch

    def call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def fit(self) -> None:
        try:
            self.call("on_fit_start")
            # ``settings.epochs`` may change on the way (fine-tuning's switch and its deadline): read it each time
            while len(self.history) < self.settings.epochs:
                row = self.run_epoch(len(self.history))
                self.history.append(row)
                self.call("on_epoch_end", row)
                if self.stop_training:
                    break
            self.call("on_fit_end")
        except Cancelled as exc:
            self.call("on_cancel", exc)
            raise

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        lr = self.optimizer.param_groups[-1]["lr"]  # the head's (fine-tuning: the fastest)
        train_loss, train_acc = self.train_epoch(epoch)
        train_seconds = time.perf_counter() - t0
        self.call("on_train_epoch_end")
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc}
        for name in HELD_OUT:
            if name in self.splits:
                row[f"{name}_loss"], row[f"{name}_acc"] = self.evaluate(self.splits[name])
        if isinstance(self.scheduler, Plateau):
            self.scheduler.step(row["val_loss"])
        row.update(lr=lr, seconds=round(time.perf_counter() - t0, 3),
                   images_per_s=round(len(self.splits["train"]) / max(train_seconds, 1e-9), 1))
        return row

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        s = self.settings
        torch.manual_seed(s.seed * 1000 + epoch)
        generator = torch.Generator().manual_seed(s.seed * 1000 + epoch)
        split = self.splits["train"]
        order = self.epoch_order(epoch, len(split), generator)
        self.model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for b, idx in enumerate(order):
            self.check_stop(f"stopped during epoch {epoch + 1} ({epoch} finished)")
            logits, labels = split.forward(self.model, idx, self.batcher, self.device)
            if logits is None or labels.numel() == 0:
                continue
            loss = self.loss_fn(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if not isinstance(self.scheduler, Plateau):  # one-cycle and the like step every batch
                self.scheduler.step()
            total_loss += loss.item() * labels.numel()
            correct += int((logits.argmax(1) == labels).sum())
            seen += labels.numel()
            self.call("on_train_batch_end", b + 1, len(order), loss.item())
        return self.means(total_loss, correct, seen)

    @torch.no_grad()
    def evaluate(self, split: SplitData) -> tuple[float, float]:
        """Mean loss and accuracy of the model on a split, in eval mode."""
        self.model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        for idx in self.eval_batches(len(split), max(self.settings.batch_size, 64)):
            self.check_stop("stopped during evaluation")
            logits, labels = split.forward(self.model, idx, self.eval_batcher, self.device)
            if logits is None:
                continue
            total_loss += self.eval_loss_fn(logits, labels).item() * labels.numel()
            correct += int((logits.argmax(1) == labels).sum())
            seen += labels.numel()
        return self.means(total_loss, correct, seen)

    # -- what a data-parallel loop (trainer.distributed) changes ---------------------------
    def epoch_order(self, epoch: int, n: int, generator: torch.Generator) -> list[list[int]]:
        """The epoch's batches of indices into the train split."""
        return batch_order(n, self.settings.batch_size, generator, self.sample_weights)

    def eval_batches(self, n: int, size: int) -> list[list[int]]:
        """The batches of indices a held-out split is evaluated in."""
        return [list(range(start, min(start + size, n))) for start in range(0, n, size)]

    def means(self, total_loss: float, correct: int, seen: int) -> tuple[float, float]:
        """Mean loss and accuracy from the sums over the batches seen."""
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def check_stop(self, message: str) -> None:
        if self.should_stop():
            raise Cancelled(message)
