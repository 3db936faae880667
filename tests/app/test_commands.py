"""One options schema: TrainConfig -> child-process args -> the trainer's parser -> TrainConfig."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from trainer import config as C
from trainer.cli import build_parser
from trainer.config import TrainConfig
from trainer.options import SweepGrid, config_from_args, grid_from_args
from trainer.registry import list_models
from vehicleapp.commands import classify_args, evaluate_args, sweep_args, train_args, trainer_command


def _other_value(f: dataclasses.Field) -> object:
    """A valid value different from the field's default, for every field type."""
    choices = C.choices_of(f.name)
    default = f.default
    if choices:
        return next(c for c in choices if c != default)
    hint = typing.get_type_hints(TrainConfig)[f.name]
    if f.name == "weights":
        return {"resnet50": "none", "mobilenet_v2": "imagenet"}
    if bool in typing.get_args(hint) or hint is bool:
        return not default if isinstance(default, bool) else False
    if float in (hint, *typing.get_args(hint)):
        return 0.000123456789
    if int in (hint, *typing.get_args(hint)):
        return (default or 0) + 7 if f.name != "image_size" else 96
    return f"/some where/{f.name}"


@pytest.mark.parametrize("name", C.field_names())
def test_every_field_round_trips_through_the_command_line(name: str) -> None:
    f = TrainConfig.__dataclass_fields__[name]
    cfg = dataclasses.replace(TrainConfig(data="/data set"), **{name: _other_value(f)})
    if name == "weights":
        cfg = dataclasses.replace(cfg, model="ensemble")
    ns = build_parser().parse_args(train_args(cfg))
    assert ns.events is True
    assert config_from_args(ns) == cfg


def test_defaults_need_no_arguments() -> None:
    assert train_args(TrainConfig(data="/d")) == ["train", "/d", "--events"]
    assert config_from_args(build_parser().parse_args(["train", "/d"])) == TrainConfig(data="/d")


def test_every_field_has_help_and_the_registry_supplies_the_models() -> None:
    assert all(C.help_of(n) for n in C.field_names())
    assert C.choices_of("model") == tuple(list_models())


def test_reference_sweep_is_the_grid() -> None:
    ns = build_parser().parse_args(sweep_args(TrainConfig(data="/d")))
    assert grid_from_args(ns) == SweepGrid(tuple(list_models()), (0.01, 0.001), (4, 8))
    assert len(SweepGrid()) == 4 * 2 * 2
    assert [c.lr for c in SweepGrid(("mobilenet_v2",), (0.1,), (2, 3)).configs(TrainConfig(data="/d"))] == [0.1, 0.1]


def test_classify_and_evaluate_args_parse() -> None:
    ns = build_parser().parse_args(classify_args(Path("/r"), Path("/f"), Path("/o.csv"), True))
    assert (ns.checkpoint, ns.folder, ns.out, ns.recursive, ns.events) == ("/r", "/f", "/o.csv", True, True)
    ns = build_parser().parse_args(evaluate_args(Path("/r"), Path("/d")))
    assert (ns.run, ns.data, ns.events) == ("/r", "/d", True)


def test_jobs_run_under_python_exe_when_the_app_runs_under_pythonw(tmp_path: Path) -> None:
    # The Start-menu shortcut starts pythonw.exe (no console); a job needs ordinary stdio pipes.
    (tmp_path / "pythonw.exe").touch()
    assert trainer_command(str(tmp_path / "pythonw.exe"))[0] == str(tmp_path / "pythonw.exe")  # no sibling
    (tmp_path / "python.exe").touch()
    assert trainer_command(str(tmp_path / "pythonw.exe")) == [str(tmp_path / "python.exe"), "-m", "trainer"]
    assert trainer_command("/usr/bin/python3") == ["/usr/bin/python3", "-m", "trainer"]
