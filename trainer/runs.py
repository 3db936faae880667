"""A run is a folder: ``config.json``, ``metrics.csv``, ``events.jsonl``, ``splits.csv`` (which
image was in which split) and checkpoints.

The CLI writes it and the app reads it through the same functions here. A damaged run folder
(a truncated file, an empty checkpoint, no permission) is listed with the reason
(:attr:`RunInfo.problem`), never skipped silently and never deleted without asking.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.atomic import atomic_open, read_json, write_json
from trainer.csvfile import read_splits, write_splits
from trainer.protocol import Status
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
    """The rows of ``metrics.csv``; ValueError (saying which line) when it is cut off or garbled."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        head = next(reader, None)
        if head is None:
            return []
        if head[:1] != ["epoch"]:
            raise ValueError(f"{METRICS}: unexpected header")
        rows: list[dict[str, float | None]] = []
        for cells in reader:
            if len(cells) != len(head):
                raise ValueError(f"{METRICS}: line {reader.line_num} is cut off")
            try:
                rows.append({k: (float(v) if v != "" else None) for k, v in zip(head, cells)})
            except ValueError:
                raise ValueError(f"{METRICS}: line {reader.line_num} is not numbers") from None
    for row in rows:
        row["epoch"] = int(row["epoch"] or 0)
    return rows


@dataclass
class RunInfo:
    """What the Runs table shows about one run folder."""

    path: Path
    config: dict[str, Any]
    metrics: list[dict[str, float | None]] = field(default_factory=list)
    problem: str = ""  # why the folder is damaged ("" when it is whole)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def best_val_acc(self) -> float | None:
        accs = [float(v) for m in self.metrics if (v := m.get("val_acc")) is not None]
        return max(accs) if accs else None

    @property
    def chosen_tta(self) -> dict[str, float]:
        """The scores of the test-time augmentation mode the run chose (``val_acc``, ``val_loss``,
        ``test_acc`` where measured); {} when none is recorded. An ensemble of runs records the
        val accuracy alone, as a number."""
        choice = self.config.get("tta_choice")
        if not isinstance(choice, dict) or not isinstance(choice.get("tried"), dict):
            return {}
        scores = choice["tried"].get(choice.get("mode"))
        if isinstance(scores, (int, float)):
            return {"val_acc": float(scores)}
        return dict(scores) if isinstance(scores, dict) else {}

    @property
    def test_acc(self) -> float | None:
        """The test accuracy the run reports (None without a test split): with the test-time
        augmentation it chose, where recorded, else at the epoch with the best val accuracy."""
        chosen = self.chosen_tta.get("test_acc")
        if chosen is not None:
            return float(chosen)
        scored = [m for m in self.metrics if m.get("val_acc") is not None]
        best = max(scored, key=epoch_rank, default={})
        acc = best.get("test_acc")
        return float(acc) if acc is not None else None

    @property
    def duration(self) -> float:
        """Wall seconds of the whole run (features included); epochs alone for older runs."""
        if self.config.get("duration_s") is not None:
            return float(self.config["duration_s"])
        return sum(m.get("seconds") or 0.0 for m in self.metrics)

    @property
    def status(self) -> str:
        return str(Status.DAMAGED) if self.problem else str(self.config.get("status", "unknown"))

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
        """The run's checkpoint, None when there is none or it is damaged."""
        path = find_checkpoint(self.path)
        return path if path is not None and not checkpoint_problem(path) else None


def _weights_word(spec: str) -> str:
    return spec if spec in ("imagenet", "none", "") else Path(spec).name


def find_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a run folder stands for: its best, else its last (a stopped run)."""
    for name in (BEST, LAST):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    return None


def load_run(run_dir: Path) -> RunInfo:
    """A whole run; OSError/ValueError when its config or metrics cannot be read (see :func:`inspect_run`)."""
    run_dir = Path(run_dir)
    return RunInfo(run_dir, read_json(run_dir / CONFIG), read_metrics(run_dir))


def checkpoint_problem(path: Path) -> str:
    """Why a checkpoint file is unusable ("" when it looks whole), without loading it."""
    try:
        if path.stat().st_size == 0:
            return f"{path.name} is empty (0 bytes)"
        if not zipfile.is_zipfile(path):
            return f"{path.name} is cut off or not a checkpoint"
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror or type(exc).__name__})"
    return ""


def _backbone_problem(run_dir: Path, config: dict[str, Any]) -> str:
    """A frozen-backbone run's checkpoints hold only the trained layers: without ``backbone.pt``
    beside them they cannot be used (a fine-tuned run's may hold the whole model: not judged)."""
    needs = bool(config.get("frozen")) and not config.get("fine_tune") and not (run_dir / BACKBONE).exists()
    if needs and any((run_dir / name).exists() for name in (BEST, LAST)):
        return f"{BACKBONE} is missing (the checkpoints need it)"
    return ""


def _events_problem(path: Path) -> str:
    """A cut-off last line of ``events.jsonl`` (only its tail is read: the Runs page lists many runs)."""
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
        lines = [line for line in f.read().split(b"\n") if line.strip()]
    try:
        if lines:
            json.loads(lines[-1])
    except ValueError:
        return f"{EVENTS}: the last line is cut off"
    return ""


def inspect_run(run_dir: Path) -> RunInfo:
    """The run as far as it can be read, with :attr:`RunInfo.problem` saying what is damaged."""
    run_dir = Path(run_dir)
    problems: list[str] = []
    config: dict[str, Any] = {}
    metrics: list[dict[str, float | None]] = []
    try:
        os.listdir(run_dir)
    except OSError as exc:
        return RunInfo(run_dir, {}, [], f"the folder cannot be read ({exc.strerror or type(exc).__name__})")
    try:
        loaded = read_json(run_dir / CONFIG)
        config = loaded if isinstance(loaded, dict) else {}
        if not isinstance(loaded, dict):
            problems.append(f"{CONFIG} is not a run's settings")
    except FileNotFoundError:
        problems.append(f"{CONFIG} is missing")
    except ValueError:
        problems.append(f"{CONFIG} is cut off or garbled")
    except OSError as exc:
        problems.append(f"{CONFIG} cannot be read ({exc.strerror or type(exc).__name__})")
    try:
        metrics = read_metrics(run_dir)
    except ValueError as exc:
        problems.append(str(exc))
    except OSError as exc:
        problems.append(f"{METRICS} cannot be read ({exc.strerror or type(exc).__name__})")
    try:
        problems.append(_events_problem(run_dir / EVENTS))
    except OSError as exc:
        problems.append(f"{EVENTS} cannot be read ({exc.strerror or type(exc).__name__})")
    problems += [checkpoint_problem(run_dir / name) for name in (BEST, LAST, BACKBONE) if (run_dir / name).exists()]
    problems.append(_backbone_problem(run_dir, config))
    return RunInfo(run_dir, config, metrics, "; ".join(p for p in problems if p))


RUN_FILES = (CONFIG, METRICS, EVENTS, BEST, LAST)


def unfinished_note(path: str | Path) -> str:
    """One line on a run that did not finish (stopped, failed, still training), for a command that
    uses its checkpoint; "" for a finished run or a file outside a run folder."""
    path = Path(path)
    try:
        run = load_run(path if path.is_dir() else path.parent)
        status = run.config.get("status")
    except (OSError, ValueError, AttributeError):  # no run folder, or not a run's config
        return ""
    if status in (None, Status.DONE) or run.config.get("members"):
        return ""
    done, target = len(run.metrics), int(run.config.get("epochs") or 0) + int(run.config.get("fine_tune") or 0)
    trust = "" if run.trust else "; its confidence was never calibrated, so nothing is answered unknown"
    if status == Status.RUNNING:
        return f"{run.name} is still training ({done} of {target} epochs so far): its answers may be poorer{trust}"
    where = f"{status} after {done} of {target} epochs" if target else str(status)
    return f"{run.name} did not finish ({where}): its answers may be poorer than a finished run's{trust}"


def bf16_features(checkpoint: Path) -> bool:
    """Whether the run that holds ``checkpoint`` computed its frozen features in bf16."""
    try:
        chosen = read_json(Path(checkpoint).parent / CONFIG).get("feature_backends") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return any("bf16" in str(key) for key in chosen.values())


def epoch_rank(row: dict[str, Any]) -> tuple[float, float]:
    """How the best epoch is chosen (``best.pt``, the test accuracy a run reports): the higher
    val accuracy, and at a tie the lower val loss (a small val split ties often: epochs 1, 3 and
    4 all at 98.2% kept epoch 1, val loss 0.307, over epoch 4's 0.136)."""
    loss = row.get("val_loss")
    return float(row.get("val_acc") or 0.0), -float(loss) if loss is not None else -math.inf


def looks_like_run(folder: Path) -> bool:
    """A folder the engine wrote (any of a run's files), or one that cannot even be listed."""
    try:
        return any((folder / name).exists() for name in RUN_FILES)
    except OSError:  # no permission to look inside
        return True


def list_runs(out: Path) -> list[RunInfo]:
    """Every run folder directly under ``out``, newest first; damaged ones too, with the reason."""
    try:
        children = sorted(p for p in Path(out).iterdir() if p.is_dir())
    except OSError:
        return []
    found = [inspect_run(d) for d in children if looks_like_run(d)]
    return sorted(found, key=lambda r: str(r.config.get("created", "")), reverse=True)


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
    if not looks_like_run(run_dir):
        raise ValueError(f"{run_dir} is not a run folder")
    shutil.rmtree(run_dir)
