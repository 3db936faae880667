"""What the reference sweep will do, said before it starts: runs, estimated time, skipped models.

No Qt: the Train page asks the user to confirm :meth:`SweepPlan.summary`. A model is skipped
when one of its backbones has no usable weights (the engine skips such a model too, with a
warning, should the GUI not know it yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.config import TrainConfig
from trainer.estimate import estimate_seconds, format_duration
from trainer.options import SweepGrid
from trainer.registry import BACKBONES, MODELS


@dataclass(frozen=True)
class SweepPlan:
    grid: SweepGrid  # only the models that can run
    base: TrainConfig
    images: int
    skipped: dict[str, str] = field(default_factory=dict)  # model -> why

    @property
    def runs(self) -> int:
        return len(self.grid)

    def seconds(self) -> float:
        return estimate_seconds(self.grid.configs(self.base), self.images)

    def summary(self) -> str:
        """The confirmation's text: run count, what each run is, time, and what is skipped."""
        titles = ", ".join(MODELS[m].title for m in self.grid.models)
        lines = [
            f"{self.runs} runs: {titles} × learning rates {', '.join(f'{x:g}' for x in self.grid.lrs)} "
            f"× batch sizes {', '.join(map(str, self.grid.batch_sizes))}, {self.base.epochs} epochs each, "
            f"on {self.images} photos.",
            f"Estimated time: {format_duration(self.seconds())} on an ordinary CPU (much less with a GPU).",
        ]
        by_reason: dict[str, list[str]] = {}
        for model, why in self.skipped.items():
            by_reason.setdefault(why, []).append(MODELS[model].title)
        lines += [f"\nSkipped: {', '.join(titles)} — {why}." for why, titles in by_reason.items()]
        return "\n".join(lines)


def plan_sweep(base: TrainConfig, problems: dict[str, str], images: int,
               grid: SweepGrid | None = None) -> SweepPlan:
    """The reference grid less the models with a backbone in ``problems`` ({backbone: why})."""
    grid = grid or SweepGrid()
    skipped = {}
    for model in grid.models:
        bad = [b for b in MODELS[model].backbones if b in problems]
        if bad:
            skipped[model] = "; ".join(f"no usable {BACKBONES[b].title} weights: {problems[b]}" for b in bad)
    keep = tuple(m for m in grid.models if m not in skipped)
    return SweepPlan(SweepGrid(keep, grid.lrs, grid.batch_sizes), base, images, skipped)
