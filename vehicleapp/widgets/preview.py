"""A large preview of one image with its file name, size and dimensions (loaded off-thread)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from trainer.pathtext import for_display
from vehicleapp.widgets.pixels import device_side, fitted
from vehicleapp.workers import load_qimage, run_in_background


def _details(p: Path) -> str:
    """A file's name, size, dimensions and folder (for the line under the image)."""
    from PIL import Image

    try:
        with Image.open(p) as img:
            dims = f"{img.width} × {img.height} px"
    except Exception:  # noqa: BLE001 - the loader reports the real reason
        dims = "?"
    return for_display(f"<b>{p.name}</b><br>{p.stat().st_size / 1024:.1f} KB · {dims}<br>{p.parent}")


def _read(path: str | Path, side: int, photo: Path | None = None) -> tuple[QImage, str]:
    """``path`` decoded; the details of ``photo`` when ``path`` is its heatmap, else its own."""
    image = load_qimage(path, side)
    if photo is None:
        return image, _details(Path(path))
    return image, f"Where the model looked (Grad-CAM heatmap) in:<br>{_details(photo)}"


PLACEHOLDER = "Select an image to preview it"


class _FittedImage(QLabel):
    """The picture, refitted whenever the label itself changes size: the caption under it
    growing to three lines shrinks the label without resizing the preview, and a pixmap fitted
    to the taller label was then cut off at the top and bottom (it looked squashed)."""

    def __init__(self, text: str, refit: Callable[[], None]) -> None:
        super().__init__(text)
        self._refit = refit

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refit()


class Preview(QWidget):
    def __init__(self, parent: QWidget | None = None, side: int = 640) -> None:
        super().__init__(parent)
        self.side = side
        self.image = _FittedImage(PLACEHOLDER, self._fit)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setWordWrap(True)  # the placeholder and "cannot show" wrap in a narrow column
        self.image.setMinimumSize(120, 120)  # a short page shrinks the image, never draws the caption over it
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.info)
        self._pixmap: QPixmap | None = None
        self._current: str | Path = ""

    def show_image(self, path: str | Path, photo: Path | None = None) -> None:
        """Show ``path`` (a Path keeps any file name; Qt strings cannot hold every one); with
        ``photo``, ``path`` is that photo's heatmap and the details line describes the photo."""
        self._current = path
        side = device_side(self.side)  # decoded sharp enough for a high-DPI screen
        run_in_background(lambda: _read(path, side, photo), lambda res: self._on_loaded(path, res),
                          lambda msg: self._on_failed(path, msg))

    def follow(self, old: object, new: object) -> None:
        """The image on show was moved (labeled, undone): show it at its new place."""
        if self._current and str(old) == str(self._current):
            self.show_image(new)  # type: ignore[arg-type]

    def current(self) -> str:
        return str(self._current)

    def clear(self) -> None:
        self._current = ""
        self._pixmap = None
        self.image.setText(PLACEHOLDER)
        self.info.setText("")

    def _on_loaded(self, path: str | Path, result: tuple[QImage, str]) -> None:
        if path != self._current:
            return
        image, info = result
        self._pixmap = QPixmap.fromImage(image)
        self.info.setText(info)
        self._fit()

    def _on_failed(self, path: str | Path, message: str) -> None:
        if path == self._current:
            self._pixmap = None
            self.image.setText(for_display(f"cannot show {Path(path).name}:\n{message}"))
            self.info.setText(for_display(f"<b>{Path(path).name}</b>"))

    def _fit(self) -> None:
        if self._pixmap is not None:
            self.image.setPixmap(fitted(self._pixmap, self.image))

