"""The app's job arguments are valid trainer CLI arguments (one protocol, two clients)."""

from __future__ import annotations

from pathlib import Path

from trainer.cli import build_parser
from vehicleapp.commands import TrainOptions, classify_args, evaluate_args, sweep_args, train_args


def test_train_options_parse_in_the_trainer_cli() -> None:
    opts = TrainOptions(data="/d", model="ensemble", weights="none", freeze=False, lr=0.01, batch_size=4,
                        epochs=3, image_size=96, augment=True, early_stop=2, device="cpu", out="/o")
    ns = build_parser().parse_args(train_args(opts))
    got = (ns.model, ns.weights, ns.freeze, ns.lr, ns.batch_size, ns.epochs)
    assert got == ("ensemble", ["none"], False, 0.01, 4, 3)
    assert (ns.image_size, ns.augment, ns.early_stop, ns.device, ns.out, ns.events) == (96, True, 2, "cpu", "/o", True)


def test_reference_sweep_is_the_grid() -> None:
    ns = build_parser().parse_args(sweep_args(TrainOptions(data="/d")))
    assert ns.models == ["resnet50", "mobilenet_v2", "ensemble", "ensemble_regularized"]
    assert ns.lrs == [0.01, 0.001]
    assert ns.batch_sizes == [4, 8]


def test_classify_and_evaluate_args_parse() -> None:
    ns = build_parser().parse_args(classify_args(Path("/r"), Path("/f"), Path("/o.csv"), True, Path("/c")))
    got = (ns.checkpoint, ns.folder, ns.out, ns.recursive, ns.copy_to, ns.events)
    assert got == ("/r", "/f", "/o.csv", True, "/c", True)
    ns = build_parser().parse_args(evaluate_args(Path("/r"), Path("/d")))
    assert (ns.run, ns.data, ns.events) == ("/r", "/d", True)
