"""Where torch keeps ImageNet weights and whether they can be had, without importing torch.

The app shows a backbone's ImageNet weights state before a job starts (downloaded, will be
downloaded, not available offline); importing torch for that would cost the window seconds
at start-up, so the path rule of ``torch.hub.get_dir()`` is repeated here (a test checks
both agree) and the file names come from the registry.
"""

from __future__ import annotations

import os
import socket
from enum import Enum
from pathlib import Path

from trainer.registry import BACKBONES

#: torchvision downloads every ImageNet weights file from this host.
DOWNLOAD_HOST = "download.pytorch.org"


class Availability(str, Enum):
    """Where a backbone's ImageNet weights stand on this computer."""

    CACHED = "cached"  # in torch's cache: training starts at once
    DOWNLOAD = "download"  # not cached, the download host answers: fetched on first use
    OFFLINE = "offline"  # not cached and no connection: unusable here
    UNKNOWN = "unknown"  # not cached, the connection not checked yet

    def __str__(self) -> str:
        return self.value


def hub_dir() -> Path:
    """``torch.hub.get_dir()``: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        torch_home = os.path.join(cache, "torch")
    return Path(os.path.expanduser(torch_home)) / "hub"


def imagenet_path(backbone: str) -> Path:
    """Where torch.hub keeps (or would keep) the backbone's ImageNet weights file."""
    return hub_dir() / "checkpoints" / BACKBONES[backbone].imagenet_file


def reachable(host: str = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """True when ``host`` accepts an HTTPS connection (blocks up to ``timeout`` seconds)."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def availability(backbone: str, online: bool | None) -> Availability:
    """The backbone's ImageNet weights state; ``online`` None means not checked yet."""
    if imagenet_path(backbone).is_file():
        return Availability.CACHED
    if online is None:
        return Availability.UNKNOWN
    return Availability.DOWNLOAD if online else Availability.OFFLINE
