"""One training run in several processes: PyTorch DDP inside a ``torchrun`` worker.

``trainer train --nproc N`` starts ``torchrun`` (:mod:`trainer.launch`); each of its workers
runs :func:`train_worker`. Every rank builds the same model and data; rank 0 alone checks the
images, creates the run folder and writes everything in it (config, metrics, events,
checkpoints, calibration: its callbacks are :class:`RankZeroOnly` elsewhere), and its events
alone reach stdout. The training split is sharded with :class:`DistributedSampler`, gradients
are averaged by :class:`DistributedDataParallel` (Gloo on CPUs, NCCL on GPUs), held-out splits
are evaluated in shards and every metric is summed over the ranks, so rank 0's
``metrics.csv`` is the global one and every rank takes the same early-stopping decision. A stop
is agreed on by all ranks at a batch boundary (an ``all_reduce`` of the flags). The checkpoint
format is unchanged: a DDP run resumes, evaluates, exports and classifies like any other.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler

from trainer.batches import to_device
from trainer.callbacks import Checkpointer, EarlyStopping, PreciseBN
from trainer.config import TrainConfig
from trainer.data import SplitData
from trainer.engine import Fit, pick_device
from trainer.events import Events
from trainer.features import Cancelled
from trainer.loop import Callback, FitLoop
from trainer.models import TransferModel, frozen_backbones, resolve_weights

TIMEOUT = timedelta(hours=1)  # rank 0 checks every image while the others wait
# BatchNorm statistics are not synced every step: precise BN re-estimates them on every rank
# alike after each epoch (torch >= 2.12 renamed the option).
_NO_BUFFER_SYNC: dict[str, Any] = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else {"broadcast_buffers": False})


def is_worker() -> bool:
    """Started by ``torchrun`` (or another launcher that sets the DDP environment)."""
    return "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def single_process_reason(cfg: TrainConfig) -> str | None:
    """Why ``cfg`` trains in one process whatever ``--nproc`` says, or None when DDP applies."""
    if cfg.fine_tune:
        return "fine-tuning (--fine-tune) trains in one process"
    wmap = resolve_weights(cfg.model, cfg.weights)
    if cfg.cache and not cfg.augment and frozen_backbones(wmap, cfg.freeze) == set(wmap):
        return ("every backbone is frozen and --augment is off, so training uses cached features and takes "
                "seconds in one process; --nproc is for augmented or unfrozen training")
    return None


class RankZeroOnly(Callback):
    """Runs a callback's hooks on rank 0 only (``keep``: hooks every rank runs, e.g. reading a
    checkpoint to resume); its state is saved and restored on every rank."""

    def __init__(self, callback: Callback, rank: int, keep: Sequence[str] = ()) -> None:
        self.callback, self.rank, self.keep = callback, rank, set(keep)

    def _hook(self, name: str) -> Callable[..., None]:
        if self.rank == 0 or name in self.keep:
            return getattr(self.callback, name)
        return lambda *args: None

    def on_fit_start(self, loop: FitLoop) -> None:
        self._hook("on_fit_start")(loop)

    def on_train_batch_end(self, loop: FitLoop, batch: int, batches: int, loss: float) -> None:
        self._hook("on_train_batch_end")(loop, batch, batches, loss)

    def on_train_epoch_end(self, loop: FitLoop) -> None:
        self._hook("on_train_epoch_end")(loop)

    def on_epoch_end(self, loop: FitLoop, row: dict[str, Any]) -> None:
        self._hook("on_epoch_end")(loop, row)

    def on_unfreeze(self, loop: FitLoop) -> None:
        self._hook("on_unfreeze")(loop)

    def on_fit_end(self, loop: FitLoop) -> None:
        self._hook("on_fit_end")(loop)

    def on_cancel(self, loop: FitLoop, exc: Cancelled) -> None:
        self._hook("on_cancel")(loop, exc)

    def state_dict(self) -> dict[str, Any]:
        return self.callback.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.callback.load_state_dict(state)


def rank_callbacks(callbacks: Sequence[Callback], rank: int) -> list[Callback]:
    """Every rank computes (precise BN, early stopping); rank 0 alone writes and reports. Every
    rank reads ``last.pt`` to resume (the checkpointer's ``on_fit_start``)."""
    if rank == 0:
        return list(callbacks)
    out: list[Callback] = []
    for cb in callbacks:
        if isinstance(cb, (PreciseBN, EarlyStopping)):
            out.append(cb)
        else:
            out.append(RankZeroOnly(cb, rank, keep=("on_fit_start",) if isinstance(cb, Checkpointer) else ()))
    return out


class _Logits(nn.Module):
    """What DDP wraps: images -> logits, the computation :meth:`SplitData.forward` does."""

    def __init__(self, model: TransferModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.head(self.model.features(x))


@dataclass
class DistributedSplit(SplitData):
    """The training split; its training steps run through the DDP wrapper (gradient averaging).

    Every rank must take every step (DDP averages gradients in ``backward``): a batch whose
    photos all vanished meanwhile steps on a blank photo with zeroed logits, a step whose
    gradient is exactly zero, instead of leaving the other ranks waiting.
    """

    ddp: nn.Module | None = None
    blank: torch.Tensor | None = None  # one black photo of the batches' shape

    def forward(self, model: TransferModel, idx: list[int], batcher: Any,
                device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor]:
        if self.ddp is None or not (model.training and torch.is_grad_enabled()) or self.paths is None:
            return super().forward(model, idx, batcher, device)
        x, ok, _ = batcher([self.paths[i] for i in idx])
        labels = self.labels[idx]
        if x is None:
            if self.blank is None:  # nothing decoded yet to take the shape from
                return None, labels[:0].to(device)
            zeroed = self.ddp(to_device(self.blank, device)) * 0.0  # d(loss)/d(weights) = 0
            return zeroed, labels[:1].to(device)
        self.blank = torch.zeros_like(x[:1])
        return self.ddp(to_device(x, device)), labels[torch.tensor(ok)].to(device)


class DistributedFitLoop(FitLoop):
    """:class:`FitLoop` over this rank's shard, with global metrics and an agreed stop.

    Collective steps (sums, the stop flag) run while every rank trains; from ``on_fit_end`` on,
    rank 0 is alone (test-time augmentation, calibration) and the loop is a plain one again.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.collective = True
        ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
            if self.device.type == "cuda" else None
        self.ddp = DistributedDataParallel(_Logits(self.model), device_ids=ids, **_NO_BUFFER_SYNC)
        train = self.splits["train"]
        self.splits = {**self.splits, "train": DistributedSplit(train.name, train.labels, train.feats, train.paths,
                                                                 ddp=self.ddp)}

    def call(self, hook: str, *args: Any) -> None:
        if hook == "on_fit_end":
            self.collective = False
        super().call(hook, *args)

    def epoch_order(self, epoch: int, n: int, generator: torch.Generator) -> list[list[int]]:
        size = self.settings.batch_size
        if self.sample_weights is not None:  # a class-balanced draw, the same on every rank, dealt out
            flat = torch.multinomial(self.sample_weights, n, replacement=True, generator=generator).tolist()
            flat += flat[: (-len(flat)) % self.world]
            mine = flat[self.rank :: self.world]
        else:
            indices = cast("Dataset[int]", range(n))  # the sampler only needs its length
            sampler: DistributedSampler[int] = DistributedSampler(indices, self.world, self.rank, shuffle=True,
                                                                  seed=self.settings.seed)
            sampler.set_epoch(epoch)
            mine = list(sampler)
        return [mine[i : i + size] for i in range(0, len(mine), size)]

    def eval_batches(self, n: int, size: int) -> list[list[int]]:
        if not self.collective:
            return super().eval_batches(n, size)
        mine = list(range(self.rank, n, self.world))
        batches = math.ceil(math.ceil(n / self.world) / size)  # the same count on every rank (agreed stops)
        return [mine[i * size : (i + 1) * size] for i in range(batches)]

    def means(self, total_loss: float, correct: int, seen: int) -> tuple[float, float]:
        if not self.collective:
            return super().means(total_loss, correct, seen)
        sums = torch.tensor([total_loss, float(correct), float(seen)], dtype=torch.float64, device=self._comm())
        dist.all_reduce(sums)
        total, right, count = sums.tolist()
        return super().means(total, int(right), int(count))

    def check_stop(self, message: str) -> None:
        if not self.collective:
            return super().check_stop(message)
        flag = torch.tensor([1.0 if self.should_stop() else 0.0], device=self._comm())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() > 0:
            raise Cancelled(message)
        return None

    def _comm(self) -> torch.device:
        """NCCL reduces CUDA tensors; Gloo CPU ones."""
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


class DistributedFit(Fit):
    """A run whose rank 0 owns the run folder; the others train their shard and keep quiet."""

    loop_class = DistributedFitLoop

    def __init__(self, cfg: TrainConfig, events: Events, should_stop: Callable[[], bool],
                 resume: Path | None) -> None:
        self.rank = dist.get_rank()
        super().__init__(cfg, events, should_stop, resume)
        self.callbacks = rank_callbacks(self.callbacks, self.rank)

    def _config(self) -> dict[str, Any]:
        """``nproc``: this machine's processes (a resume starts as many again)."""
        nproc = int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size()))
        return {**super()._config(), "nproc": nproc, "world_size": dist.get_world_size()}

    def _new_run_dir(self) -> Path:
        name = [str(super()._new_run_dir()) if self.rank == 0 else ""]
        dist.broadcast_object_list(name, src=0)
        return Path(name[0])

    def _prepare(self) -> dict[str, SplitData]:
        """Rank 0 checks every image (and reports the unreadable ones); every rank gets its
        splits, so all shard the very same list."""
        splits = [super()._prepare() if self.rank == 0 else None]
        dist.broadcast_object_list(splits, src=0)
        assert splits[0] is not None
        return splits[0]

    def run(self) -> Path:
        if self.rank == 0:
            return super().run()
        try:
            self._loop(self._prepare()).fit()
        except Cancelled as exc:
            exc.reported = True  # type: ignore[attr-defined] # rank 0 reports it
            raise
        finally:
            for batcher in (self.batcher, self.eval_batcher):
                batcher.close()
        return self.run_dir


def train_worker(cfg: TrainConfig, events: Events, should_stop: Callable[[], bool],
                 resume: Path | None = None) -> Path:
    """One ``torchrun`` worker's share of a run; returns the run folder (rank 0 wrote it)."""
    from trainer.engine import train
    from trainer.logs import run_log

    cfg.validate()
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - stdout is rank 0's protocol
        events = Events([])
    if single_process_reason(cfg):  # started by hand with torchrun: rank 0 trains alone
        return train(cfg, events, should_stop, resume) if rank == 0 else Path(cfg.out)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    try:
        fit = DistributedFit(cfg, events, should_stop, resume)
        if rank != 0:
            return fit.run()
        with run_log(fit.run_dir):
            return fit.run()
    finally:
        dist.destroy_process_group()
