"""The training options' command line, generated from :class:`trainer.config.TrainConfig`.

:func:`add_config_arguments` builds the argparse options from the dataclass fields,
:func:`config_from_args` reads them back, and :func:`config_to_args` is the inverse the
app uses to start a job: ``config_from_args(parse(config_to_args(cfg))) == cfg`` for every
field (a test checks it). Torch-free: the app imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from typing import Any

from trainer.config import REFERENCE_BATCH_SIZES, REFERENCE_LRS, TrainConfig, choices_of
from trainer.protocol import UsageError
from trainer.registry import BACKBONES, get_spec, list_models

_HINTS = typing.get_type_hints(TrainConfig)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _scalar_type(name: str) -> type:
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0] if isinstance(args[0], type) else str


def add_config_arguments(parser: argparse.ArgumentParser, skip: Sequence[str] = (),
                         data_optional: bool = False) -> None:
    """Add one argument per :class:`TrainConfig` field (``skip`` leaves some out; ``data_optional``:
    DATA may be left out, the command checks when it is needed)."""
    group = parser.add_argument_group("training options")
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        meta, kind = f.metadata, _scalar_type(f.name)
        help_text = meta.get("help", "").replace("%", "%%")
        if meta.get("positional"):
            parser.add_argument(f.name, help=help_text, nargs="?" if data_optional else None)
            continue
        help_text = _with_default(help_text, f.default)
        if f.name == "weights":
            group.add_argument(flag(f.name), action="append", metavar=meta.get("metavar"), help=help_text)
        elif kind is bool and f.default is False:
            group.add_argument(flag(f.name), action="store_true", help=help_text)
        elif kind is bool:
            group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction, default=f.default,
                               help=help_text)
        else:
            group.add_argument(flag(f.name), type=kind, default=f.default, choices=choices_of(f.name),
                               metavar=meta.get("metavar"), help=help_text)


def _with_default(help_text: str, default: object) -> str:
    """The help text, ending with the default where it does not say it already."""
    if default in (None, "", False) or isinstance(default, bool) or "default" in help_text.lower():
        return help_text
    return f"{help_text} (default: {default})"


def weights_from_args(values: list[str] | None) -> dict[str, str] | str:
    """``--weights SPEC`` for all backbones, or ``--weights BACKBONE=SPEC`` per backbone."""
    if not values:
        return TrainConfig.__dataclass_fields__["weights"].default  # type: ignore[return-value]
    per: dict[str, str] = {}
    for v in values:
        name, sep, spec = v.partition("=")
        if sep and name in BACKBONES:
            per[name] = spec
        elif len(values) == 1:
            return v
        else:
            raise UsageError(f"--weights {v!r}: with several --weights use BACKBONE=SPEC")
    return per


def config_from_args(ns: argparse.Namespace, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` an argparse namespace describes (fields it lacks keep defaults)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(TrainConfig):
        if f.name == "weights" and hasattr(ns, "weights"):
            values["weights"] = weights_from_args(ns.weights)
        elif hasattr(ns, f.name):
            values[f.name] = getattr(ns, f.name)
    values.update(overrides)
    return TrainConfig(**values)


def _arg_values(name: str, value: Any, default: Any) -> list[str]:
    if name == "weights":
        if isinstance(value, dict):
            return [x for b, spec in value.items() for x in (flag(name), f"{b}={spec}")]
        return [flag(name), str(value)]
    if isinstance(value, bool) or (value is None and isinstance(default, bool)):
        if default is False:
            return [flag(name)] if value else []
        return [flag(name) if value else "--no-" + name.replace("_", "-")]
    if value is None:
        raise UsageError(f"{flag(name)} cannot be set back to its default from the command line")
    return [flag(name), repr(value) if isinstance(value, float) else str(value)]


def config_to_args(cfg: TrainConfig) -> list[str]:
    """Arguments for ``trainer train`` (after the command) that reproduce ``cfg`` exactly."""
    args = [cfg.data]
    for f in dataclasses.fields(TrainConfig):
        value = getattr(cfg, f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.metadata.get("positional") or value == default:
            continue
        args += _arg_values(f.name, value, default)
    return args


@dataclasses.dataclass(frozen=True)
class SweepGrid:
    """Models x learning rates x batch sizes; the default is the reference experiment's grid."""

    models: tuple[str, ...] = dataclasses.field(default_factory=lambda: tuple(list_models()))
    lrs: tuple[float, ...] = REFERENCE_LRS
    batch_sizes: tuple[int, ...] = REFERENCE_BATCH_SIZES

    def configs(self, base: TrainConfig) -> list[TrainConfig]:
        return [dataclasses.replace(base, model=m, lr=lr, batch_size=bs)
                for m in self.models for lr in self.lrs for bs in self.batch_sizes]

    def __len__(self) -> int:
        return len(self.models) * len(self.lrs) * len(self.batch_sizes)


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    grid = SweepGrid()
    parser.add_argument("--models", nargs="+", default=list(grid.models), choices=list_models(),
                        metavar="MODEL", help="models to train (default: all)")
    parser.add_argument("--lrs", nargs="+", type=float, default=list(grid.lrs), metavar="LR")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=list(grid.batch_sizes), metavar="N")


def grid_from_args(ns: argparse.Namespace) -> SweepGrid:
    return SweepGrid(tuple(ns.models), tuple(ns.lrs), tuple(ns.batch_sizes))


def sweep_to_args(cfg: TrainConfig, grid: SweepGrid) -> list[str]:
    """Arguments for ``trainer sweep`` (after the command): ``cfg`` for every grid point."""
    return [*config_to_args(cfg), "--models", *grid.models, "--lrs", *(repr(x) for x in grid.lrs),
            "--batch-sizes", *(str(b) for b in grid.batch_sizes)]


def own_weights(cfg: TrainConfig) -> TrainConfig:
    """Per-backbone weights given for several models: each model keeps those of its own backbones."""
    if not isinstance(cfg.weights, dict):
        return cfg
    own = {b: s for b, s in cfg.weights.items() if b in get_spec(cfg.model).backbones}
    return dataclasses.replace(cfg, weights=own or "imagenet")
