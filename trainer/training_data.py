"""A run's data, ready for the loop (Lightning's DataModule): every split as cached
backbone features or as image paths, with unreadable files found, reported and left out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from trainer import datasets
from trainer.batches import ImageBatcher
from trainer.data import SplitData
from trainer.datasets import Dataset
from trainer.events import Events
from trainer.features import Backbone, Cancelled, extract_views
from trainer.images import find_unreadable
from trainer.pathtext import for_display, relative_text

SKIPPED = "skipped.txt"


class TrainingData:
    """Turns a scanned :class:`Dataset` into :class:`SplitData` per split."""

    def __init__(self, ds: Dataset, run_dir: Path, events: Events, should_stop: Callable[[], bool],
                 workers: int) -> None:
        self.ds, self.run_dir, self.events, self.should_stop, self.workers = ds, run_dir, events, should_stop, workers

    def features(self, backbones: Mapping[str, Backbone], keys: dict[str, str], batcher: ImageBatcher,
                 device: torch.device, cache_dir: Path,
                 views: Mapping[str, dict[str, str]] | None = None) -> dict[str, SplitData]:
        """Splits as rows of frozen-backbone features (computed once per image, cached on disk).
        ``views`` (view -> backbone -> cache key): test-time augmentation views of the validation
        photos the run chooses its mode on, computed in the same pass (each photo decoded once)
        and left in the cache. Test photos get only the chosen mode's views, later."""
        paths = self.paths()
        cache_dir.mkdir(parents=True, exist_ok=True)
        chosen_on = [split == "val" for _, split in self.ds.members()]  # in the order of paths()
        feats, ok, failed = extract_views(backbones, {"": keys, **(views or {})}, paths, batcher, device, cache_dir,
                                          self.events, self.should_stop, chosen_on)[""]
        self._skip(failed)
        row_of = {i: r for r, i in enumerate(ok)}
        out = {}
        for name, index in self._kept(failed).items():
            rows = torch.tensor([row_of[i] for i in index], dtype=torch.long)
            out[name] = SplitData(name, self._labels(index), feats={n: f[rows] for n, f in feats.items()},
                                  paths=[paths[i] for i in index])
        return out

    def images(self) -> dict[str, SplitData]:
        """Splits as image files decoded every epoch (each file checked once first)."""
        paths = self.paths()
        failed = find_unreadable(paths, self.workers, self._check_progress(len(paths)))
        self._skip(failed)
        return {name: SplitData(name, self._labels(index), paths=[paths[i] for i in index])
                for name, index in self._kept(failed).items()}

    def paths(self) -> list[Path]:
        return [s.path for s in self.ds.all_samples()]

    def _kept(self, failed: dict[str, str]) -> dict[str, list[int]]:
        """Per split, the positions in :meth:`paths` of its readable samples."""
        out, offset = {}, 0
        for name, split in self.ds.splits.items():
            out[name] = [offset + j for j, s in enumerate(split) if str(s.path) not in failed]
            offset += len(split)
        return out

    def _labels(self, index: list[int]) -> torch.Tensor:
        samples = self.ds.all_samples()
        return torch.tensor([samples[i].label for i in index], dtype=torch.long)

    def _check_progress(self, total: int) -> Callable[[int], None]:
        def on_progress(done: int) -> None:
            if self.should_stop():
                raise Cancelled("stopped while checking images")
            self.events.progress("check", done, total)

        return on_progress

    def _skip(self, failed: dict[str, str]) -> None:
        """Report unreadable files (``skipped.txt`` and warnings), then check what is left."""
        if failed:
            lines = [f"{relative_text(Path(p), self.ds.root)}: {for_display(r)}" for p, r in sorted(failed.items())]
            (self.run_dir / SKIPPED).write_text("\n".join(lines) + "\n", encoding="utf-8")
            for line in lines:
                self.events.warning(f"skipped {line}")
        datasets.check_usable(self.ds, failed)
