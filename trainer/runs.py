"""A run is a folder: ``config.json``, ``metrics.csv``, ``events.jsonl``, ``splits.csv`` (which
image was in which split) and checkpoints.

The CLI writes it and the app reads it through the same functions here.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.atomic import atomic_open, read_json, write_json
from trainer.csvfile import read_splits, write_splits
from trainer.trust import Trust

if TYPE_CHECKING:
    from trainer.datasets import Dataset

CONFIG = "config.json"
METRICS = "metrics.csv"
EVENTS = "events.jsonl"
BEST = "best.pt"
LAST = "last.pt"
BACKBONE = "backbone.pt"
EVALUATION = "evaluation.json"
SPLITS = "splits.csv"
PREDICTIONS = "predictions.csv"  # evaluate's result for each image
METRIC_FIELDS = [
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
    "lr", "seconds", "images_per_s",
]


def new_run_dir(out: Path, model: str, lr: float | None = None, batch_size: int | None = None) -> Path:
    """A fresh, uniquely named run folder under ``out``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{model}" + (f"-lr{lr:g}-bs{batch_size}" if lr is not None else "")
    out.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        path = out / (base if i == 0 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run folder under {out}")


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in METRIC_FIELDS})
    with atomic_open(run_dir / METRICS, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


def read_metrics(run_dir: Path) -> list[dict[str, float | None]]:
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        rows = [
            {k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]
    for row in rows:
        row["epoch"] = int(row["epoch"] or 0)
    return rows


@dataclass
class RunInfo:
    """What the Runs table shows about one run folder."""

    path: Path
    config: dict[str, Any]
    metrics: list[dict[str, float | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def best_val_acc(self) -> float | None:
        accs = [float(v) for m in self.metrics if (v := m.get("val_acc")) is not None]
        return max(accs) if accs else None

    @property
    def duration(self) -> float:
        """Wall seconds of the whole run (features included); epochs alone for older runs."""
        if self.config.get("duration_s") is not None:
            return float(self.config["duration_s"])
        return sum(m.get("seconds") or 0.0 for m in self.metrics)

    @property
    def status(self) -> str:
        return str(self.config.get("status", "unknown"))

    @property
    def dataset(self) -> str:
        """The dataset folder's name (its full path is ``config["data"]``)."""
        return Path(str(self.config.get("data", ""))).name

    @property
    def image_size(self) -> int | None:
        size = self.config.get("image_size")
        return int(size) if size else None

    @property
    def weights(self) -> str:
        """Where the backbones started: ``imagenet``, ``none``, a file name, or one per backbone."""
        spec = self.config.get("weights", "")
        if not isinstance(spec, dict):
            return _weights_word(str(spec))
        words = {b: _weights_word(str(s)) for b, s in spec.items()}
        if len(set(words.values())) <= 1:
            return next(iter(words.values()), "")
        return ", ".join(f"{b}: {w}" for b, w in words.items())

    @property
    def trust(self) -> Trust | None:
        """Temperature and threshold of the run's checkpoint as ``config.json`` shows them (a copy
        for display; the checkpoint is the source of truth); None for runs never calibrated."""
        shown = self.config.get("trust")
        return Trust.from_dict(shown) if isinstance(shown, dict) else None

    def checkpoint(self) -> Path | None:
        return find_checkpoint(self.path)


def _weights_word(spec: str) -> str:
    return spec if spec in ("imagenet", "none", "") else Path(spec).name


def find_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a run folder stands for: its best, else its last (a stopped run)."""
    for name in (BEST, LAST):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    return None


def load_run(run_dir: Path) -> RunInfo:
    run_dir = Path(run_dir)
    return RunInfo(run_dir, read_json(run_dir / CONFIG), read_metrics(run_dir))


def list_runs(out: Path) -> list[RunInfo]:
    """Every readable run folder directly under ``out``, newest first."""
    runs = []
    for d in sorted(Path(out).glob(f"*/{CONFIG}")):
        try:
            runs.append(load_run(d.parent))
        except (OSError, ValueError):
            continue  # a half-written or foreign folder is not a run
    return sorted(runs, key=lambda r: str(r.config.get("created", "")), reverse=True)


def record_splits(run_dir: Path, ds: Dataset) -> None:
    """Write which image was in which split, so an evaluation later uses what training held out."""
    write_splits(Path(run_dir) / SPLITS, ds.root, ds.members())


def recorded_splits(run_dir: Path | None) -> dict[str, str] | None:
    """``{path relative to the data: split}`` as the run recorded it; None for older runs."""
    path = Path(run_dir) / SPLITS if run_dir else None
    return read_splits(path) if path and path.is_file() else None


def update_config(run_dir: Path, **changes: Any) -> dict[str, Any]:
    config = read_json(run_dir / CONFIG)
    config.update(changes)
    write_json(run_dir / CONFIG, config)
    return config


def delete_run(run_dir: Path) -> None:
    """Remove a run folder (refuses anything that does not look like a run)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise ValueError(f"{run_dir} is not a run folder")
    shutil.rmtree(run_dir)
