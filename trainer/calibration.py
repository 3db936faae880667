"""Calibrated confidence and the ``unknown`` threshold, fitted on the validation split.

After training (the :class:`~trainer.callbacks.Calibrator` callback), for each checkpoint:

1. **Temperature scaling** (Guo et al. 2017): the T minimising the val negative log-likelihood
   of ``softmax(logits / T)``, with a weak prior on log T so that a perfectly separated val
   split (common on small data) gives a finite T instead of T -> 0.
2. **The score, chosen by measurement.** Every class in turn plays a never-seen class: a
   linear head fitted on the other classes' training features stands in for a model that
   never saw it, and its photos leave the feature bank; how well each score ranks the other
   classes' val photos above that class's is the AUROC. ``msp`` (calibrated top probability)
   is the baseline; ``knn`` (times the familiarity of the nearest training photo's features)
   is used only when its AUROC is higher by :data:`KNN_MARGIN`. Its familiarity map (a
   logistic on the similarity) is fitted on those same held-out-class pairs.
3. **The threshold**: the highest confidence that still answers ``coverage`` of val.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer import tta as TTA
from trainer.batches import ImageBatcher
from trainer.data import SplitData
from trainer.features import Cancelled
from trainer.metrics import auroc, expected_calibration_error
from trainer.models import TransferModel
from trainer.scoring import confidence, embed, nearest_similarity
from trainer.trust import Trust

MAX_BANK = 2048  # training photos whose features a checkpoint keeps for score knn
T_RANGE = (0.05, 20.0)
KNN_MARGIN = 0.01  # knn must beat msp's held-out-class AUROC by this much to be used
#: The familiarity's steepest slope. float32 rounds a cosine similarity near 1 by ~1e-6, which a
#: slope a moves the confidence by up to a/4 * 1e-6: at 400, a tenth of the parity tolerance.
#: Features that would need more (an untrained backbone's all point one way) rank by msp instead.
MAX_SLOPE = 400.0
BATCH = 64


@dataclass
class Outputs:
    """What a model gives on a split: logits, unit feature rows (:func:`embed`), labels."""

    logits: torch.Tensor
    emb: torch.Tensor
    labels: torch.Tensor


@torch.no_grad()
def collect(model: TransferModel, split: SplitData, batcher: ImageBatcher, device: torch.device,
            should_stop: Callable[[], bool], rows: list[int] | None = None) -> Outputs:
    """Eval-mode outputs of ``model`` on ``split`` (or its ``rows``), on the CPU."""
    model.eval()
    index = list(range(len(split))) if rows is None else rows
    parts: list[Outputs] = []
    for start in range(0, len(index), BATCH):
        if should_stop():
            raise Cancelled("stopped while calibrating")
        feats, labels = split.features(model, index[start : start + BATCH], batcher, device)
        if feats is not None:
            parts.append(Outputs(model.head(feats).float().cpu(), embed(feats).cpu(), labels.cpu()))
    return Outputs(*(torch.cat([getattr(p, k) for p in parts]) for k in ("logits", "emb", "labels")))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, prior: float = 1.0) -> float:
    """MAP temperature: summed NLL of ``softmax(logits / T)`` plus ``(log T)^2 / (2 prior^2)``."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")
    logits = logits.detach().float()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels, reduction="sum") + log_t.pow(2).sum() / (2 * prior**2)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return float(log_t.detach().exp().clamp(*T_RANGE))


def threshold_for(conf: torch.Tensor, coverage: float) -> float:
    """The threshold that answers at least ``coverage`` of ``conf``: midway between the last
    kept value and the next lower one (0 below the lowest); 0 (never unknown) at coverage 1."""
    if coverage >= 1.0 or conf.numel() == 0:
        return 0.0
    ordered = conf.float().sort(descending=True).values.tolist() + [0.0]
    keep = max(1, math.ceil(coverage * conf.numel() - 1e-9))
    return (ordered[keep - 1] + ordered[keep]) / 2


@dataclass
class Fold:
    """One class of val playing a never-seen class: scores of all val photos, and which are known."""

    msp: torch.Tensor
    similarity: torch.Tensor
    known: torch.Tensor


def held_out_class_folds(val: Outputs, train: Outputs) -> list[Fold]:
    """One :class:`Fold` per val class that leaves other classes on both sides."""
    folds = []
    for k in val.labels.unique().tolist():
        known, others = val.labels != k, train.labels != k
        if not known.any() or known.all() or not others.any():
            continue
        msp = proxy_msp(train.emb[others], train.labels[others], val.emb, val.labels, known)
        folds.append(Fold(msp, nearest_similarity(val.emb, train.emb[others]), known))
    return folds


def proxy_msp(x: torch.Tensor, y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
              known: torch.Tensor) -> torch.Tensor:
    """Calibrated top probability on val of a linear head fitted on ``(x, y)`` only (a model
    that never saw the other classes); its temperature is fitted on the ``known`` val rows."""
    classes = y.unique()
    if len(classes) < 2:
        return torch.ones(len(val_x))  # one class left: every photo gets it with certainty
    target = torch.searchsorted(classes, y)
    weight = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, target) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    logits = (val_x @ weight + bias).detach()
    t = fit_temperature(logits[known], torch.searchsorted(classes, val_y[known]))
    return torch.softmax(logits / t, dim=1).max(dim=1).values


def fit_familiarity(folds: list[Fold]) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a * similarity + b)`` ~ P(known), class-balanced, lightly
    regularised logistic regression on the folds' pairs (fitted on standardised similarity),
    no steeper than :data:`MAX_SLOPE`."""
    s = torch.cat([f.similarity for f in folds]).float()
    y = torch.cat([f.known for f in folds]).float()
    w = torch.where(y > 0, 0.5 / y.sum().clamp(min=1), 0.5 / (1 - y).sum().clamp(min=1))
    mu, sd = s.mean(), s.std().clamp(min=1e-6)
    u = (s - mu) / sd
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.LBFGS([p], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w * F.binary_cross_entropy_with_logits(p[0] * u + p[1], y, reduction="none")).sum()
        loss = loss + 1e-2 * p[0] ** 2
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    a, b = (float(v) for v in p.detach())
    slope, intercept = a / float(sd), b - a * float(mu) / float(sd)
    if abs(slope) > MAX_SLOPE:  # as steep as float32 allows, same midpoint
        slope, intercept = math.copysign(MAX_SLOPE, slope), intercept * MAX_SLOPE / abs(slope)
    return slope, intercept


def measure(folds: list[Fold], familiarity: tuple[float, float] | None) -> dict[str, float]:
    """Mean held-out-class AUROC (known val photos above the never-seen class) per score."""
    def mean_auroc(scores: list[torch.Tensor]) -> float:
        return sum(auroc(s[f.known].tolist(), s[~f.known].tolist()) for s, f in zip(scores, folds)) / len(folds)

    if not folds:
        return {}
    out = {"msp": mean_auroc([f.msp for f in folds])}
    if familiarity is not None:
        out["knn"] = mean_auroc([f.msp * torch.sigmoid(f.similarity * familiarity[0] + familiarity[1])
                                 for f in folds])
    return out


def fit_trust(val: Outputs, train: Outputs, coverage: float) -> tuple[Trust, torch.Tensor | None]:
    """The checkpoint's :class:`Trust` and, for score knn, its feature bank (float16 rows)."""
    train = Outputs(train.logits, train.emb.half().float(), train.labels)  # as the bank is stored
    correct = (val.logits.argmax(dim=1) == val.labels).tolist()
    ece_before = expected_calibration_error(torch.softmax(val.logits, 1).max(1).values.tolist(), correct)
    temperature = fit_temperature(val.logits, val.labels)
    probs = torch.softmax(val.logits / temperature, dim=1)
    ece_after = expected_calibration_error(probs.max(1).values.tolist(), correct)
    if ece_after > ece_before:
        # the log-loss fit measured worse on the photos it was fitted on (a few dozen: noise):
        # the model's own confidences stay rather than a "calibration" that widened the gap
        temperature, probs, ece_after = 1.0, torch.softmax(val.logits, dim=1), ece_before
    folds = held_out_class_folds(val, train)
    familiarity = fit_familiarity(folds) if folds else None
    measured = measure(folds, familiarity)
    use_knn = "knn" in measured and measured["knn"] > measured["msp"] + KNN_MARGIN
    sim = nearest_similarity(val.emb, train.emb) if use_knn else None
    conf = confidence(probs, sim, familiarity if use_knn else None)
    threshold = threshold_for(conf, coverage)
    trust = Trust(
        temperature=temperature, threshold=threshold, score="knn" if use_knn else "msp",
        familiarity=familiarity if use_knn else None, coverage=coverage,
        val_coverage=int((conf >= threshold).sum()) / max(conf.numel(), 1),
        ece_before=ece_before, ece_after=ece_after,
        auroc=measured, n_val=len(correct),
        familiar_above=usual_familiarity(conf, probs) if use_knn else None,
    )
    return trust, train.emb.half() if use_knn else None


def usual_familiarity(conf: torch.Tensor, probs: torch.Tensor, share: float = 0.9) -> float | None:
    """The familiarity factor (confidence / top probability) that ``share`` of the validation
    photos keep or exceed: below it, a photo is less familiar than usual."""
    factor = conf / probs.max(dim=1).values.clamp(min=1e-12)
    return round(float(torch.quantile(factor, 1 - share)), 6) if factor.numel() else None


def bank_rows(n: int, seed: int) -> list[int]:
    """Which training photos go into the feature bank: all, or a seeded sample of MAX_BANK."""
    if n <= MAX_BANK:
        return list(range(n))
    return sorted(torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:MAX_BANK].tolist())


def calibrate(model: TransferModel, splits: dict[str, SplitData], batcher: ImageBatcher, device: torch.device,
              should_stop: Callable[[], bool], coverage: float, seed: int) -> tuple[Trust, torch.Tensor | None]:
    """Fit a checkpoint's trust settings: its model's outputs on val and on training photos."""
    val = collect(model, splits["val"], batcher, device, should_stop)
    mode, model.tta = model.tta, TTA.OFF  # the bank holds each training photo once, as it is
    try:
        train = collect(model, splits["train"], batcher, device, should_stop, bank_rows(len(splits["train"]), seed))
    finally:
        model.tta = mode
    return fit_trust(val, train, coverage)
