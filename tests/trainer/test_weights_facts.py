"""The torch-free facts the app shows about weights (file names, sizes, torch's cache) match torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision import models as tvm

from tests.conftest import REAL_WEIGHTS
from trainer import cli, hub, runs
from trainer import weights as W
from trainer.models import create_model, weights_fit
from trainer.registry import BACKBONES


@pytest.mark.parametrize("name", list(BACKBONES))
def test_registry_facts_are_torchvisions_own(name: str) -> None:
    info = BACKBONES[name]
    enum = getattr(tvm, info.weights_enum).DEFAULT
    assert info.imagenet_file == Path(enum.url).name  # what torch.hub saves in <hub>/checkpoints/
    assert enum.url.startswith(f"https://{hub.DOWNLOAD_HOST}/")
    assert info.imagenet_mb == pytest.approx(enum.meta["_file_size"], abs=0.1)
    assert info.gflops == pytest.approx(enum.meta["_ops"], rel=0.01)
    assert hub.imagenet_path(name) == W.imagenet_cache_file(enum.url)


@pytest.mark.parametrize("env", [{"TORCH_HOME": "/t/home"}, {"TORCH_HOME": "", "XDG_CACHE_HOME": "/x/cache"},
                                 {"TORCH_HOME": "", "XDG_CACHE_HOME": ""}, {"TORCH_HOME": "~/th"}])
def test_hub_dir_is_torch_hubs_rule(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    assert hub.hub_dir() == Path(torch.hub.get_dir())


def test_availability_follows_the_cache_and_the_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert hub.availability("resnet50", None) == hub.Availability.UNKNOWN
    assert hub.availability("resnet50", False) == hub.Availability.OFFLINE
    assert hub.availability("resnet50", True) == hub.Availability.DOWNLOAD
    hub.imagenet_path("resnet50").parent.mkdir(parents=True)
    hub.imagenet_path("resnet50").write_bytes(b"x")
    assert hub.availability("resnet50", False) == hub.Availability.CACHED


def test_weights_fit_says_which_backbone_a_file_is_for(tmp_path: Path) -> None:
    path = tmp_path / "mb.pth"
    torch.save(create_model("mobilenet_v2", 3, "none").backbones["mobilenet_v2"].state_dict(), path)
    fit = weights_fit(str(path))
    assert fit["mobilenet_v2"]["matched"] == fit["mobilenet_v2"]["total"] > 300
    assert fit["resnet50"]["matched"] == 0 and "no tensor" in fit["resnet50"]["reason"]


@pytest.mark.skipif(not REAL_WEIGHTS.is_file(), reason="../shared/weights not present")
def test_check_weights_command_reports_the_shared_file_as_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-weights", str(REAL_WEIGHTS), "--events"]) == 0
    done = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert done["event"] == "done"
    assert done["fit"]["mobilenet_v2"]["matched"] == 312 and done["fit"]["resnet50"]["matched"] == 0


def test_sweep_skips_a_model_without_usable_weights(capsys: pytest.CaptureFixture[str], demo_root: Path,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "reachable", lambda host, timeout=3.0: False)  # offline, nothing cached
    path = tmp_path / "mb.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    code = cli.main(["sweep", str(demo_root), "--models", "resnet50", "mobilenet_v2", "--lrs", "0.01",
                     "--batch-sizes", "8", "--weights", f"mobilenet_v2={path}", "--image-size", "48",
                     "--epochs", "1", "--workers", "1", "--out", str(tmp_path / "r"), "--events"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    skipped = [e for e in events if e["event"] == "warning" and e.get("skipped")]
    assert [e["skipped"] for e in skipped] == ["resnet50"]
    assert "ImageNet weights for resnet50" in skipped[0]["message"]
    assert [runs.load_run(d).config["model"] for d in (tmp_path / "r").iterdir()] == ["mobilenet_v2"]


def test_a_sweep_with_no_usable_weights_at_all_is_an_error(capsys: pytest.CaptureFixture[str], demo_root: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(W, "reachable", lambda host, timeout=3.0: False)
    code = cli.main(["sweep", str(demo_root), "--models", "resnet50", "--lrs", "0.01", "--batch-sizes", "8",
                     "--epochs", "1", "--out", str(tmp_path / "r"), "--events"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == cli.Exit.USAGE
    assert (last["event"], last["code"]) == ("error", "weights")
    assert "no usable weights for resnet50" in last["message"]


def test_report_line_is_recognised_as_the_error_event_twin() -> None:
    from trainer.protocol import is_report_line, report_line

    assert report_line("train", "error", "boom") == "trainer train: error: boom"
    assert is_report_line("trainer train: error: boom", "train")
    assert not is_report_line("trainer train: warning: x", "train") and not is_report_line("error: boom", "train")
