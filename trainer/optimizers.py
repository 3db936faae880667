"""The optimizer every training stage uses: Adam, as the fused kernel where this torch has one.

A head on cached features is thousands of tiny steps, and the fused update is one op per step
instead of several (a batch-4 run's epochs: 1.63 -> 1.49-1.55 s here). CUDA has had it long;
CPU since torch 2.4 (older ones raise), so the choice is made per device from torch's own list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

#: Devices where the fused kernel is used when this torch has one (MPS's is left out: untried).
FUSED_DEVICES = ("cpu", "cuda")


def fused_available(device: torch.device) -> bool:
    """Whether this torch has a fused Adam for ``device`` (and we use it there)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        supported = set(_get_fused_kernels_supported_devices())
    except ImportError:  # a torch without the list: CUDA's kernel is the old one
        supported = {"cuda"}
    return device.type in FUSED_DEVICES and device.type in supported


def adam(params: Iterable[Any], lr: float, device: torch.device) -> torch.optim.Adam:
    """``torch.optim.Adam`` over ``params`` (tensors or param groups) for a model on ``device``."""
    return torch.optim.Adam(params, lr=lr, fused=fused_available(device) or None)


def load_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)`` keeping this optimizer's choice of kernel: a run saved
    where the fused kernel exists may resume where it does not (another torch, another device)."""
    saved = state["param_groups"]
    if len(saved) != len(optimizer.param_groups):  # torch's own error says what does not match
        optimizer.load_state_dict(state)
        return
    groups = [{**group, "fused": now.get("fused")} for group, now in zip(saved, optimizer.param_groups)]
    optimizer.load_state_dict({**state, "param_groups": groups})
