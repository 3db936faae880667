"""Labels that never widen the window: one-line texts elide, hints wrap.

A plain QLabel asks its layout for room for its whole text, so one long error message once
widened the window from 1360 to 2920 px. An :class:`ElidedLabel` takes the width it is given
and shows the rest as "…", with the full text in its tooltip; a :class:`Hint` wraps.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A one-line plain-text label that elides to its width; the full text is its tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802
        self._full = text
        self._elide()
        self.updateGeometry()  # the size hint follows the text: a label that started empty stayed 0 px wide

    def text(self) -> str:
        """The full text (what shows may be shortened)."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(min(self.fontMetrics().horizontalAdvance(self._full) + 4, 400), super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        first = self._full.splitlines()[0] if self._full else ""
        shown = self.fontMetrics().elidedText(first, self._mode, max(self.width(), 0))
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


class Hint(QLabel):
    """Secondary text (key hints, explanations): wraps instead of widening, a little smaller."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setObjectName("hint")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """No width of its own; the height its text needs at its width (a layout that gives it less
        draws the next widget over its last lines)."""
        wrapped = self.heightForWidth(self.width()) if self.width() > 0 and self.text() else -1
        return QSize(0, max(super().minimumSizeHint().height(), wrapped))

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.updateGeometry()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # another width, another number of lines

    def show_text(self, text: str, warning: bool = False) -> None:
        """Set the text; a warning shows in the style sheet's warning colour."""
        self.setText(text)
        if bool(self.property("warning")) != warning:
            self.setProperty("warning", warning)
            self.style().unpolish(self)
            self.style().polish(self)


def breakable(text: str) -> str:
    """``text`` with invisible break chances after ``/``, so a long path wraps in a dialog."""
    return text.replace("/", "/\u200b")
