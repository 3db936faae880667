"""A thumbnail delegate that draws each image's class as a small badge on its thumbnail.

The grid shows it when all classes are listed together (the "All" filter); the class comes from
the model's ``LABEL_ROLE``. Each class keeps one colour (by its place in the class list).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")
UNLABELED_COLOUR = "#5f6368"


class ClassBadgeDelegate(QStyledItemDelegate):
    """Draws the item, then its class in a rounded badge at the top-left of the icon."""

    def __init__(self, label_role: int, classes: Callable[[], list[str]], shown: Callable[[], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label_role = label_role
        self.classes = classes
        self.shown = shown

    def colour(self, label: str) -> QColor:
        classes = self.classes()
        if label in classes:
            return QColor(PALETTE[classes.index(label) % len(PALETTE)])
        return QColor(UNLABELED_COLOUR)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        label = index.data(self.label_role)
        if not label or not self.shown():
            return
        painter.save()
        font = QFont(option.font)
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6.0))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        text = metrics.elidedText(str(label), Qt.TextElideMode.ElideRight, option.rect.width() - 16)
        box = QRect(option.rect.left() + 6, option.rect.top() + 4, metrics.horizontalAdvance(text) + 8,
                    metrics.height() + 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour(str(label)))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
