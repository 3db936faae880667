"""Backbone weights: ``imagenet`` (torchvision's API), ``none`` (random) or a state_dict file."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from trainer.hub import reachable
from trainer.protocol import WEIGHTS_ERROR, UsageError

IMAGENET = "imagenet"
NONE = "none"


class WeightsError(UsageError):
    """Weights cannot be loaded; the message says why and what to do instead."""

    code = WEIGHTS_ERROR


def describe(spec: str) -> str:
    """A stable identity for a weight spec (file specs include a content hash)."""
    if spec in (IMAGENET, NONE):
        return spec
    return f"file:{Path(spec).name}:{file_sha256(Path(spec))[:16]}"


def cache_identity(spec: str, seed: int) -> str:
    """The weights' identity in a feature-cache key (random weights depend on the seed)."""
    return f"none:seed{seed}" if spec == NONE else describe(spec)


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read once per version of the file in this process (a run names its
    weights file in every checkpoint it saves: rehashing 14 MB each time cost a 16-run sweep
    ~9% of its time). A file rewritten since gets a new size, time or inode, so is read again."""
    st = os.stat(path)
    return _sha256_of(os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def validate_spec(spec: str) -> str:
    """Return ``spec`` normalised, or raise :class:`WeightsError` for a missing file."""
    low = spec.strip().lower()
    if low in (IMAGENET, NONE):
        return low
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (use imagenet, none or a .pth path)")
    return str(path.resolve())


def imagenet_cache_file(url: str) -> Path:
    """Where torch.hub keeps (or would keep) the file downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def imagenet_available(weights_enum: object) -> bool:
    """True when torch has the ImageNet file cached or the download host answers."""
    url = weights_enum.url  # type: ignore[attr-defined]
    return imagenet_cache_file(url).is_file() or reachable(urlparse(url).hostname or "")


def load_imagenet(model: nn.Module, weights_enum: object, backbone: str) -> None:
    """Load torchvision ImageNet weights, downloading only when the network answers."""
    url = weights_enum.url  # type: ignore[attr-defined]
    cached = imagenet_cache_file(url)
    if not imagenet_available(weights_enum):
        raise WeightsError(
            f"ImageNet weights for {backbone} are not in torch's cache and cannot be "
            f"downloaded (no internet). torch expects the file {cached} "
            f"(from {url}). Copy it there, or use --weights PATH for a local state_dict, "
            "or --weights none to train from scratch."
        )
    try:
        state = weights_enum.get_state_dict(progress=False, check_hash=True)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any download/IO failure becomes one message
        raise WeightsError(f"could not get ImageNet weights for {backbone} ({cached}): {exc}") from None
    model.load_state_dict(state)


def load_file(model: nn.Module, path: str, backbone: str) -> int:
    """Load a state_dict file non-strictly into ``model``; return how many tensors matched."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(". ")[0].rstrip(".")  # torch's first line can be a whole paragraph
        from trainer.images import is_image_file

        if is_image_file(Path(path)):
            raise WeightsError(f"{path} is a photo, not a weights file (a .pth/.pt file of the backbone's "
                               "tensors)") from None
        raise WeightsError(f"{path} is not a weights file (a PyTorch state_dict, .pth/.pt): {first}") from None
    state = _unwrap(state)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise WeightsError(
            f"no tensor in {path} matches the {backbone} backbone "
            f"(file has {len(state)} tensors, e.g. {next(iter(state), '-')!r})"
        )
    model.load_state_dict(usable, strict=False)
    return len(usable)


def _unwrap(state: object) -> dict[str, torch.Tensor]:
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise WeightsError("weights file does not hold a state_dict (a dict of tensors)")
    out = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            out[k.removeprefix("module.")] = v
    return out
