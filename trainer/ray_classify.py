"""``trainer classify --engine ray``: the same CSV as the local path, computed on a Ray cluster.

The driver lists the files as the local path does (:func:`trainer.predict.list_inputs`) and
hands Ray Data one row per file (its index and its path as bytes: any name the OS allows).
``map_batches`` runs an actor pool: each actor loads the model once (:func:`load_scorer`, on
its node's GPU where it has one) and decodes and scores batches exactly as the local path does
(:class:`trainer.batches.ImageBatcher`: :func:`trainer.images.load_image` through the scorer's
``preprocess.transform()``). With ``preserve_order`` the driver receives the results in list
order and streams them, row by row, into the one CSV writer
(:func:`trainer.predict.write_classified`), so no process ever holds every result.

Ray is an optional extra (``pip install -e ".[cluster]"``), imported only inside these
functions: one machine needs none of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from trainer.csvfile import Prediction
from trainer.events import Events
from trainer.features import Cancelled
from trainer.protocol import MissingDependency, UsageError

INSTALL = 'pip install -e ".[cluster]"  (or: pip install "ray[data]>=2.9")'
LOCAL_CPUS = 2  # Ray started on this machine (no --address): what the tests and a laptop use
ITERATION_THREAD = "iter_threaded"  # Ray Data's name for the threads behind iter_batches
ON_ACTORS = {"model": "each actor's choice on its node (--backend/--precision)"}  # the summary's backends


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide: ``address`` None starts Ray here with ``num_cpus``; ``actors`` None
    means one actor per CPU (or per GPU) of the cluster."""

    address: str | None = None
    actors: int | None = None
    batch_size: int = 32
    num_cpus: int = LOCAL_CPUS
    scorer_options: dict[str, Any] = field(default_factory=dict)  # passed on to load_scorer


def import_ray() -> ModuleType:
    """``ray`` with Ray Data, or :class:`MissingDependency` saying how to install it."""
    try:
        import ray
        import ray.data  # the extra's part this module needs
    except ImportError as exc:
        raise MissingDependency(f"--engine ray needs Ray, an optional extra: {INSTALL}") from exc
    return ray


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int = LOCAL_CPUS) -> Iterator[ModuleType]:
    """Connect to ``address`` (``auto``, ``ray://HOST:PORT``) or start Ray here; a session
    someone already opened (a test, a notebook) is used and left running."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
    except ConnectionError as exc:
        raise UsageError(f"--address {address}: no Ray cluster there ({exc})") from exc
    for name in ("ray", "ray.data"):  # its start-up and plan notes: stderr is for people
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


class ScoreBatches:
    """A Ray Data actor: loads the model once, then turns batches of paths into scores."""

    def __init__(self, model: str, scorer_options: dict[str, Any], device: str, workers: int, share: int) -> None:
        from trainer.allocator import tune_malloc
        from trainer.batches import ImageBatcher
        from trainer.engine import pick_device
        from trainer.predict import load_scorer

        tune_malloc()  # an actor is a job process too
        self.options = scorer_options
        self.scorer = load_scorer(model, pick_device(device), **scorer_options)
        self.batcher = ImageBatcher(self.scorer.preprocess.transform(), workers)
        self.backends: dict[str, str] | None = None
        self.share = share  # photos this actor can expect: what a backend measurement is weighed against

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        from trainer.predict import use_backends

        paths = [Path(os.fsdecode(bytes(p))) for p in batch["path"]]
        if self.backends is None:  # the node's best backend, measured on its first photos as the local path does
            self.backends = use_backends(self.scorer, self.batcher, paths, self.options.get("backend", "auto"),
                                         self.options.get("precision", "auto"), Events(), self.share)
            threads = self.scorer.torch_threads()
            if threads is not None:  # an actor only classifies: for its lifetime (trainer.backends.torch_threads)
                torch.set_num_threads(threads)
        x, ok, failed = self.batcher(paths)
        with torch.no_grad():
            probs, conf = self.scorer(x) if x is not None else (torch.empty(0), torch.empty(0))
        n, k = len(paths), len(self.scorer.classes)
        out_probs = np.zeros((n, k), dtype=np.float32)
        out_conf = np.zeros(n, dtype=np.float32)
        rows = np.flatnonzero(np.asarray(ok, dtype=bool))
        out_probs[rows], out_conf[rows] = probs.float().numpy(), conf.float().numpy()
        errors = np.array([failed.get(str(p), "") for p in paths], dtype=object)
        return {"index": batch["index"], "probs": out_probs, "confidence": out_conf, "error": errors}


def _actor_resources(ray: ModuleType, device: str, actors: int | None) -> tuple[int, float, float]:
    """``(actors, CPUs, GPUs per actor)``: a GPU each where the cluster has GPUs and the device
    allows; more actors than CPUs share them (an actor pool waits for all its actors)."""
    resources = ray.cluster_resources()
    cpus = max(1, int(resources.get("CPU", 1)))
    gpus = int(resources.get("GPU", 0)) if device in ("auto", "cuda") else 0
    n = actors or gpus or cpus
    return n, min(1.0, cpus / n), (1.0 if gpus >= n else gpus / n if gpus else 0.0)


def scored_rows(items: list[tuple[str, Path]], model: str, settings: RaySettings, device: str,
                workers: int) -> Generator[dict[str, Any], None, None]:
    """One result row per item, in order, streamed from the actor pool (Ray must be connected)."""
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    actors, cpus, gpus = _actor_resources(ray, device, settings.actors)
    files = ray.data.from_items([{"index": i, "path": os.fsencode(p)} for i, (_, p) in enumerate(items)])
    ds = files.map_batches(ScoreBatches, batch_size=settings.batch_size, batch_format="numpy",
                        fn_constructor_kwargs={"model": str(model), "scorer_options": settings.scorer_options,
                                               "device": device, "workers": workers,
                                               "share": -(-len(items) // actors)},
                        compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=cpus, num_gpus=gpus)
    before = set(threading.enumerate())
    batches = iter(ds.iter_batches(batch_size=settings.batch_size, batch_format="numpy", prefetch_batches=2))
    try:
        for batch in batches:
            for j in range(len(batch["index"])):
                yield {key: batch[key][j] for key in ("index", "probs", "confidence", "error")}
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # signals Ray Data's iteration threads now, not when the generator is collected
        join_iteration_threads(before)


def join_iteration_threads(before: set[threading.Thread], timeout: float = 60.0) -> None:
    """Wait for the Ray Data iteration threads started since ``before``: after a stop they finish
    the block they hold, and one that touches Ray after ``ray.shutdown()`` ends the whole process
    (Ray's core worker exits it), which is how a stopped job once took its caller down."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread not in before and thread.name == ITERATION_THREAD and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


def predictions(items: list[tuple[str, Path]], rows: Iterator[dict[str, Any]], classes: list[str],
                threshold: float, events: Events, should_stop: Callable[[], bool]) -> Iterator[Prediction]:
    """The rows as :class:`Prediction` (the local path's rule), checking order, stop and progress."""
    from trainer.predict import scored_prediction

    done = 0
    for (rel, _), row in zip(items, rows):
        if should_stop():
            raise Cancelled("classification stopped")
        if int(row["index"]) != done:
            raise RuntimeError(f"Ray returned row {int(row['index'])} where row {done} was expected")
        done += 1
        if row["error"]:
            yield Prediction(rel, error=str(row["error"]))
        else:
            yield scored_prediction(rel, [float(x) for x in row["probs"]], float(row["confidence"]), classes,
                                    threshold)
        events.progress("classify", done, len(items))
    if done != len(items):
        raise RuntimeError(f"Ray returned {done} rows for {len(items)} files")


def classify_on_ray(model: str | Path, folder: str | Path, out_csv: str | Path, events: Events,
                    should_stop: Callable[[], bool], settings: RaySettings, recursive: bool = False,
                    device: str = "auto", workers: int = 2, threshold: float | None = None,
                    unlabeled: bool = False, tta: str | None = None) -> dict:
    """:func:`trainer.predict.classify_folder` on Ray: the same rows, order, columns and events."""
    from trainer.predict import list_inputs, load_scorer, write_classified
    from trainer.trust import check_threshold

    import_ray()
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"folder not found: {folder}")
    options = {"tta": tta, **settings.scorer_options}
    scorer = load_scorer(model, None, **options)  # on the driver: classes, threshold, name (CPU)
    threshold = scorer.trust.threshold if threshold is None else check_threshold(threshold)
    items = list_inputs(folder, recursive, unlabeled)
    events.emit("start", total=len(items), classes=scorer.classes, model=scorer.model_name, out=str(out_csv),
                threshold=threshold, engine="ray")
    run = RaySettings(settings.address, settings.actors, settings.batch_size, settings.num_cpus, options)
    if not items:
        return write_classified(out_csv, scorer.classes, iter(()), events, threshold, getattr(scorer, "tta", None),
                                ON_ACTORS)
    with ray_session(settings.address, settings.num_cpus), \
            contextlib.closing(scored_rows(items, str(Path(model).resolve()), run, device, workers)) as rows:
        preds = predictions(items, rows, scorer.classes, threshold, events, should_stop)
        return write_classified(out_csv, scorer.classes, preds, events, threshold, getattr(scorer, "tta", None),
                                ON_ACTORS)
