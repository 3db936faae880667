"""``python -m trainer`` / ``trainer``: every engine capability from a terminal.

Exit codes: 0 ok, 1 failed, 2 bad usage or unusable input, 3 cancelled.
With ``--events`` a job writes one JSON object per line on stdout (the app's protocol).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 3
REFERENCE_LRS = (0.01, 0.001)
REFERENCE_BATCHES = (4, 8)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _weights_arg(values: list[str] | None) -> dict[str, str] | str:
    """``--weights SPEC`` for all backbones, or ``--weights BACKBONE=SPEC`` per backbone."""
    from trainer.models import BACKBONES

    if not values:
        return "imagenet"
    per: dict[str, str] = {}
    for v in values:
        name, sep, spec = v.partition("=")
        if sep and name in BACKBONES:
            per[name] = spec
        elif len(values) == 1:
            return v
        else:
            raise ValueError(f"--weights {v!r}: with several --weights use BACKBONE=SPEC")
    return per


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--weights", action="append", metavar="SPEC",
                   help="imagenet | none | PATH, or BACKBONE=SPEC per backbone (repeatable)")
    g.add_argument("--freeze", action=argparse.BooleanOptionalAction, default=None,
                   help="freeze backbones (default: pretrained frozen, random trained)")
    g.add_argument("--epochs", type=int, default=15)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    g.add_argument("--early-stop", type=int, default=0, metavar="N",
                   help="stop after N epochs without val-loss improvement (0: off)")
    g.add_argument("--augment", action="store_true", help="random crops/flips/colour (no cache)")
    g.add_argument("--balance", default="none", choices=["none", "sampler", "loss"])
    g.add_argument("--image-size", type=int, default=None, metavar="PX")
    g.add_argument("--val-fraction", type=float, default=0.2)
    g.add_argument("--no-cache", action="store_true", help="decode images every epoch")
    g.add_argument("--cache-dir", default=None)
    g.add_argument("--out", default="checkpoints", help="folder for run folders")
    g.add_argument("--workers", type=int, default=2, help="image decoding threads")
    g.add_argument("--plateau-patience", type=int, default=3)
    g.add_argument("--events", action="store_true", help="JSON lines on stdout")


def _train_config(args: argparse.Namespace):  # noqa: ANN202 - TrainConfig (lazy import)
    from trainer.config import TrainConfig

    return TrainConfig(
        data=args.data, model=getattr(args, "model", "mobilenet_v2"),
        weights=_weights_arg(args.weights), freeze=args.freeze,
        lr=getattr(args, "lr", 1e-3), batch_size=getattr(args, "batch_size", 8),
        epochs=args.epochs, seed=args.seed, device=args.device, early_stop=args.early_stop,
        augment=args.augment, balance=args.balance, image_size=args.image_size,
        val_fraction=args.val_fraction, cache=not args.no_cache, cache_dir=args.cache_dir,
        out=args.out, workers=args.workers, plateau_patience=args.plateau_patience,
    )


def _events(args: argparse.Namespace):  # noqa: ANN202 - Events
    from trainer.events import Events, human, json_lines

    return Events([json_lines(sys.stdout) if getattr(args, "events", False) else human(sys.stderr)])


# -- commands ----------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.models import MODELS

    for name in sorted(MODELS):
        spec = MODELS[name]
        print(f"{name:<22} backbones: {'+'.join(spec.backbones):<24} {spec.description}")
    return EXIT_OK


def cmd_demo_data(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.demo_data import make_demo_data

    out = make_demo_data(args.out, args.per_class, args.size, args.seed, args.splits)
    print(f"wrote {args.per_class} images per class (car, truck, motorcycle) to {out}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.engine import train

    if args.resume:
        return _resume(args, stop)
    run_dir = train(_train_config(args), _events(args), stop)
    if not args.events:
        print(run_dir)
    return EXIT_OK


def _resume(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer import runs
    from trainer.atomic import read_json
    from trainer.config import TrainConfig
    from trainer.engine import train

    run_dir = Path(args.resume)
    if not (run_dir / runs.LAST).is_file():
        raise FileNotFoundError(f"--resume: no {runs.LAST} in {run_dir}")
    cfg = TrainConfig.from_dict(read_json(run_dir / runs.CONFIG))
    if args.epochs_given:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    train(cfg, _events(args), stop, resume=run_dir)
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.engine import train

    base = _train_config(args)
    grid = [(m, lr, bs) for m in args.models for lr in args.lrs for bs in args.batch_sizes]
    events = _events(args)
    for i, (model, lr, bs) in enumerate(grid):
        events.context = {"sweep_index": i + 1, "sweep_total": len(grid)}
        cfg = dataclasses.replace(base, model=model, lr=lr, batch_size=bs)
        run_dir = train(cfg, events, stop)
        events.sinks = events.sinks[:1]  # drop the finished run's events.jsonl sink
        if not args.events:
            print(run_dir)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    import json

    from trainer.engine import pick_device
    from trainer.evaluate import evaluate_run
    from trainer.metrics import format_report

    rep = evaluate_run(args.run, args.data, _events(args), stop, args.split,
                       pick_device(args.device))
    if args.json:
        print(json.dumps(rep, indent=2))
    elif not args.events:
        print(format_report(rep))
    return EXIT_OK


def cmd_plot(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.plots import plot_runs

    print(plot_runs(args.runs, args.out))
    return EXIT_OK


def cmd_classify(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.csvfile import read_predictions
    from trainer.engine import pick_device
    from trainer.files import copy_by_label
    from trainer.predict import classify_folder

    events = _events(args)
    summary = classify_folder(args.checkpoint, args.folder, args.out, events, stop,
                              args.recursive, pick_device(args.device), args.workers)
    if args.copy_to:
        _, rows = read_predictions(args.out)
        n = copy_by_label(list(rows), Path(args.folder).resolve(), Path(args.copy_to))
        events.emit("copied", count=n, dest=str(args.copy_to))
    if not args.events:
        counts = ", ".join(f"{k}={v}" for k, v in summary["counts"].items())
        print(f"{summary['rows']} rows -> {args.out} ({counts}; {summary['errors']} unreadable)")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.checkpoint import export_checkpoint

    print(export_checkpoint(args.run, args.out))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Generate the demo data if needed and train a model on it: the product's main job."""
    from trainer.config import TrainConfig, demo_data_dir
    from trainer.demo_data import make_demo_data
    from trainer.engine import train

    data = Path(args.data) if args.data else demo_data_dir()
    say = sys.stderr if args.events else sys.stdout  # stdout carries only JSON with --events
    if not any(data.glob("*/*.jpg")):
        make_demo_data(data, per_class=args.per_class)
        print(f"demo dataset written to {data}", file=say)
    weights = _demo_weights()
    cfg = TrainConfig(data=str(data), model=args.model, weights=weights, epochs=args.epochs,
                      image_size=args.image_size, out=args.out, lr=args.lr,
                      batch_size=args.batch_size)
    run_dir = train(cfg, _events(args), stop)
    print(f"run folder: {run_dir}\nnext: trainer plot {run_dir} --out curves.png; "
          f"trainer classify {run_dir} FOLDER --out predictions.csv", file=say)
    return EXIT_OK


def _demo_weights() -> str:
    """ImageNet when torch has (or can fetch) it, else random init with a notice."""
    from trainer.models import BACKBONES
    from trainer.weights import imagenet_available

    if imagenet_available(BACKBONES["mobilenet_v2"].imagenet):
        return "imagenet"
    print("no internet and no cached ImageNet weights: training MobileNetV2 from scratch "
          "(--weights none); with ImageNet weights it is faster and more accurate", file=sys.stderr)
    return "none"


# -- parser ------------------------------------------------------------------------------
def build_parser() -> Parser:
    parser = Parser(prog="trainer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("models", help="list the models").set_defaults(func=cmd_models)

    p = sub.add_parser("demo-data", help="write the synthetic demo dataset")
    p.add_argument("out")
    p.add_argument("--per-class", type=int, default=60)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--splits", action="store_true", help="write train/val/test folders")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("train", help="train one model")
    p.add_argument("data")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    _add_train_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sweep", help="train a grid of models x learning rates x batch sizes")
    p.add_argument("data")
    p.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2", "ensemble",
                                                   "ensemble_regularized"])
    p.add_argument("--lrs", nargs="+", type=float, default=list(REFERENCE_LRS))
    p.add_argument("--batch-sizes", nargs="+", type=int, default=list(REFERENCE_BATCHES))
    _add_train_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("evaluate", help="accuracy, per-class P/R/F1 and confusion matrix")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("data")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "test", "all"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--events", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("plot", help="PNG of accuracy/loss curves of one or more runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="curves.png")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("classify", help="classify a folder of images into a CSV")
    p.add_argument("checkpoint", help="run folder or checkpoint file")
    p.add_argument("folder")
    p.add_argument("--out", default="predictions.csv")
    p.add_argument("--recursive", action="store_true")
    p.add_argument("--copy-to", metavar="DIR", help="also copy images into DIR/<label>/")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--events", action="store_true")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("export", help="write one standalone checkpoint file")
    p.add_argument("run")
    p.add_argument("out")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="make the demo data and train on it (quick start)")
    p.add_argument("--data", default=None, help="default: the user data folder")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--per-class", type=int, default=60)
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--events", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def _lower_priority() -> None:
    """``TRAINER_NICE=N`` (set by the desktop app) lowers this job's CPU priority so the GUI
    that started it stays responsive on machines with few cores."""
    import os

    nice = os.environ.get("TRAINER_NICE")
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(ValueError, OSError):
            os.nice(int(nice))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _lower_priority()
    args.epochs_given = "--epochs" in argv
    from trainer.stopping import StopFlag

    stop = StopFlag().install()
    return run_command(args, stop)


def run_command(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Run ``args.func`` and map outcomes to exit codes and one-line messages."""
    from trainer.features import Cancelled

    try:
        return args.func(args, stop)
    except Cancelled as exc:
        if not getattr(exc, "reported", False):
            _report(args, "cancelled", str(exc))
        return EXIT_CANCELLED
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        _report(args, "error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _report(args, "cancelled", "interrupted")
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: report, exit 1
        traceback.print_exc(file=sys.stderr)
        _report(args, "error", f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED


def _report(args: argparse.Namespace, kind: str, message: str) -> None:
    sys.stderr.write(f"trainer {args.command}: {kind}: {message}\n")
    if getattr(args, "events", False):
        from trainer.events import json_lines

        json_lines(sys.stdout)({"event": kind, "message": message})
