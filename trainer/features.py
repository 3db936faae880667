"""Frozen-backbone features, computed once per image and cached on disk across runs.

The cache key of a backbone is its name, its weights' identity and the preprocessing; each
image is keyed by absolute path, size and mtime, so a sweep over learning rates and batch
sizes (or a re-run after relabeling a few files) decodes only what it has not seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from trainer.atomic import DiskFull, torch_save
from trainer.backends import Runner, onnxruntime_on_cpu, runners, torch_threads
from trainer.batches import ImageBatcher, chunks
from trainer.events import Events
from trainer.protocol import Event
from trainer.tta import views_of

FEATURE_BATCH = 32
log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The user asked the job to stop."""


def backbone_key(name: str, weights_id: str, preprocess: dict, view: str = "") -> str:
    """The cache file of a backbone; ``view`` names a test-time augmentation view (:mod:`trainer.tta`).
    :func:`feature_runners` appends the backend and precision that compute it."""
    spec = {"backbone": name, "weights": weights_id, "pre": preprocess, "v": 2, **({"view": view} if view else {})}
    blob = json.dumps(spec, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def feature_runners(modules: Mapping[str, nn.Module], crop: int, paths: list[Path], batcher: ImageBatcher,
                    device: torch.device, backend: str, precision: str, events: Events) -> dict[str, Runner]:
    """Where each backbone computes features (:mod:`trainer.backends`): measured on the first
    photos when ``auto`` has not decided on this machine yet."""

    def probe() -> torch.Tensor | None:
        return batcher(paths[:FEATURE_BATCH])[0]

    def note(message: str) -> None:
        events.emit(Event.BACKEND, message=message)

    return runners(dict(modules), crop, device, backend, precision, probe, len(paths), note)


def with_backend(keys: Mapping[str, str], found: Mapping[str, Runner]) -> dict[str, str]:
    """Cache keys that also name the backend and precision each backbone runs on."""
    return {n: f"{k}-{found[n].choice.key()}" for n, k in keys.items()}


def file_key(path: Path) -> str:
    try:
        st = path.stat()
        return f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        return f"{path}|missing"


class FeatureStore:
    """Rows of one backbone's features keyed by :func:`file_key`, persisted in one file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: dict[str, torch.Tensor] = {}
        self.failed: dict[str, str] = {}
        self.dirty = False
        self.problem = ""  # why a damaged cache file was discarded
        if path is not None and path.is_file():
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
                self.rows = dict(zip(data["keys"], data["features"]))
                self.failed = dict(data.get("failed", {}))
            except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
                self.rows, self.failed = {}, {}
                self.problem = f"feature cache {path.name} was damaged and is rebuilt ({type(exc).__name__})"
                log.warning("%s: %s", self.problem, exc)

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        keys = list(self.rows)
        feats = torch.stack([self.rows[k] for k in keys]) if keys else torch.empty(0)
        torch_save({"keys": keys, "features": feats, "failed": self.failed}, self.path)
        self.dirty = False


Backbone = Callable[[torch.Tensor], torch.Tensor]  # a runner of :mod:`trainer.backends` (or a module)


Extracted = tuple[dict[str, torch.Tensor], list[int], dict[str, str]]  # features, ok indices, failed


def extract(
    backbones: Mapping[str, Backbone],
    keys: dict[str, str],
    paths: list[Path],
    batcher: ImageBatcher,
    device: torch.device,
    cache_dir: Path | None,
    events: Events,
    should_stop: Callable[[], bool],
) -> Extracted:
    """Features of ``paths`` for each backbone.

    Returns ``(features, ok_indices, failed)``: ``features[name]`` has one row per index in
    ``ok_indices`` (positions in ``paths`` that decoded); ``failed`` maps path to reason.
    """
    return extract_views(backbones, {"": keys}, paths, batcher, device, cache_dir, events, should_stop)[""]


def extract_views(
    backbones: Mapping[str, Backbone],
    keys: Mapping[str, dict[str, str]],
    paths: list[Path],
    batcher: ImageBatcher,
    device: torch.device,
    cache_dir: Path | None,
    events: Events,
    should_stop: Callable[[], bool],
    views_for: Sequence[bool] | None = None,
) -> dict[str, Extracted]:
    """:func:`extract` for test-time augmentation views (``keys``: view -> backbone -> cache key;
    ``""`` is the photo as it is), each photo decoded once for all of them: a 12-MP photo costs
    ~14 ms of decoding each time. ``views_for[i]``: whether ``paths[i]`` gets the views other
    than ``""`` (default: every photo); a view's result then covers those photos only."""
    stores = {(v, n): FeatureStore(cache_dir / f"{k}.pt" if cache_dir else None)
              for v, names in keys.items() for n, k in names.items()}
    for store in stores.values():
        if store.problem:
            events.warning(store.problem)
    fkeys = [file_key(p) for p in paths]
    views_for = list(views_for) if views_for is not None else [True] * len(paths)
    if len(views_for) != len(paths):
        raise ValueError(f"views_for has {len(views_for)} flags for {len(paths)} photos")
    todo = [i for i, k in enumerate(fkeys)
            if not all(k in s.rows or k in s.failed for (v, _), s in stores.items() if views_for[i] or not v)]
    events.emit("features", cached=len(paths) - len(todo), total=len(paths))
    try:
        _compute(backbones, stores, paths, fkeys, todo, batcher, device, events, should_stop, views_for)
    finally:
        for s in stores.values():
            try:
                s.save()
            except DiskFull as exc:  # the features are in memory: this job goes on without the cache
                events.warning(f"feature cache not saved, it is computed again next time: {exc}")
    among = [i for i, w in enumerate(views_for) if w]
    return {v: _gathered(paths, fkeys, {n: stores[(v, n)] for n in names}, among if v else None)
            for v, names in keys.items()}


def _gathered(paths: list[Path], fkeys: list[str], stores: dict[str, FeatureStore],
              among: list[int] | None = None) -> Extracted:
    """The stores' rows for ``paths`` (``among``: only those positions), with the ok positions and failures."""
    first = next(iter(stores.values()))
    index = range(len(paths)) if among is None else among
    failed = {str(paths[i]): first.failed[fkeys[i]] for i in index if fkeys[i] in first.failed}
    ok = [i for i in index if fkeys[i] not in first.failed]
    feats = {
        n: torch.stack([s.rows[fkeys[i]] for i in ok]) if ok else torch.empty(0)
        for n, s in stores.items()
    }
    return feats, ok, failed


@torch.no_grad()
def _compute(backbones: Mapping[str, Backbone], stores: dict[tuple[str, str], FeatureStore], paths: list[Path],
             fkeys: list[str], todo: list[int], batcher: ImageBatcher, device: torch.device, events: Events,
             should_stop: Callable[[], bool], views_for: list[bool]) -> None:
    done = 0
    views = list(dict.fromkeys(v for v, _ in stores))
    extra = [v for v in views if v]
    batches = chunks(todo, FEATURE_BATCH)
    decoded = batcher.stream([paths[i] for i in batch] for batch in batches)
    with torch_threads(1 if onnxruntime_on_cpu(backbones.values()) else None):
        for batch, (x, ok, failed) in zip(batches, decoded):
            if should_stop():
                raise Cancelled("stopped during feature extraction")
            for i in batch:
                if str(paths[i]) in failed:
                    for s in stores.values():
                        s.failed[fkeys[i]] = failed[str(paths[i])]
                        s.dirty = True
            if x is not None:
                good = [fkeys[i] for i, flag in zip(batch, ok) if flag]
                x = x.to(device)
                own = [""] if "" in views else []  # the photo itself (absent when only views are asked for)
                _store_some(backbones, stores, own, x, good, lambda k: not _cached(stores, "", k))
                flagged = {fkeys[i] for i in batch if views_for[i]}
                _store_some(backbones, stores, extra, x, good, flagged.__contains__)
            done += len(batch)
            events.progress("features", done, len(todo))


def _cached(stores: dict[tuple[str, str], FeatureStore], view: str, key: str) -> bool:
    return all(key in s.rows for (v, _), s in stores.items() if v == view)


def _store_some(backbones: Mapping[str, Backbone], stores: dict[tuple[str, str], FeatureStore], views: list[str],
                x: torch.Tensor, keys: list[str], wanted: Callable[[str], bool]) -> None:
    """:func:`_store` for the rows of ``x`` whose key is ``wanted`` (a photo whose own features
    are cached but whose views are not computes only its views: its store is not rewritten)."""
    rows = [r for r, k in enumerate(keys) if wanted(k)] if views else []
    if rows:
        some = x if len(rows) == len(keys) else x[torch.tensor(rows, dtype=torch.long)]
        _store(backbones, stores, views, some, [keys[r] for r in rows])


def _store(backbones: Mapping[str, Backbone], stores: dict[tuple[str, str], FeatureStore], views: list[str],
           x: torch.Tensor, keys: list[str]) -> None:
    """Each view of the batch ``x`` through each backbone, one row per image into its store."""
    for view, seen in views_of(x, views):
        for name, bb in backbones.items():
            out = bb(seen).float().cpu()
            store = stores[(view, name)]
            for row, key in zip(out, keys):
                store.rows[key] = row.clone()
            store.dirty = True
