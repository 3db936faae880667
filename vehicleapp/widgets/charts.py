"""Matplotlib charts embedded in Qt: a ``Figure`` on a ``FigureCanvasQTAgg`` (no pyplot).

Live curves update their lines with ``set_data`` and redraw with ``draw_idle``. Every chart
adapts to its size: below a width or height its fonts shrink, and in a very small chart
secondary text (bar values, legends, axis labels) is left out rather than drawn on top of
itself.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from matplotlib.axes import Axes
from matplotlib.backend_bases import MouseEvent
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPaintEvent, QResizeEvent, QShowEvent

from trainer.pathtext import for_display
from trainer.plots import draw_confusion, draw_curves, epoch_ticks, legend_entries, save_figure
from trainer.runs import RunInfo

MARKED_EPOCHS = 30  # up to this many epochs each one is a dot (a one-epoch run is a single point)
#: (title, labels, ticks) font sizes for normal, small and tiny charts.
FONTS = {0: (10, 9, 8), 1: (9, 8, 7), 2: (8, 7, 6)}



class Chart(FigureCanvasQTAgg):
    def __init__(self, width: float = 6, height: float = 3.2, parent=None,  # noqa: ANN001
                 layout: str | None = "constrained") -> None:
        self.figure = Figure(figsize=(width, height), layout=layout)
        super().__init__(self.figure)
        self.setParent(parent)
        self.setMinimumSize(160, 140)
        self.size_class = 0
        self._draw_when_shown = False

    def draw_idle(self) -> None:
        """Draw soon; while hidden (another page is shown), only once shown again: a full draw
        costs the GUI thread 60-80 ms that nobody would see."""
        if not self.isVisible():
            self._draw_when_shown = True
            return
        super().draw_idle()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._draw_when_shown:
            self._draw_when_shown = False
            super().draw_idle()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self._draw_when_shown:  # grabbed while hidden (a screenshot): draw it now
            self._draw_when_shown = False
            self.draw()
        super().paintEvent(event)

    def save_png(self, path: str) -> None:
        try:
            save_figure(self.figure, path)
        finally:
            self.figure.set_canvas(self)  # saving gave the figure a file canvas: give it back to the screen

    def _size_class(self) -> int:
        """0 normal, 1 small, 2 tiny (by the widget's own width and height in pixels)."""
        w, h = self.width(), self.height()
        return 2 if w < 300 or h < 170 else 1 if w < 520 or h < 260 else 0

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        size_class = self._size_class()
        if size_class != self.size_class:
            self.size_class = size_class
            self.render()

    def render(self) -> None:
        """Redraw the current content for the current size (subclasses)."""

    def draw_message(self, text: str) -> None:
        """An empty chart that says why it is empty (wrapped to the chart's width)."""
        self.figure.clear()
        ax = self.figure.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, self.wrap(text, self.fonts()[1]), ha="center", va="center", color="0.35",
                fontsize=self.fonts()[1])
        self.draw_idle()

    def fonts(self) -> tuple[int, int, int]:
        return FONTS[self.size_class]

    def fit_text(self, axes: Sequence[Axes]) -> None:
        """Apply the size class's fonts to ``axes``; drop axis labels in a tiny chart."""
        title, label, tick = self.fonts()
        for ax in axes:
            ax.title.set_fontsize(title)
            for text in (ax.xaxis.label, ax.yaxis.label):
                text.set_fontsize(label)
                text.set_visible(self.size_class < 2)
            ax.tick_params(labelsize=tick)

    def wrap(self, text: str, font: int) -> str:
        """``text`` wrapped to the chart's width (about 0.6 em per character)."""
        chars = max(12, int((self.width() - 24) / (font * 0.9)))  # a character: about 0.65 em at 100 dpi
        return "\n".join(textwrap.wrap(text, chars)) or text


class LiveCurves(Chart):
    """Accuracy and loss (train vs val) per epoch, plus per-batch training loss.

    Updates only change line data; a separate timer redraws at most every ``redraw_ms``
    (matplotlib's embedding example), so a flood of batch events never stalls the GUI.
    Every epoch line has markers: after one epoch each line is a single point.
    """

    def __init__(self, parent=None, redraw_ms: int = 400) -> None:  # noqa: ANN001
        super().__init__(8, 3.2, parent, layout=None)  # a fixed layout redraws in half the time
        self._dirty = False
        self.target_epochs = 0
        self._timer = QTimer(self, interval=redraw_ms)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        self.ax_acc, self.ax_loss = self.figure.subplots(1, 2)
        self.lines = {
            "train_acc": self.ax_acc.plot([], [], "--o", color="C0", ms=3, label="train")[0],
            "val_acc": self.ax_acc.plot([], [], "-o", color="C1", ms=3, label="val")[0],
            "train_loss": self.ax_loss.plot([], [], "--o", color="C0", ms=3, label="train")[0],
            "val_loss": self.ax_loss.plot([], [], "-o", color="C1", ms=3, label="val")[0],
            "batch_loss": self.ax_loss.plot([], [], "-", color="C7", lw=0.6, alpha=0.6,
                                            label="batch")[0],
        }
        for ax, title in ((self.ax_acc, "Accuracy"), (self.ax_loss, "Loss")):
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(epoch_ticks())
        self.ax_acc.set_ylim(0, 1.02)
        # blitting (matplotlib's animation recipe): a full draw keeps the axes without the lines;
        # an update puts that back and draws only the lines, ~10x cheaper than a full draw
        self._background = None
        self._limits: tuple | None = None
        self._saving = False
        for line in self.lines.values():
            line.set_animated(True)
        self.mpl_connect("draw_event", self._on_full_draw)
        self.reset()

    def reset(self, epochs: int = 0) -> None:
        """Empty curves on axes that already show the epochs to come (1 … ``epochs``)."""
        self.target_epochs = epochs
        self.epochs: list[dict] = []
        self.batch_x: list[float] = []
        self.batch_y: list[float] = []
        for line in self.lines.values():
            line.set_data([], [])
        self.ax_loss.set_ylim(0, 1)
        self._rescale()
        self._limits = None
        self._dirty = True

    def render(self) -> None:
        w, h = max(self.width(), 1), max(self.height(), 1)
        title, _label, tick = self.fonts()
        # one row under the plots, whenever the chart is tall enough: a narrow one (the Train page
        # of an 800x560 window) still needs to say which line is train and which val
        legend_px = tick * self.figure.dpi / 72 * 2.2 if self.height() >= 170 else 0
        self.figure.subplots_adjust(left=46 / w, right=1 - 10 / w,
                                    bottom=((44 if self.size_class < 2 else 26) + legend_px) / h,
                                    top=1 - (title * 2.4) / h, wspace=56 / max((w - 110) / 2, 56))
        self.fit_text((self.ax_acc, self.ax_loss))
        for legend in self.figure.legends:
            legend.remove()
        if legend_px:
            self._legend(tick)
        self._limits = None
        self._dirty = True

    def _legend(self, font: int) -> None:
        """One legend under both plots, never on the curves (accuracy nears 1.0 at the top, loss
        starts high on the left): the line styles once, as the Runs page's comparison does."""
        handles = [self.lines[k] for k in ("train_acc", "val_acc", "batch_loss")]
        self.figure.legend(handles, ["train", "val", "batch loss"], loc="lower center", ncols=3, fontsize=font,
                           frameon=False, handlelength=2.2, columnspacing=1.2, borderaxespad=0.2)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.render()  # margins are in pixels: recompute them at every size

    def _redraw(self) -> None:
        """Every ``redraw_ms``: nothing while hidden; the lines alone while the axes stay; else all."""
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        limits = self._rescale()
        if self._background is None or limits != self._limits:
            self._limits = limits
            self.draw_idle()  # _on_full_draw adds the lines
            return
        self.restore_region(self._background)
        self._draw_lines()
        self.blit(self.figure.bbox)

    def _on_full_draw(self, event: object) -> None:
        if self._saving:  # a PNG being written at its own dpi is not the screen's picture
            return
        self._background = self.copy_from_bbox(self.figure.bbox)
        self._draw_lines()

    def _draw_lines(self) -> None:
        for line in self.lines.values():
            line.axes.draw_artist(line)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._limits = None  # what happened while hidden is drawn in full
        self._dirty = True
        self._redraw()

    def save_png(self, path: str) -> None:
        self._saving = True
        for line in self.lines.values():  # a saved figure has no blitting: draw the lines normally
            line.set_animated(False)
        try:
            super().save_png(path)
        finally:
            self._saving = False
            for line in self.lines.values():
                line.set_animated(True)
            self._limits = None  # the screen's buffer was used for the file: draw it again
            self.draw_idle()

    def extend(self, epochs: int) -> None:
        """More epochs to come than announced (fine-tuning's follow the head's)."""
        self.target_epochs = max(self.target_epochs, epochs)
        self._dirty = True

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
            self.lines[key].set_marker("o" if len(xs) <= MARKED_EPOCHS else "")  # dots until they crowd
        self._dirty = True

    def point_count(self) -> int:
        return len(self.epochs)

    def _rescale(self) -> tuple[float, float, float]:
        """Fit the axes to the data; returns the limits (a change needs a full draw)."""
        right = max([m["epoch"] for m in self.epochs] + self.batch_x[-1:] + [self.target_epochs, 1])
        left = 0.5 if not self.batch_x else 0
        for ax in (self.ax_acc, self.ax_loss):
            ax.set_xlim(left, right + 0.5)
        losses = [v for m in self.epochs for v in (m.get("train_loss"), m.get("val_loss")) if v] + self.batch_y
        top = max(losses) * 1.1 if losses else 1
        self.ax_loss.set_ylim(0, top)
        return left, right, top


class CompareCurves(Chart):
    """Several runs overlaid (the reference's comparison figures)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(8, 3.4, parent)
        self.runs: list[RunInfo] = []

    def show_runs(self, runs: Sequence[RunInfo]) -> None:
        self.runs = list(runs)
        self.render()

    def render(self) -> None:
        draw_curves(self.figure, self.runs)
        axes = self.figure.axes
        self.fit_text(axes)
        for ax in axes:
            ax.xaxis.set_major_locator(epoch_ticks())
        if self.runs and self.size_class < 2:
            self._legend()
        if not self.runs:
            for ax in axes:
                ax.set_xlim(1, 10)
                ax.set_ylim(0, 1)
                ax.text(0.5, 0.5, "select runs to compare", ha="center", va="center",
                        transform=ax.transAxes, color="0.5", fontsize=self.fonts()[1])
        self.draw_idle()


    def _legend(self) -> None:
        """One legend under both plots, never on the curves: a colour per run named by what tells
        it from the others (the title says what they share), and the line styles once."""
        title, handles, labels = legend_entries(self.runs)
        font = self.fonts()[2]
        px = font * self.figure.dpi / 72  # a character is about 0.6 em; a handle and gap about 4 em
        widest = max(len(t) for t in labels) * 0.6 * px + 4 * px
        ncols = max(1, min(len(labels), int((self.width() - 20) // max(widest, 1))))
        self.figure.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=font,
                           title=title or None, title_fontsize=font, frameon=False, handlelength=2.2,
                           columnspacing=1.2)


class ConfusionChart(Chart):
    cell_clicked = Signal(int, int)  # true class index, predicted class index

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 3.4, parent)
        self._content: tuple = ("message", "")
        self.mpl_connect("button_press_event", self._on_click)

    def _on_click(self, event: MouseEvent) -> None:
        if self._content[0] != "matrix" or event.inaxes is None or event.xdata is None or event.ydata is None:
            return
        n = len(self._content[2])
        row, col = round(event.ydata), round(event.xdata)
        if 0 <= row < n and 0 <= col < n:
            self.cell_clicked.emit(row, col)

    def show_matrix(self, matrix: list[list[int]], classes: list[str], title: str = "") -> None:
        self._content = ("matrix", matrix, classes, title)
        self.render()

    def show_message(self, text: str) -> None:
        self._content = ("message", text)
        self.render()

    def render(self) -> None:
        kind, *args = self._content
        title_font = self.fonts()[0]
        if kind == "matrix":
            matrix, classes, title = args
            draw_confusion(self.figure, matrix, classes, self.wrap(title, title_font))
            self.fit_text(self.figure.axes)
            for text in self.figure.axes[0].texts:
                text.set_fontsize(self.fonts()[1])
        else:
            self.draw_message(args[0])
            return
        self.draw_idle()

    def message(self) -> str:
        return str(self._content[1]) if self._content[0] == "message" else ""


SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def in_split_order(splits: Iterable[str]) -> list[str]:
    """Splits as a dataset is used: train, val, test (then any other)."""
    return sorted(splits, key=lambda s: SPLIT_ORDER.get(s, len(SPLIT_ORDER)))


class CountsChart(Chart):
    """Images per class, one bar group per split; bar values only where they fit."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 2.6, parent)
        self.counts: dict[str, dict[str, int]] = {}

    def show_counts(self, counts: dict[str, dict[str, int]]) -> None:
        self.counts = counts
        self.render()

    def render(self) -> None:
        self.figure.clear()
        ax = self.figure.subplots()
        counts = self.counts
        classes = sorted({c for row in counts.values() for c in row})
        splits = in_split_order(counts)
        width = 0.8 / max(len(splits), 1)
        _title, label, tick = self.fonts()
        bar_px = (self.width() - 60) * width / max(len(classes), 1)  # the axes: the width less the y labels
        for i, split in enumerate(splits):
            xs = [k + i * width for k in range(len(classes))]
            bars = ax.bar(xs, [counts[split].get(c, 0) for c in classes], width, label=split or "all")
            top = max((counts[split].get(c, 0) for c in classes), default=0)
            if bar_px >= len(str(top)) * tick * 0.8:  # room for the number above each bar
                ax.bar_label(bars, fontsize=tick)
        ax.set_xticks([k + width * (len(splits) - 1) / 2 for k in range(len(classes))],
                      [for_display(c) for c in classes],
                      rotation=20, fontsize=tick)
        ax.set_ylabel("images", fontsize=label)
        ax.tick_params(axis="y", labelsize=tick)
        if not classes:
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no classes yet", ha="center", va="center", transform=ax.transAxes, color="0.5")
        if len(splits) > 1 or (splits and splits[0]):  # which colour is which split, above the bars
            ax.legend(fontsize=tick, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(splits),
                      frameon=False, handlelength=1.0, columnspacing=1.0, borderaxespad=0.2)
        self.draw_idle()

    def bar_labels_shown(self) -> bool:
        return any(t.get_text() for ax in self.figure.axes for t in ax.texts)


class ProbabilityChart(Chart):
    """One photo's probability for every class, as horizontal bars (the top class highlighted)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(3.6, 1.4, parent)
        self.setMinimumSize(160, 100)
        self.classes: list[str] = []
        self.probs: list[float] = []

    def _size_class(self) -> int:
        return 2 if self.width() < 300 else 1 if self.width() < 520 else 0  # short by design: width decides

    def show_probs(self, classes: list[str], probs: list[float]) -> None:
        self.classes, self.probs = list(classes), list(probs)
        self.render()

    def render(self) -> None:
        if not self.probs:  # an unreadable photo has none: say so, not a bare axis
            self.draw_message("No probabilities: the photo could not be read")
            return
        self.figure.clear()
        ax = self.figure.subplots()
        top = max(range(len(self.probs)), key=self.probs.__getitem__)
        colours = ["C0" if i == top else "0.7" for i in range(len(self.probs))]
        bars = ax.barh([for_display(c) for c in self.classes[::-1]], self.probs[::-1], color=colours[::-1])
        ax.bar_label(bars, labels=[f"{p:.1%}" for p in self.probs[::-1]], fontsize=self.fonts()[2], padding=2)
        ax.set_xlim(0, 1.25)
        ax.set_xticks([])
        ax.tick_params(labelsize=self.fonts()[1])
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
        self.draw_idle()


RELIABILITY_HELP = (
    "Does the model's stated probability mean what it says? Each bar: of the photos the model was "
    "that sure about, the share it got right. On the dashed line, 80% sure is right 80% of the time.\n"
    "Calibration error: the average gap between the two, before → after the run's temperature "
    "scaling, which rescales the probabilities (measured on the validation photos).")


class ReliabilityChart(Chart):
    """Calibration at a glance: per confidence bin, how often the run was right (bars) against
    how sure it was (the diagonal); the title gives the expected calibration error before and
    after temperature scaling (``evaluate``'s ``calibration`` report)."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 3.4, parent)
        self.report: dict | None = None
        self.setToolTip(RELIABILITY_HELP)

    def show_calibration(self, report: dict | None) -> None:
        self.report = report
        self.render()

    def render(self) -> None:
        if not self.report or not self.report.get("bins"):
            self.draw_message("No calibration report: press Evaluate")
            return
        self.figure.clear()
        ax = self.figure.subplots()
        title, tick, _ = self.fonts()
        bins = [b for b in self.report["bins"] if b.get("count")]
        ax.bar([(b["lo"] + b["hi"]) / 2 for b in bins], [b["accuracy"] for b in bins],
               width=[b["hi"] - b["lo"] for b in bins], color="C0", alpha=0.75, edgecolor="white", label="right")
        ax.plot([0, 1], [0, 1], "--", color="0.4", lw=1, label="perfect")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence", fontsize=tick)
        ax.set_ylabel("accuracy", fontsize=tick)
        ax.tick_params(labelsize=tick)
        ax.set_title(f"calibration error {self.report['ece_before']:.1%} → {self.report['ece_after']:.1%} "
                     f"(temperature {self.report.get('temperature', 1.0):.2f})", fontsize=title)
        self.fit_text([ax])
        self.draw_idle()


class ThresholdChart(Chart):
    """The threshold explorer: share of validation images answered and their accuracy against
    the confidence threshold; the chosen threshold is a vertical line that a click or a drag moves
    (``picked`` reports it)."""

    picked = Signal(float)

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(4, 3.4, parent)
        self.curve: tuple[list[float], list[float], list[float | None]] | None = None
        self.chosen = 0.0
        self.mpl_connect("button_press_event", self._on_mouse)
        self.mpl_connect("motion_notify_event", self._on_mouse)

    def show_curve(self, thresholds: list[float], coverage: list[float], accuracy: list[float | None],
                   chosen: float) -> None:
        self.curve, self.chosen = (thresholds, coverage, accuracy), chosen
        self.render()

    def clear_curve(self) -> None:
        self.curve = None
        self.render()

    def render(self) -> None:
        if self.curve is None:
            self.draw_message("Evaluate the run to explore its threshold")
            return
        self.figure.clear()
        ax = self.figure.subplots()
        title, tick, _ = self.fonts()
        ts, cov, acc = self.curve
        ax.plot(ts, cov, color="C0", label="answered")
        ax.plot(ts, [a if a is not None else float("nan") for a in acc], color="C2", label="right among answered")
        self.line = ax.axvline(self.chosen, color="C3", lw=1.5)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence threshold (below: unknown)", fontsize=tick)
        ax.tick_params(labelsize=tick)
        ax.legend(fontsize=tick, loc="lower left")
        ax.set_title("Click or drag to choose", fontsize=title)
        self.fit_text([ax])
        self.draw_idle()

    def _on_mouse(self, event: MouseEvent) -> None:
        if self.curve is None or event.inaxes is None or event.xdata is None:
            return
        if event.name == "motion_notify_event" and event.button != 1:
            return
        self.chosen = min(max(float(event.xdata), 0.0), 1.0)
        self.line.set_xdata([self.chosen, self.chosen])
        self.draw_idle()
        self.picked.emit(self.chosen)
