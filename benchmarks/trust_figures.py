"""Calibration, "unknown" and ONNX figures on the shared real photos (README "Measured").

Usage: python benchmarks/trust_figures.py [--seeds 0 1 2] [--parts calibration unknown onnx]

* ECE before/after temperature scaling: on the run's val photos (where T was fitted), and
  cross-fitted (T fitted on one half of val, ECE measured on the other, both ways).
* "unknown": each class in turn is left out of training (train on the other two); the share
  answered unknown on val vs on the never-seen class, and the AUROC of the confidence between
  them; the plain calibrated max probability (msp) of the same run for comparison.
* ONNX: top-1 agreement and largest probability difference per model (MobileNetV2 backbones
  use the shared weights file; ResNet-50 has no offline weights here: ``none``).
Needs ../shared/datasets/vehicles-real-dev and ../shared/weights.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

import torch
from _common import REAL_DATA, mobilenet_weights, scratch_dir

from trainer import runs
from trainer.calibration import fit_temperature, threshold_for
from trainer.checkpoint import preprocess_of, read_trust
from trainer.config import TrainConfig
from trainer.csvfile import read_evaluation, read_predictions
from trainer.engine import train
from trainer.evaluate import evaluate_run
from trainer.events import Events
from trainer.images import load_image
from trainer.metrics import auroc, expected_calibration_error
from trainer.onnx_export import export_onnx
from trainer.predict import classify_folder
from trainer.registry import list_models
from trainer.scoring import load_scored

CLASSES = ("car", "motorcycle", "truck")


def _train(data: Path, tmp: Path, seed: int = 0, model: str = "mobilenet_v2") -> Path:
    weights = {"mobilenet_v2": mobilenet_weights(), "resnet50": "none"}
    wanted = {"mobilenet_v2": weights["mobilenet_v2"]} if model == "mobilenet_v2" else (
        {"resnet50": "none"} if model == "resnet50" else weights)
    cfg = TrainConfig(data=str(data), model=model, weights=wanted, freeze=True, epochs=15, seed=seed,
                      out=str(tmp / "runs"), cache_dir=str(tmp / "cache"))
    return train(cfg, Events(), lambda: False)


def _val_logits(run: Path, data: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Raw logits and labels of the run's val photos (recomputed: the CSV's rounded
    probabilities cannot give back small logits)."""
    scored, ckpt = load_scored(run)
    transform = preprocess_of(ckpt).transform()
    rels = sorted(rel for rel, split in (runs.recorded_splits(run) or {}).items() if split == "val")
    with torch.no_grad():
        logits = torch.cat([scored(torch.stack([transform(load_image(data / r)) for r in rels[i : i + 32]]))[2]
                            for i in range(0, len(rels), 32)])
    labels = torch.tensor([list(ckpt["classes"]).index(r.split("/")[0]) for r in rels])
    return logits, labels, rels


def _cross_fitted_ece(run: Path) -> tuple[float, float]:
    """ECE without / with a temperature fitted on the *other* half of val (two folds)."""
    logits, labels, rels = _val_logits(run, REAL_DATA)
    half = [int(hashlib.sha1(r.encode()).hexdigest(), 16) % 2 for r in rels]
    sums, n = {"before": 0.0, "after": 0.0}, len(rels)
    for fold in (0, 1):
        fit = [i for i in range(n) if half[i] != fold]
        test = [i for i in range(n) if half[i] == fold]
        t = fit_temperature(logits[fit], labels[fit])
        correct = (logits[test].argmax(1) == labels[test]).tolist()
        for temperature, total in ((1.0, "before"), (t, "after")):
            top = torch.softmax(logits[test] / temperature, 1).max(1).values.tolist()
            sums[total] += expected_calibration_error(top, correct) * len(test)
    return sums["before"] / n, sums["after"] / n


def calibration(tmp: Path, seeds: list[int]) -> None:
    print("\n## ECE before -> after (15-bin), 3 classes, MobileNetV2 shared weights, 15 epochs")
    for seed in seeds:
        run = _train(REAL_DATA, tmp, seed)
        rep = evaluate_run(run, REAL_DATA, Events(), lambda: False)
        cal, unk = rep["calibration"], rep["unknown"]
        cb, ca = _cross_fitted_ece(run)
        print(f"seed {seed}: n_val {rep['n']}, T {cal['temperature']:.3f}; val (fit set) {cal['ece_before']:.4f} -> "
              f"{cal['ece_after']:.4f}; cross-fitted {cb:.4f} -> {ca:.4f}; unknown on val {unk['rate']:.3f} "
              f"({unk['score']}, threshold {unk['threshold']:.3f})")


def unknown(tmp: Path) -> None:
    print("\n## never-seen class: train on two, the third left out")
    for left in CLASSES:
        data = tmp / f"without-{left}"
        data.mkdir()
        for c in CLASSES:
            if c != left:
                os.symlink(REAL_DATA / c, data / c)
        run = _train(data, tmp)
        val = evaluate_run(run, data, Events(), lambda: False)
        _, val_rows = read_evaluation(run / runs.PREDICTIONS)
        summary = classify_folder(run, REAL_DATA / left, tmp / f"{left}.csv", Events(), lambda: False)
        _, rows = read_predictions(tmp / f"{left}.csv")
        new = list(rows)
        conf_k, conf_n = [r.confidence for r in val_rows], [r.confidence or 0.0 for r in new]
        msp_k, msp_n = [max(r.probs) for r in val_rows], [max(r.probs) for r in new]
        t_msp = threshold_for(torch.tensor(msp_k), 0.95)
        trust = read_trust(run)
        print(f"left out {left}: score {trust.score} (held-out AUROC measured by the run {trust.auroc}); "
              f"unknown on val {val['unknown']['rate']:.3f}, on never-seen {summary['unknown'] / summary['rows']:.3f}, "
              f"AUROC {auroc(conf_k, conf_n):.3f} | msp alone: AUROC {auroc(msp_k, msp_n):.3f}, rejects "
              f"{sum(m < t_msp for m in msp_n) / len(msp_n):.3f} at 95% val coverage")


def onnx(tmp: Path) -> None:
    print("\n## ONNX export parity (real photos, 15 epochs)")
    for model in list_models():
        run = _train(REAL_DATA, tmp, model=model)
        t0 = time.perf_counter()
        parity = export_onnx(run, tmp / f"{model}.onnx")
        print(f"{model}: {parity.text()}; export+check {time.perf_counter() - t0:.1f} s, "
              f"{(tmp / f'{model}.onnx').stat().st_size / 1e6:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--parts", nargs="+", default=["calibration", "unknown", "onnx"])
    args = ap.parse_args()
    if not REAL_DATA.is_dir():
        raise SystemExit(f"needs {REAL_DATA}")
    tmp = scratch_dir("trust")
    if "calibration" in args.parts:
        calibration(tmp, args.seeds)
    if "unknown" in args.parts:
        unknown(tmp)
    if "onnx" in args.parts:
        onnx(tmp)


if __name__ == "__main__":
    main()
