"""Matplotlib charts embedded in Qt: a ``Figure`` on a ``FigureCanvasQTAgg`` (no pyplot).

Live curves update their lines with ``set_data`` and redraw with ``draw_idle``.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QTimer

from trainer.plots import draw_confusion, draw_curves, save_figure
from trainer.runs import RunInfo


class Chart(FigureCanvasQTAgg):
    def __init__(self, width: float = 6, height: float = 3.2, parent=None,  # noqa: ANN001
                 layout: str | None = "constrained") -> None:
        self.figure = Figure(figsize=(width, height), layout=layout)
        super().__init__(self.figure)
        self.setParent(parent)
        self.setMinimumHeight(180)

    def save_png(self, path: str) -> None:
        save_figure(self.figure, path)


class LiveCurves(Chart):
    """Accuracy and loss (train vs val) per epoch, plus per-batch training loss.

    Updates only change line data; a separate timer redraws at most every ``redraw_ms``
    (matplotlib's embedding example), so a flood of batch events never stalls the GUI.
    """

    def __init__(self, parent=None, redraw_ms: int = 400) -> None:  # noqa: ANN001
        super().__init__(8, 3.2, parent, layout=None)  # a fixed layout redraws in half the time
        self.figure.subplots_adjust(left=0.07, right=0.985, bottom=0.14, top=0.91, wspace=0.18)
        self._dirty = False
        self._timer = QTimer(self, interval=redraw_ms)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        self.ax_acc, self.ax_loss = self.figure.subplots(1, 2)
        self.lines = {
            "train_acc": self.ax_acc.plot([], [], "--", color="C0", label="train")[0],
            "val_acc": self.ax_acc.plot([], [], "-o", color="C1", ms=3, label="val")[0],
            "train_loss": self.ax_loss.plot([], [], "--", color="C0", label="train")[0],
            "val_loss": self.ax_loss.plot([], [], "-o", color="C1", ms=3, label="val")[0],
            "batch_loss": self.ax_loss.plot([], [], "-", color="C7", lw=0.6, alpha=0.6,
                                            label="batch")[0],
        }
        for ax, title in ((self.ax_acc, "Accuracy"), (self.ax_loss, "Loss")):
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("epoch", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        self.ax_acc.set_ylim(0, 1.02)
        self.reset()

    def reset(self) -> None:
        self.epochs: list[dict] = []
        self.batch_x: list[float] = []
        self.batch_y: list[float] = []
        for line in self.lines.values():
            line.set_data([], [])
        self.ax_acc.set_xlim(0.5, 1.5)
        self.ax_loss.set_xlim(0.5, 1.5)
        self._dirty = True

    def _redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self._rescale()
            self.draw_idle()

    def add_batch(self, epoch: int, done: int, total: int, loss: float) -> None:
        self.batch_x.append(epoch - 1 + done / max(total, 1))
        self.batch_y.append(loss)
        self.lines["batch_loss"].set_data(self.batch_x, self.batch_y)
        self._dirty = True

    def add_epoch(self, metrics: dict) -> None:
        self.epochs.append(metrics)
        xs = [m["epoch"] for m in self.epochs]
        for key in ("train_acc", "val_acc", "train_loss", "val_loss"):
            self.lines[key].set_data(xs, [m.get(key) for m in self.epochs])
        self._dirty = True

    def point_count(self) -> int:
        return len(self.epochs)

    def _rescale(self) -> None:
        right = max([m["epoch"] for m in self.epochs] + self.batch_x[-1:] + [1])
        for ax in (self.ax_acc, self.ax_loss):
            ax.set_xlim(0.5 if not self.batch_x else 0, right + 0.5)
        losses = [v for m in self.epochs for v in (m.get("train_loss"), m.get("val_loss")) if v] + self.batch_y
        if losses:
            self.ax_loss.set_ylim(0, max(losses) * 1.1)


class CompareCurves(Chart):
    """Several runs overlaid (the reference's comparison figures)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(8, 3.4, parent)

    def show_runs(self, runs: Sequence[RunInfo]) -> None:
        draw_curves(self.figure, runs)
        if not runs:
            for ax in self.figure.axes:
                ax.text(0.5, 0.5, "select runs to compare", ha="center", va="center",
                        transform=ax.transAxes, color="0.5")
        self.draw_idle()


class ConfusionChart(Chart):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 3.4, parent)

    def show_matrix(self, matrix: list[list[int]], classes: list[str], title: str = "") -> None:
        draw_confusion(self.figure, matrix, classes, title)
        self.draw_idle()

    def show_message(self, text: str) -> None:
        self.figure.clear()
        ax = self.figure.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="0.35")
        self.draw_idle()


class CountsChart(Chart):
    """Images per class, one bar group per split."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 2.6, parent)

    def show_counts(self, counts: dict[str, dict[str, int]]) -> None:
        self.figure.clear()
        ax = self.figure.subplots()
        classes = sorted({c for row in counts.values() for c in row})
        splits = list(counts)
        width = 0.8 / max(len(splits), 1)
        for i, split in enumerate(splits):
            xs = [k + i * width for k in range(len(classes))]
            bars = ax.bar(xs, [counts[split].get(c, 0) for c in classes], width, label=split or "all")
            ax.bar_label(bars, fontsize=7)
        ax.set_xticks([k + width * (len(splits) - 1) / 2 for k in range(len(classes))], classes,
                      rotation=20, fontsize=8)
        ax.set_ylabel("images", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        if len(splits) > 1 or (splits and splits[0]):
            ax.legend(fontsize=7)
        self.draw_idle()
