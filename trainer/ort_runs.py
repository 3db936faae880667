"""onnxruntime sessions run the way CPU inference servers run them: many small runs at once.

On the CPU a batch is cut into runs of a few images, and one single-threaded run per core goes
at a time (a pool hands the next run to whichever core is free), rather than one run whose
every operator is split across the cores. The split puts a barrier after each of ~100
operators, so a decode thread taking a core for a moment stalls them all; and small runs keep
a model's activations in the core's cache. Measured on 2 cores, MobileNetV2 at 224 px: runs
of 1-2 images 477-515 img/s, of 16 (one per core) 346-359, one split run 368-402; ResNet-50
is about the same at every size (54-59). How many images a run holds is measured once per
machine and graph shape (:func:`per_run_rates`, on random input: a model's speed does not
depend on the pixels; :func:`graph_shape`) and cached. On a GPU a batch is one run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.atomic import read_json, write_json
from trainer.config import default_cache_dir
from trainer.images import default_workers
from trainer.machine import machine_id

log = logging.getLogger(__name__)
PER_RUN_CHOICES = (1, 2, 4, 8)  # images per run, measured


def providers(device: torch.device | str = "cpu") -> list[str]:
    """onnxruntime's execution providers for ``device``: CUDA first where it has one."""
    import onnxruntime as ort

    if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def model_source(path: Path) -> str | bytes:
    """What onnxruntime opens: the path, or the file's bytes where the path is not valid UTF-8
    (a folder named by another system's encoding: onnxruntime's Python binding refuses such
    a ``str``). Our models keep their weights inside the file, so the bytes are the whole model."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return path.read_bytes()
    return text


class OrtSession:
    """An ONNX graph in onnxruntime whose :meth:`run` takes a whole batch and runs it as
    ``parts`` concurrent runs of ``per_run`` images on the CPU (one run on a GPU).

    ``parts`` defaults to the cores this process may use; ``per_run`` to the measured best
    (measured on the first call unless ``cache`` has it; 0: one run per core), never so large
    that a core has no run. ``parts=1`` is onnxruntime's own layout: one run, each operator
    split across the cores.
    """

    def __init__(self, path: str | Path, device: torch.device | str = "cpu", parts: int | None = None,
                 per_run: int | None = None, cache: Path | None = None) -> None:
        import onnxruntime as ort

        self.path, self.device = Path(path), torch.device(device)
        self.cache = cache or default_cache_dir() / "backends"  # where the measured run size is kept
        cpu = self.device.type == "cpu"
        self.parts = (parts or default_workers()) if cpu else 1
        options = ort.SessionOptions()
        if self.parts > 1:
            options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model_source(self.path), options, providers=providers(self.device))
        self.input = self.session.get_inputs()[0].name
        self.pool = ThreadPoolExecutor(self.parts, "onnxruntime") if self.parts > 1 else None
        # images per run; 0: one run per core (one run in all where parts is 1); None: measure
        self.per_run: int | None = per_run if self.parts > 1 else 0

    def run(self, outputs: list[str], batch: np.ndarray) -> list[np.ndarray]:
        """``outputs`` of the graph for ``batch`` (float32 NCHW), in order."""
        if self.per_run is None:
            self.per_run = self._measured_per_run()
        if len(batch) == 0:
            return list(self.session.run(outputs, {self.input: batch}))
        per_core = -(-len(batch) // self.parts)  # never fewer runs than cores while images last
        step = min(self.per_run, per_core) if self.per_run else per_core
        pieces = [batch[i : i + step] for i in range(0, len(batch), step)]

        def one(piece: np.ndarray) -> list[Any]:
            return self.session.run(outputs, {self.input: piece})

        done = list(self.pool.map(one, pieces)) if self.pool and len(pieces) > 1 else [one(p) for p in pieces]
        if len(done) == 1:
            return list(done[0])
        return [np.concatenate([d[k] for d in done]) for k in range(len(outputs))]

    def _measured_per_run(self) -> int:
        """The best run size cached for this graph, machine and core count, else measured now
        (:func:`per_run_rates`); a graph that cannot be timed runs one run per core."""
        try:
            key = machine_id(graph=graph_shape(self.path), parts=self.parts)
        except OSError:  # the graph's file is gone (the session has it): run, do not cache
            return 0
        file = self.cache / f"per-run-{key}.json"
        try:
            cached = int(read_json(file)["per_run"])
            if cached in PER_RUN_CHOICES:
                return cached
        except (OSError, KeyError, TypeError, ValueError):
            pass
        try:
            rates = per_run_rates(self)
        except Exception as exc:  # noqa: BLE001 - a graph that cannot be timed so still runs, one run per core
            log.warning("could not time onnxruntime's run sizes (%s): one run per core", str(exc)[:200])
            return 0
        best = max(rates, key=rates.__getitem__)
        try:
            write_json(file, {"per_run": best, "images_per_s": rates, "graph": str(self.path), "parts": self.parts})
        except OSError as exc:  # a read-only cache: measured again next time, nothing lost
            log.warning("could not cache the onnxruntime run size: %s", exc)
        return best


def graph_shape(path: Path, edge: int = 1 << 16) -> str:
    """What a graph's speed depends on, as a digest: its size and its first and last ``edge``
    bytes (the operators come first in an ONNX file and the inputs' shapes last; the weights
    in between do not change the speed). Not its path or file time: a copied or moved cache
    keeps its measurements."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h = hashlib.sha256(str(size).encode())
        h.update(f.read(edge))
        f.seek(max(edge, size - edge))
        h.update(f.read())
    return h.hexdigest()[:24]


def per_run_rates(session: OrtSession, choices: tuple[int, ...] = PER_RUN_CHOICES) -> dict[int, float]:
    """Images/s of ``session`` for each run size in ``choices``: a batch that gives every core
    the largest run, timed after one warm-up run each; random input of the graph's shape."""
    shape = [d if isinstance(d, int) else 1 for d in session.session.get_inputs()[0].shape]
    n_images = max(choices) * session.parts
    x = np.random.default_rng(0).standard_normal((n_images, *shape[1:])).astype(np.float32)
    outputs = [session.session.get_outputs()[0].name]
    rates: dict[int, float] = {}
    session.per_run = max(choices)
    session.run(outputs, x)  # warm-up: the session's first runs are slow at any size
    for n in choices:
        session.per_run = n
        session.run(outputs, x[: n * session.parts])  # warm-up: onnxruntime plans memory per shape
        start = time.perf_counter()
        session.run(outputs, x)
        rates[n] = round(len(x) / max(time.perf_counter() - start, 1e-9), 1)
    return rates
