"""The training loop: Adam + cross-entropy + ReduceLROnPlateau, cancellable every batch.

``train(cfg, events, should_stop)`` creates (or resumes) a run folder, prepares the data
(cached features when every backbone is frozen and augmentation is off), trains, evaluates
every split each epoch and writes metrics and checkpoints atomically.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

import trainer
from trainer import checkpoint as ckpt_io
from trainer import datasets, runs
from trainer import weights as W
from trainer.atomic import write_json
from trainer.batches import ImageBatcher
from trainer.config import TrainConfig, default_cache_dir
from trainer.data import SplitData, batch_order, class_weights
from trainer.events import Events, FileSink
from trainer.features import Cancelled, backbone_key, extract
from trainer.images import find_unreadable
from trainer.models import create_model, preprocess_for, resolve_weights
from trainer.pathtext import for_display, relative_text

StopFn = Callable[[], bool]


def pick_device(name: str) -> torch.device:
    """``auto`` prefers CUDA, then Apple MPS, then the CPU; an unavailable choice is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available (use --device auto or cpu)")
    if name == "mps" and not has_mps:
        raise ValueError("--device mps: Apple MPS is not available (use --device auto or cpu)")
    return torch.device(name)


def decide_frozen(wmap: dict[str, str], freeze: bool | None) -> set[str]:
    if freeze is None:
        return {n for n, spec in wmap.items() if spec != W.NONE}
    return set(wmap) if freeze else set()


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "trainer": trainer.__version__}


def train(cfg: TrainConfig, events: Events, should_stop: StopFn,
          resume: Path | None = None) -> Path:
    """Train one run; returns its folder. Raises :class:`Cancelled` when stopped."""
    cfg.validate()
    fit = Fit(cfg, events, should_stop, resume)
    return fit.run()


class Fit:
    """One run's state; each method is one step of :meth:`run`."""

    def __init__(self, cfg: TrainConfig, events: Events, should_stop: StopFn,
                 resume: Path | None) -> None:
        self.cfg, self.events, self.should_stop = cfg, events, should_stop
        if cfg.val_fraction <= 0 and not datasets.find_split_dirs(Path(cfg.data).expanduser()):
            raise datasets.DatasetError("--val-fraction must be > 0 when the data has no val split")
        self.ds = datasets.scan(cfg.data, cfg.val_fraction, cfg.seed)
        self.device = pick_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.wmap = resolve_weights(cfg.model, cfg.weights)
        self.model = create_model(cfg.model, len(self.ds.classes), self.wmap,
                                  decide_frozen(self.wmap, cfg.freeze)).to(self.device)
        self.pre = preprocess_for(cfg.model, cfg.image_size)
        self.cached = cfg.cache and not cfg.augment and set(self.model.frozen) == set(self.wmap)
        self.run_dir = resume or runs.new_run_dir(Path(cfg.out), cfg.model, cfg.lr, cfg.batch_size)
        self.history: list[dict[str, Any]] = runs.read_metrics(self.run_dir) if resume else []
        self.best_acc, self.best_loss, self.stale = -1.0, float("inf"), 0
        self.resumed = resume is not None
        self.batcher = ImageBatcher(self.pre.transform(cfg.augment), cfg.workers)
        self.eval_batcher = ImageBatcher(self.pre.transform(False), cfg.workers)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=0.2, patience=cfg.plateau_patience)
        self.backbone_ref: dict[str, str] | None = None

    # -- set-up ---------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {
            **self.cfg.to_dict(),
            "data": str(self.ds.root),
            "weights": dict(self.wmap),
            "frozen": sorted(self.model.frozen),
            "cached_features": self.cached,
            "device_used": str(self.device),
            "classes": self.ds.classes,
            "layout": self.ds.layout,
            "counts": self.ds.counts(),
            "dataset_fingerprint": self.ds.fingerprint(),
            "preprocess": self.pre.to_dict(),
            "versions": versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "running",
        }

    def _start(self) -> None:
        self.events.sinks.append(FileSink(self.run_dir / runs.EVENTS))
        self.events.context["run_dir"] = str(self.run_dir)
        if self.history:
            runs.update_config(self.run_dir, status="running", epochs=self.cfg.epochs)
        else:
            write_json(self.run_dir / runs.CONFIG, self._config())
            runs.record_splits(self.run_dir, self.ds)
        for w in self.ds.warnings:
            self.events.warning(w)
        self.events.emit(
            "start", model=self.cfg.model, device=str(self.device), classes=self.ds.classes,
            counts=self.ds.counts(), epochs=self.cfg.epochs, cached_features=self.cached,
            resumed_from_epoch=len(self.history),
        )

    def run(self) -> Path:
        started = time.monotonic()
        self._start()
        try:
            self.splits = self._prepare()
            if self.history:
                self._restore()
            self._loop()
        except Cancelled as exc:
            self._save(runs.LAST, interrupted=True)
            runs.update_config(self.run_dir, status="cancelled")
            self.events.emit("cancelled", message=f"{exc}; last checkpoint saved")
            exc.reported = True  # type: ignore[attr-defined]
            raise
        except BaseException as exc:
            runs.update_config(self.run_dir, status="failed", error=str(exc)[:500])
            raise
        finally:
            self.batcher.close()
            self.eval_batcher.close()
        previous = float(runs.load_run(self.run_dir).config.get("duration_s", 0.0)) if self.resumed else 0.0
        runs.update_config(self.run_dir, status="done",
                           duration_s=round(previous + time.monotonic() - started, 2))
        return self.run_dir

    # -- data -----------------------------------------------------------------------------
    def _prepare(self) -> dict[str, SplitData]:
        samples = dict(self.ds.splits)
        paths = [s.path for split in samples.values() for s in split]
        if self.cached:
            feats, ok, failed = self._extract(paths)
        else:
            failed = find_unreadable(paths, self.cfg.workers, self._validation_progress(len(paths)))
        self._report_skipped(failed)
        out, offset = {}, 0
        row_of = {i: r for r, i in enumerate(ok)} if self.cached else None
        for name, split in samples.items():
            keep = [offset + j for j, s in enumerate(split) if str(s.path) not in failed]
            labels = torch.tensor([split[i - offset].label for i in keep], dtype=torch.long)
            if self.cached:
                rows = torch.tensor([row_of[i] for i in keep], dtype=torch.long)
                out[name] = SplitData(name, labels, feats={n: f[rows] for n, f in feats.items()})
            else:
                out[name] = SplitData(name, labels, paths=[paths[i] for i in keep])
            offset += len(split)
        self._check_after_skips(out)
        return out

    def _extract(self, paths: list[Path]) -> tuple[dict, list[int], dict[str, str]]:
        keys = {n: backbone_key(n, self._weights_id(n), self.pre.to_dict()) for n in self.wmap}
        cache_dir = Path(self.cfg.cache_dir) if self.cfg.cache_dir else default_cache_dir()
        cache_dir.mkdir(parents=True, exist_ok=True)
        return extract(dict(self.model.backbones.items()), keys, paths, self.eval_batcher,
                       self.device, cache_dir, self.events, self.should_stop)

    def _weights_id(self, name: str) -> str:
        spec = self.wmap[name]
        return f"none:seed{self.cfg.seed}" if spec == W.NONE else W.describe(spec)

    def _validation_progress(self, total: int) -> Callable[[int], None]:
        def on_progress(done: int) -> None:
            if self.should_stop():
                raise Cancelled("stopped while checking images")
            self.events.progress("check", done, total)

        return on_progress

    def _report_skipped(self, failed: dict[str, str]) -> None:
        if not failed:
            return
        lines = [f"{relative_text(Path(p), self.ds.root)}: {for_display(r)}" for p, r in sorted(failed.items())]
        (self.run_dir / "skipped.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for line in lines:
            self.events.warning(f"skipped {line}")

    def _check_after_skips(self, splits: dict[str, SplitData]) -> None:
        counts = torch.bincount(splits["train"].labels, minlength=len(self.ds.classes))
        if int((counts > 0).sum()) < 2:
            raise datasets.DatasetError("fewer than 2 classes have readable training images")
        for name, split in splits.items():
            if len(split) == 0:
                raise datasets.DatasetError(f"the {name} split has no readable images")

    # -- loop -----------------------------------------------------------------------------
    def _loop(self) -> None:
        cfg = self.cfg
        train_split = self.splits["train"]
        n_classes = len(self.ds.classes)
        weights = class_weights(train_split.labels, n_classes)
        loss_fn = nn.CrossEntropyLoss(weight=weights.to(self.device) if cfg.balance == "loss" else None)
        sample_w = weights[train_split.labels] if cfg.balance == "sampler" else None
        for epoch in range(len(self.history), cfg.epochs):
            torch.manual_seed(cfg.seed * 1000 + epoch)
            gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
            order = batch_order(len(train_split), cfg.batch_size, gen, sample_w)
            row = self._epoch(epoch, order, loss_fn)
            self.history.append(row)
            runs.write_metrics(self.run_dir, self.history)
            self.events.emit("epoch", epochs=cfg.epochs, metrics=row)
            self._checkpoints(row)
            if self._early_stop(row):
                self.events.warning(f"early stop: val loss did not improve for {cfg.early_stop} epochs")
                break
        self.events.emit("done", message=f"finished: best val acc {self.best_acc:.1%}",
                         best_val_acc=self.best_acc, run_dir=str(self.run_dir))

    def _epoch(self, epoch: int, order: list[list[int]], loss_fn: nn.Module) -> dict[str, Any]:
        t0 = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        train_loss, train_acc = self._train_one_epoch(epoch, order, loss_fn)
        train_seconds = time.perf_counter() - t0
        self._recalibrate_bn()
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc}
        for name in ("val", "test"):
            if name in self.splits:
                row[f"{name}_loss"], row[f"{name}_acc"] = self._evaluate(self.splits[name], loss_fn)
        self.scheduler.step(row["val_loss"])
        seconds = time.perf_counter() - t0
        row.update(lr=lr, seconds=round(seconds, 3),
                   images_per_s=round(len(self.splits["train"]) / max(train_seconds, 1e-9), 1))
        return row

    def _train_one_epoch(self, epoch: int, order: list[list[int]], loss_fn: nn.Module) -> tuple[float, float]:
        self.model.train()
        split = self.splits["train"]
        total_loss, correct, seen = 0.0, 0, 0
        for b, idx in enumerate(order):
            if self.should_stop():
                raise Cancelled(f"stopped in epoch {epoch + 1}")
            logits, labels = split.forward(self.model, idx, self.batcher, self.device)
            if logits is None or labels.numel() == 0:
                continue
            loss = loss_fn(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total_loss += loss.item() * labels.numel()
            correct += int((logits.argmax(1) == labels).sum())
            seen += labels.numel()
            self.events.progress("train", b + 1, len(order), epoch=epoch + 1, loss=round(loss.item(), 5))
        return total_loss / max(seen, 1), correct / max(seen, 1)

    @torch.no_grad()
    def _recalibrate_bn(self, max_images: int = 512) -> None:
        """Precise BN: re-estimate BatchNorm statistics of *trainable* backbones.

        From scratch on small data the running averages lag far behind fast-changing weights
        and eval-mode predictions collapse to one class; one no-grad pass with cumulative
        averaging fixes that. Frozen backbones are never touched.
        """
        bns = [m for name, bb in self.model.backbones.items() if name not in self.model.frozen
               for m in bb.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        split = self.splits["train"]
        if not bns or split.paths is None:
            return
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative moving average over the pass
        self.model.train()
        n = min(len(split), max_images)
        size = max(self.cfg.batch_size, 16)
        for start in range(0, n, size):
            if self.should_stop():
                raise Cancelled("stopped while updating batch-norm statistics")
            split.forward(self.model, list(range(start, min(start + size, n))), self.eval_batcher,
                          self.device)
        for bn, m in zip(bns, saved):
            bn.momentum = m

    @torch.no_grad()
    def _evaluate(self, split: SplitData, loss_fn: nn.Module) -> tuple[float, float]:
        self.model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        size = max(self.cfg.batch_size, 64)
        for start in range(0, len(split), size):
            if self.should_stop():
                raise Cancelled("stopped during evaluation")
            idx = list(range(start, min(start + size, len(split))))
            logits, labels = split.forward(self.model, idx, self.eval_batcher, self.device)
            if logits is None:
                continue
            total_loss += loss_fn(logits, labels).item() * labels.numel()
            correct += int((logits.argmax(1) == labels).sum())
            seen += labels.numel()
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def _early_stop(self, row: dict[str, Any]) -> bool:
        if row["val_loss"] < self.best_loss - 1e-6:
            self.best_loss, self.stale = row["val_loss"], 0
        else:
            self.stale += 1
        return bool(self.cfg.early_stop) and self.stale >= self.cfg.early_stop

    # -- checkpoints ----------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {
            "model": self.cfg.model, "classes": self.ds.classes, "preprocess": self.pre.to_dict(),
            "weights": {n: W.describe(s) if s not in (W.IMAGENET, W.NONE) else s
                        for n, s in self.wmap.items()},
            "run": self.run_dir.name, "epoch": len(self.history),
            "metrics": self.history[-1] if self.history else {},
        }

    def _backbone(self) -> dict[str, str] | None:
        """Frozen backbones go to ``backbone.pt`` once per run (reused when resuming)."""
        if self.backbone_ref is None and self.model.frozen:
            existing = self.run_dir / runs.BACKBONE
            if existing.is_file():
                self.backbone_ref = {"file": runs.BACKBONE, "sha256": W.file_sha256(existing)}
            else:
                self.backbone_ref = ckpt_io.save_backbone(self.model, self.run_dir)
        return self.backbone_ref

    def _save(self, name: str, **extra: Any) -> None:
        ckpt_io.save_checkpoint(
            self.run_dir / name, self.model, self._meta(), self._backbone(),
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            best_val_acc=self.best_acc, best_val_loss=self.best_loss, stale=self.stale, **extra,
        )
        self.events.emit("checkpoint", path=str(self.run_dir / name), epoch=len(self.history))

    def _checkpoints(self, row: dict[str, Any]) -> None:
        if row["val_acc"] > self.best_acc:
            self.best_acc = row["val_acc"]
            self._save(runs.BEST)
        self._save(runs.LAST)

    def _restore(self) -> None:
        last = ckpt_io.read_checkpoint(self.run_dir / runs.LAST)
        self.model.load_state_dict(last["state_dict"])
        self.optimizer.load_state_dict(last["optimizer"])
        self.scheduler.load_state_dict(last["scheduler"])
        self.best_acc = float(last.get("best_val_acc", -1.0))
        self.best_loss = float(last.get("best_val_loss", float("inf")))
        self.stale = int(last.get("stale", 0))
        self.history = self.history[: int(last["epoch"])]
