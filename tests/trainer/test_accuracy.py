"""Does it learn? Demo data from scratch beats chance; real photos with real weights >= 90%."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, REAL_WEIGHTS, quiet_events
from trainer import runs
from trainer.config import TrainConfig
from trainer.demo_data import make_demo_data
from trainer.engine import train


@pytest.mark.slow
def test_demo_data_from_scratch_clearly_beats_chance(tmp_path: Path) -> None:
    """No pretrained weights at all: the whole MobileNetV2 trains on 360 drawn images."""
    data = make_demo_data(tmp_path / "demo", per_class=120, size=64, seed=0)
    cfg = TrainConfig(data=str(data), model="mobilenet_v2", weights="none", lr=0.001, batch_size=16,
                      epochs=6, image_size=64, out=str(tmp_path / "runs"))
    run_dir = train(cfg, quiet_events(), lambda: False)
    best = runs.load_run(run_dir).best_val_acc
    assert best is not None and best >= 0.5, f"val acc {best} (chance is 0.33)"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_DATA.is_dir() and REAL_WEIGHTS.is_file()), reason="../shared not present")
def test_real_photos_with_shared_mobilenet_weights_reach_90_percent(tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(REAL_DATA), model="mobilenet_v2", weights=str(REAL_WEIGHTS),
                      epochs=15, out=str(tmp_path / "runs"))
    run_dir = train(cfg, quiet_events(), lambda: False)
    info = runs.load_run(run_dir)
    assert info.config["frozen"] == ["mobilenet_v2"] and info.config["cached_features"]
    assert info.metrics[-1]["val_acc"] >= 0.90, info.metrics[-1]
