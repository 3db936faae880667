"""How far a model's answers can be trusted: its temperature and its rejection threshold.

A checkpoint's ``trust`` entry is the source of truth (:mod:`trainer.calibration` fits it
after training; :func:`trainer.checkpoint.set_threshold` changes the threshold). A run's
``config.json`` keeps a copy for display only, and an ONNX export copies it into the model's
metadata. Torch-free: the app reads it for display.

* ``temperature`` T: every probability the product shows is ``softmax(logits / T)``.
* ``confidence``: the calibrated top probability (score ``msp``), or that times the photo's
  *familiarity* (score ``knn``: a logistic map of its cosine similarity to the nearest
  training photo's backbone features), whichever separated a held-out class better.
* ``threshold``: a prediction whose confidence is below it is answered :data:`UNKNOWN`;
  0 turns that off. ``--threshold`` and the CSV's ``confidence`` column use the same scale.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trainer.protocol import UNKNOWN, UsageError

SCORES = ("msp", "knn")  # max calibrated probability; x nearest-neighbour familiarity


@dataclass(frozen=True)
class Trust:
    """A checkpoint's calibration and rejection settings (defaults: an uncalibrated model)."""

    temperature: float = 1.0
    threshold: float = 0.0
    score: str = "msp"
    familiarity: tuple[float, float] | None = None  # (slope, intercept) on the similarity
    coverage: float | None = None  # the target share of val images answered (not unknown)
    val_coverage: float | None = None  # the share the threshold keeps on val
    ece_before: float | None = None  # expected calibration error on val, T = 1
    ece_after: float | None = None  # ... with the fitted T
    auroc: dict[str, float] = field(default_factory=dict)  # per score: held-out class vs known
    n_val: int = 0
    #: Score knn: the familiarity (confidence / top probability) that 9 in 10 validation photos
    #: keep or exceed; a photo below it is "unfamiliar" (every photo loses some).
    familiar_above: float | None = None
    previous: tuple[float, ...] = ()  # thresholds before manual changes, newest last (undo)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["familiarity"] = list(self.familiarity) if self.familiarity else None
        d["previous"] = list(self.previous)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Trust:
        """A stored trust entry; missing keys (older checkpoints) keep the defaults."""
        d = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        if d.get("familiarity") is not None:
            d["familiarity"] = tuple(float(x) for x in d["familiarity"])
        d["previous"] = tuple(float(x) for x in d.get("previous", ()))
        return cls(**d)

    def with_threshold(self, value: float) -> Trust:
        """A new threshold; the current one is kept so :meth:`undone` can bring it back."""
        return dataclasses.replace(self, threshold=check_threshold(value),
                                   previous=(*self.previous, self.threshold))

    def undone(self) -> Trust:
        if not self.previous:
            raise UsageError("nothing to undo: the threshold was never changed by hand")
        return dataclasses.replace(self, threshold=self.previous[-1], previous=self.previous[:-1])

    def display(self) -> dict[str, Any]:
        """What ``config.json`` shows (a copy; the checkpoint is the source of truth)."""
        keys = ("temperature", "threshold", "score", "coverage", "val_coverage", "ece_before", "ece_after",
                "familiar_above")
        return {**{k: getattr(self, k) for k in keys}, "previous": list(self.previous)}  # previous: Undo's state


def check_threshold(value: float) -> float:
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise UsageError(f"the threshold is a confidence between 0 and 1, got {value}")
    return float(value)


def answer(label: str, confidence: float, threshold: float) -> str:
    """The label a prediction is written with: :data:`UNKNOWN` below the threshold."""
    return UNKNOWN if threshold > 0 and confidence < threshold else label


def uncalibrated(probs: Sequence[float], temperature: float) -> list[float]:
    """``softmax(logits)`` from ``softmax(logits / T)``: ``p ** T``, renormalised (exact)."""
    powered = [p ** temperature for p in probs]
    total = sum(powered)
    return [p / total for p in powered] if total > 0 else list(probs)
