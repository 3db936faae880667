"""Crisp images on high-DPI screens: decode and scale in device pixels, show in logical pixels.

Qt lays widgets out in logical pixels; on a 2x screen (Retina, a 4K laptop at 200 %) a pixmap
made at the logical size is stretched and looks blurred. These helpers make it at
``devicePixelRatio`` times the size and tag it with that ratio, so Qt draws it 1:1.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QWidget


def screen_ratio() -> float:
    """The highest device pixel ratio of the app's screens (1.0 without an app)."""
    app = QGuiApplication.instance()
    return float(app.devicePixelRatio()) if isinstance(app, QGuiApplication) else 1.0


def device_side(side: int, ratio: float | None = None) -> int:
    """How many device pixels ``side`` logical pixels take."""
    return math.ceil(side * (screen_ratio() if ratio is None else ratio))


def pixmap_for_screen(image: QImage, side: int, ratio: float | None = None) -> QPixmap:
    """``image`` (decoded at most :func:`device_side` of ``side``) as a pixmap of at most ``side``
    logical pixels, drawn 1:1 on the screen. An image smaller than ``side`` keeps the logical
    size it has at 1x rather than shrinking on a 2x screen."""
    ratio = screen_ratio() if ratio is None else ratio
    pixmap = QPixmap.fromImage(image)
    longest = max(image.width(), image.height())
    pixmap.setDevicePixelRatio(max(1.0, min(ratio, longest / side)) if side > 0 else ratio)
    return pixmap


def fitted(pixmap: QPixmap, widget: QWidget) -> QPixmap:
    """``pixmap`` scaled to fit ``widget`` (aspect kept) at the widget's pixel density."""
    if pixmap.isNull():  # a file Qt cannot show: nothing to scale (Qt would warn)
        return pixmap
    ratio = widget.devicePixelRatioF()
    size = widget.size()
    scaled = pixmap.scaled(QSize(math.ceil(size.width() * ratio), math.ceil(size.height() * ratio)),
                           Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    scaled.setDevicePixelRatio(ratio)
    return scaled
