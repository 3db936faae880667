"""The dataset lock: held by another real process it refuses, re-entrant within one process, and
a lock whose holder was SIGKILLed never blocks the next opener (the OS lets go with the process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from trainer.csvfile import Prediction
from trainer.datalock import DatasetLock, DatasetLocked
from trainer.files import copy_by_label

HOLD = textwrap.dedent("""
    import sys, time
    from trainer.datalock import DatasetLock
    lock = DatasetLock(sys.argv[1], "vehicleapp")
    print("held" if lock.acquire() else "refused", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the lock on ``tmp_path / "data"``."""
    (tmp_path / "data").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "data")], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait(10)


def test_a_lock_held_by_another_process_refuses_and_says_who(holder: subprocess.Popen, tmp_path: Path) -> None:
    lock = DatasetLock(tmp_path / "data")
    assert not lock.acquire()
    assert lock.holder().startswith(f"vehicleapp (pid {holder.pid}")
    with pytest.raises(DatasetLocked, match=f"is being labeled by vehicleapp \\(pid {holder.pid}"):
        copy_by_label([Prediction("a.jpg", "car")], tmp_path, tmp_path / "data")


def test_classify_copy_to_a_locked_dataset_refuses_before_classifying(holder: subprocess.Popen,
                                                                      tmp_path: Path) -> None:
    res = run_cli("classify", str(tmp_path / "no-run"), str(tmp_path), "--copy-to", str(tmp_path / "data"),
                  "--events")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("trainer classify: error: ")
    assert f"being labeled by vehicleapp (pid {holder.pid}" in res.stderr
    assert '"code": "locked"' in res.stdout


def test_a_lock_whose_holder_was_killed_does_not_block(holder: subprocess.Popen, tmp_path: Path) -> None:
    holder.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
    holder.wait(10)
    lock = DatasetLock(tmp_path / "data")
    assert lock.acquire()  # no stale lock: the OS released it with the process
    lock.release()


def test_the_lock_is_re_entrant_within_one_process(tmp_path: Path) -> None:
    first, second = DatasetLock(tmp_path), DatasetLock(tmp_path)
    assert first.acquire() and second.acquire()  # the app's own copy into the dataset it has open
    second.release()
    assert first.held
    first.release()
    proc = subprocess.run([sys.executable, "-c", HOLD.replace("time.sleep(120)", ""), str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.strip() == "held"  # released for real


def test_an_interrupted_copy_is_completed_without_duplicates(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"p{i}.jpg").write_bytes(bytes([i]) * 100)
    rows = [Prediction(f"p{i}.jpg", "car") for i in range(3)]
    dest = tmp_path / "dest"
    assert copy_by_label(rows[:2], src, dest) == 2  # killed after two copies ...
    assert copy_by_label(rows, src, dest) == 3  # ... and started again
    assert sorted(p.name for p in (dest / "car").iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    (src / "p0.jpg").write_bytes(b"another photo, same name")
    copy_by_label(rows[:1], src, dest)
    assert sorted(p.name for p in (dest / "car").iterdir()) == ["p0-1.jpg", "p0.jpg", "p1.jpg", "p2.jpg"]


COPY = textwrap.dedent("""
    import shutil, sys, time
    from pathlib import Path
    from trainer.csvfile import Prediction
    from trainer import files

    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    real = shutil.copyfileobj

    def slow(fin, fout, length=0):  # a slow network drive: half of each photo, a pause, the rest
        data = fin.read()
        fout.write(data[: len(data) // 2])
        fout.flush()
        print("copying", flush=True)
        time.sleep(0.05)
        fout.write(data[len(data) // 2 :])

    files.shutil.copyfileobj = slow
    files.copy_by_label([Prediction(p.name, "car") for p in sorted(src.iterdir())], src, dest)
""")


def test_a_copy_killed_mid_file_leaves_no_half_photo_and_a_restart_copies_each_once(tmp_path: Path) -> None:
    import queue
    import threading

    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    for i in range(30):
        (src / f"p{i:02d}.jpg").write_bytes(bytes([i]) * 5000)
    proc = subprocess.Popen([sys.executable, "-c", COPY, str(src), str(dest)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        for _ in range(8):
            assert lines.get(timeout=60).strip() == "copying"
        proc.kill()  # in the middle of the eighth photo
        proc.wait(10)
    finally:
        proc.kill()
    copied = sorted((dest / "car").glob("*.jpg"))
    assert [p for p in (dest / "car").iterdir() if p.name.endswith(".tmp")]  # the kill hit a half copy
    assert 5 <= len(copied) < 30
    assert all(p.read_bytes() == (src / p.name).read_bytes() for p in copied)  # whole photos only
    rows = [Prediction(p.name, "car") for p in sorted(src.iterdir())]
    assert copy_by_label(rows, src, dest) == 30  # the user starts the copy again
    assert sorted(p.name for p in (dest / "car").iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in src.iterdir())  # every photo exactly once
    assert [p for p in (dest / "car").iterdir() if p.name.endswith(".tmp")] == []  # the half copy is gone
