"""A training run: Adam + cross-entropy + ReduceLROnPlateau, cancellable every batch.

``train(cfg, events, should_stop)`` creates (or resumes) a run folder, prepares the data
(cached features when every backbone is frozen and augmentation is off) and hands model,
data and callbacks to :class:`~trainer.loop.FitLoop`, which trains, evaluates every split
each epoch and lets the callbacks write metrics and checkpoints atomically.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import trainer
from trainer import datasets, runs
from trainer import tta as TTA
from trainer import weights as W
from trainer.atomic import read_json, write_json
from trainer.backends import Runner
from trainer.batches import ImageBatcher
from trainer.callbacks import Calibrator, Checkpointer, standard_callbacks
from trainer.config import TrainConfig, default_cache_dir
from trainer.data import SplitData, class_weights
from trainer.events import Events, FileSink
from trainer.features import Cancelled, backbone_key, extract_views, feature_runners, with_backend
from trainer.finetune import FineTune, TTAChooser
from trainer.logs import log_sink, run_log
from trainer.loop import Callback, FitLoop, LoopSettings
from trainer.models import create_model, frozen_backbones, preprocess_for, resolve_weights
from trainer.optimizers import adam
from trainer.pathtext import relative_text
from trainer.protocol import Event, Status, UsageError
from trainer.training_data import TrainingData
from trainer.trust import Trust
from trainer.vision import torchvision

StopFn = Callable[[], bool]
log = logging.getLogger(__name__)


def stopped_words(resumable: bool, cached: bool) -> str:
    """What a stopped run leaves: a checkpoint to resume from, or (stopped before the first epoch
    ended) nothing to resume, and the features computed so far when they are cached."""
    if resumable:
        return "last checkpoint saved: the run can be resumed"
    kept = " (the photos' features computed so far are cached)" if cached else ""
    return f"no epoch had finished, so there is nothing to resume: start the training again{kept}"


def pick_device(name: str) -> torch.device:
    """``auto`` prefers CUDA, then Apple MPS, then the CPU; an unavailable choice is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available (use --device auto or cpu)")
    if name == "mps" and not has_mps:
        raise UsageError("--device mps: Apple MPS is not available (use --device auto or cpu)")
    return torch.device(name)


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "trainer": trainer.__version__}


def _trust_text(trust: Trust | None) -> str:
    if trust is None:
        return ""
    unknown = (f"unknown below confidence {trust.threshold:.3f} ({trust.score}; answers "
               f"{trust.val_coverage or 0:.0%} of val)" if trust.threshold > 0 else "unknown off")
    return f"; temperature {trust.temperature:.3g}; {unknown}"


def train(cfg: TrainConfig, events: Events, should_stop: StopFn,
          resume: Path | None = None, callbacks: Sequence[Callback] = (), deadline: float | None = None) -> Path:
    """Train one run; returns its folder. Raises :class:`Cancelled` when stopped.

    ``callbacks`` join the standard ones (before the checkpointer, so their state is saved).
    ``deadline`` (``time.monotonic()``) shortens fine-tuning to end by then.
    """
    cfg.validate()
    fit = Fit(cfg, events, should_stop, resume, callbacks, deadline)
    with run_log(fit.run_dir):
        return fit.run()


class Fit:
    """One run: its set-up (data, model, run folder) and the loop with its callbacks."""

    loop_class: type[FitLoop] = FitLoop  # trainer.distributed's data-parallel loop replaces it

    def __init__(self, cfg: TrainConfig, events: Events, should_stop: StopFn,
                 resume: Path | None, callbacks: Sequence[Callback] = (), deadline: float | None = None) -> None:
        self.cfg, self.events, self.should_stop = cfg, events, should_stop
        if cfg.val_fraction <= 0 and not datasets.find_split_dirs(Path(cfg.data).expanduser()):
            raise datasets.DatasetError("--val-fraction must be > 0 when the data has no val split")
        self.ds = datasets.scan(cfg.data, cfg.val_fraction, cfg.seed)
        datasets.check_class_names(self.ds.classes)
        self.device = pick_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.wmap = resolve_weights(cfg.model, cfg.weights)
        self.model = create_model(cfg.model, len(self.ds.classes), self.wmap,
                                  frozen_backbones(self.wmap, cfg.freeze)).to(self.device)
        self.pre = preprocess_for(cfg.model, cfg.image_size)
        self.cached = cfg.cache and not cfg.augment and set(self.model.frozen) == set(self.wmap)
        self.run_dir = resume or self._new_run_dir()
        self.history: list[dict[str, Any]] = runs.read_metrics(self.run_dir) if resume else []
        self.resumed = resume is not None
        self.reported: set[str] = set()
        self.batcher = ImageBatcher(self.pre.transform(cfg.augment), cfg.workers)
        self.eval_batcher = ImageBatcher(self.pre.transform(False), cfg.workers)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = adam(params, cfg.lr, self.device)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=0.2, patience=cfg.plateau_patience)
        standard = standard_callbacks(self.run_dir, events, cfg.early_stop, self._meta, self.resumed,
                                      cfg.coverage, cfg.seed)
        self.tune_batchers: list[ImageBatcher] = []
        stages: list[Callback] = [TTAChooser(cfg.tta, self._tta_splits, events, self.run_dir)]
        if cfg.fine_tune:
            stages.insert(0, FineTune(cfg.epochs, cfg.fine_tune, cfg.unfreeze_blocks, cfg.lr, self._augment_batcher,
                                      events, self.run_dir, self.resumed, deadline))
        calibrate_at = next(i for i, cb in enumerate(standard) if isinstance(cb, Calibrator))
        # fine-tuning switches before the checkpointer saves (and restores); TTA is chosen before calibration
        self.callbacks = [*standard[:calibrate_at], *callbacks, *stages, *standard[calibrate_at:]]
        self.keys: dict[str, str] = {}
        self.runners: dict[str, Runner] = {}  # where each frozen backbone computes features

    def _new_run_dir(self) -> Path:
        return runs.new_run_dir(Path(self.cfg.out), self.cfg.model, self.cfg.lr, self.cfg.batch_size)

    def _on_failed(self, failed: dict[str, str]) -> None:
        """An image that decoded at the start and fails now (deleted or changed meanwhile):
        one warning per file; training goes on without it."""
        for path, reason in failed.items():
            if path not in self.reported:
                self.reported.add(path)
                self.events.warning(f"{relative_text(Path(path), self.ds.root)}: {reason}; training goes on without it")

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
            "status": Status.RUNNING,
        }

    def _start(self) -> None:
        self.events.sinks += [FileSink(self.run_dir / runs.EVENTS), log_sink]
        self.events.context["run_dir"] = str(self.run_dir)
        if self.history:
            runs.update_config(self.run_dir, status=Status.RUNNING, epochs=self.cfg.epochs)
        else:
            write_json(self.run_dir / runs.CONFIG, self._config())
            runs.record_splits(self.run_dir, self.ds)
        for w in self.ds.warnings:
            self.events.warning(w)
        self.events.emit(
            Event.START, model=self.cfg.model, device=str(self.device), classes=self.ds.classes,
            counts=self.ds.counts(), epochs=self.cfg.epochs + self.cfg.fine_tune, cached_features=self.cached,
            resumed_from_epoch=len(self.history),
        )

    def run(self) -> Path:
        started = time.monotonic()
        # a resumed run's time so far (a stopped run records it too): Duration is the whole run's
        before = float(read_json(self.run_dir / runs.CONFIG).get("duration_s") or 0.0) if self.resumed else 0.0

        def duration() -> float:
            return round(before + time.monotonic() - started, 2)

        self._start()
        try:
            loop = self._loop(self._prepare())  # reports the images unreadable from the start
            self.batcher.on_failed = self.eval_batcher.on_failed = self._on_failed  # and those that fail later
            loop.fit()
        except Cancelled as exc:
            runs.update_config(self.run_dir, status=Status.CANCELLED, duration_s=duration())
            resumable = (self.run_dir / runs.LAST).is_file()
            self.events.emit(Event.CANCELLED, message=f"{exc}; {stopped_words(resumable, self.cfg.cache)}",
                             resumable=resumable)
            exc.reported = True  # type: ignore[attr-defined]
            raise
        except BaseException as exc:
            log.exception("run %s failed", self.run_dir.name)
            try:
                runs.update_config(self.run_dir, status=Status.FAILED, error=str(exc)[:500], duration_s=duration())
            except OSError:  # e.g. the disk is still full: the original error is the one to report
                log.exception("could not mark run %s failed", self.run_dir.name)
            raise
        finally:
            for batcher in (self.batcher, self.eval_batcher, *self.tune_batchers):
                batcher.close()
        best = next(cb for cb in self.callbacks if isinstance(cb, Checkpointer)).best_acc
        trust = next(cb for cb in self.callbacks if isinstance(cb, Calibrator)).trust
        info = runs.load_run(self.run_dir)
        test = f", test acc {info.test_acc:.1%}" if info.test_acc is not None else ""
        self.events.emit(Event.DONE, message=f"finished: best val acc {best:.1%}{test}{_trust_text(trust)}",
                         best_val_acc=best, test_acc=info.test_acc, run_dir=str(self.run_dir),
                         trust=trust.display() if trust else None)
        runs.update_config(self.run_dir, status=Status.DONE, duration_s=duration())
        return self.run_dir

    def _loop(self, splits: dict[str, SplitData]) -> FitLoop:
        train_labels = splits["train"].labels
        weights = class_weights(train_labels, len(self.ds.classes))
        loss_fn = nn.CrossEntropyLoss(weight=weights.to(self.device) if self.cfg.balance == "loss" else None)
        sample_weights = weights[train_labels] if self.cfg.balance == "sampler" else None
        settings = LoopSettings(self.cfg.epochs + self.cfg.fine_tune, self.cfg.batch_size, self.cfg.seed)
        return self.loop_class(self.model, self.optimizer, self.scheduler, splits, loss_fn, settings, self.device,
                       (self.batcher, self.eval_batcher), self.callbacks, self.should_stop, sample_weights,
                       self.history)

    def _meta(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """What every checkpoint says about itself (classify needs nothing else)."""
        return {
            "model": self.cfg.model, "classes": self.ds.classes, "preprocess": self.pre.to_dict(),
            "weights": {n: W.describe(s) if s not in (W.IMAGENET, W.NONE) else s
                        for n, s in self.wmap.items()},
            "run": self.run_dir.name, "epoch": len(history),
            "metrics": history[-1] if history else {},
        }

    # -- data -----------------------------------------------------------------------------
    def _prepare(self) -> dict[str, SplitData]:
        data = TrainingData(self.ds, self.run_dir, self.events, self.should_stop, self.cfg.workers)
        if not self.cached:
            return data.images()
        self.keys = {n: W.cache_identity(spec, self.cfg.seed) for n, spec in self.wmap.items()}
        cfg = self.cfg
        self.runners = feature_runners(dict(self.model.backbones.items()), self.pre.crop, data.paths(),
                                       self.eval_batcher, self.device, cfg.backend, cfg.precision, self.events)
        runs.update_config(self.run_dir, feature_backends={n: r.choice.key() for n, r in self.runners.items()})
        return data.features(self.runners, self._cache_keys(), self.eval_batcher, self.device, self._cache_dir(),
                             {view: self._cache_keys(view) for view in self._views_to_try()})

    def _views_to_try(self) -> tuple[str, ...]:
        """The test-time augmentation views the run will try on its held-out photos' cached
        features (none where fine-tuning replaces those features first)."""
        if self.cfg.fine_tune:
            return ()
        return tuple(dict.fromkeys(v for mode in TTA.candidates(self.cfg.tta) for v in TTA.extra_views(mode)))

    def _cache_keys(self, view: str = "") -> dict[str, str]:
        keys = {n: backbone_key(n, identity, self.pre.to_dict(), view) for n, identity in self.keys.items()}
        return with_backend(keys, self.runners)

    def _cache_dir(self) -> Path:
        return Path(self.cfg.cache_dir) if self.cfg.cache_dir else default_cache_dir()

    def _augment_batcher(self) -> ImageBatcher:
        """Fine-tuning's photos, augmented; an image failing now is reported like the others."""
        batcher = ImageBatcher(self.pre.transform(True), self.cfg.workers)
        batcher.on_failed = self._on_failed
        self.tune_batchers.append(batcher)
        return batcher

    def _tta_splits(self, loop: FitLoop, mode: str, names: tuple[str, ...]) -> dict[str, SplitData]:
        """The loop's splits with TTA ``mode`` on for the held-out splits ``names``: photos as they
        are (the model averages the views itself), or features averaged with their views (cached
        in the feature pass for val; computed now for test, whose photos it decodes again)."""
        splits = loop.splits
        if mode == TTA.OFF or splits["val"].feats is None:
            return splits
        out = dict(splits)
        for name in names:
            if name in splits:
                out[name] = self._averaged_split(splits[name], TTA.extra_views(mode))
        return out

    def _averaged_split(self, split: SplitData, views: tuple[str, ...]) -> SplitData:
        assert split.feats is not None and split.paths is not None
        total = {n: f.clone() for n, f in split.feats.items()}
        found = extract_views(self.runners, {view: self._cache_keys(view) for view in views}, split.paths,
                              self.eval_batcher, self.device, self._cache_dir(), self.events, self.should_stop)
        for view in views:
            feats, ok, _ = found[view]
            rows = torch.tensor(ok, dtype=torch.long)
            for n, f in feats.items():  # a photo gone since keeps its own features for this view
                view_feats = split.feats[n].clone()
                view_feats[rows] = f
                total[n] += view_feats
        return SplitData(split.name, split.labels, feats={n: f / (1 + len(views)) for n, f in total.items()},
                         paths=split.paths)
