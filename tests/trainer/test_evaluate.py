"""evaluate: the split a run recorded is the split it is measured on, whatever changed since."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import quiet_events
from trainer import runs
from trainer.checkpoint import read_trust
from trainer.config import TrainConfig
from trainer.csvfile import read_evaluation
from trainer.datasets import scan
from trainer.engine import train
from trainer.evaluate import evaluate_run, pick_samples
from trainer.metrics import format_report


def _train(data: Path, out: Path) -> Path:
    cfg = TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(out), workers=1)
    return train(cfg, quiet_events(), lambda: False)


def _warnings(events) -> list[str]:  # noqa: ANN001
    return [e["message"] for e in events.seen if e["event"] == "warning"]


def test_evaluate_measures_what_training_held_out_after_relabels(demo_copy: Path, tmp_path: Path) -> None:
    run_dir = _train(demo_copy, tmp_path / "runs")
    recorded = runs.recorded_splits(run_dir)
    assert recorded == {p.relative_to(demo_copy).as_posix(): s for p, s in scan(demo_copy).members()}
    held_out = {rel.split("/")[-1] for rel, s in recorded.items() if s == "val"}
    trained = {rel.split("/")[-1] for rel, s in recorded.items() if s == "train"}
    moved = sorted(held_out)[:2] + sorted(trained)[:2]
    for name in moved:  # relabel: into another class folder
        src = next(demo_copy.glob(f"*/{name}"))
        dest = demo_copy / ("truck" if src.parent.name != "truck" else "car") / name
        src.rename(dest)
    shutil.copy(next(demo_copy.glob("car/*.jpg")), demo_copy / "car" / "brand_new.jpg")

    events = quiet_events()
    picked, classes, used = pick_samples(run_dir, demo_copy, "auto", events)
    assert used == "val"
    assert {s.path.name for s, _ in picked} == held_out
    for s, split in picked:  # relabeled images count with their new class
        assert classes[s.label] == s.path.parent.name and split == "val"
    warnings = _warnings(events)
    assert any("data changed since the run" in w for w in warnings)
    assert any("1 images are new since the run" in w for w in warnings)
    picked, _, _ = pick_samples(run_dir, demo_copy, "train", quiet_events())
    assert {s.path.name for s, _ in picked} == trained

    rep = evaluate_run(run_dir, demo_copy, quiet_events(), lambda: False)
    assert rep["split"] == "val" and rep["n"] == len(held_out)


def test_unchanged_data_gives_no_warning_and_other_data_is_split_now(demo_root: Path, tmp_path: Path) -> None:
    run_dir = _train(demo_root, tmp_path / "runs")
    events = quiet_events()
    picked, _, used = pick_samples(run_dir, demo_root, "val", events)
    assert used == "val" and not _warnings(events)
    assert sorted(s.path for s, _ in picked) == sorted(s.path for s in scan(demo_root).splits["val"])
    other = Path(shutil.copytree(demo_root, tmp_path / "other"))
    events = quiet_events()
    picked, _, used = pick_samples(run_dir, other, "auto", events)
    assert used == "all" and len(picked) == 36 and not _warnings(events)
    assert {split for _, split in picked} == {"train", "val"}


def test_a_model_file_evaluated_on_all_images_says_they_may_include_its_training_photos(demo_root: Path) -> None:
    """`evaluate model.pt DATA` reported "98.7% on 300 images (all splits)" on the photos it was
    trained on, without a word: a model file records no splits."""
    events = quiet_events()
    _, _, used = pick_samples(None, demo_root, "auto", events)
    assert used == "all"
    assert _warnings(events) == ["a model file records no splits: every image is evaluated, including any it "
                                 "was trained on; evaluate its run folder on that data for an honest figure"]


def test_evaluate_writes_each_images_result(demo_root: Path, tmp_path: Path) -> None:
    run_dir = _train(demo_root, tmp_path / "runs")
    rep = evaluate_run(run_dir, demo_root, quiet_events(), lambda: False, split="all")
    with open(run_dir / runs.PREDICTIONS, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["path", "split", "true_label", "predicted_label", "confidence",
                       "prob_car", "prob_motorcycle", "prob_truck"]
    assert len(rows) - 1 == rep["n"] == 36
    recorded = runs.recorded_splits(run_dir)
    for path, split, true, predicted, confidence, *probs in rows[1:]:
        assert (demo_root / path).is_file() and path.startswith(f"{true}/")
        assert split == recorded[path]
        assert predicted in ("car", "motorcycle", "truck")
        assert sum(map(float, probs)) == pytest.approx(1.0, abs=1e-4)
        assert 0 <= float(confidence) <= max(map(float, probs)) + 1e-6  # on --threshold's scale
    classes, results = read_evaluation(run_dir / runs.PREDICTIONS)
    assert classes == ["car", "motorcycle", "truck"]
    assert [r.path for r in results] == [r[0] for r in rows[1:]]
    assert sum(r.true_label == r.predicted_label for r in results) == round(rep["accuracy"] * 36)


def test_evaluation_reports_calibration_error_before_and_after_and_the_unknown_share(demo_root: Path,
                                                                                     tmp_path: Path) -> None:
    run_dir = _train(demo_root, tmp_path / "runs")
    rep = evaluate_run(run_dir, demo_root, quiet_events(), lambda: False)  # the run's own val photos
    saved = json.loads((run_dir / runs.EVALUATION).read_text())
    trust = read_trust(run_dir)
    assert saved["calibration"]["temperature"] == trust.temperature
    # on the photos the temperature was fitted on, evaluate finds what calibration recorded
    assert saved["calibration"]["ece_before"] == pytest.approx(trust.ece_before, abs=1e-4)
    assert saved["calibration"]["ece_after"] == pytest.approx(trust.ece_after, abs=1e-4)
    assert sum(b["count"] for b in saved["calibration"]["bins"]) == rep["n"]
    assert saved["unknown"]["threshold"] == trust.threshold
    assert saved["unknown"]["rate"] == pytest.approx(1 - trust.val_coverage, abs=1e-6)
    text = format_report(rep)
    assert "expected calibration error" in text and "before" in text and "after" in text


def test_the_report_names_its_split_and_whole_class_names() -> None:
    from trainer.metrics import report

    rep = {**report([0, 1, 2, 2], [0, 1, 2, 1], ["car", "motorcycle", "articulated-lorry"]), "split": "val"}
    text = format_report(rep)
    assert "accuracy 75.0% on 4 val images" in text
    header = text.split("columns: predicted)\n")[1].splitlines()[0]
    assert header.split() == ["car", "motorcycle", "articulated-lorry"]
    assert "on 4 images (all splits)" in format_report({**rep, "split": "all"})


def test_a_figure_measured_on_val_says_it_leans_optimistic() -> None:
    """100% on 36 val images read as the model's accuracy, though those photos also chose the
    epoch, the temperature and the threshold; a test split's figure needs no such word."""
    from trainer.metrics import VAL_CAVEAT, report

    rep = report([0, 1], [0, 1], ["car", "truck"])
    assert format_report({**rep, "split": "val"}).splitlines()[1] == VAL_CAVEAT
    assert VAL_CAVEAT not in format_report({**rep, "split": "test"})
