"""Comparison figures (the reference's accuracy/loss curves) drawn on a matplotlib ``Figure``.

No pyplot: the CLI renders with the Agg canvas, the app puts the same Figure in a Qt canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from trainer.atomic import atomic_open
from trainer.pathtext import for_display
from trainer.protocol import UsageError
from trainer.runs import CONFIG, RunInfo, load_run


def run_label(run: RunInfo) -> str:
    c = run.config
    if c.get("members"):
        return f"ensemble of {len(c['members'])} runs"
    return f"{c.get('model', '?')} lr={c.get('lr', '?')} bs={c.get('batch_size', '?')}"


def _details(run: RunInfo) -> list[tuple[str, str]]:
    """What else tells runs with the same model and settings apart, most telling first."""
    size = run.image_size
    return [("data", run.dataset), ("weights", run.weights), ("size", f"{size}px" if size else "224px"),
            ("epochs", f"{len(run.metrics)} ep"), ("name", run.name)]


def run_labels(runs: Sequence[RunInfo]) -> list[str]:
    """One legend label per run, unique: runs sharing model, lr and batch size also show what
    differs between them (dataset, weights, image size, epochs, else the run folder's name)."""
    labels = [run_label(r) for r in runs]
    for base in {b for b in labels if labels.count(b) > 1}:
        group = [i for i, b in enumerate(labels) if b == base]
        details = [_details(runs[i]) for i in group]
        keep = [k for k in range(len(details[0])) if len({d[k][1] for d in details}) > 1]
        chosen: list[int] = []
        for k in keep:  # add differing details until the labels are unique
            chosen.append(k)
            if len({tuple(d[j][1] for j in chosen) for d in details}) == len(group):
                break
        for i, d in zip(group, details):
            labels[i] = " · ".join([base, *(d[k][1] for k in chosen)])
    return [for_display(label) for label in labels]


def draw_curves(fig: Figure, runs: Sequence[RunInfo]) -> None:
    """Accuracy and loss per epoch; solid = val, dashed = train; one colour per run."""
    fig.clear()
    ax_acc, ax_loss = fig.subplots(1, 2)
    for i, (run, label) in enumerate(zip(runs, run_labels(runs))):
        colour = f"C{i % 10}"
        epochs = [m["epoch"] for m in run.metrics]
        marker = "o" if len(epochs) < 12 else ""  # a run of one epoch is a single point
        for ax, key in ((ax_acc, "acc"), (ax_loss, "loss")):
            ax.plot(epochs, [m.get(f"train_{key}") for m in run.metrics], "--", marker=marker, ms=3,
                    color=colour, alpha=0.7, label=f"{label} train")
            ax.plot(epochs, [m.get(f"val_{key}") for m in run.metrics], "-", marker=marker, ms=3,
                    color=colour, label=f"{label} val")
    for ax, title in ((ax_acc, "Accuracy"), (ax_loss, "Loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1.02)
    losses = [v for r in runs for m in r.metrics for v in (m.get("train_loss"), m.get("val_loss")) if v]
    ax_loss.set_ylim(0, max(losses) * 1.1 if losses else 1)  # from 0: no "+1.098" offset on one point
    if runs:
        ax_loss.legend(fontsize="x-small", loc="upper right")
    _tidy(fig)


def draw_confusion(fig: Figure, matrix: list[list[int]], classes: list[str], title: str = "") -> None:
    fig.clear()
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    names = [for_display(c) for c in classes]  # folder names: any bytes; fonts need real text
    ax.set_xticks(range(len(classes)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max((max(r) for r in matrix), default=0)
    for r, row in enumerate(matrix):
        for c, v in enumerate(row):
            ax.text(c, r, str(v), ha="center", va="center",
                    color="white" if v > top / 2 else "black")
    if title:
        ax.set_title(title)
    _tidy(fig)


def _tidy(fig: Figure) -> None:
    if fig.get_layout_engine() is None:  # the app's figures lay themselves out
        fig.tight_layout()


def save_figure(fig: Figure, out: str | Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_open(out, "wb") as f:  # a full disk: DiskFull's one line, the old PNG kept
        fig.savefig(f, dpi=120, format=Path(out).suffix.lstrip(".").lower() or "png")
    return Path(out)


def plot_runs(run_dirs: Sequence[str | Path], out: str | Path) -> Path:
    """The CLI's ``plot``: overlay the given runs' curves into one PNG."""
    missing = [str(d) for d in run_dirs if not (Path(d) / CONFIG).is_file()]
    if missing:
        raise UsageError(f"not a run folder: {', '.join(missing)}")
    fig = Figure(figsize=(11, 4.2))
    draw_curves(fig, [load_run(Path(d)) for d in run_dirs])
    return save_figure(fig, out)
