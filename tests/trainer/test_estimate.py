"""Sweep estimates: what the app shows before a job."""

from __future__ import annotations

import dataclasses

from trainer.config import TrainConfig
from trainer.estimate import estimate_seconds, format_duration
from trainer.options import SweepGrid


def test_cached_features_are_paid_once_per_backbone_across_a_sweep() -> None:
    base = TrainConfig(data="/d", epochs=15, image_size=96)
    one = estimate_seconds([base], 300)
    sweep = SweepGrid(("mobilenet_v2",)).configs(base)
    assert len(sweep) == 4
    assert one < estimate_seconds(sweep, 300) < 4 * one  # features once, four heads
    trained = dataclasses.replace(base, freeze=False)
    assert estimate_seconds([trained], 300) > 10 * one  # every epoch runs the backbone
    resnet = dataclasses.replace(base, model="resnet50")
    assert estimate_seconds([resnet], 300) > estimate_seconds([base], 300)
    tuned = dataclasses.replace(base, fine_tune=5)
    assert estimate_seconds([tuned], 300) > 3 * one  # fine-tuning trains the backbone on photos


def test_durations_read_as_words() -> None:
    assert format_duration(12) == "about 10 s"
    assert format_duration(600) == "about 10 min"
    assert format_duration(3 * 3600) == "about 3.0 h"
