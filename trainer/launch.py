"""``trainer train --nproc N``: start ``torchrun`` and stay one ordinary job for the caller.

The launcher runs ``python -m torch.distributed.run --nproc-per-node N -m trainer train ARGS``
(``--standalone`` on one machine, else ``--nnodes/--node-rank/--master-addr/--master-port``).
Every worker gets ``--events --stop-on-stdin``: rank 0's JSON lines come back on a pipe and
are relayed (as they are with ``--events``, else as the usual lines for people), so the app
sees one job. The workers share one stdin pipe from here: closing it is the stop (each of them
reads end of input and all agree to stop at the same batch), and it closes by itself if this
process dies, so no worker outlives its job.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from trainer.events import human, json_lines
from trainer.features import Cancelled
from trainer.protocol import STOP_ON_STDIN, WEIGHTS_ERROR, Event, Exit, UsageError

USAGE_CODES = ("usage", WEIGHTS_ERROR, "locked")


@dataclass(frozen=True)
class Launcher:
    """torchrun's placement options (passed through)."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500

    @classmethod
    def from_args(cls, args: argparse.Namespace, nproc: int) -> Launcher:
        return cls(nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)

    def check(self) -> None:
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise UsageError(f"--node-rank must be in [0, --nnodes), got {self.node_rank} of {self.nnodes}")

    def placement(self) -> list[str]:
        if self.nnodes == 1:
            return ["--standalone", "--nproc-per-node", str(self.nproc)]
        return ["--nproc-per-node", str(self.nproc), "--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank),
                "--master-addr", self.master_addr, "--master-port", str(self.master_port)]


#: The launcher's own options: torchrun takes them (or would mistake them for its own).
LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port")


def check_gpus(device: str, nproc: int) -> None:
    """One process per GPU: more processes than GPUs is a one-line error before anything starts."""
    import torch

    from trainer.engine import pick_device

    if pick_device(device).type == "cuda" and torch.cuda.device_count() < nproc:
        raise UsageError(f"--nproc {nproc}: this machine has {torch.cuda.device_count()} GPUs (one process per "
                         "GPU; or --device cpu)")


def worker_args(argv: Sequence[str]) -> list[str]:
    """The caller's ``train`` arguments for each worker, without the launcher's options
    (a worker knows its share from torchrun's environment): events on stdout, stop on stdin."""
    kept: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in LAUNCH_OPTIONS:
            skip = True  # and its value
        elif not a.startswith(tuple(o + "=" for o in LAUNCH_OPTIONS)) and a not in ("--events", STOP_ON_STDIN):
            kept.append(a)
    return [*kept, "--events", STOP_ON_STDIN]


def torchrun_command(argv: Sequence[str], launcher: Launcher) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *launcher.placement(), "-m", "trainer",
            *worker_args(argv)]


class Relay:
    """Rank 0's event lines, passed on; remembers the one that ended the run."""

    def __init__(self, as_events: bool) -> None:
        self.as_events = as_events
        self.sink = json_lines(sys.stdout) if as_events else human(sys.stderr)
        self.last: dict[str, Any] | None = None

    def line(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            sys.stderr.write(text)  # not an event: it is for people
            return
        kind = event.get("event")
        if kind in (Event.DONE, Event.ERROR, Event.CANCELLED):
            self.last = event
        if kind in (Event.ERROR, Event.CANCELLED) and not self.as_events:
            return  # rank 0 has written its one line on stderr already
        self.sink(event)

    def pump(self, stream: IO[str]) -> None:
        for text in stream:
            self.line(text)

    def outcome(self, returncode: int, stopped: bool) -> tuple[int, Path | None]:
        """The job's exit code and run folder, from rank 0's last event."""
        kind = self.last.get("event") if self.last else None
        if kind == Event.DONE:
            assert self.last is not None
            return Exit.OK, Path(self.last["run_dir"]) if self.last.get("run_dir") else None
        if kind == Event.CANCELLED:
            return Exit.CANCELLED, None
        if kind == Event.ERROR:
            assert self.last is not None
            return (Exit.USAGE if self.last.get("code") in USAGE_CODES else Exit.FAILED), None
        if stopped:
            raise Cancelled("stopped")
        raise RuntimeError(f"a training process ended (torchrun exit code {returncode}) before the run finished; "
                           "see the messages above")


def launch(argv: Sequence[str], launcher: Launcher, as_events: bool, should_stop: Callable[[], bool],
           poll_s: float = 0.1) -> tuple[int, Path | None]:
    """Run the workers to the end; returns ``(exit code, run folder)``."""
    launcher.check()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // launcher.nproc)))
    proc = subprocess.Popen(torchrun_command(argv, launcher), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, encoding="utf-8", env=env, start_new_session=True)
    relay = Relay(as_events)
    assert proc.stdout is not None and proc.stdin is not None
    reader = threading.Thread(target=relay.pump, args=(proc.stdout,), name="rank0-events", daemon=True)
    reader.start()
    stopped = False
    while proc.poll() is None:
        if should_stop() and not stopped:
            stopped = True
            proc.stdin.close()  # end of input: every worker stops at the same batch and rank 0 saves
        time.sleep(poll_s)
    reader.join()
    if launcher.node_rank != 0 and proc.returncode == 0 and relay.last is None:
        return Exit.OK, None  # another machine's rank 0 reports the run
    return relay.outcome(proc.returncode, stopped)
