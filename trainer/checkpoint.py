"""Checkpoints: self-describing, atomically written, loaded without unpickling code.

A checkpoint holds the model name, class names and preprocessing, so classifying needs
nothing else. Frozen backbones are written once per run to ``backbone.pt``; the per-epoch
``best.pt`` / ``last.pt`` hold the trainable tensors and name that file with its hash.
``export_checkpoint`` merges both into one standalone file to carry elsewhere. After training a
checkpoint also holds its ``trust`` entry (temperature, rejection threshold; see
:mod:`trainer.trust`), the one place those live.
"""

from __future__ import annotations

import logging
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from trainer import runs
from trainer import tta as TTA
from trainer.atomic import torch_save
from trainer.models import TransferModel, create_model
from trainer.preprocess import Preprocess
from trainer.protocol import CHECKPOINT_SUFFIXES, UsageError, is_onnx
from trainer.trust import Trust
from trainer.weights import file_sha256

log = logging.getLogger(__name__)

FORMAT = "vehicleapp-checkpoint"
VERSION = 1


class CheckpointError(UsageError):
    """A file is not a usable checkpoint; the message says why in one line."""


def split_state(model: TransferModel) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(trainable tensors, frozen-backbone tensors) of the model's state_dict."""
    frozen_prefixes = tuple(f"backbones.{n}." for n in model.frozen)
    trainable: dict[str, torch.Tensor] = {}
    frozen: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        (frozen if k.startswith(frozen_prefixes) else trainable)[k] = v.detach().cpu()
    return trainable, frozen


def save_backbone(model: TransferModel, run_dir: Path) -> dict[str, str] | None:
    """Write the frozen backbones once; returns the reference checkpoints store."""
    _, frozen = split_state(model)
    if not frozen:
        return None
    torch_save({"format": FORMAT + "-backbone", "state_dict": frozen}, run_dir / runs.BACKBONE)
    return backbone_ref(run_dir)


def backbone_ref(run_dir: Path) -> dict[str, str]:
    """How a checkpoint names the run's ``backbone.pt``: file name and content hash."""
    return {"file": runs.BACKBONE, "sha256": file_sha256(run_dir / runs.BACKBONE)}


def save_checkpoint(path: Path, model: TransferModel, meta: dict[str, Any],
                    backbone_ref: dict[str, str] | None, **extra: Any) -> None:
    trainable, frozen = split_state(model)
    payload = {
        "format": FORMAT, "version": VERSION, **meta,
        "frozen": sorted(model.frozen),
        "backbone_ref": backbone_ref,
        "state_dict": trainable if backbone_ref else {**trainable, **frozen},
        **extra,
    }
    torch_save(payload, path)


def _safe_load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if is_onnx(path):  # classify takes one before it gets here; nothing else can
        raise CheckpointError(f"{path.name} is an exported model, which only classify takes: give the run "
                              "folder it was exported from, or a checkpoint (.pt)")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES and not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path.name} is not a model: give a run folder or a checkpoint (.pt); classify "
                              "also takes an exported .onnx file")
    try:
        with warnings.catch_warnings():  # junk bytes make torch warn before it fails; we explain instead
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - damaged bytes can raise anything from the unpickler
        log.warning("could not load %s: %s", path, exc)  # torch's own words, for the log only
        raise CheckpointError(
            f"refused {path.name}: not a plain tensor checkpoint (it would need arbitrary code "
            "to load, or is damaged)"
        ) from None
    if not isinstance(obj, dict) or not str(obj.get("format", "")).startswith(FORMAT):
        raise CheckpointError(f"{path} is not a vehicleapp checkpoint")
    return obj


def resolve(path: str | Path) -> Path:
    """A run folder means its best checkpoint (else last); a file is itself."""
    path = Path(path)
    if path.is_dir():
        found = runs.find_checkpoint(path)
        if found is None:
            raise CheckpointError(f"no checkpoint ({runs.BEST} or {runs.LAST}) in {path}{_what_it_is(path)}")
        return found
    return path


def _what_it_is(folder: Path) -> str:
    """A hint when the folder given for a model is a dataset (its first argument mixed up)."""
    from trainer.layout import walk_images

    try:
        photos = bool(walk_images(folder, recursive=True))
    except OSError:
        return ""
    return ": it looks like a folder of photos; give a run folder (under checkpoints/) or a model file" \
        if photos else ""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict with the full ``state_dict`` (frozen backbone merged in)."""
    path = resolve(path)
    ckpt = _safe_load(path)
    ref = ckpt.get("backbone_ref")
    if ref:
        bb_path = path.parent / ref["file"]
        if not bb_path.is_file() or file_sha256(bb_path) != ref["sha256"]:
            problem = (f"the {bb_path.name} beside {path.name} is not the one it was trained with"
                       if bb_path.is_file() else f"{path.name} needs its run's {bb_path.name} beside it")
            raise CheckpointError(f"{problem}: give the whole run folder, or carry one standalone file "
                                  "made by `trainer export RUN model.pt`")
        ckpt["state_dict"] = {**_safe_load(bb_path)["state_dict"], **ckpt["state_dict"]}
        ckpt["backbone_ref"] = None
    return ckpt


def load_model(path: str | Path) -> tuple[TransferModel, dict[str, Any]]:
    """Rebuild the model from a checkpoint (or run folder); returns ``(model.eval(), ckpt)``."""
    ckpt = read_checkpoint(path)
    try:
        if ckpt.get("members"):  # an ensemble of runs
            from trainer.run_ensemble import build

            model = build(ckpt)
        else:
            model = create_model(ckpt["model"], len(ckpt["classes"]), frozen=set(ckpt["frozen"]),
                                 load_backbones=False)
        model.load_state_dict(ckpt["state_dict"])
        model.tta = TTA.check(ckpt.get("tta", TTA.OFF))
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint does not fit its model: {str(exc)[:200]}") from None
    model.eval()
    return model, ckpt


def peek(path: Path, key: str) -> Any:
    """One entry of a checkpoint file (None when absent), without merging its backbone."""
    return _safe_load(path).get(key)


def update(path: Path, **fields: Any) -> None:
    """Set entries of a checkpoint file, atomically."""
    payload = _safe_load(path)
    payload.update(fields)
    torch_save(payload, path)


def preprocess_of(ckpt: dict[str, Any]) -> Preprocess:
    return Preprocess.from_dict(ckpt["preprocess"])


def export_checkpoint(src: str | Path, dest: str | Path) -> Path:
    """Write one standalone file (backbone included) for classifying on another machine."""
    ckpt = read_checkpoint(src)
    for key in ("optimizer", "scheduler"):
        ckpt.pop(key, None)
    torch_save(ckpt, Path(dest))
    return Path(dest)


def read_trust(path: str | Path) -> Trust:
    """The checkpoint's calibration and threshold (defaults for checkpoints made before them)."""
    return Trust.from_dict(_safe_load(resolve(path)).get("trust"))


def write_trust(path: str | Path, trust: Trust, **tensors: torch.Tensor | None) -> Path:
    """Store ``trust`` (and tensors such as the feature bank; None removes one) in the
    checkpoint, atomically; the run's ``config.json`` gets a copy for display."""
    path = resolve(path)
    payload = _safe_load(path)
    payload["trust"] = trust.to_dict()
    for key, value in tensors.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    torch_save(payload, path)
    _show_trust(path, trust)
    return path


def _show_trust(path: Path, trust: Trust) -> None:
    """Copy the trust settings of the checkpoint a run folder stands for into its config.json."""
    run_dir = path.parent
    if (run_dir / runs.CONFIG).is_file() and runs.find_checkpoint(run_dir) == path:
        runs.update_config(run_dir, trust={**trust.display(), "checkpoint": path.name})


def set_threshold(run: str | Path, value: float) -> Trust:
    """Write a new rejection threshold into the run's checkpoint (atomic); the previous one is
    kept, so :func:`undo_threshold` restores it. Returns the new settings."""
    trust = read_trust(run).with_threshold(value)
    write_trust(run, trust)
    return trust


def undo_threshold(run: str | Path) -> Trust:
    """Bring back the threshold :func:`set_threshold` replaced."""
    trust = read_trust(run).undone()
    write_trust(run, trust)
    return trust
