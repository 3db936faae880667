"""The embedding map: the review's 2-D projection, one dot per image, coloured by its label.

Suspects (likely wrong labels) are outlined. Hovering a dot reports its image (the page shows
it), a click picks one image and a lasso picks many. One scatter collection, updated with
``set_facecolors``/``set_edgecolors`` and ``draw_idle`` (matplotlib's Qt embedding), and a
nearest-point search in numpy: 10,000 points stay smooth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backend_bases import MouseEvent
from matplotlib.path import Path as MplPath
from matplotlib.widgets import LassoSelector
from PySide6.QtCore import Signal

from trainer.pathtext import for_display
from vehicleapp.widgets.charts import Chart

HOVER_PIXELS = 8


class ReviewMap(Chart):
    hovered = Signal(object)  # Path
    picked = Signal(object)  # set[Path]

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(6, 5, parent, layout=None)
        self.figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.93)
        self.ax = self.figure.subplots()
        self.paths: list[Path] = []
        self.xy = np.zeros((0, 2))
        self.scatter = self.ax.scatter([], [], s=14)
        self._last_hover = -1
        self.lasso = LassoSelector(self.ax, self._on_lasso, button=3)  # right-drag: lasso
        self.mpl_connect("motion_notify_event", self._on_move)
        self.mpl_connect("button_press_event", self._on_click)
        self.show_points([], np.zeros((0, 2)), [], [])

    def show_points(self, paths: list[Path], xy: np.ndarray, labels: list[str], suspect: list[bool]) -> None:
        """One dot per image at ``xy``; colour = label, black outline = suspect."""
        self.paths, self.xy = list(paths), np.asarray(xy, dtype=float).reshape(-1, 2)
        classes = sorted(set(labels))
        colour = {c: f"C{i % 10}" for i, c in enumerate(classes)}
        self.ax.clear()
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        self.scatter = self.ax.scatter(self.xy[:, 0], self.xy[:, 1], s=14, c=[colour[c] for c in labels] or None,
                                       edgecolors=["black" if s else "none" for s in suspect] or None,
                                       linewidths=1.0)
        for c in classes:
            self.ax.scatter([], [], s=14, color=colour[c], label=for_display(c))
        if classes:
            self.ax.legend(fontsize=7, loc="upper right", markerscale=1.5)
            self.ax.set_title("Each dot an image: similar images lie close · click or right-drag to select",
                              fontsize=8)
        else:
            self.ax.text(0.5, 0.5, "Run a review to see the map", ha="center", va="center",
                         transform=self.ax.transAxes, color="0.4")
        self.lasso = LassoSelector(self.ax, self._on_lasso, button=3)
        self.draw_idle()

    def nearest(self, event: MouseEvent) -> int:
        """Index of the dot under the mouse (within a few pixels), else -1."""
        if not len(self.xy) or event.inaxes is not self.ax:
            return -1
        screen = self.ax.transData.transform(self.xy)
        d = np.hypot(screen[:, 0] - event.x, screen[:, 1] - event.y)
        i = int(d.argmin())
        return i if d[i] <= HOVER_PIXELS else -1

    def _on_move(self, event: MouseEvent) -> None:
        i = self.nearest(event)
        if i >= 0 and i != self._last_hover:
            self._last_hover = i
            self.hovered.emit(self.paths[i])

    def _on_click(self, event: MouseEvent) -> None:
        if event.button == 1:
            i = self.nearest(event)
            if i >= 0:
                self.picked.emit({self.paths[i]})

    def _on_lasso(self, vertices: list[tuple[float, float]]) -> None:
        inside = MplPath(vertices).contains_points(self.xy)
        chosen = {self.paths[i] for i in np.flatnonzero(inside)}
        if chosen:
            self.picked.emit(chosen)
