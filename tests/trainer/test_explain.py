"""``trainer explain``: Grad-CAM heatmaps for every model, through frozen backbones, via the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REAL_DATA, REAL_WEIGHTS, quiet_events, run_cli
from trainer import checkpoint
from trainer.explain import CAPTION, explain, heatmaps
from trainer.images import load_image
from trainer.models import create_model, preprocess_for
from trainer.protocol import Exit, UsageError
from trainer.registry import get_spec, list_models
from trainer.scoring import ScoredModel, load_scored
from trainer.trust import Trust

pytest.importorskip("captum")


@pytest.fixture
def photos(demo_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in (sorted((demo_root / "car").iterdir())[0], sorted((demo_root / "truck").iterdir())[0]):
        shutil.copy(src, folder / src.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return folder


@pytest.mark.parametrize("model", list_models())
def test_every_model_gets_one_png_per_photo_with_a_panel_per_backbone(model_runs: dict[str, Path], photos: Path,
                                                                       tmp_path: Path, model: str) -> None:
    events = quiet_events()
    summary = explain(model_runs[model], [photos], tmp_path / "out", events, lambda: False)
    assert {k: v for k, v in summary.items() if k != "captions"} == {"out": str(tmp_path / "out"), "count": 2,
                                                                     "skipped": 1}
    assert sorted(summary["captions"]) == ["car_0000.png", "truck_0000.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["car_0000.png", "truck_0000.png"]
    with Image.open(tmp_path / "out" / "car_0000.png") as png:
        side = png.height - CAPTION
        assert png.width == side * len(get_spec(model).backbones)  # ensembles: one map per backbone
    assert any("skipped" in e.get("message", "") and "broken.jpg" in e["message"] for e in events.seen)


@pytest.mark.parametrize("model", list_models())
def test_gradients_reach_the_activations_of_frozen_backbones(model_runs: dict[str, Path], demo_root: Path,
                                                              model: str) -> None:
    scored, ckpt = load_scored(model_runs[model])
    assert not any(p.requires_grad for p in scored.model.backbones.parameters())  # frozen weights
    x = checkpoint.preprocess_of(ckpt).transform()(load_image(sorted((demo_root / "car").iterdir())[1])).unsqueeze(0)
    per_class = [heatmaps(scored, x, c) for c in range(3)]
    for name in get_spec(model).backbones:  # a random backbone may see nothing for one class, never for all
        assert any(float(maps[name].max()) > float(maps[name].min()) for maps in per_class), name


@pytest.mark.skipif(not (REAL_DATA.is_dir() and REAL_WEIGHTS.is_file()), reason="../shared not present")
def test_a_real_backbones_map_of_the_predicted_class_is_not_flat() -> None:
    model = create_model("mobilenet_v2", 3, {"mobilenet_v2": str(REAL_WEIGHTS)}, frozen={"mobilenet_v2"})
    scored = ScoredModel(model, Trust())
    x = preprocess_for("mobilenet_v2").transform()(load_image(sorted((REAL_DATA / "truck").iterdir())[0]))[None]
    predicted = int(scored(x)[0].argmax())
    heat = heatmaps(scored, x, predicted)["mobilenet_v2"]
    assert heat.shape == (224, 224) and float(heat.max()) == 1.0 and float(heat.std()) > 0.05


def test_class_option_and_its_errors(model_runs: dict[str, Path], photos: Path, tmp_path: Path) -> None:
    run = model_runs["mobilenet_v2"]
    assert explain(run, [photos / "car_0000.jpg"], tmp_path / "o", quiet_events(), lambda: False, "truck")["count"] == 1
    with pytest.raises(UsageError, match="the model's classes are car, motorcycle, truck"):
        explain(run, [photos], tmp_path / "o", quiet_events(), lambda: False, "bus")
    with pytest.raises(UsageError, match="not found"):
        explain(run, [tmp_path / "nope.jpg"], tmp_path / "o", quiet_events(), lambda: False)


def test_cli_explain_with_events_ends_with_done_and_the_folder(model_runs: dict[str, Path], photos: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "cams"
    result = run_cli("explain", str(model_runs["ensemble"]), str(photos), "--out", str(out), "--events")
    assert result.returncode == Exit.OK, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[0]["total"] == 3
    assert events[-1]["event"] == "done" and events[-1]["out"] == str(out) and events[-1]["count"] == 2
    assert {e["phase"] for e in events if e["event"] == "progress"} == {"explain"}
    bad = run_cli("explain", str(model_runs["ensemble"]), str(photos), "--out", str(out), "--class", "bus")
    assert bad.returncode == Exit.USAGE and len(bad.stderr.strip().splitlines()) == 1


def test_the_caption_is_classifys_answer_for_a_large_photo(model_runs: dict[str, Path], demo_root: Path,
                                                          tmp_path: Path) -> None:
    """The heatmap said "motorcycle 76%" where classify answered unknown (motorcycle 66%):
    explain decoded a large JPEG in full where classify decodes it at reduced size, and it
    ignored the run's threshold. Its caption is now classify's answer."""
    run = tmp_path / "run"
    shutil.copytree(model_runs["mobilenet_v2"], run)
    big = tmp_path / "big" / "car.jpg"
    big.parent.mkdir()
    with Image.open(sorted((demo_root / "car").iterdir())[0]) as im:
        im.convert("RGB").resize((1600, 1200)).save(big, quality=90)
    for threshold in ("0", "0.999"):  # never unknown; always unknown
        assert run_cli("threshold", str(run), threshold).returncode == Exit.OK
        summary = explain(run, [big], tmp_path / f"cams{threshold}", quiet_events(), lambda: False)
        out = tmp_path / f"c{threshold}.csv"
        assert run_cli("classify", str(run), str(big.parent), "--out", str(out)).returncode == Exit.OK
        with out.open(newline="", encoding="utf-8") as f:
            row = next(csv.DictReader(f))
        probs = {k.removeprefix("prob_"): float(v) for k, v in row.items() if k.startswith("prob_")}
        best = max(probs, key=probs.__getitem__)
        guess = f"{best} {probs[best]:.0%}"
        said = guess if row["label"] != "unknown" else f"unknown (best guess {guess})"
        assert summary["captions"]["car.png"] == said
        assert (row["label"] == "unknown") == (threshold != "0")
