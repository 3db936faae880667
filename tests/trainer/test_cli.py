"""The CLI: exit codes, one-line errors, JSON-lines events, signals, every subcommand."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REAL_WEIGHTS, run_cli
from trainer import cli, runs
from trainer.checkpoint import load_model

Cap = pytest.CaptureFixture[str]
FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1"]


def _main(capsys: Cap, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "DATA", "--lr", "abc"], "invalid float value"),
        (["train", "DATA", "--epochs", "0"], "--epochs must be >= 1"),
        (["train", "DATA", "--model", "vgg"], "invalid choice: 'vgg'"),
        (["train", "/no/such/folder"], "not found"),
        (["train", "DATA", "--weights", "/no/such.pth"], "weights file not found"),
        (["classify", "/no/run", "DATA"], "not found"),
        (["frobnicate"], "invalid choice"),
        (["train", "DATA", "--lr", "inf"], "--lr must be a number > 0"),  # trained to NaN, then a traceback
        (["train", "DATA", "--image-size", "100000"], "--image-size must be 32-1024 pixels"),  # 3.8 TB asked
        (["train", "DATA", "--plateau-patience", "-1"], "--plateau-patience must be >= 0"),
        (["classify", "/no/run", "DATA", "--workers", "-1"], "-1: must be >= 0"),
        (["demo-data", "DATA", "--size", "100000"], "must be 16-1024 pixels"),  # 30 GB: killed
        (["demo-data", "DATA", "--per-class", "-5"], "must be 1-100000"),  # "wrote -5 images", exit 0
        (["review", "DATA", "--folds", "1"], "must be 2-20"),
        (["search", "DATA", "--budget", "inf"], "must be a number > 0"),
    ],
)
def test_bad_usage_is_a_one_line_error_with_exit_2(capsys: Cap, demo_root: Path, tmp_path: Path,
                                                   argv: list[str], needle: str) -> None:
    argv = [str(demo_root) if a == "DATA" else a for a in argv]
    code, _, err = _main(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] == "train" else []))
    assert code == cli.Exit.USAGE
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["classify", "RUN", "DATA", "--out", "PHOTO"], "the file name must end in .csv"),
        (["classify", "RUN", "DATA", "--out", "TMP"], "is a folder; give a file name ending in .csv"),
        (["review", "DATA", "--out", "PHOTO"], "the file name must end in .csv"),
        (["export", "RUN", "PHOTO"], "the file name must end in .onnx, .pt or .pth"),
        (["plot", "RUN", "--out", "PHOTO"], "the file name must end in .png, .pdf or .svg"),
        (["classify", "PHOTO", "TMP"], "photo.jpg is not a model: give a run folder"),
        (["train", "PHOTO"], "is a file; give the dataset folder"),
        (["classify", "RUN", "DATA"], "its subfolders hold 36: classify them with --recursive"),
        (["classify", "RUN", "EMPTY"], "no images in"),
        (["train", "DATA", "--out", "PHOTO"], "is a file; give a folder"),
        (["classify", "RUN", "DATA", "--copy-to", "PHOTO"], "is a file; give a folder"),
        (["demo-data", "PHOTO"], "is a file; give a folder"),
        (["demo-data", "TMP"], "already holds 1 photo(s) of its own"),  # no drawings among real photos
        (["explain", "RUN", "PHOTO", "--out", "PHOTO"], "is a file; give a folder"),
        (["explain", "RUN", "EMPTY", "--out", "EMPTY"], "no photos in"),
    ],
)
def test_a_mistaken_path_is_refused_at_once_and_overwrites_nothing(capsys: Cap, demo_root: Path, one_run: Path,
                                                                   tmp_path: Path, argv: list[str],
                                                                   needle: str) -> None:
    """A slip such as ``--out photo.jpg`` must never replace a photo with a CSV or a model, and a
    folder with nothing to classify is an error that says what to do, not an empty success."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(next(demo_root.rglob("*.jpg")).read_bytes())
    before = photo.read_bytes()
    (tmp_path / "empty").mkdir()
    names = {"RUN": one_run, "DATA": demo_root, "PHOTO": photo, "TMP": tmp_path, "EMPTY": tmp_path / "empty"}
    code, _, err = _main(capsys, *(str(names.get(a, a)) for a in argv))
    assert code == cli.Exit.USAGE
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert photo.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["empty", "photo.jpg"]


@pytest.mark.parametrize("command", [["evaluate", "ONNX", "DATA"], ["threshold", "ONNX"],
                                     ["explain", "ONNX", "PHOTO", "--out", "TMP"]])
def test_an_exported_model_where_a_run_is_needed_says_what_to_give(capsys: Cap, demo_root: Path, tmp_path: Path,
                                                                   command: list[str]) -> None:
    """"model.onnx is not a model: give ... an exported .onnx file" contradicted itself: only
    classify takes an exported model; the others need the run it came from."""
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07")  # the suffix decides; the file is never opened
    names = {"ONNX": onnx, "DATA": demo_root, "PHOTO": next(demo_root.rglob("*.jpg")), "TMP": tmp_path / "out"}
    code, _, err = _main(capsys, *(str(names.get(a, a)) for a in command))
    assert code == cli.Exit.USAGE
    assert "model.onnx is an exported model, which only classify takes: give the run folder" in err, err


def test_unexpected_failure_exits_1_with_one_line_and_the_traceback_in_the_log(capsys: Cap, tmp_path: Path) -> None:
    from trainer.logs import setup_logging

    def boom(args, stop):  # noqa: ANN001, ANN202
        raise ValueError("shape mismatch deep inside torch")  # not the user's mistake: exit 1, not 2

    log_file = setup_logging(tmp_path / "logs")
    args = argparse.Namespace(func=boom, command="train", events=True)
    assert cli.run_command(args, lambda: False) == cli.Exit.FAILED
    out, err = capsys.readouterr()
    event = json.loads(out.strip().splitlines()[-1])
    assert event["event"] == "error"
    assert event["message"].startswith("ValueError: shape mismatch deep inside torch (details in ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert log_file is not None and "Traceback" in log_file.read_text() and "in boom" in log_file.read_text()


def test_a_write_failure_names_the_file_and_the_cause(capsys: Cap) -> None:
    import errno

    def full(args, stop):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.pt")

    args = argparse.Namespace(func=full, command="train", events=False)
    assert cli.run_command(args, lambda: False) == cli.Exit.FAILED
    assert "/runs/x/last.pt: no space left on the disk" in capsys.readouterr().err


def test_models_lists_the_registry(capsys: Cap) -> None:
    code, out, _ = _main(capsys, "models")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "ensemble", "ensemble_regularized", "mobilenet_v2", "resnet50"]


def test_train_events_are_json_lines(demo_root: Path, tmp_path: Path) -> None:
    res = run_cli("train", str(demo_root), *FAST, "--epochs", "2", "--out", str(tmp_path), "--events")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"progress", "epoch", "checkpoint", "features"} <= set(kinds)
    epoch = next(e for e in events if e["event"] == "epoch")
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "images_per_s"} <= set(epoch["metrics"])
    progress = [e for e in events if e["event"] == "progress"]
    assert all({"phase", "done", "total"} <= set(e) for e in progress)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_within_a_batch_saves_and_exits_3(demo_root: Path, tmp_path: Path, sig: int) -> None:
    cmd = [sys.executable, "-m", "trainer", "train", str(demo_root), *FAST, "--no-cache",
           "--epochs", "200", "--batch-size", "4", "--out", str(tmp_path), "--events"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == "epoch":
            break
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == cli.Exit.CANCELLED, err
    assert json.loads(rest.strip().splitlines()[-1])["event"] == "cancelled"
    run_dir = next(tmp_path.iterdir())
    assert len(runs.read_metrics(run_dir)) < 200
    _, ckpt = load_model(run_dir / runs.LAST)
    assert ckpt["interrupted"] is True


def test_evaluate_plot_classify_export_and_sweep(capsys: Cap, demo_root: Path, tmp_path: Path) -> None:
    code, _, err = _main(capsys, "sweep", str(demo_root), "--models", "mobilenet_v2", "--lrs", "0.01",
                         "0.001", "--batch-sizes", "8", *FAST, "--epochs", "1", "--out", str(tmp_path / "r"))
    assert code == 0, err
    run_dirs = sorted((tmp_path / "r").iterdir(), key=lambda d: -runs.load_run(d).config["lr"])
    assert [runs.load_run(d).config["lr"] for d in run_dirs] == [0.01, 0.001]

    code, out, _ = _main(capsys, "evaluate", str(run_dirs[0]), str(demo_root))
    assert code == 0
    assert "accuracy" in out and "confusion matrix" in out and "motorcycle" in out
    rep = json.loads((run_dirs[0] / runs.EVALUATION).read_text())
    held_out = [p for p, split in runs.recorded_splits(run_dirs[0]).items() if split == "val"]
    assert rep["split"] == "val" and rep["n"] == len(held_out) > 0 and len(rep["confusion"]) == 3

    code, out, _ = _main(capsys, "plot", *map(str, run_dirs), "--out", str(tmp_path / "c.png"))
    assert code == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"

    csv_path = tmp_path / "p.csv"
    code, out, _ = _main(capsys, "classify", str(run_dirs[1]), str(demo_root / "car"), "--out", str(csv_path),
                         "--copy-to", str(tmp_path / "sorted"))
    assert code == 0
    assert len(csv_path.read_text().splitlines()) == 13
    assert sum(1 for _ in (tmp_path / "sorted").rglob("*.jpg")) == 12

    code, out, _ = _main(capsys, "export", str(run_dirs[1]), str(tmp_path / "m.pt"))
    assert code == 0 and (tmp_path / "m.pt").is_file()


def test_demo_data_command_writes_a_trainable_dataset(capsys: Cap, tmp_path: Path) -> None:
    from trainer.datasets import scan

    code, out, _ = _main(capsys, "demo-data", str(tmp_path / "d"), "--per-class", "10", "--splits")
    assert code == 0
    ds = scan(tmp_path / "d")
    assert ds.layout == "splits" and ds.classes == ["car", "motorcycle", "truck"]
    assert {k: sum(v.values()) for k, v in ds.counts().items()} == {"train": 21, "val": 6, "test": 3}


def test_demo_main_job_offline_trains_from_scratch_and_keeps_stdout_json(capsys: Cap, monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    from trainer import weights

    monkeypatch.setattr(weights, "reachable", lambda host, timeout=3.0: False)
    code, out, err = _main(capsys, "demo", "--data", str(tmp_path / "demo"), "--per-class", "6", "--epochs", "1",
                           "--image-size", "48", "--out", str(tmp_path / "runs"), "--events")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "done"
    assert "from scratch" in err and "trainer demo --weights mobilenet_v2=FILE.pth" in err  # how to do better
    run = runs.load_run(next((tmp_path / "runs").iterdir()))
    assert run.config["weights"] == {"mobilenet_v2": "none"}
    assert run.config["frozen"] == []


@pytest.mark.skipif(not REAL_WEIGHTS.is_file(), reason="../shared not present")
def test_demo_takes_a_weights_file(capsys: Cap, tmp_path: Path) -> None:
    """Offline, demo said 'with ImageNet weights it is faster and more accurate' but took no
    weights file: a user holding one could not use it for the main job."""
    code, _, err = _main(capsys, "demo", "--data", str(tmp_path / "demo"), "--per-class", "6", "--epochs", "1",
                         "--image-size", "48", "--out", str(tmp_path / "runs"),
                         "--weights", f"mobilenet_v2={REAL_WEIGHTS}")
    assert code == 0, err
    assert "from scratch" not in err
    run = runs.load_run(next((tmp_path / "runs").iterdir()))
    assert run.config["weights"] == {"mobilenet_v2": str(REAL_WEIGHTS)} and run.config["frozen"] == ["mobilenet_v2"]


def test_resume_from_the_command_line_extends_a_run(capsys: Cap, demo_root: Path, tmp_path: Path) -> None:
    code, _, err = _main(capsys, "train", str(demo_root), *FAST, "--epochs", "1", "--out", str(tmp_path))
    assert code == 0, err
    run_dir = next(tmp_path.iterdir())
    code, _, err = _main(capsys, "train", str(demo_root), "--resume", str(run_dir), "--epochs=3")
    assert code == 0, err
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3]
    assert "epoch   3/3" in (run_dir / "train.log").read_text()  # the run's own log
    assert runs.load_run(run_dir).config["epochs"] == 3  # the run's record shows its new target
    code, _, err = _main(capsys, "train", "--resume", str(run_dir), "--epochs=4")  # DATA may be left out
    assert code == 0, err
    assert [m["epoch"] for m in runs.read_metrics(run_dir)] == [1, 2, 3, 4]
    code, _, err = _main(capsys, "train", str(tmp_path), "--resume", str(run_dir), "--epochs=5")
    assert code == cli.Exit.USAGE and "on its own data" in err  # not silently trained on the run's data
    code, _, err = _main(capsys, "train", str(demo_root), "--resume", str(tmp_path / "nope"))
    assert code == cli.Exit.USAGE
    assert "not a run folder" in err
    (run_dir / "last.pt").unlink()
    code, _, err = _main(capsys, "train", "--resume", str(run_dir))
    assert code == cli.Exit.USAGE and "nothing to resume" in err
    code, _, err = _main(capsys, "train", "--epochs", "1")
    assert code == cli.Exit.USAGE and "give the dataset folder" in err


def test_help_names_each_default_and_reads_as_plain_text(capsys: Cap) -> None:
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 15)" in text and "(default: 0.001)" in text and "(default: checkpoints)" in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "python -m trainer / trainer" in capsys.readouterr().out  # no reST backticks
    with pytest.raises(SystemExit):
        cli.main(["classify", "--help"])
    assert "folder                the folder of photos to classify" in capsys.readouterr().out


def test_evaluate_takes_a_split_by_its_folder_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--split valid`` (a Roboflow export's folder name) is the val split, as the folder is."""
    seen: list[str] = []
    monkeypatch.setattr(cli, "cmd_evaluate", lambda args, stop: seen.append(args.split) or 0)
    for given in ("valid", "Validation", "val", "test"):
        cli.main(["evaluate", "RUN", "DATA", "--split", given])
    assert seen == ["val", "val", "val", "test"]
