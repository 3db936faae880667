"""The portable stop: a ``stop`` line on stdin, or stdin closing, stops a job with no signal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NO_SIGNALS, run_cli
from trainer import runs
from trainer.checkpoint import load_model
from trainer.protocol import STOP_ON_STDIN, Exit
from trainer.stopping import StopFlag

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1", "--no-cache"]


def _wait_for(flag: StopFlag, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not flag():
        time.sleep(0.01)
    return flag()


def test_only_a_stop_line_or_end_of_input_requests_a_stop() -> None:
    read, write = os.pipe()
    flag = StopFlag().watch_stdin(read)
    os.write(write, b"stopping soon\n  sto")
    assert not _wait_for(flag, 0.3)
    os.write(write, b"p  \r\n")  # split across writes, with Windows line ending and blanks
    assert _wait_for(flag)
    os.close(write)

    read, write = os.pipe()
    flag = StopFlag().watch_stdin(read)
    assert not _wait_for(flag, 0.2)
    os.close(write)  # the parent is gone
    assert _wait_for(flag)


@pytest.mark.parametrize("how", ["stop line", "stdin closed"])
def test_stdin_stops_a_training_with_signals_disabled(demo_root: Path, tmp_path: Path, how: str) -> None:
    cmd = [sys.executable, "-c", NO_SIGNALS, "train", str(demo_root), *FAST, "--epochs", "200",
           "--batch-size", "4", "--out", str(tmp_path), "--events", STOP_ON_STDIN]
    err_file = tmp_path / "stderr.txt"
    with open(err_file, "w") as err_out:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_out,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=tmp_path)
    assert proc.stdin is not None and proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == "epoch":
            break
    if how == "stop line":  # and stdin stays open
        proc.stdin.write("stop\n")
        proc.stdin.flush()
    else:
        proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == Exit.CANCELLED, err_file.read_text()
    assert json.loads(rest.strip().splitlines()[-1])["event"] == "cancelled"
    run_dir = next(d for d in tmp_path.iterdir() if d.is_dir())
    assert len(runs.read_metrics(run_dir)) < 200
    assert load_model(run_dir / runs.LAST)[1]["interrupted"] is True


def test_without_the_flag_end_of_input_does_not_stop(demo_root: Path, tmp_path: Path) -> None:
    # In CI or a terminal stdin is /dev/null or a tty: its end must not cancel the job.
    result = run_cli("train", str(demo_root), *FAST, "--epochs", "1", "--out", str(tmp_path), "--events",
                     stdin=subprocess.DEVNULL)
    assert result.returncode == Exit.OK, result.stderr


def test_every_command_with_events_takes_the_stdin_stop() -> None:
    # The app adds --stop-on-stdin to every job that has --events (vehicleapp/jobs.py).
    import argparse

    from trainer.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    with_events = {name for name, p in sub.choices.items() if "--events" in p._option_string_actions}
    assert {"train", "sweep", "classify", "evaluate", "review", "threshold", "explain", "export"} <= with_events
    assert all(STOP_ON_STDIN in sub.choices[name]._option_string_actions for name in with_events)


@pytest.mark.parametrize("stdin", [None, io.StringIO("stop\n")], ids=["pythonw", "not a file"])
def test_without_a_real_stdin_the_channel_is_off(monkeypatch: pytest.MonkeyPatch, stdin: object) -> None:
    monkeypatch.setattr("sys.stdin", stdin)
    flag = StopFlag().watch_stdin()
    assert not _wait_for(flag, 0.2)
