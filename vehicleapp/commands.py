"""Argument lists for the trainer CLI jobs the app starts (no Qt: testable as plain data).

Training options are a :class:`trainer.config.TrainConfig`, turned into arguments by the
trainer's own :func:`trainer.options.config_to_args`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from trainer.config import TrainConfig
from trainer.options import SweepGrid, config_to_args, sweep_to_args


def trainer_command(executable: str = sys.executable, module: str = "trainer") -> list[str]:
    """How to start the trainer CLI (or another ``module``: ``trainer.warm``) with this very Python.

    When the app runs under Windows' ``pythonw.exe`` (the Start-menu shortcut: no console
    window), jobs still run under its ``python.exe`` sibling: a console program gets ordinary
    stdin/stdout pipes, which the job protocol needs (QProcess starts it without a window).
    """
    path = Path(executable)
    if path.name.lower() == "pythonw.exe" and (path.parent / "python.exe").is_file():
        return [str(path.parent / "python.exe"), "-m", module]
    return [executable, "-m", module]


def train_args(cfg: TrainConfig) -> list[str]:
    return ["train", *config_to_args(cfg), "--events"]


def sweep_args(cfg: TrainConfig, grid: SweepGrid | None = None) -> list[str]:
    """The reference grid (every model x lr {0.01, 0.001} x batch {4, 8}) unless told otherwise."""
    return ["sweep", *sweep_to_args(cfg, grid or SweepGrid()), "--events"]


def search_args(cfg: TrainConfig, budget_min: float, image_size: int | None = None) -> list[str]:
    """``trainer search`` on the config's data, weights, device and runs folder within ``budget_min``
    minutes; the image size is the search's to choose unless ``image_size`` is given."""
    weights = config_to_args(TrainConfig(data="", weights=cfg.weights))[1:]  # the trainer's own spelling
    args = ["search", cfg.data, "--budget", f"{budget_min:g}", *weights, "--out", cfg.out, "--device", cfg.device]
    return args + (["--image-size", str(image_size)] if image_size else []) + ["--events"]


def resume_args(run_dir: Path, data: str) -> list[str]:
    """Continue a stopped run from its ``last.pt`` to its epoch target."""
    return ["train", data, "--resume", str(run_dir), "--events"]


def check_weights_args(path: str) -> list[str]:
    return ["check-weights", path, "--events"]


def classify_args(run: Path, folder: Path, out_csv: Path, recursive: bool, unlabeled: bool = False,
                  ray_address: str | None = None) -> list[str]:
    """``ray_address`` not None: on Ray (``""``: started on this machine; ``auto``, ``ray://HOST:PORT``)."""
    args = ["classify", str(run), str(folder), "--out", str(out_csv), "--events"]
    args += (["--recursive"] if recursive else []) + (["--unlabeled"] if unlabeled else [])
    if ray_address is not None:
        args += ["--engine", "ray"] + (["--address", ray_address] if ray_address else [])
    return args


def evaluate_args(run: Path, data: Path) -> list[str]:
    return ["evaluate", str(run), str(data), "--events"]


def export_args(run: Path, out: Path) -> list[str]:
    """``OUT.onnx``: an ONNX model checked against PyTorch (exit 4 when it disagrees)."""
    return ["export", str(run), str(out), "--events"]


def review_args(data: Path, run: Path, out_csv: Path) -> list[str]:
    return ["review", str(data), "--run", str(run), "--out", str(out_csv), "--events"]


def reviewed_by_path(review_csv: Path) -> Path:
    """The app's note of which run made a review (``{"run": path}``) beside its CSV."""
    return review_csv.with_name(review_csv.stem + "-by.json")


def review_output(dataset: Path) -> Path:
    """Where the app keeps the latest review of a dataset (reopened with the dataset)."""
    import hashlib

    from trainer.config import user_data_dir

    key = hashlib.sha1(os.fsencode(str(dataset))).hexdigest()[:12]
    return user_data_dir() / "reviews" / f"{key}-{Path(dataset).name}" / "review.csv"
