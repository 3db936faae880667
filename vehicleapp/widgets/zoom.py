"""A small picture that opens larger: a click (or a double-click) shows the image at its natural
size, scaled down only to fit the screen, in a window of its own with a caption.

The Classify page's tried photo and its Grad-CAM sheet are 112 px thumbnails; the sheet's caption
is unreadable at that size.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from trainer.pathtext import for_display
from vehicleapp.widgets.pixels import fitted

SCREEN_SHARE = 0.85  # the largest part of the screen's free area the image takes


def fit_screen(natural: QSize, available: QSize, share: float = SCREEN_SHARE) -> QSize:
    """``natural``, scaled down (aspect kept) to fit ``share`` of ``available``; never scaled up."""
    room = QSize(int(available.width() * share), int(available.height() * share))
    return natural if natural.width() <= room.width() and natural.height() <= room.height() \
        else natural.scaled(room, Qt.AspectRatioMode.KeepAspectRatio)


class ImageDialog(QDialog):
    """One image, as large as it is (or as the screen allows), with a caption under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)

    def show_pixmap(self, pixmap: QPixmap, title: str, caption: str) -> None:
        self.setWindowTitle(title)
        self.caption.setText(caption)
        self.image.setFixedSize(fit_screen(pixmap.size(), self.screen().availableGeometry().size()))
        self.image.setPixmap(fitted(pixmap, self.image))
        self.adjustSize()
        self.show()
        self.raise_()
        self.activateWindow()


class ZoomImage(QLabel):
    """A thumbnail of an image file; a click opens :class:`ImageDialog` with the whole image."""

    def __init__(self, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(side, side)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.path: Path | None = None
        self.caption = ""
        self._pixmap = QPixmap()
        self.dialog: ImageDialog | None = None  # made on the first click, then reused

    def show_file(self, path: Path, caption: str) -> None:
        """Show ``path`` as a thumbnail; ``caption`` says what it is (in the tooltip and the larger view)."""
        self.path, self.caption, self._pixmap = path, caption, QPixmap(str(path))
        self.setPixmap(fitted(self._pixmap, self))
        self.setToolTip(for_display(f"{caption}\n{path}\nClick to see it larger"))
        if self.dialog is not None and self.dialog.isVisible():
            self.open_large()

    def open_large(self) -> ImageDialog | None:
        """The image at its natural size (scaled down to fit the screen) in a window of its own."""
        if self.path is None or self._pixmap.isNull():
            return None
        if self.dialog is None:
            self.dialog = ImageDialog(self.window())
        self.dialog.show_pixmap(self._pixmap, for_display(self.path.name), for_display(f"{self.caption}\n{self.path}"))
        return self.dialog

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.open_large()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        super().mouseDoubleClickEvent(event)
        self.open_large()
