"""The engine under the ``spawn`` start method (the default on Windows and macOS).

The product starts no multiprocessing workers (images are decoded in threads; jobs are fresh
``python -m trainer`` processes, never forks), so what must hold is that the engine's commands
work in a process that inherited nothing but its arguments and environment: run here as a
``spawn`` child whose target is a plain module-level function (picklable, as spawn requires).
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from trainer import csvfile

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--epochs", "1"]


def _train_and_classify(data: str, out: str) -> None:
    from trainer import cli

    code = cli.main(["train", data, *FAST, "--workers", "2", "--out", f"{out}/runs"])  # 2 decode threads
    run = next(Path(out, "runs").iterdir())
    raise SystemExit(code or cli.main(["classify", str(run), data, "--recursive", "--out", f"{out}/predictions.csv"]))


def test_train_and_classify_in_a_spawned_process(demo_root: Path, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_train_and_classify, args=(str(demo_root), str(tmp_path)))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == 0
    _, rows = csvfile.read_predictions(tmp_path / "predictions.csv")
    assert len(list(rows)) == 36
