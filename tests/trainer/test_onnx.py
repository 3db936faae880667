"""``trainer export RUN OUT.onnx``: parity for every model, metadata, classify from the file, exit 4."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import ROOT, quiet_events, run_cli
from trainer import onnx_export
from trainer.csvfile import read_predictions
from trainer.decode import decode
from trainer.onnx_export import OnnxScorer, export_onnx
from trainer.predict import classify_folder
from trainer.protocol import PARITY_MAX_PROB_DIFF, Exit, MissingDependency, UsageError, VerificationFailed
from trainer.registry import list_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(model_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("onnx")
    return {name: _export(run, out / f"{name}.onnx") for name, run in model_runs.items()}


def _export(run: Path, out: Path) -> Path:
    parity = export_onnx(run, out, quiet_events())
    print(f"{run.name}: {parity.text()}")
    return out


@pytest.mark.parametrize("model", list_models())
def test_every_model_exports_with_parity_metadata_and_a_dynamic_batch(exported: dict[str, Path],
                                                                      model_runs: dict[str, Path], model: str) -> None:
    path = exported[model]
    proto = onnx.load(str(path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == ["car", "motorcycle", "truck"]
    assert {"resize", "crop", "mean", "std"} <= set(json.loads(meta["preprocess"]))
    assert float(meta["temperature"]) > 0 and 0 <= float(meta["threshold"]) <= 1 and meta["score"] in ("msp", "knn")
    parity = json.loads(meta["parity"])
    assert parity["agreement"] == 1.0 and parity["max_diff"] <= PARITY_MAX_PROB_DIFF
    assert parity["samples"] == "validation photos"
    assert list(path.parent.glob(f"{path.name}*")) == [path]  # one file: weights inside, no temp left
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    crop = json.loads(meta["preprocess"])["crop"]
    for n in (1, 5):
        probs, conf, logits = session.run(None, {"image": np.zeros((n, 3, crop, crop), np.float32)})
        assert probs.shape == logits.shape == (n, 3) and conf.shape == (n,)


@pytest.mark.parametrize("model", list_models())
def test_classify_from_the_onnx_file_gives_the_runs_csv(exported: dict[str, Path], model_runs: dict[str, Path],
                                                        demo_root: Path, tmp_path: Path, model: str) -> None:
    from_run = classify_folder(model_runs[model], demo_root / "truck", tmp_path / "run.csv", quiet_events(),
                               lambda: False)
    from_onnx = classify_folder(exported[model], demo_root / "truck", tmp_path / "onnx.csv", quiet_events(),
                                lambda: False)
    same = {"out", "backends"}  # where the backbones ran differs, nothing else
    assert {k: v for k, v in from_run.items() if k not in same} == {k: v for k, v in from_onnx.items() if k not in same}
    (_, a), (_, b) = read_predictions(tmp_path / "run.csv"), read_predictions(tmp_path / "onnx.csv")
    for x, y in zip(a, b, strict=True):
        assert (x.path, x.label) == (y.path, y.label)
        tolerance = PARITY_MAX_PROB_DIFF  # the product's one parity tolerance (CSV cells have 6 decimals)
        assert x.probs == pytest.approx(y.probs, abs=tolerance) and x.confidence == pytest.approx(y.confidence,
                                                                                                 abs=tolerance)


def test_a_failed_parity_check_exits_4_and_writes_nothing(model_runs: dict[str, Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    trace = onnx_export._trace

    def broken(module: onnx_export.ScoredModel, crop: int, path: Path) -> None:
        other = copy.deepcopy(module)
        with torch.no_grad():
            for p in other.model.head.parameters():
                p.add_(torch.randn_like(p))  # an exporter bug, simulated: the file computes something else
        trace(other, crop, path)

    monkeypatch.setattr(onnx_export, "_trace", broken)
    with pytest.raises(VerificationFailed, match="export refused.*agreement"):
        export_onnx(model_runs["mobilenet_v2"], tmp_path / "m.onnx", quiet_events())
    assert list(tmp_path.iterdir()) == []


def test_cli_export_prints_parity_and_the_path_and_classify_takes_the_file(model_runs: dict[str, Path],
                                                                           demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    result = run_cli("export", str(model_runs["mobilenet_v2"]), str(out))
    assert result.returncode == Exit.OK, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    assert "top-1 agreement 100.0%" in result.stderr
    events = run_cli("classify", str(out), str(demo_root / "car"), "--out", str(tmp_path / "p.csv"), "--events")
    done = json.loads(events.stdout.strip().splitlines()[-1])
    assert done["event"] == "done" and done["rows"] == 12, events.stderr


def test_an_onnx_file_not_from_trainer_export_is_refused(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(UsageError, match="not written by 'trainer export'"):
        OnnxScorer(tmp_path / "other.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(UsageError, match="not a usable ONNX model"):
        OnnxScorer(tmp_path / "junk.onnx")


def test_missing_onnxruntime_is_exit_5_with_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(MissingDependency, match="pip install onnxruntime"):
        OnnxScorer(tmp_path / "m.onnx")


def test_the_readme_example_runs_with_onnxruntime_numpy_and_pillow_alone(exported: dict[str, Path],
                                                                         model_runs: dict[str, Path],
                                                                         demo_root: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- onnx-example -->\s*```python\n(.*?)```", readme, re.S)
    assert code is not None, "README lost its ONNX example"
    assert len(code.group(1).strip().splitlines()) <= 14
    assert not re.search(r"^\s*(import|from)\s+(torch|trainer)", code.group(1), re.M)
    photo = tmp_path / "photos" / "truck.jpg"  # a phone-sized JPEG: classify decodes it at reduced size
    photo.parent.mkdir()
    with Image.open(sorted((demo_root / "truck").iterdir())[0]) as im:
        im.convert("RGB").resize((1600, 1200)).save(photo, quality=90)
    source = code.group(1).replace('"model.onnx"', repr(str(exported["mobilenet_v2"]))).replace(
        '"photo.jpg"', repr(str(photo)))
    scope: dict[str, object] = {}
    exec(compile(source, "README example", "exec"), scope)  # the README's own code
    pre = scope["pre"]
    pixels = decode(photo, pre["resize"], pre["crop"])  # what classify feeds the model, before normalising
    assert isinstance(pixels, np.ndarray)
    expected = (pixels.astype(np.float32) / 255 - pre["mean"]) / pre["std"]
    assert np.abs(scope["x"] - expected).max() < 1e-5  # the same pixels: the same reduced-size decode
    classify_folder(model_runs["mobilenet_v2"], photo.parent, tmp_path / "p.csv", quiet_events(), lambda: False)
    _, rows = read_predictions(tmp_path / "p.csv")
    row = next(r for r in rows if r.path == photo.name)
    assert scope["label"] == row.label
    assert [float(p) for p in scope["probs"][0]] == pytest.approx(row.probs, abs=1e-4)  # type: ignore[index]
