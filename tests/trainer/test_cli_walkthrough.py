"""What a fresh-eyes walk through the command line found: each test failed before its fix."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import quiet_events
from trainer import cli, runs
from trainer.config import TrainConfig
from trainer.datasets import DatasetError, check_usable, scan
from trainer.features import Cancelled
from trainer.layout import walk_files
from trainer.ort_runs import model_source

Cap = pytest.CaptureFixture[str]


def test_an_argument_refused_by_argparse_is_an_error_event_with_events(capsys: Cap) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "DATA", "--lr", "abc", "--events"])
    assert info.value.code == cli.Exit.USAGE
    out, err = capsys.readouterr()
    event = json.loads(out.strip())  # the app reads stdout: the reason is there, not only on stderr
    assert event["event"] == "error" and event["code"] == "usage" and "--lr" in event["message"]
    assert "--lr" in err


def test_a_reader_closing_stdout_is_not_reported_as_a_failure(capsys: Cap, one_run: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            return devnull

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        monkeypatch.setattr("sys.stdout", Closed())
        code = cli.main(["runs", str(one_run.parent), "--json"])
    finally:
        os.close(devnull)
    assert code == cli.Exit.FAILED
    assert "BrokenPipe" not in capsys.readouterr().err  # `trainer runs --json | head` says nothing


def test_a_run_stopped_before_its_first_epoch_says_there_is_nothing_to_resume(demo_root: Path,
                                                                             tmp_path: Path) -> None:
    from trainer.engine import train

    cfg = TrainConfig(data=str(demo_root), weights="none", freeze=True, image_size=48, epochs=2,
                      out=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache"), workers=1)
    events = quiet_events()
    with pytest.raises(Cancelled):
        train(cfg, events, lambda: True)
    cancelled = next(e for e in events.seen if e["event"] == "cancelled")
    assert cancelled["resumable"] is False
    assert "nothing to resume" in cancelled["message"] and "checkpoint saved" not in cancelled["message"]


def test_a_stopped_run_that_can_resume_says_so(demo_root: Path, tmp_path: Path) -> None:
    from trainer.engine import train

    cfg = TrainConfig(data=str(demo_root), weights="none", freeze=True, image_size=48, epochs=3,
                      out=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache"), workers=1)
    events = quiet_events()
    with pytest.raises(Cancelled):
        train(cfg, events, lambda: any(e["event"] == "epoch" for e in events.seen))
    cancelled = next(e for e in events.seen if e["event"] == "cancelled")
    assert cancelled["resumable"] is True and "can be resumed" in cancelled["message"]


def test_a_run_without_its_backbone_file_is_listed_as_damaged(one_run: Path, tmp_path: Path, capsys: Cap) -> None:
    run = shutil.copytree(one_run, tmp_path / "runs" / one_run.name)
    assert runs.inspect_run(run).problem == ""
    (run / runs.BACKBONE).unlink()
    assert "backbone.pt is missing" in runs.inspect_run(run).problem
    assert cli.main(["runs", str(tmp_path / "runs")]) == cli.Exit.OK
    assert "damaged: backbone.pt is missing" in capsys.readouterr().out


def test_a_run_without_checkpoints_is_listed_as_such(one_run: Path, tmp_path: Path, capsys: Cap) -> None:
    run = shutil.copytree(one_run, tmp_path / "runs" / one_run.name)
    for name in (runs.BEST, runs.LAST, runs.BACKBONE):
        (run / name).unlink()
    assert cli.main(["runs", str(tmp_path / "runs"), "--json"]) == cli.Exit.OK
    assert json.loads(capsys.readouterr().out)[0]["checkpoint"] is False
    assert cli.main(["runs", str(tmp_path / "runs")]) == cli.Exit.OK
    assert "no checkpoint: nothing to use or resume" in capsys.readouterr().out


def test_the_class_count_error_names_every_photo_and_empty_folders(tmp_path: Path, demo_root: Path) -> None:
    (tmp_path / "truck").mkdir()
    shutil.copytree(demo_root / "car", tmp_path / "car")
    with pytest.raises(DatasetError) as info:
        check_usable(scan(tmp_path, val_fraction=0.5))
    n = len(list((demo_root / "car").glob("*.jpg")))
    assert f"car ({n} photos)" in str(info.value) and "truck (empty)" in str(info.value)


def test_onnxruntime_opens_a_model_in_a_folder_whose_name_is_not_utf8(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/data \xff"))  # a Latin-1 name read on a UTF-8 system
    folder.mkdir()
    path = folder / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert isinstance(model_source(path), bytes)
    assert model_source(tmp_path / "plain.onnx") == str(tmp_path / "plain.onnx")
    ort.InferenceSession(model_source(path), providers=["CPUExecutionProvider"])


def test_a_recursive_walk_neither_climbs_out_nor_drops_dangling_links(tmp_path: Path) -> None:
    top = tmp_path / "a" / "w"
    (top / "sub").mkdir(parents=True)
    (top / "x.jpg").write_bytes(b"x")
    (tmp_path / "a" / "outside.jpg").write_bytes(b"x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked.jpg").write_bytes(b"x")
    (top / "loop").symlink_to("..")  # back up to a/: its outside.jpg is not the folder's
    (top / "sub" / "more").symlink_to(elsewhere)  # a folder linked in: its photos are
    (top / "dangling.jpg").symlink_to("nothere.jpg")  # listed, so classify gives it a reason
    for recursive in (True, False):
        names = sorted(p.name for p in walk_files(top, recursive))
        assert names == (["dangling.jpg", "linked.jpg", "x.jpg"] if recursive else ["dangling.jpg", "x.jpg"])


def test_explain_with_no_readable_photo_is_an_error(one_run: Path, tmp_path: Path) -> None:
    from trainer.explain import explain
    from trainer.protocol import UsageError

    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    with pytest.raises(UsageError, match="no heatmap written: .*empty file"):
        explain(one_run, [bad], tmp_path / "out", quiet_events(), lambda: False)


def test_validation_refuses_what_used_to_end_in_a_traceback() -> None:
    from trainer.protocol import UsageError

    base = TrainConfig(data="d")
    for bad in ({"lr": float("inf")}, {"image_size": 100_000}, {"plateau_patience": -1}):
        with pytest.raises(UsageError):
            dataclasses.replace(base, **bad).validate()


def test_a_run_that_did_not_finish_is_used_with_a_warning(one_run: Path, demo_root: Path, tmp_path: Path,
                                                          capsys: Cap) -> None:
    run = shutil.copytree(one_run, tmp_path / "runs" / one_run.name)
    assert runs.unfinished_note(run) == ""
    config = json.loads((run / runs.CONFIG).read_text())
    config.update(status="cancelled", epochs=8)
    config.pop("trust", None)
    (run / runs.CONFIG).write_text(json.dumps(config))
    note = runs.unfinished_note(run / runs.BEST)
    assert "did not finish (cancelled after" in note and "of 8 epochs" in note and "never calibrated" in note
    code = cli.main(["classify", str(run), str(demo_root / "car"), "--out", str(tmp_path / "p.csv")])
    assert code == cli.Exit.OK
    assert "did not finish" in capsys.readouterr().err


def test_an_onnx_export_of_a_bf16_run_says_its_confidences_can_differ(one_run: Path, tmp_path: Path,
                                                                      capsys: Cap) -> None:
    """A GUI walkthrough saw confidences 8 points apart between a run (features in bf16, chosen
    by a measurement under load) and its fp32 ONNX export, which claimed 7e-6 agreement."""
    run = shutil.copytree(one_run, tmp_path / "runs" / one_run.name)
    config = json.loads((run / runs.CONFIG).read_text())
    assert set(config["feature_backends"]) == set(config["frozen"])  # each run records what computed them
    assert not runs.bf16_features(run / runs.BEST)
    config["feature_backends"] = dict.fromkeys(config["frozen"], "torch-bf16-cpu")
    (run / runs.CONFIG).write_text(json.dumps(config))
    assert runs.bf16_features(run / runs.BEST)
    assert cli.main(["export", str(run), str(tmp_path / "m.onnx")]) == cli.Exit.OK
    assert "computed in bf16" in capsys.readouterr().err
