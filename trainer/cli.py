"""``python -m trainer`` / ``trainer``: every engine capability from a terminal.

Exit codes, statuses and event kinds are defined in :mod:`trainer.protocol`. With
``--events`` a job writes one JSON object per line on stdout and its result (run folder,
CSV path, report) is in the ``done`` event; without it, the result's path is the last
line of stdout. The training options are generated from :class:`trainer.config.TrainConfig`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from trainer.config import (
    BACKEND_CHOICES,
    DECODE_POOLS,
    DEFAULT_RUNS_DIR,
    DEVICE_CHOICES,
    MAX_IMAGE_SIZE,
    MIN_IMAGE_SIZE,
    PRECISION_CHOICES,
    TTA_OVERRIDES,
    TrainConfig,
)
from trainer.layout import SPLIT_ALIASES, SPLIT_NAMES
from trainer.options import add_config_arguments, add_grid_arguments, config_from_args, grid_from_args, own_weights
from trainer.protocol import (
    MODEL_SUFFIXES,
    STOP_ON_STDIN,
    Event,
    Exit,
    MissingDependency,
    UsageError,
    VerificationFailed,
    is_onnx,
    report_line,
)
from trainer.registry import list_models

if TYPE_CHECKING:
    from trainer.events import Events

log = logging.getLogger("trainer.cli")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit code 2 and no abbreviations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise ArgumentsRefused(message)


class ArgumentsRefused(SystemExit):
    """A command line argparse refused (exit code 2); :func:`main` also reports it as an event."""

    def __init__(self, message: str) -> None:
        super().__init__(Exit.USAGE)
        self.message = message


def _events(args: argparse.Namespace) -> Events:
    from trainer.events import Events, human, json_lines

    return Events([json_lines(sys.stdout) if getattr(args, "events", False) else human(sys.stderr)])


def _result(args: argparse.Namespace, path: object) -> None:
    """Without ``--events`` a command's result path is the last line of stdout."""
    if not getattr(args, "events", False):
        print(path)


# -- commands ----------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.registry import MODELS

    for name in sorted(MODELS):
        spec = MODELS[name]
        print(f"{name:<22} backbones: {'+'.join(spec.backbones):<24} {spec.description}")
    return Exit.OK


def cmd_runs(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """List the run folders under DIR, damaged ones with the reason (nothing is changed)."""
    import json

    from trainer.runs import find_checkpoint, list_runs

    folder = Path(args.dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: runs folder not found")
    found = list_runs(folder)
    usable = {r.path: not r.problem and find_checkpoint(r.path) is not None for r in found}  # damaged: unread
    if args.json:
        print(json.dumps([{"path": str(r.path), "name": r.name, "status": r.status, "problem": r.problem,
                           "model": r.config.get("model"), "epochs": len(r.metrics),
                           "best_val_acc": r.best_val_acc, "checkpoint": usable[r.path]} for r in found], indent=2))
        return Exit.OK
    for r in found:
        acc = "" if r.best_val_acc is None else f"best val acc {r.best_val_acc:.1%}"
        if r.problem:
            print(f"{r.name}  damaged: {r.problem}")
        else:
            none = "" if usable[r.path] or r.status == "running" else "no checkpoint: nothing to use or resume"
            print("  ".join(filter(None, (r.name, f"{r.status:<9}", f"{r.config.get('model', '?')}, "
                                          f"{len(r.metrics)} epochs", acc, none))))
    damaged = sum(1 for r in found if r.problem)
    print(f"{len(found)} runs in {folder}" + (f", {damaged} damaged" if damaged else ""), file=sys.stderr)
    return Exit.OK


def cmd_demo_data(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.demo_data import CLASSES, make_demo_data

    out = make_demo_data(args.out, args.per_class, args.size, args.seed, args.splits)
    print(f"wrote {args.per_class} images per class ({', '.join(CLASSES)}) to {out}", file=sys.stderr)
    _result(args, out)
    return Exit.OK


def cmd_train(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    if args.resume:
        return _resume(args, stop)
    if not args.data:
        raise UsageError("give the dataset folder DATA (or --resume RUN_DIR to continue a stopped run)")
    return _train(config_from_args(args), args, stop)


def _train(cfg: TrainConfig, args: argparse.Namespace, stop: Callable[[], bool], resume: Path | None = None) -> int:
    """One process, or ``--nproc N`` DDP workers under torchrun (:mod:`trainer.launch`,
    :mod:`trainer.distributed`) when the training decodes photos."""
    from trainer import distributed
    from trainer.engine import train

    if distributed.is_worker():
        _result(args, distributed.train_worker(cfg, _events(args), stop, resume))
        return Exit.OK
    events = _events(args)
    if cfg.nproc > 1 or args.nnodes > 1:
        reason = distributed.single_process_reason(cfg)
        if reason is None:
            from trainer.launch import Launcher, check_gpus, launch

            check_gpus(cfg.device, cfg.nproc)
            code, run_dir = launch(args.argv, Launcher.from_args(args, cfg.nproc), args.events, stop)
            if run_dir is not None:
                _result(args, run_dir)
            return code
        events.warning(f"--nproc {cfg.nproc}: training in one process: {reason}")
    _result(args, train(cfg, events, stop, resume))
    return Exit.OK


def _given(argv: Sequence[str], option: str) -> bool:
    return any(a == option or a.startswith(option + "=") for a in argv)


def _resume(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer import runs
    from trainer.atomic import read_json

    run_dir = Path(args.resume)
    if not (run_dir / runs.CONFIG).is_file():
        raise UsageError(f"--resume: {run_dir} is not a run folder (no {runs.CONFIG})")
    if not (run_dir / runs.LAST).is_file():
        raise UsageError(f"--resume: {run_dir} has no {runs.LAST}: it stopped before its first epoch ended, so "
                         "there is nothing to resume; train it again")
    cfg = TrainConfig.from_dict(read_json(run_dir / runs.CONFIG))
    if args.data and not _same_folder(args.data, cfg.data):
        raise UsageError(f"--resume continues {run_dir.name} on its own data ({cfg.data}), not {args.data}: "
                         "leave DATA out, or train a new run on it")
    if _given(args.argv, "--epochs"):
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    return _train(cfg, args, stop, resume=run_dir)


def _same_folder(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False


def cmd_sweep(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Train every grid point; a model whose weights cannot load is skipped with a warning."""
    from trainer.engine import train
    from trainer.weights import WeightsError

    grid = grid_from_args(args)
    events = _events(args)
    if args.nproc > 1:
        events.warning(f"--nproc {args.nproc}: a sweep trains each run in one process")
        args.nproc = 1
    trained, skipped = 0, []
    for i, cfg in enumerate(grid.configs(config_from_args(args))):
        events.context = {"sweep_index": i + 1, "sweep_total": len(grid)}
        try:
            run_dir = train(own_weights(cfg), events, stop)
        except WeightsError as exc:  # raised before the run folder exists
            skipped.append(cfg.model)
            events.warning(f"skipped {cfg.model} lr={cfg.lr:g} bs={cfg.batch_size}: {_first_line(exc)}",
                           skipped=cfg.model)
            continue
        finally:
            events.sinks = events.sinks[:1]  # drop the finished run's events.jsonl sink
        trained += 1
        _result(args, run_dir)
    if not trained and skipped:
        raise WeightsError(f"no run of the sweep could start: no usable weights for {', '.join(sorted(set(skipped)))}")
    return Exit.OK


def cmd_search(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.options import weights_from_args
    from trainer.search import format_leaderboard, run_search

    events = _events(args)
    board: list[dict[str, Any]] = []
    events.sinks.append(lambda e: board.__setitem__(slice(None), e.get("leaderboard", board)))
    run_dir = run_search(args.data, args.budget, args.out, weights_from_args(args.weights), events, stop,
                         args.image_size, args.workers, args.device, args.resume)
    if not args.events:
        print(format_leaderboard(board), file=sys.stderr)
    _result(args, run_dir)
    return Exit.OK


def cmd_check_weights(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Which backbones a weights file fits (the app asks this instead of importing torch)."""
    from trainer.models import weights_fit

    fit = weights_fit(args.file)
    if args.events:
        _events(args).emit(Event.DONE, message="checked", fit=fit)
    for name, f in fit.items():
        line = f"{name}: {f['matched']} of {f['total']} tensors" if f["matched"] else f"{name}: no — {f['reason']}"
        print(line, file=sys.stdout if not args.events else sys.stderr)
    return Exit.OK


def cmd_evaluate(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    import json

    from trainer.engine import pick_device
    from trainer.evaluate import evaluate_run
    from trainer.metrics import format_report

    events = _events(args)
    _warn_unfinished(args.run, events)
    rep = evaluate_run(args.run, args.data, events, stop, args.split, pick_device(args.device), args.tta,
                       args.backend, args.precision)
    if args.json:
        print(json.dumps(rep, indent=2))
    elif not args.events:
        print(format_report(rep))
    return Exit.OK


def cmd_plot(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.plots import plot_runs

    print(plot_runs(args.runs, args.out))
    return Exit.OK


def cmd_classify(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.csvfile import read_predictions
    from trainer.datalock import locked
    from trainer.engine import pick_device
    from trainer.files import copy_by_label
    from trainer.predict import classify_folder

    events = _events(args)
    _warn_unfinished(args.checkpoint, events)
    with contextlib.ExitStack() as stack:
        if args.copy_to:  # refuse at once, not after classifying, when someone labels DEST
            Path(args.copy_to).mkdir(parents=True, exist_ok=True)
            stack.enter_context(locked(args.copy_to, "trainer classify --copy-to"))
        if args.engine == "ray":
            summary = _classify_on_ray(args, events, stop)
        else:
            summary = classify_folder(args.checkpoint, args.folder, args.out, events, stop,
                                      args.recursive, pick_device(args.device), args.workers, args.threshold,
                                      args.unlabeled, args.tta, args.backend, args.precision, args.decode)
        if args.copy_to:
            _, rows = read_predictions(args.out)
            n = copy_by_label(rows, Path(args.folder).resolve(), Path(args.copy_to), "trainer classify --copy-to")
            events.emit(Event.COPIED, count=n, dest=str(args.copy_to))
    if not args.events:
        counts = ", ".join(f"{k}={v}" for k, v in summary["counts"].items())
        unknown = f"unknown below confidence {summary['threshold']:.3f}" if summary["threshold"] else "unknown off"
        print(f"{summary['rows']} rows ({counts}; {summary['errors']} unreadable; {unknown})", file=sys.stderr)
    _result(args, args.out)
    return Exit.OK


def _warn_unfinished(source: str, events: Events) -> None:
    """A half-trained run is used with a warning, not silently (an .onnx file says nothing)."""
    from trainer.runs import unfinished_note

    note = "" if is_onnx(source) else unfinished_note(source)
    if note:
        events.warning(note)


def _classify_on_ray(args: argparse.Namespace, events: Events, stop: Callable[[], bool]) -> dict:
    """``--engine ray``: the same CSV, computed by an actor pool on Ray (:mod:`trainer.ray_classify`)."""
    from trainer.ray_classify import RaySettings, classify_on_ray

    options = {"backend": args.backend, "precision": args.precision}  # each actor chooses on its node alike
    return classify_on_ray(args.checkpoint, args.folder, args.out, events, stop,
                           RaySettings(address=args.address, actors=args.actors, scorer_options=options),
                           args.recursive, args.device, args.workers, args.threshold, args.unlabeled, args.tta)


def cmd_review(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.engine import pick_device
    from trainer.options import weights_from_args
    from trainer.review import from_run, from_weights, review_dataset

    if args.run and args.model:
        raise UsageError("give either --run RUN or --model NAME [--weights SPEC], not both")
    if args.run:
        backbones = from_run(args.run)
        backbones.seed = backbones.seed if args.seed is None else args.seed
    else:
        backbones = from_weights(args.model or "mobilenet_v2", weights_from_args(args.weights), args.image_size,
                                 args.seed or 0)
    review_dataset(args.data, backbones, args.out, _events(args), stop, args.folds, pick_device(args.device),
                   args.workers, Path(args.cache_dir) if args.cache_dir else None)
    _result(args, args.out)
    return Exit.OK


def cmd_threshold(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Show, set or undo the rejection threshold stored in a run's checkpoint."""
    from trainer import checkpoint

    if args.undo and args.value is not None:
        raise UsageError("give a new threshold or --undo, not both")
    from trainer.exports import stale_exports, stale_words

    if args.undo:
        trust = checkpoint.undo_threshold(args.run)
    elif args.value is not None:
        trust = checkpoint.set_threshold(args.run, args.value)
    else:
        trust = checkpoint.read_trust(args.run)
    changed = args.undo or args.value is not None
    stale = stale_exports(checkpoint.resolve(args.run), trust.threshold) if changed else []
    events = _events(args)
    if stale:  # the files shipped before still answer by the old threshold
        events.warning(stale_words(stale, trust.threshold), stale_exports=[e["path"] for e in stale])
    if args.events:
        events.emit(Event.DONE, message=f"threshold {trust.threshold:g}", trust=trust.to_dict(),
                    stale_exports=[e["path"] for e in stale])
    else:
        print(f"temperature {trust.temperature:.4g}, score {trust.score}, undo steps {len(trust.previous)}",
              file=sys.stderr)
        print(f"{trust.threshold:g}")
    return Exit.OK


def cmd_explain(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.engine import pick_device
    from trainer.explain import explain

    summary = explain(args.run, args.inputs, args.out, _events(args), stop, args.target, pick_device(args.device))
    _result(args, summary["out"])
    return Exit.OK


def cmd_ensemble(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from trainer.run_ensemble import make_ensemble

    run_dir = make_ensemble(args.runs, args.out, _events(args), stop, args.weighting, args.workers)
    _result(args, run_dir)
    return Exit.OK


def cmd_export(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """``OUT.onnx``: an ONNX model verified against PyTorch; any other name: one standalone checkpoint."""
    from trainer.checkpoint import export_checkpoint, read_trust, resolve
    from trainer.exports import record_export

    source = resolve(args.run)
    events = _events(args)
    _warn_unfinished(args.run, events)
    if not is_onnx(args.out):
        out = export_checkpoint(source, args.out)
        record_export(source, out, read_trust(source).threshold)
        if args.events:
            events.emit(Event.DONE, message=f"exported {out}", out=str(out))
        _result(args, out)
        return Exit.OK
    from trainer.onnx_export import export_onnx
    from trainer.runs import bf16_features

    if bf16_features(source):
        events.warning("this run's features were computed in bf16 (the fastest choice on this machine); the ONNX "
                       "model computes in fp32, so its confidences can differ by a few points from the run's own")
    parity = export_onnx(source, args.out, events, args.tta)
    record_export(source, Path(args.out), read_trust(source).threshold)
    events.emit(Event.DONE, message=f"exported {args.out}; {parity.text()}", out=str(args.out),
                parity=dataclasses.asdict(parity))
    _result(args, args.out)
    return Exit.OK


def cmd_demo(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Generate the demo data if needed and train a model on it: the product's main job."""
    from trainer.config import demo_data_dir
    from trainer.demo_data import make_demo_data
    from trainer.engine import train
    from trainer.options import weights_from_args

    data = Path(args.data) if args.data else demo_data_dir()
    if not any(data.glob("*/*.jpg")):
        make_demo_data(data, per_class=args.per_class)
        print(f"demo dataset written to {data}", file=sys.stderr)
    weights = weights_from_args(args.weights) if args.weights else _demo_weights(args.model)
    cfg = TrainConfig(data=str(data), model=args.model, weights=weights, epochs=args.epochs,
                      image_size=args.image_size, out=args.out, lr=args.lr, batch_size=args.batch_size)
    run_dir = train(cfg, _events(args), stop)
    print(f"next: trainer plot {run_dir} --out curves.png; "
          f"trainer classify {run_dir} FOLDER --out predictions.csv; vehicleapp {data}", file=sys.stderr)
    _result(args, run_dir)
    return Exit.OK


def _demo_weights(model: str) -> str:
    """ImageNet when torch has (or can fetch) it, else random init with a notice."""
    from trainer.models import get_spec, imagenet_weights
    from trainer.weights import imagenet_available

    if all(imagenet_available(imagenet_weights(b)) for b in get_spec(model).backbones):
        return "imagenet"
    print(f"no internet and no cached ImageNet weights: training {model} from scratch "
          "(--weights none); pretrained weights make it faster and far more accurate: "
          f"trainer demo --weights {get_spec(model).backbones[0]}=FILE.pth", file=sys.stderr)
    return "none"


# -- parser ------------------------------------------------------------------------------
def _events_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", action="store_true",
                   help="JSON lines on stdout (the app's protocol); the result is in the done event")
    p.add_argument(STOP_ON_STDIN, action="store_true",
                   help="stop within one batch (saving, exit code 3) on a 'stop' line on stdin or when "
                        "stdin closes: the portable stop, no signal needed (the app uses it)")


def _launcher_flags(p: argparse.ArgumentParser) -> None:
    """torchrun's placement, passed through for --nproc training on several machines."""
    group = p.add_argument_group("several machines (with --nproc; passed to torchrun)")
    group.add_argument("--nnodes", type=_int_in(1), default=1, metavar="N", help="machines taking part (default 1)")
    group.add_argument("--node-rank", type=_int_in(0), default=0, metavar="R", help="this machine's number, 0..N-1")
    group.add_argument("--master-addr", default="127.0.0.1", metavar="HOST", help="machine 0's address")
    group.add_argument("--master-port", type=_int_in(1, 65535), default=29500, metavar="PORT",
                       help="a free port on machine 0")


def _device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where to compute: auto uses a GPU when there is one (default: auto)")


def build_parser() -> Parser:
    parser = Parser(prog="trainer", description=__doc__.splitlines()[0].replace("``", ""))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("models", help="list the models").set_defaults(func=cmd_models)
    _demo_data_parser(sub.add_parser("demo-data", help="write the synthetic demo dataset"))

    p = sub.add_parser("train", help="train one model")
    add_config_arguments(p, data_optional=True)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a stopped run from its last checkpoint, on its own data and settings (DATA "
                   "may be left out; --epochs sets a new target)")
    _launcher_flags(p)
    _events_flag(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sweep", help="train a grid of models x learning rates x batch sizes")
    add_config_arguments(p, skip=("model", "lr", "batch_size"))
    add_grid_arguments(p)
    _events_flag(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("check-weights", help="which backbones a weights file fits")
    p.add_argument("file")
    _events_flag(p)
    p.set_defaults(func=cmd_check_weights)

    p = sub.add_parser("runs", help="list the run folders, damaged ones with the reason")
    p.add_argument("dir", nargs="?", default=DEFAULT_RUNS_DIR, help=f"runs folder (default: {DEFAULT_RUNS_DIR})")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    _evaluate_parser(sub.add_parser("evaluate", help="accuracy, per-class P/R/F1 and confusion matrix"))
    p = sub.add_parser("plot", help="PNG of accuracy/loss curves of one or more runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="curves.png", type=_output_file(".png", ".pdf", ".svg"),
                   help="the chart file (default curves.png)")
    p.set_defaults(func=cmd_plot)
    _classify_parser(sub.add_parser(
        "classify", help="classify a folder of images into a CSV", epilog=CSV_COLUMNS))

    _review_parser(sub.add_parser("review", help="rank likely label errors, near-duplicates and outliers"))
    _explain_parser(sub.add_parser("explain", help="heatmaps of where the model looked (Grad-CAM), one PNG "
                                    "per photo"))
    _threshold_parser(sub.add_parser("threshold", help="show, set or undo the confidence below which "
                                      "a run answers 'unknown'"))
    p = sub.add_parser("search", help="find the best model the data allows within a time budget (frozen heads, "
                       "fine-tuning, test-time augmentation, an ensemble)")
    p.add_argument("data", help="the dataset folder")
    p.add_argument("--budget", type=_positive_number, default=15.0, metavar="MINUTES", help="time budget (default 15)")
    p.add_argument("--weights", action="append", metavar="SPEC", help="backbone weights, as for train")
    p.add_argument("--out", default=DEFAULT_RUNS_DIR, type=_folder,
                   help="folder that receives the runs (and the search folder)")
    p.add_argument("--image-size", type=IMAGE_SIZE, default=None, metavar="PX",
                   help="default: the network's own, or smaller for small photos when validation agrees")
    p.add_argument("--resume", metavar="SEARCH_DIR", help="continue a stopped search")
    _workers_flag(p)
    _device_flag(p)
    _events_flag(p)
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("ensemble", help="combine finished runs into one run that averages their calibrated "
                       "probabilities")
    p.add_argument("runs", nargs="+", help="two or more run folders trained on the same data")
    p.add_argument("--out", default=DEFAULT_RUNS_DIR, type=_folder, help="folder that receives the new run folder")
    p.add_argument("--weighting", default="equal", choices=["equal", "learn"],
                   help="equal weights, or weights learned on the validation photos")
    _workers_flag(p)
    _events_flag(p)
    p.set_defaults(func=cmd_ensemble)
    p = sub.add_parser("export", help="write one standalone checkpoint file (.pt), or an ONNX model (.onnx) "
                       "checked against PyTorch on the spot")
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("out", type=_output_file(*MODEL_SUFFIXES),
                   help="OUT.onnx (verified against PyTorch) or OUT.pt (one standalone checkpoint)")
    _tta_flag(p)
    _events_flag(p)
    p.set_defaults(func=cmd_export)
    _demo_parser(sub.add_parser("demo", help="make the demo data and train on it (quick start)"))
    return parser


def _demo_data_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=_folder, help="an empty or new folder (it must not hold photos)")
    p.add_argument("--per-class", type=_int_in(1, 100_000), default=60, help="drawings per class (default 60)")
    p.add_argument("--size", type=_int_in(16, 1024, " pixels"), default=96, help="side in pixels (default 96)")
    p.add_argument("--seed", type=int, default=0, help="the drawings' random seed (default 0)")
    p.add_argument("--splits", action="store_true", help="write train/val/test folders")
    p.set_defaults(func=cmd_demo_data)


def _tta_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tta", default="auto", choices=TTA_OVERRIDES,
                   help="test-time augmentation: auto = what the run chose on its validation photos; on = that "
                   "(or flip); off; or a mode")


def _evaluate_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("data", help="the dataset folder to measure on (labeled photos in class folders)")
    p.add_argument("--split", default="auto", type=lambda s: SPLIT_ALIASES.get(s.lower(), s),
                   choices=["auto", *SPLIT_NAMES, "all"],
                   help="auto: test if there is one, else the run's own val images (valid and validation "
                   "mean val, as the folders do)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    _tta_flag(p)
    _device_flag(p)
    _backend_flags(p)
    _events_flag(p)
    p.set_defaults(func=cmd_evaluate)


def _backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                   help="what runs the backbones: auto measures torch and onnxruntime here once and keeps the "
                   "faster one that agrees with fp32 torch")
    p.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                   help="auto: bf16 only where the hardware computes it natively, it is faster and it agrees")


def _workers_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=WORKERS, default=0, help="decode workers (default 0: one per core)")


CSV_COLUMNS = (
    "The CSV: path, label, confidence, prob_<class> for each class, error. prob_<class> are the "
    "calibrated probabilities. confidence is what the threshold compares with: the top probability, "
    "times how familiar the photo looks next to the training photos where the run measured that this "
    "helps (so 0.42 beside a probability of 0.9999 means: the model picks that class, but the photo "
    "is unlike what it was trained on). Below the threshold the label is 'unknown'; an unreadable "
    "file gets a row with its reason in error.")


def _classify_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder, checkpoint file or exported .onnx model")
    p.add_argument("folder", help="the folder of photos to classify")
    p.add_argument("--out", default="predictions.csv", type=_output_file(".csv"),
                   help="the CSV to write (default predictions.csv)")
    p.add_argument("--recursive", action="store_true", help="also classify the photos in FOLDER's subfolders")
    p.add_argument("--unlabeled", action="store_true",
                   help="FOLDER is a dataset: classify only its unlabeled images (loose ones and unlabeled/)")
    p.add_argument("--copy-to", metavar="DIR", type=_folder, help="also copy images into DIR/<label>/")
    p.add_argument("--threshold", type=_threshold_arg, metavar="CONF",
                   help="answer 'unknown' below this confidence (default: the run's own, chosen on its "
                   "validation photos; 0: never)")
    _tta_flag(p)
    _device_flag(p)
    _backend_flags(p)
    _workers_flag(p)
    p.add_argument("--decode", default="threads", choices=DECODE_POOLS,
                   help="decode photos in threads (default) or in spawned processes")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local: this process; ray: an actor pool on Ray (pip install -e \".[cluster]\"), started "
                   "on this machine unless --address names a cluster")
    p.add_argument("--address", default=None, metavar="auto|ray://HOST:PORT",
                   help="with --engine ray: the Ray cluster to use (its nodes must read FOLDER and the model)")
    p.add_argument("--actors", type=_int_in(1), default=None, metavar="N",
                   help="with --engine ray: model copies working at once (default: one per GPU, else per CPU)")
    _events_flag(p)
    p.set_defaults(func=cmd_classify)


def _review_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="the dataset folder (every labeled image, all splits, is reviewed)")
    p.add_argument("--run", help="use this run's backbones and preprocessing")
    p.add_argument("--model", choices=list_models(),
                   help="without --run: judge the photos with this model's pretrained backbones (default "
                   "mobilenet_v2) …")
    p.add_argument("--weights", action="append", metavar="SPEC", help="… with these weights (as for train)")
    p.add_argument("--image-size", type=IMAGE_SIZE, default=None, metavar="PX",
                   help="with --model: the photos' size (default: the network's own, 224)")
    p.add_argument("--out", default="review.csv", type=_output_file(".csv"),
                   help="the CSV to write (default review.csv)")
    p.add_argument("--folds", type=_int_in(2, 20), default=5,
                   help="each photo is judged by a model trained without it: the photos are split in this "
                   "many parts (default 5)")
    p.add_argument("--seed", type=int, default=None, help="default: the run's seed, else 0")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="folder of the feature cache (default: the user cache folder)")
    _workers_flag(p)
    _device_flag(p)
    _events_flag(p)
    p.set_defaults(func=cmd_review)


def _explain_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--out", required=True, metavar="DIR", type=_folder, help="folder that receives one PNG per photo")
    p.add_argument("--class", dest="target", metavar="NAME",
                   help="show where this class was seen (default: the predicted class)")
    _device_flag(p)
    _events_flag(p)
    p.set_defaults(func=cmd_explain)


def _int_in(low: int, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` (to ``high``), refused at once with one line."""
    span = f"{low}-{high}" if high is not None else f">= {low}"

    def int_in(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: must be {span}{what}")
        return value

    return int_in


def _positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text}: must be a number > 0")
    return value


def _folder(text: str) -> str:
    """An argparse type for a folder a command writes into: refused at once when it is a file."""
    if Path(text).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    return text


IMAGE_SIZE = _int_in(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, " pixels")
WORKERS = _int_in(0, what=" (0: one per core)")


def _output_file(*suffixes: str) -> Callable[[str], str]:
    """An argparse type for a file a command writes: refused at once, not after the work, when
    it is a folder or its name does not end in one of ``suffixes`` (a slip such as
    ``--out photo.jpg`` must never overwrite a photo)."""
    wanted = " or ".join(filter(None, (", ".join(suffixes[:-1]), suffixes[-1])))

    def output_file(text: str) -> str:
        path = Path(text).expanduser()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name ending in {wanted}")
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text}: the file name must end in {wanted}")
        return text

    return output_file


def _threshold_arg(text: str) -> float:
    from trainer.trust import check_threshold

    try:
        return check_threshold(float(text))
    except (ValueError, UsageError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: a confidence between 0 and 1 (0: never unknown)") from exc


def _threshold_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder or checkpoint file")
    p.add_argument("value", nargs="?", type=_threshold_arg, help="the new threshold (0: never unknown)")
    p.add_argument("--undo", action="store_true", help="bring back the threshold the last change replaced")
    _events_flag(p)
    p.set_defaults(func=cmd_threshold)


def _demo_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="default: the user data folder")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--weights", action="append", metavar="SPEC",
                   help="backbone weights, as for train (default: ImageNet when available, else none)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--image-size", type=IMAGE_SIZE, default=96)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--per-class", type=_int_in(1, 100_000), default=60)
    p.add_argument("--out", default=DEFAULT_RUNS_DIR, type=_folder)
    _events_flag(p)
    p.set_defaults(func=cmd_demo)


def lower_priority() -> None:
    """``TRAINER_NICE=N`` (set by the desktop app) lowers this job's CPU priority so the GUI
    that started it stays responsive on machines with few cores. Applied once per process tree:
    the variable is dropped here, and child processes inherit the lower priority itself."""
    nice = os.environ.pop("TRAINER_NICE", None)
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(ValueError, OSError):
            os.nice(int(nice))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except ArgumentsRefused as exc:  # with --events the caller reads stdout: it gets the error there too
        if "--events" in argv:
            from trainer.events import json_lines

            json_lines(sys.stdout)({"event": str(Event.ERROR), "message": exc.message, "code": "usage"})
        raise
    args.argv = argv
    lower_priority()
    from trainer.logs import setup_logging
    from trainer.stopping import StopFlag

    setup_logging()
    logging.raiseExceptions = False  # a log that cannot be written (full disk) must not print tracebacks
    stop = StopFlag().install()  # Ctrl+C in a terminal
    if getattr(args, "stop_on_stdin", False):
        stop.watch_stdin()
    return run_command(args, stop)


def entry() -> NoReturn:
    """The ``trainer`` program (``python -m trainer`` too): :func:`main`, then a fast exit.

    With torch and torchvision loaded, the interpreter's own teardown of thousands of modules
    and objects takes ~0.75 s (measured here: importing torch and torchvision and exiting,
    2.74 s; with ``os._exit``, 1.99 s), on every job the app starts. By the time :func:`main`
    returns, everything the job wrote is closed (atomic files, the CSV, checkpoints, its worker
    pools and Ray session), so the output and the logs are flushed and the process leaves.
    :func:`main` itself returns normally: tests and other callers run it in-process."""
    from trainer.allocator import tune_malloc

    tune_malloc()
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Flush the output and the logs, then leave without the interpreter's teardown."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away
            stream.flush()
    logging.shutdown()
    os._exit(code)


def run_command(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Run ``args.func`` and map outcomes to exit codes and one-line messages."""
    from trainer.atomic import DiskFull
    from trainer.features import Cancelled

    try:
        return args.func(args, stop)
    except (Cancelled, KeyboardInterrupt) as exc:
        if not getattr(exc, "reported", False):
            _report(args, Event.CANCELLED, str(exc) or "interrupted")
        return Exit.CANCELLED
    except UsageError as exc:
        _report(args, Event.ERROR, _first_line(exc), code=exc.code)
        return Exit.USAGE
    except MissingDependency as exc:
        _report(args, Event.ERROR, _first_line(exc))
        return Exit.MISSING_DEPENDENCY
    except VerificationFailed as exc:
        _report(args, Event.ERROR, _first_line(exc))
        return Exit.VERIFY_FAILED
    except BrokenPipeError:  # whoever read stdout went away (``| head``): nothing left to tell them
        log.info("trainer %s: stdout closed by its reader", args.command, exc_info=True)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.FAILED
    except DiskFull as exc:
        log.exception("trainer %s failed", args.command)
        _report(args, Event.ERROR, str(exc), **exc.fields())
        return Exit.FAILED
    except Exception as exc:
        log.exception("trainer %s failed", args.command)
        from trainer.logs import describe_failure

        _report(args, Event.ERROR, describe_failure(exc))
        return Exit.FAILED


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _report(args: argparse.Namespace, kind: Event, message: str, **fields: Any) -> None:
    sys.stderr.write(report_line(args.command, kind, message) + "\n")
    if getattr(args, "events", False):
        from trainer.events import json_lines

        json_lines(sys.stdout)({"event": str(kind), "message": message, **fields})
