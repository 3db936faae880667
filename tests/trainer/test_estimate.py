"""Sweep estimates and run labels: what the app shows before a job and in its legends."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trainer.config import TrainConfig
from trainer.estimate import estimate_seconds, format_duration
from trainer.options import SweepGrid
from trainer.plots import run_labels
from trainer.runs import RunInfo


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


def _run(name: str, **config: object) -> RunInfo:
    base = {"model": "mobilenet_v2", "lr": 0.001, "batch_size": 8, "data": "/data/real", "weights": "imagenet"}
    return RunInfo(Path("/runs") / name, {**base, **config}, [])


def test_legends_are_unique_and_say_what_differs() -> None:
    runs = [_run("a"), _run("b", data="/x/demo-data"), _run("c", lr=0.01)]
    labels = run_labels(runs)
    assert labels == ["mobilenet_v2 lr=0.001 bs=8 · real", "mobilenet_v2 lr=0.001 bs=8 · demo-data",
                      "mobilenet_v2 lr=0.01 bs=8"]
    same = run_labels([_run("20250101-1"), _run("20250101-2")])
    assert len(set(same)) == 2
    files = run_labels([_run("a", weights={"mobilenet_v2": "/w/mb.pth"}), _run("b", image_size=96)])
    assert files == ["mobilenet_v2 lr=0.001 bs=8 · mb.pth", "mobilenet_v2 lr=0.001 bs=8 · imagenet"]


def test_a_single_epoch_run_is_a_point_on_axes_from_zero() -> None:
    from matplotlib.figure import Figure

    from trainer.plots import draw_curves

    run = _run("one")
    run.metrics = [{"epoch": 1, "train_acc": 0.25, "val_acc": 0.34, "train_loss": 1.0986, "val_loss": 1.0987}]
    fig = Figure()
    draw_curves(fig, [run])
    acc, loss = fig.axes
    assert all(line.get_marker() == "o" for line in acc.lines + loss.lines)
    assert loss.get_ylim()[0] == 0 and loss.get_ylim()[1] > 1.0987
