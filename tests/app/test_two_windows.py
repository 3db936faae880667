"""Two real app processes on one dataset: the second opens it read-only and says who labels it;
when the first is killed, the second takes over on its next activation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from tests.conftest import ROOT
from vehicleapp.main_window import MainWindow

OTHER_APP = textwrap.dedent("""
    import sys
    from pathlib import Path
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    import vehicleapp.main_window as mw
    from vehicleapp.settings import AppSettings

    data, tmp = Path(sys.argv[1]), Path(sys.argv[2])
    app = QApplication([])
    win = mw.MainWindow(settings=AppSettings(QSettings(str(tmp / "other.ini"), QSettings.Format.IniFormat)),
                        runs_dir=str(tmp / "other-runs"))
    win.state.loaded.connect(lambda: print("labeling" if not win.state.read_only else win.state.read_only,
                                           flush=True))
    win.open_dataset(str(data))
    app.exec()
""")


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first line of stdout, or "" after ``timeout`` seconds (never hangs the test)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


def test_a_second_app_opens_the_dataset_read_only_until_the_first_is_gone(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_copy: Path, tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", OTHER_APP, str(demo_copy), str(tmp_path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"})
    try:
        assert _first_line(other, 60) == "labeling"
        open_folder(qtbot, window, answers, demo_copy)
        reason = window.state.read_only
        assert reason.startswith(f"vehicleapp (pid {other.pid}") and "open read-only here" in reason
        page = window.dataset_page
        assert "Labeling is off: vehicleapp (pid" in page.key_hint.text()
        page.grid.setFocus()
        page.grid.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                                   QItemSelectionModel.SelectionFlag.ClearAndSelect)
        before = sorted(p.relative_to(demo_copy) for p in demo_copy.rglob("*.jpg"))
        qtbot.keyClick(page.grid, Qt.Key.Key_3)
        assert not window.state.relabel([(demo_copy / before[0], "truck")])
        assert sorted(p.relative_to(demo_copy) for p in demo_copy.rglob("*.jpg")) == before  # nothing moved
        other.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
        other.wait(10)
        window.on_activated()  # the user comes back to this window
        assert window.state.read_only == "" and "Labeling is off" not in page.key_hint.text()
        assert window.state.relabel([(demo_copy / before[0], "truck")])
    finally:
        other.kill()
        other.wait(10)
        window.state.close()
