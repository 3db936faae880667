"""How long the app waits for a small job: a one-photo classify, warm (the spare job process) or cold.

Usage: python benchmarks/job_start.py [--rounds 3]
The app's own JobRunner (offscreen Qt) runs ``trainer classify RUN ONE_PHOTO_FOLDER``, timed from
``runner.run`` to the job's ``finished`` signal, alternating a runner whose spare process is
ready (``python -m trainer.warm``, see vehicleapp/jobs.py) and one that starts the process cold.
The run is a 1-epoch MobileNetV2 on demo photos (the shared weights when present): its accuracy
does not matter, only what a job pays before it can answer. Also prints the spare's memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from _common import mobilenet_weights, wait
from PySide6.QtCore import QEventLoop, QProcess
from PySide6.QtWidgets import QApplication

from trainer.demo_data import make_demo_data
from trainer.machine import cpu_name
from vehicleapp.jobs import JobRunner


def make_run(scratch: Path) -> tuple[Path, Path]:
    data = make_demo_data(scratch / "data", per_class=12, size=96)
    subprocess.run([sys.executable, "-m", "trainer", "train", str(data), "--model", "mobilenet_v2", "--weights",
                    f"mobilenet_v2={mobilenet_weights()}", "--epochs", "1", "--out", str(scratch / "runs")],
                   check=True, capture_output=True)
    one = scratch / "one"
    one.mkdir()
    photo = next(p for p in sorted(data.rglob("*")) if p.is_file())
    (one / photo.name).write_bytes(photo.read_bytes())
    return next((scratch / "runs").iterdir()), one


def time_job(runner: JobRunner, run: Path, one: Path, out: Path) -> float:
    loop = QEventLoop()
    runner.finished.connect(loop.quit)
    start = time.perf_counter()
    job = runner.run(["classify", str(run), str(one), "--out", str(out), "--events"], "bench")
    assert job is not None
    loop.exec()
    runner.finished.disconnect(loop.quit)
    assert job.status == "done", job.last_error
    return time.perf_counter() - start


def ready(runner: JobRunner) -> tuple[int, int]:
    """Wait until the spare has done its imports (its memory stops growing): its RSS and its
    private (anonymous) part in MB; the rest is the libraries' files, shared with the jobs."""
    runner.prepare_spare()
    assert runner.spare is not None
    while runner.spare.state() != QProcess.ProcessState.Running:
        wait(50)
    status, last = Path(f"/proc/{runner.spare.processId()}/status"), -1
    while True:
        wait(500)
        kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in status.read_text().splitlines()
              if ln.startswith(("VmRSS", "RssAnon"))}
        if kb["VmRSS"] == last:
            return kb["VmRSS"] // 1024, kb["RssAnon"] // 1024
        last = kb["VmRSS"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    QApplication.instance() or QApplication([])
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run, one = make_run(Path(tmp))
        warm, cold, memory = [], [], []
        for i in range(args.rounds):
            runner = JobRunner(spare=True)
            memory.append(ready(runner))
            runner.keep_spare = False  # no new spare competing with the cold job below
            warm.append(time_job(runner, run, one, Path(tmp) / f"w{i}.csv"))
            runner.shutdown()
            cold.append(time_job(JobRunner(), run, one, Path(tmp) / f"c{i}.csv"))
            print(f"round {i + 1}: warm {warm[-1]:.2f} s, cold {cold[-1]:.2f} s", flush=True)
    rss, private = max(memory)
    print(f"one-photo classify, click to answer: warm median {statistics.median(warm):.2f} s "
          f"({min(warm):.2f}-{max(warm):.2f}), cold median {statistics.median(cold):.2f} s "
          f"({min(cold):.2f}-{max(cold):.2f}); a ready spare holds {rss} MB RSS, {private} MB of it private")


if __name__ == "__main__":
    main()
