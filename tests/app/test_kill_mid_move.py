"""SIGKILL of a real process in the middle of a bulk move ("accept all", "keep one"): every image
still exists exactly once, the next open finishes the step and says so, Ctrl+Z takes it back."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from tests.conftest import ROOT
from trainer.layout import SET_ASIDE
from vehicleapp.labeling import JOURNAL, Journal
from vehicleapp.main_window import MainWindow

N = 40
BULK_MOVE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from vehicleapp.labeling import Journal

    root, kind = Path(sys.argv[1]), sys.argv[2]
    real_replace = os.replace

    def slow_replace(src, dest):  # a big folder on a slow disk: time to be killed mid-way
        real_replace(src, dest)
        if str(dest).endswith(".png"):  # a photo (not the app's own atomic writes)
            print("moved", flush=True)
            time.sleep(0.05)

    os.replace = slow_replace
    images = sorted((root / "car").glob("*.png"))
    if kind == "app-accept-all":  # the real app: its window, its dataset state, its lock
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from vehicleapp.main_window import MainWindow
        from vehicleapp.settings import AppSettings

        app = QApplication([])
        win = MainWindow(settings=AppSettings(QSettings(str(root.parent / "app.ini"), QSettings.Format.IniFormat)),
                         runs_dir=str(root.parent / "runs"))
        win.state.loaded.connect(lambda: win.state.assign_many(images, "truck"))
        win.open_dataset(str(root))
        app.exec()
    journal = Journal(root)
    if kind == "accept-all":
        journal.assign_many(images, "truck")
    else:
        journal.set_aside(images)
    print("finished", flush=True)
""")


def _dataset(root: Path) -> Path:
    for folder, n in (("car", N), ("truck", 2)):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            (root / folder / f"{folder}_{i:03d}.png").write_bytes(b"\x89PNG fake " + bytes([i]))
    return root


def _where(root: Path) -> dict[str, list[str]]:
    """Each image name and the folders it is found in."""
    found: dict[str, list[str]] = {}
    for p in root.rglob("*.png"):
        found.setdefault(p.name, []).append(p.parent.name)
    return found


def _kill_mid_move(root: Path, kind: str) -> None:
    """Start the bulk move in a real child process and SIGKILL it after its tenth move."""
    proc = subprocess.Popen([sys.executable, "-c", BULK_MOVE, str(root), kind], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        for _ in range(10):
            assert lines.get(timeout=60).strip() == "moved"
        proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
        proc.wait(10)
    finally:
        proc.kill()


@pytest.mark.parametrize(("kind", "target"), [("accept-all", "truck"), ("keep-one", SET_ASIDE),
                                              ("app-accept-all", "truck")])
def test_a_kill_mid_bulk_move_loses_nothing_and_the_next_open_finishes_it(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, tmp_path: Path, kind: str, target: str) -> None:
    root = _dataset(tmp_path / "data")
    before = _where(root)
    _kill_mid_move(root, kind)
    after = _where(root)
    assert set(after) == set(before) and all(len(folders) == 1 for folders in after.values())  # exactly once
    assert 10 <= sum(folders == [target] for folders in after.values()) - (2 if target == "truck" else 0) < N
    assert Journal(root).history()[0] == []  # the interrupted step is not undoable half-way ...
    said: list[str] = []
    window.state.message.connect(said.append)
    open_folder(qtbot, window, answers, root)  # ... the app's next start finishes it
    finished = _where(root)
    assert all(finished[f"car_{i:03d}.png"] == [target] for i in range(N))
    assert any(m.startswith("The last step was interrupted") and f"{N} images in place" in m for m in said), said
    assert '"recovered": true' in (root / JOURNAL).read_text()
    assert {e.path.name for e in window.state.entries} >= ({f"car_{i:03d}.png" for i in range(N)}
                                                           if target == "truck" else set())
    assert window.state.undo()  # Ctrl+Z after the restart takes the whole step back
    assert _where(root) == before


def test_a_journal_line_cut_off_by_a_crash_is_skipped(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    journal = Journal(root)
    journal.assign(root / "car" / "car_000.png", "truck")
    with open(root / JOURNAL, "a", encoding="utf-8") as f:
        f.write('{"op": "step", "moves": [["car/car_001.p')  # killed while writing
    assert len(journal.history()[0]) == 1
    assert journal.undo() and (root / "car" / "car_000.png").is_file()


def test_a_move_that_fails_mid_step_is_journaled_as_far_as_it_went(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    images = sorted((root / "car").glob("*.png"))[:3]
    blocked = root / "truck" / "truck_000.png" / images[1].name  # its "folder" is a file: that move fails
    journal = Journal(root)
    with pytest.raises(FileExistsError):
        journal._perform("step", [(images[0], root / "truck" / images[0].name), (images[1], blocked),
                                  (images[2], root / "truck" / images[2].name)])
    done, _ = journal.history()
    assert [m.src.name for m in done[-1]] == [images[0].name]  # exactly what moved
    assert journal.recover() is None  # nothing pending: the journal already says it
    assert journal.undo() and all(p.is_file() for p in images)
