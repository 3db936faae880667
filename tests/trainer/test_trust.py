"""Calibrated confidence and "unknown": temperature, threshold, score choice, CSV, CLI, undo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REAL_DATA, REAL_WEIGHTS, ROOT, quiet_events, run_cli
from trainer import checkpoint, runs
from trainer.calibration import MAX_SLOPE, Fold, Outputs, fit_familiarity, fit_temperature, fit_trust, threshold_for
from trainer.config import TrainConfig
from trainer.csvfile import read_predictions
from trainer.engine import train
from trainer.evaluate import evaluate_run
from trainer.metrics import auroc
from trainer.predict import classify_folder
from trainer.protocol import UNKNOWN, Exit, UsageError
from trainer.trust import Trust, answer, uncalibrated

FAST = ["--weights", "none", "--freeze", "--image-size", "48", "--workers", "1", "--epochs", "1"]


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 4, generator=g) * 4
    labels = torch.multinomial(torch.softmax(logits / 2.0, dim=1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_a_perfectly_separated_val_split_still_gets_a_finite_temperature() -> None:
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0]]).repeat(20, 1)
    labels = torch.tensor([0, 1]).repeat(20)
    t = fit_temperature(logits, labels)  # plain NLL would drive T to 0 and every probability to 1
    assert 0.1 < t < 1.0


@pytest.mark.parametrize("coverage", [0.5, 0.8, 0.95, 0.99])
def test_the_threshold_answers_the_asked_share(coverage: float) -> None:
    conf = torch.rand(137, generator=torch.Generator().manual_seed(1))
    kept = float((conf >= threshold_for(conf, coverage)).float().mean())
    assert coverage <= kept < coverage + 1 / 137 + 1e-9
    assert threshold_for(conf, 1.0) == 0.0


def _outputs(centres: torch.Tensor, per_class: int, seed: int) -> Outputs:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(centres)).repeat_interleave(per_class)
    emb = torch.nn.functional.normalize(centres[labels] + 0.3 * torch.randn(len(labels), centres.shape[1], generator=g),
                                        dim=1)
    return Outputs(emb @ centres.T * 5, emb, labels)


def test_fit_trust_measures_both_scores_and_keeps_the_coverage() -> None:
    centres = torch.nn.functional.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(2)), dim=1)
    trust, bank = fit_trust(_outputs(centres, 30, 3), _outputs(centres, 60, 4), coverage=0.9)
    assert set(trust.auroc) == {"msp", "knn"} and trust.score in ("msp", "knn")
    assert (bank is not None) == (trust.score == "knn")
    assert trust.val_coverage is not None and trust.val_coverage >= 0.9
    assert trust.n_val == 90 and trust.ece_after is not None


def test_a_temperature_that_measures_worse_on_val_is_not_kept() -> None:
    """24 photos: the log-loss fit (T 0.91) took the calibration error from 14% to 20%; a
    "calibrated" model that reads worse than the raw one keeps T = 1 (a walkthrough saw 4.6% → 6.7%)."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(24, 3, generator=g) * 3
    labels = torch.multinomial(torch.softmax(logits / 1.5, dim=1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(0.91, abs=0.01)
    emb = torch.nn.functional.normalize(torch.randn(24, 8, generator=g), dim=1)
    trust, _ = fit_trust(Outputs(logits, emb, labels), Outputs(logits, emb, labels), coverage=0.9)
    assert trust.temperature == 1.0 and trust.ece_after == trust.ece_before == pytest.approx(0.143, abs=0.001)
    g = torch.Generator().manual_seed(0)  # many photos: the fitted temperature helps and stays
    logits = torch.randn(2000, 3, generator=g) * 4
    labels = torch.multinomial(torch.softmax(logits / 2.0, dim=1), 1, generator=g).squeeze(1)
    emb = torch.nn.functional.normalize(torch.randn(2000, 8, generator=g), dim=1)
    trust, _ = fit_trust(Outputs(logits, emb, labels), Outputs(logits, emb, labels), coverage=0.9)
    assert trust.temperature == pytest.approx(2.0, rel=0.1) and trust.ece_after < trust.ece_before


def test_familiarity_is_never_steeper_than_float32_can_follow() -> None:
    g = torch.Generator().manual_seed(5)
    near_one = 1 - 1e-4 * torch.rand(200, generator=g)  # an untrained backbone: every photo looks alike
    known = torch.arange(200) < 100
    fold = Fold(torch.ones(200), torch.where(known, near_one, near_one - 2e-4), known)
    slope, intercept = fit_familiarity([fold])
    assert slope == MAX_SLOPE
    midpoint = -intercept / slope
    assert float(near_one.min()) - 2e-4 < midpoint < float(near_one.max())


def test_answer_uncalibrated_and_the_trust_record_round_trip() -> None:
    assert answer("car", 0.4, 0.5) == UNKNOWN and answer("car", 0.5, 0.5) == "car" and answer("car", 0.0, 0) == "car"
    logits = torch.tensor([2.0, -1.0, 0.5])
    calibrated = torch.softmax(logits / 1.7, dim=0).tolist()
    assert uncalibrated(calibrated, 1.7) == pytest.approx(torch.softmax(logits, dim=0).tolist(), abs=1e-6)
    t = Trust(temperature=1.3, threshold=0.4, score="knn", familiarity=(3.0, -1.0), previous=(0.2,))
    assert Trust.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    assert Trust.from_dict(None) == Trust()  # a checkpoint from before calibration


@pytest.fixture(scope="module")
def run_dir(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, out=str(out),
                      workers=1, cache_dir=str(out / "cache"))
    return train(cfg, quiet_events(), lambda: False)


def test_every_checkpoint_carries_its_trust_and_config_json_shows_the_best(run_dir: Path) -> None:
    for name in (runs.BEST, runs.LAST):
        trust = checkpoint.read_trust(run_dir / name)
        assert trust.coverage == 0.95 and trust.n_val > 0 and trust.val_coverage is not None
    shown = runs.load_run(run_dir).config["trust"]
    assert shown == {**checkpoint.read_trust(run_dir).display(), "checkpoint": runs.BEST}


def test_the_app_reads_the_display_copy_without_torch(run_dir: Path) -> None:
    info = runs.load_run(run_dir)
    assert info.trust is not None and info.trust.threshold == checkpoint.read_trust(run_dir).threshold
    code = "import sys, trainer.runs, trainer.trust; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


def test_set_threshold_is_atomic_shown_and_undoable(run_dir: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    fitted = checkpoint.read_trust(run).threshold
    assert checkpoint.set_threshold(run, 0.7).threshold == 0.7
    assert checkpoint.set_threshold(run, 0.8).previous == (fitted, 0.7)
    assert runs.load_run(run).config["trust"]["threshold"] == 0.8
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []  # no temp files left
    assert checkpoint.undo_threshold(run).threshold == 0.7
    assert checkpoint.undo_threshold(run).threshold == fitted
    with pytest.raises(UsageError, match="nothing to undo"):
        checkpoint.undo_threshold(run)
    with pytest.raises(UsageError, match="between 0 and 1"):
        checkpoint.set_threshold(run, 1.5)
    checkpoint.load_model(run)  # still a loadable checkpoint


def test_classify_writes_unknown_below_the_threshold_and_0_turns_it_off(run_dir: Path, demo_root: Path,
                                                                           tmp_path: Path) -> None:
    folder = demo_root / "car"
    every = classify_folder(run_dir, folder, tmp_path / "all.csv", quiet_events(), lambda: False, threshold=1.0)
    assert every["unknown"] == every["counts"][UNKNOWN] == every["rows"]  # nothing is that sure
    _, rows = read_predictions(tmp_path / "all.csv")
    assert all(r.label == UNKNOWN and len(r.probs) == 3 and r.confidence is not None for r in rows)
    none = classify_folder(run_dir, folder, tmp_path / "none.csv", quiet_events(), lambda: False, threshold=0)
    assert none["unknown"] == 0 and none["threshold"] == 0


def test_cli_threshold_and_classify_override(run_dir: Path, demo_root: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    set_ = run_cli("threshold", str(run), "0.9")
    assert set_.returncode == Exit.OK and set_.stdout.strip().splitlines()[-1] == "0.9", set_.stderr
    out = tmp_path / "p.csv"
    cls = run_cli("classify", str(run), str(demo_root / "truck"), "--out", str(out), "--threshold", "1")
    assert cls.returncode == Exit.OK, cls.stderr
    assert f"unknown={len(list((demo_root / 'truck').iterdir()))}" in cls.stderr
    undo = run_cli("threshold", str(run), "--undo", "--events")
    done = json.loads(undo.stdout.strip().splitlines()[-1])
    assert done["event"] == "done" and done["trust"]["threshold"] == checkpoint.read_trust(run_dir).threshold
    bad = run_cli("threshold", str(run), "2")
    assert bad.returncode == Exit.USAGE and "between 0 and 1" in bad.stderr
    both = run_cli("threshold", str(run), "0.5", "--undo")
    assert both.returncode == Exit.USAGE and "not both" in both.stderr


def test_coverage_option_is_validated(demo_root: Path, tmp_path: Path) -> None:
    result = run_cli("train", str(demo_root), *FAST, "--coverage", "0", "--out", str(tmp_path))
    assert result.returncode == Exit.USAGE and "--coverage must be in (0, 1]" in result.stderr


# -- real photos: the figures behind the README's "Measured" rows --------------------------
needs_real = pytest.mark.skipif(not (REAL_DATA.is_dir() and REAL_WEIGHTS.is_file()), reason="../shared not present")


def _real_run(data: Path, out: Path) -> Path:
    cfg = TrainConfig(data=str(data), model="mobilenet_v2", weights=str(REAL_WEIGHTS), epochs=15, out=str(out / "runs"),
                      cache_dir=str(out / "cache"), workers=2)
    return train(cfg, quiet_events(), lambda: False)


@pytest.fixture(scope="module")
def real_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real")


@pytest.mark.slow
@needs_real
def test_calibration_lowers_ece_on_real_photos_and_the_threshold_keeps_its_coverage(real_out: Path) -> None:
    run = _real_run(REAL_DATA, real_out)
    rep = evaluate_run(run, REAL_DATA, quiet_events(), lambda: False)  # the run's own val photos
    cal, unk = rep["calibration"], rep["unknown"]
    print(f"ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f} (T={cal['temperature']:.3f}); "
          f"unknown on val {unk['rate']:.3f} at {unk['threshold']:.3f} ({unk['score']})")
    assert cal["ece_after"] < cal["ece_before"]
    assert 0 < unk["rate"] <= 1 - 0.95 + 1e-9


@pytest.mark.slow
@needs_real
def test_a_class_never_trained_on_is_answered_unknown_far_more_often_than_val_photos(real_out: Path) -> None:
    data = real_out / "car-truck"
    data.mkdir()
    for name in ("car", "truck"):  # motorcycles stay out of training: the never-seen kind
        os.symlink(REAL_DATA / name, data / name)
    run = _real_run(data, real_out)
    val = evaluate_run(run, data, quiet_events(), lambda: False)["unknown"]["rate"]
    unseen = classify_folder(run, REAL_DATA / "motorcycle", real_out / "moto.csv", quiet_events(), lambda: False)
    rate = unseen["unknown"] / unseen["rows"]
    _, rows = read_predictions(real_out / "moto.csv")
    new = [r.confidence or 0.0 for r in rows]
    _, known_rows = read_predictions(_classify_val(run, data, real_out))
    print(f"unknown: val {val:.3f}, never-seen {rate:.3f}; "
          f"AUROC {auroc([r.confidence or 0.0 for r in known_rows], new):.3f}")
    assert val <= 0.05 + 1e-9 and rate >= 0.5 and rate >= 5 * max(val, 0.02)


def _classify_val(run: Path, data: Path, out: Path) -> Path:
    folder = out / "val-photos"
    folder.mkdir()
    for rel, split in (runs.recorded_splits(run) or {}).items():
        if split == "val":
            os.symlink(data / rel, folder / rel.replace("/", "_"))
    classify_folder(run, folder, out / "val.csv", quiet_events(), lambda: False)
    return out / "val.csv"


def test_a_threshold_change_names_the_files_exported_before_it(run_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from trainer import cli

    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    fitted = checkpoint.read_trust(run).threshold
    shipped, gone = tmp_path / "ship" / "model.pt", tmp_path / "gone.pt"
    for out in (shipped, gone):
        assert cli.main(["export", str(run), str(out)]) == 0
    gone.unlink()  # a file deleted since is not named
    capsys.readouterr()

    def threshold(*args: str) -> list[dict]:
        assert cli.main(["threshold", str(run), *args, "--events"]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    events = threshold("0.9")
    (warning,) = [e for e in events if e["event"] == "warning"]
    assert warning["stale_exports"] == events[-1]["stale_exports"] == [str(shipped.resolve())]
    assert str(shipped.resolve()) in warning["message"] and "export again to ship 0.9." in warning["message"]
    assert checkpoint.read_trust(shipped).threshold == fitted  # the shipped file kept the old one
    assert cli.main(["export", str(run), str(shipped)]) == 0  # exported again: it carries 0.9 now
    capsys.readouterr()
    assert threshold()[-1]["stale_exports"] == []  # showing it changes nothing
    events = threshold("--undo")
    assert [e["stale_exports"] for e in events if e["event"] == "warning"] == [[str(shipped.resolve())]]
    assert "export again to ship" in next(e for e in events if e["event"] == "warning")["message"]


def test_the_usual_familiarity_is_what_nine_in_ten_validation_photos_keep() -> None:
    import torch

    from trainer.calibration import usual_familiarity

    probs = torch.tensor([[0.9, 0.1]] * 10)
    factors = torch.linspace(0.1, 1.0, 10)  # 0.1, 0.2, ... 1.0
    value = usual_familiarity(probs.max(dim=1).values * factors, probs)
    assert value is not None and 0.1 <= value <= 0.2  # 9 of the 10 keep at least this much
    assert Trust.from_dict(Trust(familiar_above=value).to_dict()).familiar_above == value
    assert Trust(familiar_above=value).display()["familiar_above"] == value  # config.json shows it
