"""Ensembles of finished runs: the reference experiment's idea at the level of whole runs.

``trainer ensemble RUN RUN ... [--out DIR]`` averages the members' *calibrated* probabilities
(equal weights, or weights learned on validation with ``--weighting learn``) and saves the
result as one run folder (``model: run_ensemble``) whose checkpoint holds every member: it
evaluates, classifies, explains and exports like any other run. Its test-time augmentation
and its own temperature and threshold are fitted on validation, as for a trained run.

The combined model is a :class:`~trainer.models.TransferModel` whose backbones are the
members' (named ``m<i>-<backbone>``) and whose head averages the members' heads.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer import tta as TTA
from trainer.atomic import read_json, write_json
from trainer.batches import ImageBatcher
from trainer.calibration import Outputs, bank_rows, collect, fit_trust
from trainer.data import SplitData
from trainer.evaluate import pick_samples
from trainer.events import Events, FileSink
from trainer.features import Cancelled
from trainer.models import TransferModel, create_model
from trainer.protocol import Event, Status, UsageError
from trainer.trust import Trust

MODEL = "run_ensemble"
WEIGHTINGS = ("equal", "learn")


def member_name(i: int, backbone: str) -> str:
    return f"m{i}-{backbone}"


class MemberAverage(nn.Module):
    """Head of an ensemble of runs: ``log(sum_i w_i softmax(head_i(feats_i) / T_i))``, so that a
    softmax of its output is the weighted average of the members' calibrated probabilities."""

    def __init__(self, heads: Sequence[nn.Module], backbones: Sequence[Sequence[str]],
                 temperatures: Sequence[float], weights: Sequence[float]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.backbones = [list(b) for b in backbones]
        self.temperatures: torch.Tensor
        self.weights: torch.Tensor
        self.register_buffer("temperatures", torch.tensor(list(temperatures), dtype=torch.float32))
        self.register_buffer("weights", torch.tensor(list(weights), dtype=torch.float32))

    def member_log_probs(self, feats: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        return [F.log_softmax(head({b: feats[member_name(i, b)] for b in names}) / self.temperatures[i], dim=1)
                for i, (head, names) in enumerate(zip(self.heads, self.backbones))]

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(self.member_log_probs(feats))  # members x batch x classes
        return torch.logsumexp(stacked + self.weights.log()[:, None, None], dim=0)


def combine(members: Sequence[TransferModel], temperatures: Sequence[float],
            weights: Sequence[float] | None = None) -> TransferModel:
    """One model of several; every backbone frozen (the members are finished)."""
    weights = list(weights) if weights is not None else [1 / len(members)] * len(members)
    backbones = {member_name(i, n): bb for i, m in enumerate(members) for n, bb in m.backbones.items()}
    head = MemberAverage([m.head for m in members], [list(m.backbones) for m in members], temperatures, weights)
    return TransferModel(backbones, head, frozen=set(backbones))


def build(ckpt: dict[str, Any]) -> TransferModel:
    """The (empty) model of an ensemble checkpoint, ready for its ``state_dict``."""
    n = len(ckpt["classes"])
    members = [create_model(m["model"], n, load_backbones=False) for m in ckpt["members"]]
    return combine(members, [m["temperature"] for m in ckpt["members"]], ckpt["member_weights"])


def learn_weights(member_log_probs: list[torch.Tensor], labels: torch.Tensor) -> list[float]:
    """Simplex weights minimising the validation NLL of the weighted average (softmax-parametrised)."""
    stacked = torch.stack(member_log_probs).detach()
    theta = torch.zeros(len(member_log_probs), requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        mixed = torch.logsumexp(stacked + F.log_softmax(theta, 0)[:, None, None], dim=0)
        loss = F.nll_loss(mixed, labels) + 1e-3 * theta.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return F.softmax(theta.detach(), 0).tolist()


class Members:
    """The finished runs to combine, checked to be combinable."""

    def __init__(self, run_dirs: Sequence[Path]) -> None:
        if len(run_dirs) < 2:
            raise UsageError("an ensemble needs at least two runs")
        self.dirs = [Path(d) for d in run_dirs]
        loaded = [ckpt_io.load_model(d) for d in self.dirs]
        self.models = [m for m, _ in loaded]
        self.ckpts = [c for _, c in loaded]
        self.configs = [read_json(d / runs.CONFIG) if (d / runs.CONFIG).is_file() else {} for d in self.dirs]
        first = self.ckpts[0]
        for d, c, cfg in zip(self.dirs, self.ckpts, self.configs):
            if c.get("model") == MODEL:
                raise UsageError(f"{d.name} is already an ensemble; combine the runs it was made of")
            if c["classes"] != first["classes"]:
                raise UsageError(f"{d.name} has other classes than {self.dirs[0].name}")
            if c["preprocess"] != first["preprocess"]:
                raise UsageError(f"{d.name} sees photos at another image size than {self.dirs[0].name}")
            if Path(cfg.get("data", "")).resolve() != Path(self.configs[0].get("data", "")).resolve():
                raise UsageError(f"{d.name} was trained on other data than {self.dirs[0].name}")

    def temperatures(self) -> list[float]:
        return [Trust.from_dict(c.get("trust")).temperature for c in self.ckpts]


def _splits(run_dir: Path, data: Path, classes: list[str]) -> dict[str, SplitData]:
    """The first member's recorded splits as photos with labels in the members' class order."""
    out = {}
    for name in ("train", "val", "test"):
        try:
            picked, data_classes, _ = pick_samples(run_dir, data, name)
        except Exception:  # noqa: BLE001 - no such split recorded: not needed (test) or checked below
            continue
        keep = [s for s, _ in picked if data_classes[s.label] in classes]
        labels = torch.tensor([classes.index(data_classes[s.label]) for s in keep], dtype=torch.long)
        out[name] = SplitData(name, labels, paths=[s.path for s in keep])
    if "val" not in out or "train" not in out:
        raise UsageError(f"{run_dir.name} recorded no train and val split to fit the ensemble on")
    return out


def _accuracy(out: Outputs) -> float:
    return float((out.logits.argmax(1) == out.labels).float().mean()) if len(out.labels) else 0.0


def make_ensemble(run_dirs: Sequence[str | Path], out: str | Path, events: Events,
                  should_stop: Callable[[], bool], weighting: str = "equal", workers: int = 2) -> Path:
    """Combine finished runs into a new run folder under ``out``; returns it."""
    if weighting not in WEIGHTINGS:
        raise UsageError(f"--weighting must be one of {WEIGHTINGS}")
    started = time.monotonic()
    members = Members([Path(d) for d in run_dirs])
    first, cfg0 = members.ckpts[0], members.configs[0]
    classes = list(first["classes"])
    pre = ckpt_io.preprocess_of(first)
    splits = _splits(members.dirs[0], Path(cfg0["data"]), classes)
    model = combine(members.models, members.temperatures()).eval()
    head = cast(MemberAverage, model.head)
    with ImageBatcher(pre.transform(), workers) as batcher:
        if weighting == "learn":
            val = collect(model, splits["val"], batcher, torch.device("cpu"), should_stop)
            head.weights.copy_(torch.tensor(_learned(model, val, splits, batcher, should_stop)))
        scores = _try_tta(model, members, splits, batcher, should_stop)
        model.tta = max(scores, key=lambda m: round(scores[m], 9))
        val = collect(model, splits["val"], batcher, torch.device("cpu"), should_stop)
        model.tta, mode = TTA.OFF, model.tta
        train = collect(model, splits["train"], batcher, torch.device("cpu"), should_stop,
                        bank_rows(len(splits["train"]), int(cfg0.get("seed", 0))))
        model.tta = mode
        test = collect(model, splits["test"], batcher, torch.device("cpu"), should_stop) if "test" in splits else None
    trust, bank = fit_trust(val, train, float(cfg0.get("coverage", 0.95)))
    row = {"epoch": 1, "val_loss": float(F.cross_entropy(val.logits, val.labels)), "val_acc": _accuracy(val),
           "test_loss": float(F.cross_entropy(test.logits, test.labels)) if test else None,
           "test_acc": _accuracy(test) if test else None, "seconds": round(time.monotonic() - started, 2)}
    run_dir = runs.new_run_dir(Path(out), f"ensemble-of-{len(members.dirs)}-runs")
    _write(run_dir, model, members, row, trust, bank, scores)
    events.sinks.append(FileSink(run_dir / runs.EVENTS))
    names = ", ".join(d.name for d in members.dirs)
    events.emit(Event.DONE, message=f"ensemble of {len(members.dirs)} runs ({names}): val acc {row['val_acc']:.1%}",
                run_dir=str(run_dir), best_val_acc=row["val_acc"], member_weights=head.weights.tolist())
    return run_dir


def _learned(model: TransferModel, val: Outputs, splits: dict[str, SplitData], batcher: ImageBatcher,
             should_stop: Callable[[], bool]) -> list[float]:
    head = cast(MemberAverage, model.head)
    parts: list[list[torch.Tensor]] = []
    split = splits["val"]
    with torch.no_grad():
        for start in range(0, len(split), 64):
            if should_stop():
                raise Cancelled("stopped while weighing the members")
            feats, _ = split.features(model, list(range(start, min(start + 64, len(split)))), batcher,
                                      torch.device("cpu"))
            if feats is not None:
                parts.append(head.member_log_probs(feats))
    per_member = [torch.cat([p[i] for p in parts]) for i in range(len(head.heads))]
    return learn_weights(per_member, val.labels)


def _try_tta(model: TransferModel, members: Members, splits: dict[str, SplitData], batcher: ImageBatcher,
             should_stop: Callable[[], bool]) -> dict[str, float]:
    """Val accuracy with no views and with each mode a member chose."""
    scores = {}
    for mode in dict.fromkeys([TTA.OFF, *(m.tta for m in members.models)]):
        model.tta = mode
        scores[mode] = _accuracy(collect(model, splits["val"], batcher, torch.device("cpu"), should_stop))
    return scores


def _write(run_dir: Path, model: TransferModel, members: Members, row: dict[str, Any], trust: Trust,
           bank: torch.Tensor | None, tta_scores: dict[str, float]) -> None:
    first, cfg0 = members.ckpts[0], members.configs[0]
    head = cast(MemberAverage, model.head)
    described = [{"run": d.name, "model": c["model"], "temperature": float(t), "tta": m.tta}
                 for d, c, m, t in zip(members.dirs, members.ckpts, members.models, head.temperatures.tolist())]
    meta = {"model": MODEL, "classes": first["classes"], "preprocess": first["preprocess"], "run": run_dir.name,
            "epoch": 1, "metrics": row, "members": described, "member_weights": head.weights.tolist(),
            "weights": {"members": ", ".join(d.name for d in members.dirs)}, "tta": model.tta}
    ckpt_io.save_checkpoint(run_dir / runs.BEST, model, meta, None)
    if (members.dirs[0] / runs.SPLITS).is_file():
        shutil.copyfile(members.dirs[0] / runs.SPLITS, run_dir / runs.SPLITS)
    runs.write_metrics(run_dir, [row])
    write_json(run_dir / runs.CONFIG, {
        "model": MODEL, "data": cfg0.get("data"), "classes": first["classes"], "layout": cfg0.get("layout"),
        "counts": cfg0.get("counts"), "dataset_fingerprint": cfg0.get("dataset_fingerprint"),
        "val_fraction": cfg0.get("val_fraction"), "seed": cfg0.get("seed"), "coverage": cfg0.get("coverage"),
        "image_size": cfg0.get("image_size"), "preprocess": first["preprocess"], "epochs": 1,
        "weights": meta["weights"], "members": described,
        "member_weights": meta["member_weights"], "tta_choice": {"mode": model.tta, "tried": tta_scores},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "status": Status.DONE, "duration_s": row["seconds"],
    })
    ckpt_io.write_trust(run_dir / runs.BEST, trust, **{"feature_bank": bank})

