"""``vehicleapp --screenshot DIR``: drive the real window through a demo session, save PNGs.

Everything runs as a user would: the demo dataset is opened, a small training job, an
evaluation, a classification and a one-photo try run as child processes, then each page is
grabbed at 1600×1000, 1024×700 and 800×600, and a failed job's error state at 1024×700.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QItemSelectionModel, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from trainer.demo_data import make_demo_data
from vehicleapp.jobs import Job
from vehicleapp.main_window import PAGES, MainWindow
from vehicleapp.settings import AppSettings

SIZES = ((1600, 1000), (1024, 700), (800, 600))
SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights" / "mobilenet_v2-keras-imagenet-features.pth"


def screenshot_window() -> MainWindow:
    """A window with fresh settings in a scratch folder (every default, no remembered choice)."""
    folder = Path(tempfile.mkdtemp(prefix="vehicleapp-shots-settings-"))
    settings = AppSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    return MainWindow(settings=settings, runs_dir=str(folder / "runs"))


def wait_for(signal, timeout_ms: int) -> bool:  # noqa: ANN001
    loop = QEventLoop()
    fired = []
    signal.connect(lambda *a: (fired.append(a), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return bool(fired)


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _run_job(job: Job | None, timeout_ms: int = 300_000) -> None:
    if job is not None and job.is_running():
        wait_for(job.finished, timeout_ms)


def demo_session(window: MainWindow, work: Path) -> None:
    data = make_demo_data(work / "demo-data", per_class=40, size=96)
    unlabeled = data / "unlabeled"
    unlabeled.mkdir()
    for src in sorted(data.glob("truck/*.jpg"))[:6]:
        shutil.move(src, unlabeled / f"new-{src.name}")
    (data / "car" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    for src in sorted(data.glob("car/car_*.jpg"))[:4]:  # wrong labels for the review to find
        shutil.move(src, data / "truck" / f"flip-{src.name}")
    shutil.copy(data / "motorcycle" / "motorcycle_0007.jpg", data / "motorcycle" / "copy-of-0007.jpg")
    window.set_runs_dir(str(work / "runs"))
    window.open_dataset(str(data))
    wait_for(window.state.problems, 60_000)
    tp = window.train_page
    if SHARED_WEIGHTS.is_file():
        tp.weights.set_file("mobilenet_v2", str(SHARED_WEIGHTS))
        tp.weights.set_mode("file")
    else:
        tp.weights.set_mode("none")
    tp.freeze.setChecked(True)
    tp.size.setValue(96)
    tp.epochs.setValue(12)
    _run_job(tp.start())
    tp.lr.setValue(0.01)  # a second run to compare (features come from the cache)
    _run_job(tp.start())
    rp = window.runs_page
    rp.refresh()
    for row in (1, 0):  # evaluate both; the first row stays current
        rp.table.selectRow(row)
        _run_job(rp.evaluate_selected())
    rp.table.selectAll()
    rp.table.selectionModel().setCurrentIndex(rp.proxy.index(0, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
    rp._on_selection()
    cp = window.classify_page
    cp.folder.setText(str(data / "car"))
    _run_job(cp.start())
    _run_job(cp.try_photo(sorted(data.glob("motorcycle/*.jpg"))[0]))
    _run_job(window.label_page.suggestions.start())  # model-assisted labeling of the 6 unlabeled
    _run_job(window.review_page.start())


def grab_pages(window: MainWindow, out_dir: Path, size: tuple[int, int]) -> list[Path]:
    """Each page at ``size`` as ``N-page-WxH.png``."""
    window.resize(*size)
    saved = []
    for i, name in enumerate(PAGES):
        window.tabs.setCurrentIndex(i)
        if name == "Dataset":
            grid = window.dataset_page.grid
            grid.setCurrentIndex(grid.model().index(3, 0))
        if name == "Labeling":
            window.label_page.setFocus()
        settle(1200)
        QApplication.processEvents()
        path = out_dir / f"{i + 1}-{name.lower()}-{size[0]}x{size[1]}.png"
        window.grab().save(str(path))
        saved.append(path)
    return saved


def error_state(window: MainWindow, work: Path, out_dir: Path) -> list[Path]:
    """A training job that fails with a long message: the window keeps its width, the message
    elides in the status lines and wraps in its dialog (both are saved)."""
    tp = window.train_page
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(tp)
    tp.model.setCurrentIndex(tp.model.findData("resnet50"))
    weights = work / "downloads" / "backbones" / "from-a-colleague" / "resnet50-finetuned-on-parking-lot.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not a weights file")  # a file the engine refuses: a real failed job
    tp.weights.set_file("resnet50", str(weights))  # checked in the background: Start comes first
    tp.weights.set_mode("file")
    _run_job(tp.start())
    settle(1500)
    saved = [out_dir / "error-1024x700.png"]
    window.grab().save(str(saved[0]))
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            saved.append(out_dir / "error-dialog.png")
            widget.grab().save(str(saved[-1]))
            widget.close()
    return saved


def review_extras(window: MainWindow, out_dir: Path) -> list[Path]:
    """The review map, and a confusion-matrix cell drilled down into the review grid."""
    window.resize(1024, 700)
    page = window.review_page
    window.tabs.setCurrentWidget(page)
    page.tabs.setCurrentWidget(page.map)
    settle(1200)
    saved = [out_dir / "review-map-1024x700.png"]
    window.grab().save(str(saved[-1]))
    rp = window.runs_page
    rp.table.selectRow(0)
    rp.drill_down(0, 0)  # the first class's correct predictions, in the review grid
    settle(1500)
    saved.append(out_dir / "review-drilldown-1024x700.png")
    window.grab().save(str(saved[-1]))
    return saved


def take_screenshots(window: MainWindow, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vehicleapp-shots-"))
    window.resize(1400, 880)
    window.show()
    demo_session(window, work)
    saved = [p for size in SIZES for p in grab_pages(window, out_dir, size)]
    return saved + review_extras(window, out_dir) + error_state(window, work, out_dir)
