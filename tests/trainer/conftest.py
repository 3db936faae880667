"""Fixtures of the engine tests: one quick run of every model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import quiet_events
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.registry import list_models


@pytest.fixture(scope="session")
def model_runs(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-epoch run of each registered model (random frozen backbones, 48 px): enough for
    everything that uses a trained model without judging its accuracy."""
    out = tmp_path_factory.mktemp("model-runs")
    return {name: train(TrainConfig(data=str(demo_root), model=name, weights="none", freeze=True, epochs=1,
                                    image_size=48, out=str(out), workers=1, cache_dir=str(out / "cache")),
                        quiet_events(), lambda: False)
            for name in list_models()}


@pytest.fixture(scope="session")
def one_run(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One two-epoch MobileNetV2 run (random frozen backbone, 48 px), for tests that need any run."""
    out = tmp_path_factory.mktemp("one-run")
    return train(TrainConfig(data=str(demo_root), model="mobilenet_v2", weights="none", freeze=True, epochs=2,
                             image_size=48, out=str(out), workers=1), quiet_events(), lambda: False)
