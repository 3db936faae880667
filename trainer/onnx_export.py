"""``trainer export RUN OUT.onnx``: one model file that deploys alone, verified on the spot.

The graph is :class:`~trainer.scoring.ScoredModel` (image batch -> calibrated ``probs``,
``confidence``, raw ``logits``) exported by torch.export to ONNX opset :data:`OPSET` with a
dynamic batch, weights inside the file. Its ``metadata_props`` carry what a deployment needs:
class names, preprocessing, temperature, threshold and score (copied from the checkpoint at
export time). Before the file is moved into place, onnxruntime must match PyTorch on sample
photos within the product's parity tolerance (:mod:`trainer.protocol`), else
:class:`VerificationFailed` (exit 4) and no file is written. :class:`OnnxScorer` lets
``classify`` use such a file in place of a run.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer.atomic import DiskFull, is_disk_full, read_json
from trainer.demo_data import CLASSES as DEMO_KINDS
from trainer.demo_data import draw_sample
from trainer.events import Events
from trainer.images import ImageLoadError, load_image
from trainer.ort_runs import OrtSession
from trainer.preprocess import Preprocess
from trainer.protocol import (
    PARITY_MAX_PROB_DIFF,
    PARITY_MIN_AGREEMENT,
    UNKNOWN,
    MissingDependency,
    UsageError,
    VerificationFailed,
)
from trainer.scoring import ScoredModel, load_scored
from trainer.trust import Trust

FORMAT = "vehicleapp-onnx/1"
OPSET = 18
INPUT, OUTPUTS = "image", ("probs", "confidence", "logits")
SAMPLES = 64  # photos the parity check runs on
BATCH = 16  # the check runs in batches of this size (and a smaller remainder): dynamic batch


def _require(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"exporting to ONNX needs {package} (pip install {package})") from None


@dataclass(frozen=True)
class Parity:
    """How an exported model matched PyTorch: the product's one parity check."""

    n: int
    agreement: float  # share of photos with the same top-1 class
    max_diff: float  # largest absolute difference of any probability or confidence
    samples: str  # which photos were used

    @property
    def ok(self) -> bool:
        return self.agreement >= PARITY_MIN_AGREEMENT and self.max_diff <= PARITY_MAX_PROB_DIFF

    def text(self) -> str:
        return (f"ONNX vs PyTorch on {self.n} {self.samples}: top-1 agreement {self.agreement:.1%} (needs "
                f">= {PARITY_MIN_AGREEMENT:.1%}), largest probability difference {self.max_diff:.2e} "
                f"(allowed {PARITY_MAX_PROB_DIFF:g})")


def export_onnx(run: str | Path, out: str | Path, events: Events | None = None, tta: str | None = None) -> Parity:
    """Export the run's checkpoint to ``out`` and verify it; returns the parity figures. The
    graph includes the run's test-time augmentation (or ``tta``'s, :func:`trainer.tta.resolve`)."""
    events = events or Events()
    path = ckpt_io.resolve(run)
    scored, ckpt = load_scored(path, tta)
    pre = ckpt_io.preprocess_of(ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # beside out, so the final rename is atomic
    try:
        _trace(scored, pre.crop, tmp)
        _write_metadata(tmp, {**metadata(ckpt, scored.trust, pre), "tta": scored.model.tta})
        x, samples = sample_batch(path, pre)
        parity = compare(scored, OnnxScorer(tmp, per_run=0), x, samples, events)  # a check: nothing to time
        if not parity.ok:
            raise VerificationFailed(f"export refused, {parity.text()}")
        _write_metadata(tmp, {"parity": json.dumps(asdict(parity))})
        os.replace(tmp, out)
    except Exception as exc:
        if is_disk_full(exc):  # the one-line "disk is full" of every other writer
            raise DiskFull(out, tmp.stat().st_size if tmp.exists() else None) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return parity


def _trace(module: torch.nn.Module, crop: int, path: Path, outputs: tuple[str, ...] = OUTPUTS) -> None:
    """torch.export -> ONNX, batch dimension dynamic, weights in the one file (the product's one
    exporter: ``trainer export`` and the onnxruntime backend of :mod:`trainer.backends`)."""
    _require("onnx", "onnx")
    _require("onnxscript", "onnxscript")
    example = torch.zeros(2, 3, crop, crop)
    with contextlib.redirect_stdout(sys.stderr), torch.no_grad():  # stdout is the --events protocol
        torch.onnx.export(module.eval(), (example,), str(path), input_names=[INPUT], output_names=list(outputs),
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, opset_version=OPSET,
                          dynamo=True, external_data=False, verbose=False)


def export_graph(module: torch.nn.Module, crop: int, out: Path, outputs: tuple[str, ...]) -> None:
    """Export ``module`` (an image batch -> ``outputs``) to ``out``, written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        _trace(module, crop, tmp, outputs)
        os.replace(tmp, out)
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(out, tmp.stat().st_size if tmp.exists() else None) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def metadata(ckpt: dict[str, Any], trust: Trust, pre: Preprocess) -> dict[str, str]:
    """What a deployment needs besides the graph; every value a string (ONNX metadata_props)."""
    how = {"resize": "shorter side to `resize` px, bilinear", "crop": "centre crop `crop` x `crop`",
           "tensor": "RGB / 255, then (x - mean) / std, float32 NCHW"}
    return {
        "format": FORMAT, "model": str(ckpt["model"]), "run": str(ckpt.get("run", "")),
        "classes": json.dumps(list(ckpt["classes"])),
        "preprocess": json.dumps({**pre.to_dict(), "how": how}),
        "temperature": repr(trust.temperature), "threshold": repr(trust.threshold), "score": trust.score,
        "coverage": "" if trust.coverage is None else repr(trust.coverage),
        "unknown_label": UNKNOWN,
        "outputs": "probs: softmax(logits / temperature), already calibrated; confidence: answer "
                   "unknown_label when below threshold; logits: raw",
    }


def _write_metadata(path: Path, props: dict[str, str]) -> None:
    onnx = _require("onnx", "onnx")
    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in props.items():
        entry = existing.get(key) or model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def sample_batch(ckpt_path: Path, pre: Preprocess, limit: int = SAMPLES) -> tuple[torch.Tensor, str]:
    """Preprocessed photos for the parity check: the run's validation photos when its data is
    still there, else generated drawings."""
    transform = pre.transform()
    tensors = []
    for p in _val_photos(ckpt_path.parent):
        with contextlib.suppress(ImageLoadError):
            tensors.append(transform(load_image(p)))
        if len(tensors) == limit:
            break
    if tensors:
        return torch.stack(tensors), "validation photos"
    rng = random.Random(0)
    drawn = [transform(draw_sample(DEMO_KINDS[i % len(DEMO_KINDS)], pre.resize, rng)) for i in range(limit // 2)]
    return torch.stack(drawn), "generated images (the run's data is not here)"


def _val_photos(run_dir: Path) -> list[Path]:
    if not (run_dir / runs.CONFIG).is_file():
        return []
    root = Path(read_json(run_dir / runs.CONFIG).get("data", ""))
    recorded = runs.recorded_splits(run_dir) or {}
    return [root / rel for rel, split in sorted(recorded.items()) if split == "val" and (root / rel).is_file()]


@torch.no_grad()
def compare(scored: ScoredModel, exported: OnnxScorer, x: torch.Tensor, samples: str, events: Events) -> Parity:
    """Run both on ``x`` in batches; top-1 agreement and the largest probability difference."""
    agree, diff = 0, 0.0
    for start in range(0, len(x), BATCH):
        batch = x[start : start + BATCH]
        probs, conf, _ = scored(batch)
        onnx_probs, onnx_conf = exported(batch)
        agree += int((probs.argmax(1) == onnx_probs.argmax(1)).sum())
        diff = max(diff, float((probs - onnx_probs).abs().max()), float((conf - onnx_conf).abs().max()))
        events.progress("verify", min(start + BATCH, len(x)), len(x))
    return Parity(len(x), agree / max(len(x), 1), diff, samples)


class OnnxScorer:
    """An exported ``.onnx`` file as a :class:`trainer.predict.Scorer` (onnxruntime; CUDA where it has it)."""

    def __init__(self, path: str | Path, device: torch.device | str = "cpu", per_run: int | None = None) -> None:
        _require("onnxruntime", "onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"model not found: {path}")
        try:
            self.session = OrtSession(path, device, per_run=per_run)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for damaged files
            raise UsageError(f"{path.name} is not a usable ONNX model: {str(exc).splitlines()[0][:200]}") from None
        meta = self.session.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != FORMAT:
            raise UsageError(f"{path.name} was not written by 'trainer export' (its metadata lacks the class "
                             "names and preprocessing)")
        self.classes: list[str] = json.loads(meta["classes"])
        self.model_name: str = meta["model"]
        self.preprocess = Preprocess.from_dict(json.loads(meta["preprocess"]))
        self.tta = meta.get("tta", "off")  # built into the graph
        self.trust = Trust(temperature=float(meta["temperature"]), threshold=float(meta["threshold"]),
                           score=meta["score"], coverage=float(meta["coverage"]) if meta.get("coverage") else None)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs, conf = self.session.run(list(OUTPUTS[:2]), x.cpu().contiguous().numpy())
        return torch.from_numpy(probs), torch.from_numpy(conf)

    def torch_threads(self) -> int | None:
        """torch's threads while classifying: one on the CPU, where it only wraps the answers."""
        return 1 if self.session.device.type == "cpu" else None
