"""What this machine is, as far as a speed decision depends on it: the CPU, whether it computes
bf16 natively, the GPU and the versions of the libraries that run the models. A decision
measured here (:mod:`trainer.backends`, :mod:`trainer.ort_runs`) is cached under
:func:`machine_id`, so it is measured again on another machine or after an upgrade."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware (elsewhere bf16 autocast is emulated, slow)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        return any(bool(getattr(cpu, fn, lambda: False)()) for fn in
                   ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """What a measured decision depends on besides the model (recorded by the benchmarks too)."""
    info = {"cpu": cpu_name(), "python": platform.python_version(), "torch": torch.__version__,
            "bf16": str(native_bf16(torch.device("cpu")))}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def machine_id(**more: Any) -> str:
    """A short digest of :func:`machine` and ``more`` (what else the decision depends on)."""
    facts = {"machine": machine(), **more}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]
