"""Live training curves: blitted updates show the new points, a hidden chart costs nothing, a
saved PNG has the lines and the screen keeps them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from vehicleapp.widgets.charts import LiveCurves

ORANGE = np.array([255, 127, 14])  # matplotlib's C1: the val lines
BLUE = np.array([31, 119, 180])  # C0: the bars of a counts chart


def _pixels_of(img: QImage, color: np.ndarray) -> int:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3]
    rgb = arr.reshape(img.height(), img.width(), 3).astype(int)
    return int((np.abs(rgb - color).sum(axis=2) < 40).sum())


def _orange_pixels(img: QImage) -> int:
    return _pixels_of(img, ORANGE)


def _epoch(chart: LiveCurves, e: int) -> None:
    for b in range(1, 11):
        chart.add_batch(e, b, 10, 1.0 / b)
    chart.add_epoch({"epoch": e, "train_acc": 0.4 + e / 40, "val_acc": 0.3 + e / 30, "train_loss": 1 / e,
                     "val_loss": 1.2 / e})


def test_blitted_updates_draw_the_new_points_only(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    chart = LiveCurves(redraw_ms=10_000)  # redraws driven by the test
    qtbot.addWidget(chart)
    chart.resize(900, 300)
    chart.show()
    chart.reset(10)
    _epoch(chart, 1)
    chart._redraw()  # the first draw is a full one
    qtbot.waitUntil(lambda: chart._background is not None)
    full_draws = []
    chart.mpl_connect("draw_event", lambda e: full_draws.append(e))
    before = _orange_pixels(chart.grab().toImage())
    for e in range(2, 6):
        _epoch(chart, e)
        chart._redraw()
    qtbot.wait(50)
    assert full_draws == []  # the axes stayed: only the lines were drawn
    assert _orange_pixels(chart.grab().toImage()) > before  # ... and they grew

    chart.save_png(str(tmp_path / "curves.png"))
    saved = QImage(str(tmp_path / "curves.png"))
    assert _orange_pixels(saved) > 0, "the saved PNG lost the animated lines"
    qtbot.wait(50)
    assert _orange_pixels(chart.grab().toImage()) >= before, "the screen lost its lines after saving"


def test_a_hidden_chart_does_not_draw_until_shown(qtbot) -> None:  # noqa: ANN001
    chart = LiveCurves(redraw_ms=10_000)
    qtbot.addWidget(chart)
    chart.resize(900, 300)
    chart.show()
    chart._redraw()
    qtbot.wait(50)
    chart.hide()
    draws = []
    chart.mpl_connect("draw_event", lambda e: draws.append(e))
    _epoch(chart, 1)
    chart._redraw()
    qtbot.wait(50)
    assert draws == []  # 60-80 ms of GUI time saved every redraw while another page is shown
    chart.show()
    qtbot.waitUntil(lambda: len(draws) == 1)


def test_any_hidden_chart_waits_until_shown_but_a_screenshot_still_has_it(qtbot) -> None:  # noqa: ANN001
    from vehicleapp.widgets.charts import CountsChart

    chart = CountsChart()
    qtbot.addWidget(chart)
    chart.resize(500, 300)
    draws = []
    chart.mpl_connect("draw_event", lambda e: draws.append(e))
    chart.show_counts({"train": {"car": 5, "truck": 3}})
    qtbot.wait(50)
    assert draws == []  # hidden: nothing drawn
    img = chart.grab().toImage()  # a screenshot of the hidden page draws it
    assert len(draws) == 1
    assert _pixels_of(img, BLUE) > 100, "the screenshot of the hidden chart has no bars"
    chart.show()
    qtbot.wait(50)
    assert len(draws) == 1  # already up to date


def test_the_split_chart_names_its_colours_in_split_order_even_when_small(qtbot) -> None:  # noqa: ANN001
    """A narrow Dataset page (under 300 px) hid the legend: three colours with nothing naming them."""
    from vehicleapp.widgets.charts import CountsChart

    chart = CountsChart()
    qtbot.addWidget(chart)
    chart.resize(250, 300)
    chart.show()
    assert chart.size_class == 2  # the smallest charts
    chart.show_counts({"test": {"car": 1}, "train": {"car": 7}, "val": {"car": 2}})
    legend = chart.figure.axes[0].get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["train", "val", "test"]
