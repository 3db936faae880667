"""``vehicleapp --screenshot DIR``: drive the real window through a demo session, save PNGs.

Everything runs as a user would: the demo dataset is opened, a small training job, an
evaluation and a classification run as child processes, then each page is grabbed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QItemSelectionModel, QTimer
from PySide6.QtWidgets import QApplication

from trainer.demo_data import make_demo_data
from vehicleapp.jobs import Job
from vehicleapp.main_window import PAGES, MainWindow

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights" / "mobilenet_v2-keras-imagenet-features.pth"


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
    window.set_runs_dir(str(work / "runs"))
    window.open_dataset(str(data))
    wait_for(window.state.problems, 60_000)
    tp = window.train_page
    if SHARED_WEIGHTS.is_file():
        tp.weights_file.setText(str(SHARED_WEIGHTS))  # before switching, or a file dialog opens
        tp.weights.setCurrentIndex(2)
        tp.freeze.setChecked(True)
    else:
        tp.weights.setCurrentIndex(1)
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


def take_screenshots(window: MainWindow, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vehicleapp-shots-"))
    window.resize(1400, 880)
    window.show()
    demo_session(window, work)
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
        path = out_dir / f"{i + 1}-{name.lower()}.png"
        window.grab().save(str(path))
        saved.append(path)
    return saved
