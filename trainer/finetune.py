"""Fine-tuning after the head, fastai's ``fine_tune`` recipe, as two loop callbacks.

A run with ``--fine-tune N`` first trains its head for ``--epochs`` epochs on frozen (cached)
features. :class:`FineTune` then unfreezes the backbones' last blocks and trains N more epochs
on the photos themselves with light augmentation, label smoothing, discriminative learning
rates (each deeper block learns faster, the head fastest) and a one-cycle schedule. BatchNorm
layers keep their ImageNet statistics (the backbones stay in eval mode): with batches of 4-16
photos, re-estimated statistics would be noise. The stage it is in is saved in checkpoints,
so a stopped run resumes where it stopped.

:class:`TTAChooser` decides, on validation, whether test-time augmentation helps the run's
best checkpoint; the checkpoints record the choice before they are calibrated with it on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer import tta as TTA
from trainer.batches import ImageBatcher
from trainer.data import SplitData
from trainer.events import Events
from trainer.loop import Callback, FitLoop
from trainer.models import TransferModel
from trainer.optimizers import adam
from trainer.protocol import Event
from trainer.registry import BACKBONES

LABEL_SMOOTHING = 0.1
MAX_BASE_LR = 2e-3  # fastai's fine_tune default; a higher --lr is for heads, not for backbones
LR_SPREAD = 100.0  # the first unfrozen block learns this many times slower than the head
PCT_START = 0.3  # one-cycle warm-up share
DIV, FINAL_DIV = 5.0, 1e5  # one-cycle: start at max/DIV, end at max/(DIV*FINAL_DIV)


def unfreeze(model: TransferModel, blocks: int, base_lr: float) -> list[dict[str, Any]]:
    """Make the last ``blocks`` blocks of every backbone trainable (0: all) and return Adam
    parameter groups with discriminative learning rates, head last."""
    head_lr = min(base_lr, MAX_BASE_LR) / 2
    groups: list[dict[str, Any]] = []
    for name, backbone in model.backbones.items():
        names = BACKBONES[name].blocks
        chosen = names[-blocks:] if 0 < blocks < len(names) else names
        backbone.requires_grad_(False)
        for depth, block in enumerate(chosen, start=1):
            module = backbone.get_submodule(block)
            module.requires_grad_(True)
            params = [p for p in module.parameters() if p.requires_grad]
            if params:  # e.g. resnet's bn1 with conv1 left frozen still has weights; relu has none
                lr = head_lr / LR_SPREAD ** (1 - depth / (len(chosen) + 1))
                groups.append({"params": params, "lr": lr, "name": f"{name}.{block}"})
    model.tuned, model.frozen = set(model.backbones), set()
    groups.append({"params": list(model.head.parameters()), "lr": head_lr, "name": "head"})
    return groups


class OneCycle(torch.optim.lr_scheduler.OneCycleLR):
    """One-cycle that holds its last rate instead of failing past its planned steps (a run resumed
    after a stop repeats the epoch it was stopped in, whose first batches the schedule counted)."""

    def step(self, epoch: int | None = None) -> None:
        if self.last_epoch + 1 < self.total_steps:
            super().step(epoch)


def image_splits(splits: dict[str, SplitData]) -> dict[str, SplitData]:
    """The same splits as photos to decode (a fine-tuned backbone's features change every step)."""
    out = {}
    for name, split in splits.items():
        if split.paths is None:
            raise ValueError(f"split {name} has no image paths to fine-tune on")
        out[name] = SplitData(name, split.labels, paths=split.paths)
    return out


class FineTune(Callback):
    """After ``head_epochs`` (or an early stop before them), unfreeze and train ``epochs`` more."""

    def __init__(self, head_epochs: int, epochs: int, blocks: int, lr: float,
                 augment_batcher: Callable[[], ImageBatcher], events: Events, run_dir: Path,
                 resume: bool, deadline: float | None = None) -> None:
        self.head_epochs, self.epochs, self.blocks, self.lr = head_epochs, epochs, blocks, lr
        self.augment_batcher, self.events, self.run_dir, self.resume = augment_batcher, events, run_dir, resume
        self.deadline = deadline  # time.monotonic() by which fine-tuning must end (trainer search's budget)
        self.start: int | None = None  # the epoch count at which fine-tuning began

    def on_fit_start(self, loop: FitLoop) -> None:
        if self.resume and (self.run_dir / runs.LAST).is_file():
            start = ckpt_io.peek(self.run_dir / runs.LAST, "fine_tune_from")
            if start is not None:  # stopped while fine-tuning: the optimizer to restore is the fine-tuning one
                self.switch(loop, int(start))

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        if self.start is None and (len(loop.history) >= self.head_epochs or loop.stop_training):
            self.switch(loop, len(loop.history))
        elif self.start is not None and self.deadline is not None and not loop.stop_training:
            self.fit_deadline(loop, float(row["seconds"]))

    def fit_deadline(self, loop: FitLoop, epoch_s: float) -> None:
        """After a fine-tuning epoch, as many more as fit before the deadline, one epoch's time
        kept for the wrap-up (test-time augmentation, calibration): the one-cycle schedule is
        shortened to end with them; none fits: the run ends now, normally."""
        fit = int((self.deadline - time.monotonic()) // max(epoch_s, 1e-3)) - 1  # type: ignore[operator]
        left = loop.settings.epochs - len(loop.history)
        if fit >= left:
            return
        if fit <= 0:
            loop.stop_training = True
            self.events.warning(f"fine-tuning ends after epoch {len(loop.history)}: the time budget fits no more")
            return
        loop.settings.epochs = len(loop.history) + fit
        batches = math.ceil(len(loop.splits["train"]) / loop.settings.batch_size)
        assert isinstance(loop.scheduler, OneCycle)
        done = loop.scheduler.last_epoch
        loop.scheduler = OneCycle(loop.optimizer, max_lr=[g["max_lr"] for g in loop.optimizer.param_groups],
                                  total_steps=done + fit * batches, pct_start=PCT_START, div_factor=DIV,
                                  final_div_factor=FINAL_DIV)
        for _ in range(done):  # continue at the same step of the shorter cycle
            loop.scheduler.step()
        self.events.warning(f"fine-tuning shortened to {loop.settings.epochs - self.start} epochs "  # type: ignore[operator]
                            "to fit the time budget")

    def switch(self, loop: FitLoop, start: int) -> None:
        self.start = start
        runs.update_config(self.run_dir, fine_tune_from=start)  # where the curves mark fine-tuning's start
        groups = unfreeze(loop.model, self.blocks, self.lr)
        loop.splits = image_splits(loop.splits)
        loop.batcher = self.augment_batcher()
        weight = getattr(loop.loss_fn, "weight", None)
        loop.loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=LABEL_SMOOTHING)
        loop.optimizer = adam(groups, groups[-1]["lr"], loop.device)
        steps = self.epochs * math.ceil(len(loop.splits["train"]) / loop.settings.batch_size)
        loop.scheduler = OneCycle(
            loop.optimizer, max_lr=[g["lr"] for g in groups], total_steps=max(steps, 1), pct_start=PCT_START,
            div_factor=DIV, final_div_factor=FINAL_DIV)
        loop.settings.epochs = start + self.epochs
        loop.stop_training = False
        trainable = sum(p.numel() for g in groups for p in g["params"])
        peaks = f"{groups[0]['max_lr']:.1e} to {groups[-1]['max_lr']:.1e}"
        self.events.emit(Event.STAGE, stage="fine-tune", epochs=loop.settings.epochs, message=(
            f"fine-tuning from epoch {start + 1}: {len(groups) - 1} backbone blocks unfrozen ({trainable / 1e6:.1f} M "
            f"weights), peak learning rates {peaks}, one-cycle, label smoothing {LABEL_SMOOTHING}, BatchNorm "
            "statistics kept"))
        loop.call("on_unfreeze")

    def state_dict(self) -> dict[str, Any]:
        return {"fine_tune_from": self.start}


class TTAChooser(Callback):
    """At the end of training: the test-time augmentation mode with the best val accuracy on the
    best checkpoint, the lower val loss breaking ties (views cost classify time, so at an exact
    tie fewer views win), recorded in every checkpoint and in ``config.json``; the loop's
    held-out splits then carry it, so the calibration that follows is fitted with it on."""

    def __init__(self, setting: str, views: Callable[[FitLoop, str, tuple[str, ...]], dict[str, SplitData]],
                 events: Events, run_dir: Path) -> None:
        self.setting, self.views, self.events, self.run_dir = setting, views, events, run_dir

    def on_fit_end(self, loop: FitLoop) -> None:
        candidates = TTA.candidates(self.setting)
        best = runs.find_checkpoint(self.run_dir)
        if best is None:
            return
        loop.model.load_state_dict(ckpt_io.read_checkpoint(best)["state_dict"])
        scores: dict[str, dict[str, float]] = {}
        tried: dict[str, dict[str, SplitData]] = {}
        for i, mode in enumerate(candidates):  # progress: an augmented run's views take a while
            self.events.progress("tta", i, len(candidates))
            loop.check_stop("stopped while trying test-time augmentation")
            tried[mode] = self.views(loop, mode, ("val",))
            loop.model.tta = mode
            scores[mode] = dict(zip(("val_loss", "val_acc"), loop.evaluate(tried[mode]["val"])))
        self.events.progress("tta", len(candidates), len(candidates))
        # more val photos right, else as many with a lower val loss (on a small val split accuracy
        # often ties); exact ties keep the first mode, the fewest views
        mode = max(candidates, key=lambda m: (round(scores[m]["val_acc"], 9), -round(scores[m]["val_loss"], 6)))
        loop.model.tta = mode
        loop.splits = tried[mode]
        loop.splits = self.views(loop, mode, ("test",))  # test gets only the chosen mode's views
        if "test" in loop.splits:  # reported, never used to choose
            scores[mode].update(zip(("test_loss", "test_acc"), loop.evaluate(loop.splits["test"])))
        for name in (runs.LAST, runs.BEST):
            if (self.run_dir / name).is_file():
                ckpt_io.update(self.run_dir / name, tta=mode)
        runs.update_config(self.run_dir, tta_choice={"mode": mode, "tried": scores})  # "tta" is the setting
        accuracies = ", ".join(f"{m} {s['val_acc']:.1%}" for m, s in scores.items())
        self.events.emit(Event.STAGE, stage="tta", message=f"test-time augmentation: {mode} (val accuracy "
                         f"{accuracies})")

