"""torchvision, imported for the whole trainer here (``from trainer.vision import torchvision``).

``import torchvision`` runs ``torchvision.ops.roi_align``, whose first lines take one function
from ``torch._dynamo.utils``; that loads all of ``torch._dynamo`` (sympy, the FX tracer, FSDP):
1.0-1.1 s of the 2.4-2.9 s every job spent importing here, for a compiler the trainer never uses
while it trains or classifies. (``roi_align`` itself compiles lazily "to avoid eagerly importing
dynamo"; its import line undoes that.)

So while torchvision is imported, a stand-in answers for ``torch._dynamo.utils``: it has the
one function ``roi_align`` takes, which loads the real module when called, and any other use of
the stand-in (a torchvision that takes more from it) loads the real module too. It is gone from
``sys.modules`` once torchvision is in, so ``torch._dynamo`` (the ONNX exporter uses it)
imports as usual later. Where ``torch._dynamo`` or torchvision is loaded already, this is a
plain import.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import torch  # noqa: F401  (loaded first: the stand-in's name sits under it)

__all__ = ["torchvision"]

DEFERRED = "torch._dynamo.utils"


class _Deferred(types.ModuleType):
    """``torch._dynamo.utils`` until something needs it: then the real module."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # import machinery probing (__path__, __spec__...): not there
            raise AttributeError(name)
        return getattr(_real(self), name)


def _real(stand_in: types.ModuleType) -> types.ModuleType:
    if sys.modules.get(DEFERRED) is stand_in:
        del sys.modules[DEFERRED]
    return importlib.import_module(DEFERRED)


def is_compile_supported(device_type: str) -> bool:
    """``torch._dynamo.utils.is_compile_supported``, loaded when first asked (also while the
    stand-in is still in place: then it makes way for the real module)."""
    module = sys.modules.get(DEFERRED)
    real = _real(module) if isinstance(module, _Deferred) else importlib.import_module(DEFERRED)
    return real.is_compile_supported(device_type)


def _import() -> types.ModuleType:
    if "torchvision" in sys.modules or DEFERRED in sys.modules or "torch._dynamo" in sys.modules:
        return importlib.import_module("torchvision")
    stand_in = _Deferred(DEFERRED, "stands in while torchvision is imported (trainer/vision.py)")
    stand_in.is_compile_supported = is_compile_supported  # type: ignore[attr-defined]
    sys.modules[DEFERRED] = stand_in
    try:
        return importlib.import_module("torchvision")
    finally:
        if sys.modules.get(DEFERRED) is stand_in:
            del sys.modules[DEFERRED]


torchvision = _import()
