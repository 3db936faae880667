"""Ensembles of finished runs: one run folder that evaluates, classifies and exports like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import quiet_events
from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer.evaluate import evaluate_run
from trainer.predict import classify_folder
from trainer.protocol import UsageError
from trainer.run_ensemble import MODEL, combine, learn_weights, make_ensemble
from trainer.trust import Trust


@pytest.fixture(scope="module")
def ensemble_run(model_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ensembles")
    return make_ensemble([model_runs["resnet50"], model_runs["ensemble"]], out, quiet_events(), lambda: False,
                         workers=1)


def test_the_head_averages_the_members_calibrated_probabilities(model_runs: dict[str, Path]) -> None:
    members = [ckpt_io.load_model(model_runs[m]) for m in ("resnet50", "ensemble")]
    for m, _ in members:
        m.tta = "off"  # the ensemble has one test-time augmentation for all (off here)
    temps = [Trust.from_dict(c.get("trust")).temperature for _, c in members]
    model = combine([m for m, _ in members], temps, [0.25, 0.75]).eval()
    x = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        expected = sum(w * torch.softmax(m(x) / t, 1) for (m, _), t, w in zip(members, temps, (0.25, 0.75)))
        got = torch.softmax(model(x), 1)
    assert torch.allclose(got, expected, atol=1e-5)


def test_an_ensemble_is_a_run_folder_that_evaluates_and_classifies(ensemble_run: Path, demo_root: Path,
                                                                   tmp_path: Path) -> None:
    info = runs.load_run(ensemble_run)
    assert info.config["model"] == MODEL and info.status == "done"
    assert [m["model"] for m in info.config["members"]] == ["resnet50", "ensemble"]
    assert info.best_val_acc is not None and (ensemble_run / runs.SPLITS).is_file()
    rep = evaluate_run(ensemble_run, demo_root, quiet_events(), lambda: False, split="val")
    assert rep["accuracy"] == pytest.approx(runs.read_metrics(ensemble_run)[0]["val_acc"])
    summary = classify_folder(ensemble_run, demo_root / "truck", tmp_path / "p.csv", quiet_events(), lambda: False,
                              workers=1)
    assert summary["rows"] == 12 and summary["errors"] == 0


def test_an_ensemble_exports_to_onnx_with_parity(ensemble_run: Path, tmp_path: Path) -> None:
    from trainer.onnx_export import export_onnx

    assert export_onnx(ensemble_run, tmp_path / "e.onnx", quiet_events()).ok


def test_learned_weights_favour_the_better_member() -> None:
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    good = torch.log_softmax(torch.nn.functional.one_hot(labels, 2).float() * 4, 1)
    bad = torch.log_softmax(torch.zeros(6, 2), 1)
    w = learn_weights([bad, good], labels)
    assert sum(w) == pytest.approx(1.0) and w[1] > 0.9


def test_runs_that_cannot_be_combined_are_refused(model_runs: dict[str, Path], ensemble_run: Path,
                                                  tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least two"):
        make_ensemble([model_runs["resnet50"]], tmp_path, quiet_events(), lambda: False)
    with pytest.raises(UsageError, match="already an ensemble"):
        make_ensemble([ensemble_run, model_runs["resnet50"]], tmp_path, quiet_events(), lambda: False)
