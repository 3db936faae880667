"""Classification metrics: accuracy, per-class P/R/F1, confusion matrix, calibration error, AUROC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(y_true: list[int], y_pred: list[int], n: int) -> list[list[int]]:
    """``m[true][pred]`` counts."""
    m = [[0] * n for _ in range(n)]
    for t, p in zip(y_true, y_pred):
        m[t][p] += 1
    return m


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def report(y_true: list[int], y_pred: list[int], classes: list[str]) -> dict[str, Any]:
    """Everything ``evaluate`` prints, as a JSON-ready dict."""
    n = len(classes)
    m = confusion_matrix(y_true, y_pred, n)
    per_class = {}
    for i, name in enumerate(classes):
        tp = m[i][i]
        predicted = sum(m[r][i] for r in range(n))
        actual = sum(m[i])
        p, r = _ratio(tp, predicted), _ratio(tp, actual)
        per_class[name] = {"precision": p, "recall": r, "f1": _ratio(2 * p * r, p + r),
                           "support": actual}
    correct = sum(m[i][i] for i in range(n))
    f1s = [c["f1"] for c in per_class.values() if c["support"]]
    return {"accuracy": _ratio(correct, len(y_true)), "n": len(y_true),
            "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
            "classes": classes, "per_class": per_class, "confusion": m}


#: Said under a figure measured on val, which also chose what the figure measures.
VAL_CAVEAT = ("(these val photos also chose the best epoch, the temperature and the threshold, so the figures lean "
              "optimistic; a test/ split gives unbiased ones)")


def format_report(rep: dict[str, Any]) -> str:
    """A readable table of :func:`report`'s result."""
    classes = rep["classes"]
    width = max(9, *(len(c) for c in classes)) + 1
    lines = [f"accuracy {rep['accuracy']:.1%} on {measured_on(rep)} (macro F1 {rep['macro_f1']:.3f})"]
    if rep.get("split") == "val":
        lines.append(VAL_CAVEAT)
    lines += ["", f"{'class':<{width}}precision  recall     f1  support"]
    for name, c in rep["per_class"].items():
        lines.append(f"{name:<{width}}{c['precision']:>9.3f} {c['recall']:>7.3f} "
                     f"{c['f1']:>6.3f} {c['support']:>8}")
    column = max(9, *(len(c) + 1 for c in classes))  # whole class names, never cut
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * width + "".join(f"{c:>{column}}" for c in classes)]
    for name, row in zip(classes, rep["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{column}}" for v in row))
    return "\n".join(lines + _trust_lines(rep))


def measured_on(rep: dict[str, Any]) -> str:
    """``66 val images``: how many images of which split a report measured."""
    split = rep.get("split")
    if split in (None, "all"):
        return f"{rep['n']} images" + (" (all splits)" if split else "")
    return f"{rep['n']} {split} images"


def _trust_lines(rep: dict[str, Any]) -> list[str]:
    """The calibration and ``unknown`` part of the report (absent in older reports)."""
    lines = []
    if "calibration" in rep:
        cal = rep["calibration"]
        lines += ["", f"calibration: temperature {cal['temperature']:.3g}; expected calibration error "
                  f"{cal['ece_before']:.3f} before, {cal['ece_after']:.3f} after"]
    if "unknown" in rep and rep["unknown"]["threshold"] > 0:
        unk = rep["unknown"]
        lines.append(f"unknown below confidence {unk['threshold']:.3f} ({unk['score']}): {unk['rate']:.1%} of these "
                     f"images; accuracy on the rest {unk['accuracy_of_answered']:.1%}")
    return lines


def calibration_bins(confidences: Sequence[float], correct: Sequence[bool], bins: int = 15) -> list[dict[str, float]]:
    """Equal-width confidence bins (a reliability diagram): ``lo``, ``hi``, ``count``, mean
    ``confidence`` and ``accuracy`` of the predictions in each (empty bins included)."""
    rows = [{"lo": i / bins, "hi": (i + 1) / bins, "count": 0, "confidence": 0.0, "accuracy": 0.0}
            for i in range(bins)]
    for c, ok in zip(confidences, correct):
        row = rows[min(int(c * bins), bins - 1)]
        row["count"] += 1
        row["confidence"] += c
        row["accuracy"] += float(ok)
    for row in rows:
        if row["count"]:
            row["confidence"] /= row["count"]
            row["accuracy"] /= row["count"]
    return rows


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 15) -> float:
    """ECE (Guo et al. 2017): the count-weighted gap between confidence and accuracy per bin."""
    n = len(confidences)
    rows = calibration_bins(confidences, correct, bins)
    return sum(r["count"] * abs(r["confidence"] - r["accuracy"]) for r in rows) / n if n else 0.0


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney); 0.5 if one is empty."""
    if not positive or not negative:
        return 0.5
    ranked = sorted([(s, 1) for s in positive] + [(s, 0) for s in negative])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += sum(flag for _, flag in ranked[i:j]) * (i + j + 1) / 2
        i = j
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def coverage_curve(confidences: list[float], correct: list[bool], thresholds: list[float]
                   ) -> tuple[list[float], list[float | None]]:
    """For each threshold: the share of images answered (confidence >= t, the rest "unknown")
    and the accuracy among those (None when none is answered). The threshold explorer's curve."""
    n = max(len(confidences), 1)
    coverage: list[float] = []
    accuracy: list[float | None] = []
    for t in thresholds:
        kept = [ok for c, ok in zip(confidences, correct) if c >= t]
        coverage.append(len(kept) / n)
        accuracy.append(sum(kept) / len(kept) if kept else None)
    return coverage, accuracy
