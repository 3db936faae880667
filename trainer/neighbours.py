"""Near-duplicates and outliers from backbone features (one k-nearest-neighbour graph).

Feature similarity alone does not separate copies from distinct photos (measured on the real
traffic-camera photos: re-encoded copies 0.66-0.93 cosine, distinct look-alikes up to 0.87),
and neither does a 64-bit perceptual hash (distinct 100 px crops of the same road differ in as
few as 1-2 bits). So nearest neighbours (in feature and in pixel space) only propose
candidates and the pixels decide: the correlation of 24x24 colour thumbnails, also with 4% and
8% centre crops of either side to catch light crops, with the features agreeing loosely. Grey
thumbnails were not enough: same-shape drawings of other colours matched. Measured on the real
photos: copies 0.998-1.0, distinct neighbours at most 0.913. Outliers follow the rule
cleanlab's Datalab applies to features: a mean distance to the k nearest neighbours above
Q3 + (1/0.37037 - 1) x IQR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.images import ImageLoadError, load_image

K = 10
CANDIDATE_SIMILARITY = 0.6  # feature cosine below which two photos are never compared
SAME_PIXELS = 0.97  # thumbnail correlation at or above which two photos are copies
ROUGHLY_SAME = 0.6  # full views of light crops correlate >= 0.77 (measured); below, no crop search
SAME_CONTENT = 0.5  # and the features must agree at least this much (copies measured >= 0.66)
THUMB = 24  # colour thumbnails THUMB x THUMB x 3
DIM = THUMB * THUMB * 3
CROPS = (0.0, 0.04, 0.08)  # centre crops tried per side (light crops of a copy)
OUTLIER_THRESHOLD = 0.37037  # cleanlab Datalab's default for feature-based outliers


@dataclass
class Neighbours:
    index: np.ndarray  # [N, k] nearest other images, nearest first
    similarity: np.ndarray  # [N, k] cosine similarity


def normalise(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Each backbone's features to unit length, concatenated, to unit length again."""
    unit = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
    x = np.concatenate(unit, axis=1)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbours(x: np.ndarray, k: int = K, block: int = 1024) -> Neighbours:
    """The ``k`` nearest other rows of unit-length ``x`` by cosine similarity (exact: blocks of
    float32 dot products, so 10,000 x 1,280 takes seconds and little memory)."""
    k = max(1, min(k, len(x) - 1))
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    index = np.empty((len(x), k), dtype=np.int64)
    similarity = np.empty((len(x), k), dtype=np.float32)
    for start in range(0, len(x), block):
        sims = x32[start:start + block] @ x32.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf  # never one's own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        index[start:start + block] = np.take_along_axis(top, order, axis=1)
        similarity[start:start + block] = np.take_along_axis(sims, index[start:start + block], axis=1)
    return Neighbours(index, similarity)


def thumbnails(path: Path) -> np.ndarray | None:
    """``[len(CROPS), DIM]`` unit-length colour thumbnails of centre crops (each channel zero-mean)."""
    from PIL import Image

    try:
        img = load_image(path, max_side=4 * THUMB)
    except ImageLoadError:
        return None
    out = []
    for c in CROPS:
        w, h = img.size
        box = (round(w * c), round(h * c), round(w * (1 - c)), round(h * (1 - c)))
        a = np.asarray(img.crop(box).resize((THUMB, THUMB), Image.Resampling.BILINEAR), dtype=np.float32)
        a = (a - a.mean(axis=(0, 1))).ravel()
        out.append(a / max(float(np.linalg.norm(a)), 1e-6))
    return np.stack(out)


def thumbnail_table(paths: Sequence[Path], cache_dir: Path | None, workers: int = 2,
                    should_stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """:func:`thumbnails` of every image, ``[N, len(CROPS), THUMB*THUMB]`` (zeros when unreadable),
    cached on disk beside the features (keyed per file by path, size and mtime)."""
    import torch

    from trainer.features import Cancelled, FeatureStore, file_key

    store = FeatureStore(cache_dir / f"thumbs-v2-{THUMB}-{len(CROPS)}.pt" if cache_dir else None)
    keys = [file_key(p) for p in paths]
    todo = [i for i, k in enumerate(keys) if k not in store.rows]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, t in zip(todo, pool.map(lambda i: None if should_stop() else thumbnails(paths[i]), todo)):
            if should_stop():
                raise Cancelled("review stopped while comparing images")
            blank = np.zeros((len(CROPS), DIM), np.float32)
            store.rows[keys[i]] = torch.from_numpy(t if t is not None else blank).half()
            store.dirty = True
    store.save()
    return np.stack([store.rows[k].float().numpy() for k in keys]) if keys else np.zeros((0, len(CROPS), DIM))


def _candidates(nb: Neighbours, thumbs: np.ndarray, k: int = 5) -> set[tuple[int, int]]:
    """Pairs worth comparing: feature neighbours, and nearest neighbours in pixel space."""
    pairs = {(min(i, int(j)), max(i, int(j))) for i in range(len(nb.index))
             for j, s in zip(nb.index[i], nb.similarity[i]) if s >= CANDIDATE_SIMILARITY}
    pixel_nb = neighbours(thumbs[:, 0], k) if len(thumbs) > 1 else None
    if pixel_nb is not None:
        pairs |= {(min(i, int(j)), max(i, int(j))) for i in range(len(thumbs)) for j in pixel_nb.index[i]}
    return pairs


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Best correlation of one side's full view with the other's crops (either way round)."""
    return float(max((a[0] @ b.T).max(), (b[0] @ a.T).max()))


def duplicate_groups(x: np.ndarray, nb: Neighbours, thumbs: np.ndarray) -> list[int | None]:
    """A group number (1, 2, ...) per image that has a near-duplicate, else None: the pixels
    agree (:data:`SAME_PIXELS`) and the unit-length features ``x`` are not far apart."""
    parent = list(range(len(thumbs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = np.array(sorted(_candidates(nb, thumbs)), dtype=np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    content = np.einsum("ij,ij->i", x[a], x[b]) >= SAME_CONTENT
    # Crops only matter when the full views already look alike: test those pairs alone.
    roughly = np.einsum("ij,ij->i", thumbs[a, 0], thumbs[b, 0]) >= ROUGHLY_SAME
    for i, j in pairs[content & roughly]:
        if pixel_similarity(thumbs[i], thumbs[j]) >= SAME_PIXELS:
            parent[find(int(i))] = find(int(j))
    return _numbered([find(i) for i in range(len(thumbs))])


def _numbered(roots: list[int]) -> list[int | None]:
    """Groups of two or more numbered 1, 2, ... in order of their first member; singles None."""
    sizes = np.bincount(roots, minlength=len(roots))
    number: dict[int, int] = {}
    out: list[int | None] = []
    for r in roots:
        if sizes[r] < 2:
            out.append(None)
            continue
        out.append(number.setdefault(r, len(number) + 1))
    return out


def outliers(nb: Neighbours) -> np.ndarray:
    """Boolean mask of outliers (Datalab's feature rule on mean k-NN distance)."""
    mean_distance = (1.0 - nb.similarity).mean(axis=1)
    q1, q3 = np.percentile(mean_distance, [25, 75])
    return mean_distance > q3 + (1.0 / OUTLIER_THRESHOLD - 1.0) * (q3 - q1)
