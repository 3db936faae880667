"""Work off the GUI thread: QRunnables that report through signals (superqt's pattern).

Workers only produce data (dataclasses, QImage); pixmaps and widgets are made on the GUI
thread by whoever receives the signal.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSize, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from trainer.images import ImageLoadError, load_image
from vehicleapp.widgets.pixels import device_side, pixmap_for_screen

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class FunctionWorker(QRunnable):
    """Run ``fn()`` on the pool; ``signals.done(result)`` or ``signals.failed(message)``."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = WorkerSignals()

    def run(self) -> None:
        try:
            result = self.fn()
        except ImageLoadError as exc:  # an expected answer (a vanished or broken file), not a bug
            self.signals.failed.emit(str(exc))
        except Exception as exc:
            log.exception("background work failed")
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        else:
            self.signals.done.emit(result)


_ALIVE: set[FunctionWorker] = set()  # Python must hold running workers, or their signals die


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_failed: Callable[[str], None], pool: QThreadPool | None = None) -> FunctionWorker:
    """Run ``fn`` on the pool; ``on_done(result)`` / ``on_failed(message)`` run on the GUI thread."""
    worker = FunctionWorker(fn)
    worker.setAutoDelete(False)
    _ALIVE.add(worker)
    worker.signals.done.connect(lambda result: (_ALIVE.discard(worker), on_done(result)))
    worker.signals.failed.connect(lambda message: (_ALIVE.discard(worker), on_failed(message)))
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


def pil_to_qimage(img: Any) -> QImage:
    """An RGB PIL image as a QImage that owns its pixels."""
    data = img.tobytes("raw", "RGB")
    return QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888).copy()


def load_qimage(path: str | os.PathLike[str], max_side: int) -> QImage:
    """Decode with the engine's one loader and shrink to ``max_side`` (worker threads only)."""
    img = load_image(path, max_side=max_side)
    img.thumbnail((max_side, max_side))
    return pil_to_qimage(img)


class _ThumbJob(QRunnable):
    def __init__(self, loader: ThumbnailLoader, path: str, size: int) -> None:
        super().__init__()
        self.loader, self.path, self.size = loader, path, size

    def run(self) -> None:
        if self.loader.cancelled(self.path):
            return
        try:
            image = load_qimage(self.path, self.size)
        except ImageLoadError as exc:
            self.loader.signals.failed.emit(self.path, str(exc))
            return
        self.loader.signals.loaded.emit(self.path, image)


class ThumbnailSignals(QObject):
    # Paths travel as Python objects: a Qt string cannot hold a file name that is not UTF-8.
    loaded = Signal(object, QImage)
    failed = Signal(object, str)
    ready = Signal(object)  # a pixmap is now in the cache


class ThumbnailLoader(QObject):
    """Loads thumbnails on its own small pool and keeps an LRU cache of pixmaps."""

    def __init__(self, size: int = 112, capacity: int = 3000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.signals = ThumbnailSignals()
        self.signals.loaded.connect(self._on_loaded)
        self.signals.failed.connect(self._on_failed)
        self.cache: OrderedDict[str, QPixmap] = OrderedDict()
        self.errors: dict[str, str] = {}
        self._pending: set[str] = set()

    def pixmap(self, path: str | os.PathLike[str]) -> QPixmap | None:
        """Cached pixmap, or None after queueing a load (``signals.ready(str(path))`` follows)."""
        path = os.fspath(path)
        pm = self.cache.get(path)
        if pm is not None:
            self.cache.move_to_end(path)
            return pm
        if path not in self._pending and path not in self.errors:
            self._pending.add(path)
            self.pool.start(_ThumbJob(self, path, device_side(self.size)))  # sharp on high-DPI screens
        return None

    def cancelled(self, path: str) -> bool:
        return path not in self._pending

    def clear(self) -> None:
        """Forget queued loads (e.g. another folder was opened)."""
        self.pool.clear()
        self._pending.clear()

    def _on_loaded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self.cache[path] = pixmap_for_screen(image, self.size)  # GUI thread
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        self.signals.ready.emit(path)

    def _on_failed(self, path: str, reason: str) -> None:
        self._pending.discard(path)
        self.errors[path] = reason
        self.signals.ready.emit(path)

    def icon_size(self) -> QSize:
        return QSize(self.size, self.size)

    def wait(self, ms: int = 5000) -> bool:
        return self.pool.waitForDone(ms)


