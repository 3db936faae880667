"""Comparison figures (the reference's accuracy/loss curves) drawn on a matplotlib ``Figure``.

No pyplot: the CLI renders with the Agg canvas, the app puts the same Figure in a Qt canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from trainer.atomic import atomic_open
from trainer.pathtext import for_display
from trainer.protocol import UsageError
from trainer.run_names import legend_labels
from trainer.runs import CONFIG, RunInfo, load_run


def legend_entries(runs: Sequence[RunInfo]) -> tuple[str, list[Line2D], list[str]]:
    """(title, handles, labels) of a legend for :func:`draw_curves`: a colour per run named by
    what tells it from the others (:mod:`trainer.run_names`; the title says what they share),
    then the two line styles once."""
    title, labels = legend_labels(runs)
    handles = [Line2D([], [], color=f"C{i % 10}", lw=2) for i in range(len(runs))]
    handles += [Line2D([], [], color="0.35", ls="-"), Line2D([], [], color="0.35", ls="--", alpha=0.7)]
    labels += ["val", "train"]
    if any(run.config.get("fine_tune_from") for run in runs):
        handles.append(Line2D([], [], color="0.35", ls=":", lw=1))
        labels.append("fine-tuning starts")
    return title, handles, labels


def epoch_ticks() -> MaxNLocator:
    """Whole epochs, as many as fit the axis ("auto": 200 epochs in a narrow chart stay legible);
    a short run's axis read 1.5, 2.5, … without it."""
    return MaxNLocator(nbins="auto", integer=True, min_n_ticks=1)


def draw_curves(fig: Figure, runs: Sequence[RunInfo]) -> None:
    """Accuracy and loss per epoch; solid = val, dashed = train; one colour per run (no legend:
    the caller places :func:`legend_entries` where it fits)."""
    fig.clear()
    ax_acc, ax_loss = fig.subplots(1, 2)
    for i, run in enumerate(runs):
        colour = f"C{i % 10}"
        epochs = [m["epoch"] for m in run.metrics]
        marker = "o" if len(epochs) < 12 else ""  # a run of one epoch is a single point
        for ax, key in ((ax_acc, "acc"), (ax_loss, "loss")):
            ax.plot(epochs, [m.get(f"train_{key}") for m in run.metrics], "--", marker=marker, ms=3,
                    color=colour, alpha=0.7)
            ax.plot(epochs, [m.get(f"val_{key}") for m in run.metrics], "-", marker=marker, ms=3,
                    color=colour)
            if run.config.get("fine_tune_from"):  # the head's last epoch | the first fine-tuning one
                ax.axvline(int(run.config["fine_tune_from"]) + 0.5, color=colour, ls=":", lw=1)
    for ax, title in ((ax_acc, "Accuracy"), (ax_loss, "Loss")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(epoch_ticks())
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1.02)
    losses = [v for r in runs for m in r.metrics for v in (m.get("train_loss"), m.get("val_loss")) if v]
    ax_loss.set_ylim(0, max(losses) * 1.1 if losses else 1)  # from 0: no "+1.098" offset on one point
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
    return save_figure(curves_figure([load_run(Path(d)) for d in run_dirs]), out)


def curves_figure(runs: Sequence[RunInfo]) -> Figure:
    """The ``plot`` command's figure: the curves, and one legend under both plots."""
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    draw_curves(fig, runs)
    title, handles, labels = legend_entries(runs)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize="small",
               title=title or None, title_fontsize="small", frameon=False)
    return fig
