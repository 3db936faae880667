"""A job process started before its job: ``python -m trainer.warm``.

Every trainer job first spends about two seconds importing PyTorch, torchvision and
onnxruntime, longer than a one-photo classify takes. The desktop app therefore keeps one
process ready: it has done those imports and waits for one line on stdin, the job's CLI
arguments as a JSON list, then runs them exactly as ``trainer ARGS`` would. The rest of stdin
stays the job's stop pipe (``--stop-on-stdin``): the line is read byte by byte from the raw
descriptor, so nothing meant for the stop watcher is consumed here. End of input before the
line (the app went away, or no longer needs the process) exits quietly with code 0.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys

#: What most jobs import: done while the process waits, not while the user does. Last,
#: ``torch._dynamo``: trainer.vision keeps it out of a job that does not need it, but training
#: does (creating a torch.optim optimizer imports it: ~1.1 s here).
PRELOAD = ("torch", "trainer.vision", "onnxruntime", "trainer.predict", "trainer.engine", "trainer.evaluate",
           "torch._dynamo")
#: The line's size limit: a job's arguments are a few hundred bytes.
MAX_LINE = 1 << 20


def read_line(fd: int) -> bytes:
    """One line from ``fd`` without reading past it; ``b""`` at end of input."""
    line = bytearray()
    while len(line) < MAX_LINE:
        byte = os.read(fd, 1)
        if not byte:
            return b""
        if byte == b"\n":
            return bytes(line)
        line += byte
    raise ValueError(f"the job's arguments are longer than {MAX_LINE} bytes")


def parse_arguments(line: bytes) -> list[str]:
    """The JSON list of strings the app wrote, or ValueError saying what is wrong with it."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a JSON list of strings: the trainer's arguments")
    return value


def preload() -> None:
    for name in PRELOAD:
        # an optional one that is missing or broken (a DLL that will not load raises OSError)
        # fails later, in the job that needs it, as it would in a cold process
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def main() -> None:
    from trainer.allocator import tune_malloc
    from trainer.cli import exit_now, lower_priority
    from trainer.cli import main as run

    tune_malloc()
    lower_priority()  # importing is work too: the window that started us comes first
    preload()
    try:
        line = read_line(0)  # the descriptor itself: sys.stdin is None under pythonw
        if not line:
            exit_now(0)
        argv = parse_arguments(line)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        sys.stderr.write(f"trainer.warm: {exc}\n")
        exit_now(2)
    sys.argv = ["trainer", *argv]  # as `trainer ARGS` would see it
    try:
        code = run(argv)
    except SystemExit as exc:  # argparse's usage errors; the interpreter's rules otherwise
        code = exit_code(exc)
    exit_now(code)


def exit_code(exc: SystemExit) -> int:
    """What the interpreter makes of ``SystemExit``: None is 0, a number is itself, anything
    else is printed and is 1."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    sys.stderr.write(f"{exc.code}\n")
    return 1


if __name__ == "__main__":  # spawn-safe: decode processes re-import this module and run nothing
    main()
