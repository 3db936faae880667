"""``trainer search DATA --budget MINUTES``: the best model the data allows, within a time budget.

The search measures this machine's speed, then plans and runs, in this order, as long as the
budget allows: a frozen-backbone head for every model whose weights load (skipping the rest with
the reason; on small photos also a smaller image size, kept when validation says it holds
accuracy), fine-tuning of the most promising model, and an ensemble of the best runs. Every run
decides its own test-time augmentation on validation. The pick is the best validation accuracy
(simpler and faster wins ties); the test split is only reported. Every step is an ordinary run
folder in ``--out``; ``<out>/search-<time>/search.json`` holds the plan and the leaderboard, so
``--resume`` continues a stopped search where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from trainer import runs
from trainer.atomic import read_json, write_json
from trainer.config import TrainConfig
from trainer.datasets import Dataset, scan
from trainer.engine import train
from trainer.events import Events
from trainer.features import Cancelled
from trainer.images import ImageLoadError, load_image
from trainer.models import build_backbone, get_spec, list_models
from trainer.options import own_weights
from trainer.protocol import Event, UsageError
from trainer.registry import BACKBONES

STATE = "search.json"
HEAD_EPOCHS = 15
MAX_FINE_TUNE = 12
MIN_FINE_TUNE = 2
TRAIN_FACTOR = 3.0  # a training step against a forward pass
RUN_OVERHEAD_S = 6.0  # model build, checkpoints, calibration of one run
RESERVE = 0.1  # share of the budget kept for the ensemble and the pick
SMALL_PHOTO = 176  # photos whose median shorter side is below this also try a smaller image size


@dataclass
class Entry:
    """One line of the leaderboard."""

    name: str
    model: str
    method: str
    status: str = "planned"  # planned, done, skipped, cut (by the budget)
    estimate_s: float = 0.0
    run_dir: str = ""
    val_acc: float | None = None
    test_acc: float | None = None
    seconds: float = 0.0
    tta: str = ""
    reason: str = ""

    def row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SearchState:
    data: str
    budget_s: float
    out: str
    weights: Any
    image_size: int | None = None
    speed: dict[str, float] = field(default_factory=dict)  # backbone -> forward images/s
    entries: list[Entry] = field(default_factory=list)
    spent_s: float = 0.0
    pace: float = 1.0  # measured step time / estimated step time, from the steps so far
    pick: str = ""

    def save(self, folder: Path) -> None:
        write_json(folder / STATE, {**dataclasses.asdict(self), "entries": [e.row() for e in self.entries]})

    @classmethod
    def load(cls, folder: Path) -> SearchState:
        raw = read_json(folder / STATE)
        raw["entries"] = [Entry(**e) for e in raw.get("entries", [])]
        return cls(**raw)

    def done(self) -> list[Entry]:
        return [e for e in self.entries if e.status == "done" and e.val_acc is not None]


def photo_size(ds: Dataset, sample: int = 40) -> int | None:
    """Median shorter side of a few training photos (None when none decodes)."""
    sides = []
    for s in ds.splits["train"][:: max(1, len(ds.splits["train"]) // sample)][:sample]:
        try:
            sides.append(min(load_image(s.path).size))
        except ImageLoadError:
            continue
    return int(statistics.median(sides)) if sides else None


def measure_speed(backbone: str, image_size: int, device: torch.device, batch: int = 8) -> float:
    """Forward images per second of one backbone on this machine (random weights; best of two)."""
    model = build_backbone(backbone, "none").to(device).eval()
    x = torch.randn(batch, 3, image_size, image_size, device=device)
    best = float("inf")
    with torch.no_grad():
        model(x)  # the first call sets up kernels
        for _ in range(2):
            t0 = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - t0)
    return batch / max(best, 1e-6)


class Search:
    """Plans and runs the steps; each step is a :func:`trainer.engine.train` or an ensemble."""

    def __init__(self, state: SearchState, folder: Path, events: Events, should_stop: Callable[[], bool],
                 workers: int, device: str) -> None:
        self.state, self.folder, self.events, self.user_stop = state, folder, events, should_stop
        self.workers, self.device = workers, device
        self.ds = scan(state.data, 0.2, 0)
        self.n_train = len(self.ds.splits["train"])
        self.n_images = sum(len(s) for s in self.ds.splits.values())
        self.started = time.monotonic() - state.spent_s
        self.cut = False

    # -- time -----------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.state.budget_s - self.elapsed()

    def should_stop(self) -> bool:
        if self.user_stop():
            return True
        if self.elapsed() > self.state.budget_s * 1.15 + 30:  # a step ran far past its estimate
            self.cut = True
            return True
        return False

    def per_image(self, model: str) -> float:
        return sum(1 / self.state.speed[b] for b in get_spec(model).backbones)

    def head_seconds(self, model: str, size_views: float = 1.0) -> float:
        """Extraction (every photo, plus the held-out views TTA may try) and a head."""
        held_out = self.n_images - self.n_train
        return (self.n_images + 3 * held_out) * self.per_image(model) * size_views + RUN_OVERHEAD_S

    def fine_tune_epoch_seconds(self, model: str) -> float:
        return (self.n_train * TRAIN_FACTOR + (self.n_images - self.n_train)) * self.per_image(model)

    # -- steps ----------------------------------------------------------------------------
    def config(self, model: str, **kw: Any) -> TrainConfig:
        """A step's settings: pretrained backbones frozen (the head's epochs run on cached
        features), random ones (``--weights none``) trained from scratch, as ``train`` would."""
        cfg = own_weights(TrainConfig(
            data=self.state.data, model=model, weights=self.state.weights, epochs=HEAD_EPOCHS,
            image_size=kw.pop("image_size", self.state.image_size), out=self.state.out, workers=self.workers,
            device=self.device, **kw))
        return dataclasses.replace(cfg, freeze=True if self.pretrained(cfg) else None)

    @staticmethod
    def pretrained(cfg: TrainConfig) -> bool:
        specs = [cfg.weights.get(b, "imagenet") if isinstance(cfg.weights, dict) else cfg.weights
                 for b in get_spec(cfg.model).backbones]
        return "none" not in specs

    def first_step(self, model: str, size: int | None) -> tuple[str, float]:
        """A model's first step: its method's words and its estimated seconds."""
        scale = self.scale(size)
        if self.pretrained(self.config(model)):
            return f"frozen head, {size or 224} px", self.head_seconds(model, scale)
        return f"trained from scratch, {size or 224} px", HEAD_EPOCHS * self.fine_tune_epoch_seconds(model) * scale

    def progress(self, note: str) -> None:
        total = max(len(self.state.entries), 1)
        finished = sum(e.status != "planned" for e in self.state.entries)
        self.events.emit(Event.PROGRESS, phase="search", done=finished, total=total, eta_s=round(max(self.left(), 0)),
                         note=note)

    def run_entry(self, entry: Entry, cfg: TrainConfig) -> None:
        """Train the step's run (resuming its folder if a stopped search left one); fine-tuning
        ends early, at an epoch's end, where the budget (less a reserve for the ensemble) ends."""
        self.progress(f"{entry.name}: {entry.method}")
        started = time.monotonic()
        try:
            resume = Path(entry.run_dir) if entry.run_dir and (Path(entry.run_dir) / runs.LAST).is_file() else None
            deadline = self.started + self.state.budget_s * (1 - RESERVE)
            run_dir = train(cfg, self.step_events(entry), self.should_stop, resume=resume, deadline=deadline)
        except Cancelled:
            entry.run_dir = entry.run_dir or str(self._latest_run())
            if not self.cut:  # the user stopped: --resume continues this step
                self.finish(entry, started)
                raise
            entry.status, entry.reason = "cut", "the time budget ran out"
            self.finish(entry, started)
            return
        except UsageError as exc:
            entry.status, entry.reason = "skipped", str(exc).splitlines()[0][:300]
            self.finish(entry, started)
            return
        entry.run_dir, entry.status = str(run_dir), "done"
        self.record(entry, run_dir)
        self.finish(entry, started)

    def step_events(self, entry: Entry) -> Events:
        """The search's sinks for a step's own run, its events marked with the step's name."""
        sub = Events(list(self.events.sinks))
        sub.context = {**self.events.context, "search_step": entry.name}
        return sub

    def _latest_run(self) -> Path | str:
        found = sorted(Path(self.state.out).glob("*"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else ""

    def record(self, entry: Entry, run_dir: Path) -> None:
        info = runs.load_run(run_dir)
        entry.val_acc = info.chosen_tta.get("val_acc") or info.best_val_acc
        entry.test_acc = info.test_acc
        entry.tta = str(info.config.get("tta_choice", {}).get("mode", ""))
        if entry.method.startswith("fine-tuned"):  # the deadline may have shortened it
            entry.method = f"fine-tuned {max(len(info.metrics) - HEAD_EPOCHS, 0)} epochs"

    def finish(self, entry: Entry, started: float) -> None:
        entry.seconds = round(entry.seconds + time.monotonic() - started, 1)
        timed = [e for e in self.state.entries if e.status == "done" and e.estimate_s > 0]
        if timed:  # plan the next steps at the pace measured so far
            pace = sum(e.seconds for e in timed) / sum(e.estimate_s for e in timed)
            self.state.pace = min(5.0, max(0.2, pace))
        self.state.spent_s = self.elapsed()
        self.state.save(self.folder)
        self.events.emit("candidate", **entry.row(), leaderboard=self.leaderboard())

    def leaderboard(self) -> list[dict[str, Any]]:
        done = sorted(self.state.done(), key=lambda e: (-(e.val_acc or 0), e.seconds))
        return [e.row() for e in done] + [e.row() for e in self.state.entries if e not in done]

    def step(self, name: str, model: str, method: str, estimate_s: float,
             cfg: Callable[[], TrainConfig] | None) -> Entry:
        """Run one step unless it already ran (a resumed search) or does not fit the time left."""
        entry = next((e for e in self.state.entries if e.name == name), None)
        if entry is not None and entry.status != "planned":
            return entry
        if entry is None:
            entry = Entry(name, model, method)
            self.state.entries.append(entry)
        entry.estimate_s = round(estimate_s, 1)  # before the pace
        estimate_s *= self.state.pace
        if estimate_s > self.left():
            entry.status = "skipped"
            entry.reason = f"not enough time left (needs about {estimate_s:.0f} s, {max(self.left(), 0):.0f} s left)"
            self.finish(entry, time.monotonic())
            return entry
        if cfg is not None:
            self.run_entry(entry, cfg())
        return entry

    def prepare(self) -> None:
        """Measure the machine and choose the image size candidates (once; kept for --resume)."""
        size = self.state.image_size or 224
        if not self.state.speed:
            device = torch.device("cuda" if self.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
            # at 224 px, or at the size asked for (rates then scale back to 224, as the plan expects)
            self.state.speed = {b: round(measure_speed(b, size, device) * self.scale(size), 2) for b in BACKBONES}
            self.state.save(self.folder)
        self.events.emit(Event.STAGE, stage="search", message=f"measured forward speed at {size} px: " + ", ".join(
            f"{BACKBONES[b].title} {v / self.scale(size):.0f} images/s" for b, v in self.state.speed.items()))

    def scale(self, size: int | None) -> float:
        return ((size or 224) / 224) ** 2

    def choose_size(self, usable: list[str]) -> None:
        """On small photos, a frozen head at a smaller size too; keep it if val accuracy holds."""
        if self.state.image_size is not None or "mobilenet_v2" not in usable \
                or not self.pretrained(self.config("mobilenet_v2")):
            return
        side = photo_size(self.ds)
        if side is None or side >= SMALL_PHOTO:
            return
        small = max(96, min(192, 32 * round(side / 32)))
        big = self.step("mobilenet_v2 @224", "mobilenet_v2", "frozen head, 224 px",
                        self.head_seconds("mobilenet_v2"), lambda: self.config("mobilenet_v2", image_size=224))
        little = self.step(f"mobilenet_v2 @{small}", "mobilenet_v2", f"frozen head, {small} px",
                           self.head_seconds("mobilenet_v2", self.scale(small)),
                           lambda: self.config("mobilenet_v2", image_size=small))
        if little.val_acc is not None and (big.val_acc is None or little.val_acc >= big.val_acc):
            self.state.image_size = small
        elif big.val_acc is not None:
            self.state.image_size = 224
        self.state.save(self.folder)
        self.events.emit(Event.STAGE, stage="search", message=f"photos are small (median shorter side {side} px): "
                         f"image size {self.state.image_size or 224} px")

    def heads(self) -> None:
        size = self.state.image_size
        for model in sorted(list_models(), key=gflops):  # cheapest first
            method, seconds = self.first_step(model, size)
            self.step(f"{model} @{size or 224}", model, method, seconds, functools.partial(self.config, model))

    def fine_tune(self) -> None:
        heads = [e for e in self.state.done() if e.method.startswith("frozen head")
                 and e.method.endswith(f"{self.state.image_size or 224} px")]
        if not heads:
            return
        best = max(heads, key=lambda e: (e.val_acc or 0, -self.per_image(e.model)))
        epoch_s = self.fine_tune_epoch_seconds(best.model) * self.scale(self.state.image_size)
        reserve = RESERVE * self.state.budget_s  # the ensemble and the pick
        existing = next((e for e in self.state.entries if e.name == f"{best.model} fine-tuned"), None)
        fit = int((self.left() - reserve - RUN_OVERHEAD_S) // (epoch_s * self.state.pace))
        n = existing_epochs(existing) or max(MIN_FINE_TUNE, min(MAX_FINE_TUNE, fit))
        # skipped only when not even the fewest epochs fit; the run itself ends by the deadline
        self.step(f"{best.model} fine-tuned", best.model, f"fine-tuned {n} epochs",
                  MIN_FINE_TUNE * epoch_s + RUN_OVERHEAD_S, lambda: self.config(best.model, fine_tune=n))

    def ensemble(self) -> None:
        from trainer.run_ensemble import make_ensemble

        ranked = sorted(self.state.done(), key=lambda e: -(e.val_acc or 0))
        size = self.state.image_size or 224
        members = [e for e in ranked if e.method.endswith(f"{size} px") or e.method.startswith("fine-tuned")][:2]
        if len(members) < 2:
            return
        held_out = self.n_images - self.n_train
        cost = sum((2 * held_out + min(self.n_train, 2048)) * self.per_image(e.model) for e in members)
        entry = self.step("ensemble of the best two", "run_ensemble", "ensemble of " + " + ".join(
            e.name for e in members), cost * self.scale(size) + RUN_OVERHEAD_S, None)
        if entry.status != "planned":
            return
        started = time.monotonic()
        run_dir = make_ensemble([e.run_dir for e in members], self.state.out, self.step_events(entry),
                                self.should_stop, workers=self.workers)
        entry.run_dir, entry.status = str(run_dir), "done"
        metrics = runs.read_metrics(run_dir)[0]
        entry.val_acc, entry.test_acc = metrics.get("val_acc"), metrics.get("test_acc")
        entry.tta = str(runs.load_run(run_dir).config.get("tta_choice", {}).get("mode", ""))
        self.finish(entry, started)

    def pick(self) -> Entry:
        cost = {"frozen": 0, "fine-tuned": 1, "ensemble": 2}
        done = self.state.done()
        if not done:
            reasons = "; ".join(f"{e.name}: {e.reason}" for e in self.state.entries if e.reason)
            raise UsageError(f"the search trained no model ({reasons or 'nothing fitted the budget'})")
        return min(done, key=lambda e: (-(e.val_acc or 0), cost.get(e.method.split()[0], 3), e.seconds))


def gflops(model: str) -> float:
    return sum(BACKBONES[b].gflops for b in get_spec(model).backbones)


def existing_epochs(entry: Entry | None) -> int:
    """The fine-tuning epochs a resumed search planned before (its plan is kept)."""
    if entry is None or not entry.method.startswith("fine-tuned"):
        return 0
    return int(entry.method.split()[1])


def run_search(data: str, budget_min: float, out: str, weights: Any, events: Events,
               should_stop: Callable[[], bool], image_size: int | None = None, workers: int = 2,
               device: str = "auto", resume: str | None = None) -> Path:
    """Search for the best model; returns the chosen run's folder (also marked in its config.json)."""
    if budget_min <= 0:
        raise UsageError(f"--budget must be > 0 minutes, got {budget_min:g}")
    if resume:
        folder = Path(resume)
        if not (folder / STATE).is_file():
            raise UsageError(f"--resume: no {STATE} in {folder}")
        state = SearchState.load(folder)
    else:
        folder = Path(out) / f"search-{time.strftime('%Y%m%d-%H%M%S')}"
        folder.mkdir(parents=True, exist_ok=True)
        state = SearchState(str(Path(data).expanduser().resolve()), budget_min * 60, out, weights, image_size)
    search = Search(state, folder, events, should_stop, workers, device)
    events.emit(Event.START, search_dir=str(folder), budget_s=state.budget_s, data=state.data,
                images=search.n_images, resumed=bool(resume))
    search.prepare()
    search.choose_size(list_models())
    search.heads()
    search.fine_tune()
    search.ensemble()
    best = search.pick()
    state.pick = best.run_dir
    state.save(folder)
    runs.update_config(Path(best.run_dir), search={"winner": True, "search_dir": str(folder),
                                                   "val_acc": best.val_acc})
    events.emit(Event.DONE, message=f"picked {best.name} ({best.method}): val acc {best.val_acc:.1%} after "
                f"{search.elapsed() / 60:.1f} min", run_dir=best.run_dir, leaderboard=search.leaderboard(),
                search_dir=str(folder))
    return Path(best.run_dir)


def format_leaderboard(rows: list[dict[str, Any]]) -> str:
    """The leaderboard as a plain-text table (the CLI prints it)."""
    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.1%}"

    lines = [f"{'step':<28} {'method':<36} {'val':>6} {'test':>6} {'time':>7}  status"]
    for r in rows:
        lines.append(f"{r['name'][:28]:<28} {r['method'][:36]:<36} {pct(r['val_acc'])} {pct(r['test_acc'])} "
                     f"{r['seconds']:6.0f}s  {r['status']}{(': ' + _short(r['reason'])) if r['reason'] else ''}")
    return "\n".join(lines)


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
