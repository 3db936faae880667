"""Classification metrics: accuracy, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

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


def format_report(rep: dict[str, Any]) -> str:
    """A readable table of :func:`report`'s result."""
    classes = rep["classes"]
    width = max(9, *(len(c) for c in classes)) + 1
    lines = [f"accuracy {rep['accuracy']:.1%} on {rep['n']} images (macro F1 {rep['macro_f1']:.3f})",
             "", f"{'class':<{width}}precision  recall     f1  support"]
    for name, c in rep["per_class"].items():
        lines.append(f"{name:<{width}}{c['precision']:>9.3f} {c['recall']:>7.3f} "
                     f"{c['f1']:>6.3f} {c['support']:>8}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * width + "".join(f"{c[:8]:>9}" for c in classes)]
    for name, row in zip(classes, rep["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>9}" for v in row))
    return "\n".join(lines)
