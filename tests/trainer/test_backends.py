"""Backends and precisions: every one agrees with fp32 torch, auto measures once and is cached,
bf16 only where the hardware has it, the feature cache tells backends apart."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch

from tests.conftest import REAL_DATA, REAL_WEIGHTS, quiet_events, run_cli
from trainer import backends, features, ort_runs, scoring
from trainer.atomic import read_json
from trainer.backends import Choice, Selector, backends_dir, candidates, runners
from trainer.batches import ImageBatcher
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.images import IMAGE_EXTENSIONS, default_workers
from trainer.models import build_backbone
from trainer.predict import classify_folder
from trainer.protocol import BF16_MIN_AGREEMENT, PARITY_MAX_PROB_DIFF, PARITY_MIN_AGREEMENT, UsageError

CPU = torch.device("cpu")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


def _compare(a: Path, b: Path) -> tuple[float, float]:
    """Top-1 agreement and the largest probability difference of two prediction CSVs."""
    ra, rb = _rows(a), _rows(b)
    assert [r[0] for r in ra] == [r[0] for r in rb] and ra
    agree, diff = 0, 0.0
    for x, y in zip(ra, rb):
        px, py = [float(v) for v in x[3:-1]], [float(v) for v in y[3:-1]]
        agree += px.index(max(px)) == py.index(max(py))
        diff = max(diff, *(abs(u - v) for u, v in zip(px, py)))
    return agree / len(ra), diff


def test_candidates_follow_the_options_and_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "native_bf16", lambda device: False)
    assert candidates("auto", "auto", CPU) == [Choice("torch", "fp32", "cpu"), Choice("onnxruntime", "fp32", "cpu")]
    assert candidates("torch", "auto", CPU) == [Choice("torch", "fp32", "cpu")]  # no emulated bf16 on auto
    assert candidates("torch", "bf16", CPU) == [Choice("torch", "bf16", "cpu")]  # asked for: given
    monkeypatch.setattr(backends, "native_bf16", lambda device: True)
    assert Choice("torch", "bf16", "cpu") in candidates("auto", "auto", CPU)
    assert candidates("auto", "fp32", CPU)[0] == Choice("torch", "fp32", "cpu")
    with pytest.raises(UsageError, match="bf16 needs --backend torch"):
        candidates("onnxruntime", "bf16", CPU)


def test_a_bad_backend_option_is_a_one_line_error(one_run: Path, tmp_path: Path) -> None:
    res = run_cli("classify", str(one_run), str(tmp_path), "--backend", "onnxruntime", "--precision", "bf16")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "bf16 needs --backend torch" in res.stderr


def test_auto_measures_once_then_reads_its_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = build_backbone("mobilenet_v2", "none").eval()
    x = torch.randn(4, 3, 64, 64)
    notes: list[str] = []
    first = runners({"mobilenet_v2": module}, 64, CPU, "auto", "fp32", lambda: x, 10_000, notes.append)
    choice = first["mobilenet_v2"].choice
    assert len(notes) == 1 and "measured images/s" in notes[0] and choice.backend in ("torch", "onnxruntime")
    sel = Selector(module, 64, CPU, "auto", "fp32")
    assert sel.decided() == choice
    measured = backends.read_json(sel.decision_file)["measured"]
    assert set(measured) == {"torch-fp32-cpu", "onnxruntime-fp32-cpu"}
    assert all(m["accepted"] and m["max_rel_diff"] <= PARITY_MAX_PROB_DIFF for m in measured.values())

    def must_not_measure(*args: object) -> None:
        raise AssertionError("measured again")

    monkeypatch.setattr(Selector, "measure", must_not_measure)
    again = runners({"mobilenet_v2": module}, 64, CPU, "auto", "fp32", lambda: x, 10_000, notes.append)
    assert again["mobilenet_v2"].choice == choice and len(notes) == 1


def test_a_burst_of_load_in_one_round_does_not_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Choices are timed in turns and keep their best round: fp32 torch slowed to a crawl in its
    first round (another job started) still wins when it is the fastest the rest of the time."""
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    real, calls = backends._timed, {"torch": 0, "onnxruntime": 0}

    def timed(runner: backends.Runner, probe: torch.Tensor) -> tuple[torch.Tensor, float]:
        out, _ = real(runner, probe)
        calls[runner.choice.backend] += 1
        if runner.choice.backend == "torch":
            return out, 10.0 if calls["torch"] == 1 else 300.0
        return out, 200.0

    monkeypatch.setattr(backends, "_timed", timed)
    sel = Selector(module, 32, CPU, "auto", "fp32", cache=tmp_path)
    chosen = sel.measure(torch.randn(4, 3, 32, 32))
    assert chosen.choice == Choice("torch", "fp32", "cpu")
    assert calls == {"torch": backends.TIMING_ROUNDS, "onnxruntime": backends.TIMING_ROUNDS}
    assert sel.report["measured"]["torch-fp32-cpu"]["images_per_s"] == 300.0


def test_small_jobs_without_a_decision_use_fp32_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Selector, "measure", lambda *a: pytest.fail("a small job measured"))
    found = runners({"mobilenet_v2": build_backbone("mobilenet_v2", "none")}, 64, CPU, "auto", "auto",
                    lambda: None, backends.AUTO_MIN_IMAGES - 1)
    assert found["mobilenet_v2"].choice == Choice("torch", "fp32", "cpu")


def test_a_backend_that_disagrees_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong but fast backend loses to fp32 torch, however fast it is."""
    module = build_backbone("mobilenet_v2", "none").eval()
    real_build = Selector.build

    def broken_onnx(self: Selector, choice: Choice) -> backends.Runner:
        runner = real_build(self, choice)
        if choice.backend == "onnxruntime":
            wrong = {"__call__": lambda s, x: torch.zeros(len(x), 1280)}
            runner.__class__ = type("Wrong", (backends.OrtRunner,), wrong)
        return runner

    monkeypatch.setattr(Selector, "build", broken_onnx)
    found = runners({"m": module}, 64, CPU, "auto", "fp32", lambda: torch.randn(4, 3, 64, 64), 10_000)
    assert found["m"].choice == Choice("torch", "fp32", "cpu")


@pytest.mark.parametrize("n", [1, 3, 8])
def test_onnxruntime_runs_of_a_few_images_give_the_same_features(tmp_path: Path, n: int) -> None:
    """A batch cut into runs of 1, 2 or 3 images, one per core at a time, equals one whole-batch
    run, for batches smaller than, equal to and larger than a run."""
    module = build_backbone("mobilenet_v2", "none").eval()
    sel = Selector(module, 64, CPU, "onnxruntime", "fp32", cache=tmp_path)
    built = sel.build(sel.options[0])
    assert isinstance(built, backends.OrtRunner) and built.parts == default_workers()
    graph = tmp_path / f"{sel.key}.onnx"
    whole = backends.OrtRunner(graph, sel.options[0], CPU, sel.key, parts=1)
    x = torch.randn(n, 3, 64, 64)
    ref = whole(x)
    assert ref.shape == (n, 1280) and whole.session.per_run == 0
    for per_run in (1, 2, 3):
        split = backends.OrtRunner(graph, sel.options[0], CPU, sel.key, parts=3)
        split.session.per_run = per_run
        assert torch.allclose(split(x), ref, rtol=0.0, atol=1e-5)


def test_the_run_size_is_measured_once_per_machine_and_graph(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch measures how many images a run should hold and caches it beside the
    graph; the next session on the same graph reads it, also from a copy of the cache folder;
    a changed graph is measured again; a graph that cannot be timed runs one run per core; a
    damaged cached value is measured again."""
    monkeypatch.setattr(ort_runs, "default_workers", lambda: 2)  # the same on a one-core machine
    module = build_backbone("mobilenet_v2", "none").eval()
    sel = Selector(module, 64, CPU, "onnxruntime", "fp32", cache=tmp_path)
    first = sel.build(sel.options[0])
    assert first.session.per_run is None  # not measured until it is used
    first(torch.randn(2, 3, 64, 64))
    assert first.session.per_run in ort_runs.PER_RUN_CHOICES
    cached = list(tmp_path.glob("per-run-*.json"))
    assert len(cached) == 1 and read_json(cached[0])["per_run"] == first.session.per_run

    monkeypatch.setattr(ort_runs, "per_run_rates", lambda *a: pytest.fail("measured twice"))
    again = sel.build(sel.options[0])
    again(torch.randn(2, 3, 64, 64))
    assert again.session.per_run == first.session.per_run

    copy = tmp_path / "copied"
    copy.mkdir()
    for f in tmp_path.glob("*.*"):  # another path and file time, the same graph: not measured again
        (copy / f.name).write_bytes(f.read_bytes())
    copied = Selector(module, 64, CPU, "onnxruntime", "fp32", cache=copy).build(sel.options[0])
    copied(torch.randn(2, 3, 64, 64))
    assert copied.session.per_run == first.session.per_run

    graph = tmp_path / f"{sel.key}.onnx"
    changed_graph = onnx.load(str(graph))
    changed_graph.doc_string = "another graph"
    onnx.save(changed_graph, str(graph))  # other bytes: measured again
    monkeypatch.setattr(ort_runs, "per_run_rates", lambda *a: {1: 1.0, 2: 3.0, 4: 2.0, 8: 0.5})
    changed = sel.build(sel.options[0])
    changed(torch.randn(2, 3, 64, 64))
    assert changed.session.per_run == 2

    def cannot_time(*args: object) -> dict[int, float]:
        raise RuntimeError("no")

    changed_graph.doc_string = "a third graph"
    onnx.save(changed_graph, str(graph))
    monkeypatch.setattr(ort_runs, "per_run_rates", cannot_time)
    untimed = sel.build(sel.options[0])
    x = torch.randn(5, 3, 64, 64)
    assert torch.allclose(untimed(x), changed(x), rtol=0.0, atol=1e-5)
    assert untimed.session.per_run == 0  # one run per core

    monkeypatch.setattr(ort_runs, "per_run_rates", lambda *a: {1: 1.0, 2: 3.0, 4: 2.0, 8: 0.5})
    sel.build(sel.options[0])(x)  # measured and cached for the graph as it is now
    for file in tmp_path.glob("per-run-*.json"):
        file.write_text('{"per_run": -3}')
    monkeypatch.setattr(ort_runs, "per_run_rates", lambda *a: {1: 1.0, 2: 0.5, 4: 2.0, 8: 0.5})
    damaged = sel.build(sel.options[0])
    damaged(x)
    assert damaged.session.per_run == 4


def test_every_core_gets_a_run_and_an_empty_batch_is_answered(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A measured run size never leaves a core without a run (a last batch of 3 photos on 4
    cores with runs of 8 is 3 runs); an empty batch has an empty answer."""
    module = build_backbone("mobilenet_v2", "none").eval()
    sel = Selector(module, 64, CPU, "onnxruntime", "fp32", cache=tmp_path)
    graph = tmp_path / f"{sel.key}.onnx"
    sel.build(sel.options[0])
    session = ort_runs.OrtSession(graph, CPU, parts=4, per_run=8)
    sizes: list[int] = []
    real_run = session.session.run

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(session.session, name)

        def run(self, outputs: list[str], feed: dict) -> list:
            sizes.extend(len(v) for v in feed.values())
            return real_run(outputs, feed)

    session.session = Counting()  # type: ignore[assignment]
    x = np.random.default_rng(0).standard_normal((3, 3, 64, 64)).astype(np.float32)
    out = session.run(["features"], x)[0]
    assert sorted(sizes) == [1, 1, 1] and out.shape == (3, 1280)
    sizes.clear()
    session.run(["features"], np.random.default_rng(0).standard_normal((32, 3, 64, 64)).astype(np.float32))
    assert sizes == [8, 8, 8, 8]
    empty = session.run(["features"], x[:0])[0]
    assert empty.shape == (0, 1280)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real MobileNetV2 head on real photos (shared weights), or a demo-data run without them."""
    out = tmp_path_factory.mktemp("backend-run")
    if REAL_DATA.is_dir() and REAL_WEIGHTS.is_file():
        data, weights, size = REAL_DATA, str(REAL_WEIGHTS), 112
    else:
        from trainer.demo_data import make_demo_data

        data, weights, size = make_demo_data(out / "demo", per_class=30, size=64), "none", 64
    cfg = TrainConfig(data=str(data), weights=weights, freeze=True, epochs=3, image_size=size, out=str(out / "runs"),
                      tta="off", cache_dir=str(out / "cache"))
    return train(cfg, quiet_events(), lambda: False), data


@pytest.mark.parametrize(("backend", "precision"), [("onnxruntime", "fp32"), ("torch", "bf16")])
def test_every_backend_classifies_like_fp32_torch(real_run: tuple[Path, Path], tmp_path: Path, backend: str,
                                                   precision: str) -> None:
    run, data = real_run
    ref = classify_folder(run, data, tmp_path / "ref.csv", quiet_events(), lambda: False, recursive=True,
                          backend="torch", precision="fp32")
    got = classify_folder(run, data, tmp_path / "got.csv", quiet_events(), lambda: False, recursive=True,
                          backend=backend, precision=precision)
    assert set(ref["backends"].values()) == {"torch fp32 on cpu"}
    assert set(got["backends"].values()) == {f"{backend} {precision} on cpu"}
    agree, diff = _compare(tmp_path / "ref.csv", tmp_path / "got.csv")
    if precision == "fp32":
        assert agree >= PARITY_MIN_AGREEMENT and diff <= PARITY_MAX_PROB_DIFF
    else:
        assert agree >= BF16_MIN_AGREEMENT, f"bf16 top-1 agreement {agree:.2%}"


def test_torch_keeps_one_thread_only_while_onnxruntime_streams(real_run: tuple[Path, Path], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              request: pytest.FixtureRequest) -> None:
    """Beside onnxruntime's runs torch has one thread (its spinning team took their cores);
    with torch backbones it keeps them all; afterwards the process has as many as before."""
    run, data = real_run
    threads: dict[str, list[int]] = {}
    real_call, real_store = scoring.TorchScorer.__call__, features._store

    def call(self: scoring.TorchScorer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        threads["scoring"].append(torch.get_num_threads())
        return real_call(self, x)

    def store(*args: object) -> None:
        threads["features"].append(torch.get_num_threads())
        real_store(*args)

    monkeypatch.setattr(scoring.TorchScorer, "__call__", call)
    monkeypatch.setattr(features, "_store", store)
    outside = torch.get_num_threads()
    torch.set_num_threads(2)  # so that one thread is told apart on any machine
    request.addfinalizer(lambda: torch.set_num_threads(outside))
    before = torch.get_num_threads()
    for backend, expected in (("onnxruntime", 1), ("torch", before)):
        threads.update(scoring=[], features=[])
        classify_folder(run, data, tmp_path / "p.csv", quiet_events(), lambda: False, recursive=True,
                        backend=backend, precision="fp32")
        train(TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                          out=str(tmp_path / "runs"), cache_dir=str(tmp_path / backend), tta="off", backend=backend,
                          precision="fp32"), quiet_events(), lambda: False)
        # the last calls stream the photos (checking a backend's answers may come first)
        assert threads["scoring"][-1] == expected and set(threads["features"]) == {expected}, backend
        assert torch.get_num_threads() == before


def test_feature_cache_names_the_backend(real_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = real_run
    cache = tmp_path / "cache"
    for backend in ("torch", "onnxruntime"):
        train(TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                          out=str(tmp_path / "runs"), cache_dir=str(cache), tta="off", backend=backend,
                          precision="fp32"),
              quiet_events(), lambda: False)
    names = sorted(p.name.split("-", 1)[1] for p in cache.glob("*.pt"))
    assert names == ["onnxruntime-fp32-cpu.pt", "torch-fp32-cpu.pt"]


def test_a_damaged_exported_graph_falls_back_to_torch_and_is_measured_again(tmp_path: Path) -> None:
    module = build_backbone("mobilenet_v2", "none").eval()
    sel = Selector(module, 64, CPU, "auto", "fp32")
    sel.decision_file.parent.mkdir(parents=True, exist_ok=True)
    backends.write_json(sel.decision_file, {"choice": {"backend": "onnxruntime", "precision": "fp32", "device": "cpu"}})
    (sel.cache / f"{sel.key}.onnx").write_bytes(b"half a file")
    torch.save({"choice": "onnxruntime-fp32-cpu"}, sel.kept_file)  # kept with the decision: goes with it
    notes: list[str] = []
    found = runners({"m": module}, 64, CPU, "auto", "fp32", lambda: None, 10_000, notes.append)
    assert found["m"].choice == Choice("torch", "fp32", "cpu")
    assert "running on fp32 torch" in notes[0] and not sel.decision_file.exists()
    assert not sel.kept_file.exists()


def test_a_decision_among_fewer_choices_is_not_autos(monkeypatch: pytest.MonkeyPatch) -> None:
    """--backend torch decides between fp32 and bf16; auto must still measure onnxruntime."""
    monkeypatch.setattr(backends, "native_bf16", lambda device: True)
    module = build_backbone("mobilenet_v2", "none").eval()
    x = torch.randn(4, 3, 64, 64)
    runners({"m": module}, 64, CPU, "torch", "auto", lambda: x, 10_000)
    assert Selector(module, 64, CPU, "torch", "auto").decided() is not None
    assert Selector(module, 64, CPU, "auto", "auto").decided() is None


def _photos(data: Path, scorer: scoring.TorchScorer, n: int = 8) -> torch.Tensor:
    paths = sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)[:n]
    with ImageBatcher(scorer.preprocess.transform(), 1) as batcher:
        x = batcher(paths)[0]
    assert x is not None and len(x) == n
    return x


def _favour_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever this machine measures, onnxruntime is the fastest (so its answers are checked)."""
    real = backends._timed

    def timed(runner: backends.Runner, probe: torch.Tensor) -> tuple[torch.Tensor, float]:
        out, rate = real(runner, probe)
        return out, rate * (1000 if runner.choice.backend == "onnxruntime" else 1)

    monkeypatch.setattr(backends, "_timed", timed)


def test_answers_are_checked_on_the_features_the_measurement_kept(real_run: tuple[Path, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The measurement keeps fp32 torch's and the chosen backend's features of its photos; the
    model's answers are compared on them, so no backbone runs again to check them."""
    run, data = real_run
    _favour_onnxruntime(monkeypatch)
    scorer = scoring.load_torch_scorer(run)
    x = _photos(data, scorer)
    monkeypatch.setattr(scoring, "verify", lambda *a: pytest.fail("the backbones ran again to check the answers"))
    notes: list[str] = []
    scorer.use_backends("auto", "auto", lambda: x, 10_000, notes.append)
    assert scorer.choices() == {"mobilenet_v2": "onnxruntime fp32 on cpu"}, notes
    kept = torch.load(next((backends_dir()).glob("*.probe.pt")), weights_only=True)
    assert kept["choice"] == "onnxruntime-fp32-cpu" and kept["reference"].shape == kept["chosen"].shape
    assert kept["reference"].shape[0] == len(x)
    assert list(backends_dir().glob("verified-*"))  # checked: the next job checks nothing


def test_answers_that_differ_on_the_kept_features_fall_back_to_fp32_torch(real_run: tuple[Path, Path],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run, data = real_run
    _favour_onnxruntime(monkeypatch)
    scorer = scoring.load_torch_scorer(run)
    x = _photos(data, scorer)
    runners(dict(scorer.scored.model.backbones.items()), scorer.preprocess.crop, CPU, "auto", "auto", lambda: x,
            10_000)  # the decision, as a training run makes it
    file = next(backends_dir().glob("*.probe.pt"))
    kept = torch.load(file, weights_only=True)
    kept["chosen"] = kept["reference"].clone()
    kept["chosen"][3] = float("nan")  # a backend that broke on one photo (NaN is neither near nor far)
    torch.save(kept, file)
    monkeypatch.setattr(scoring, "verify", lambda *a: pytest.fail("the backbones ran again to check the answers"))
    notes: list[str] = []
    scorer.use_backends("auto", "auto", lambda: x, 10_000, notes.append)
    assert scorer.scored.runners == {} and "this job runs on fp32 torch" in notes[-1]
    assert "not a number" in notes[-1]
    assert not list(backends_dir().glob("verified-*"))


def test_without_kept_features_the_answers_are_checked_on_the_jobs_photos(tmp_path: Path) -> None:
    """A decision from before features were kept, a damaged file, or an ensemble whose backbones
    were measured on different photos: the job's own photos are used (:func:`scoring.verify`)."""
    choice = Choice("onnxruntime", "fp32", "cpu")

    def runner(name: str, photos: str) -> SimpleNamespace:
        torch.save({"photos": photos, "choice": choice.key(), "reference": torch.ones(2, 4),
                    "chosen": torch.ones(2, 4)}, tmp_path / name)
        return SimpleNamespace(kept=tmp_path / name, choice=choice)

    a, b, c = runner("a.pt", "p1"), runner("b.pt", "p1"), runner("c.pt", "p2")
    assert set(backends.kept_probe({"a": a, "b": b}) or {}) == {"a", "b"}
    assert backends.kept_probe({"a": a, "c": c}) is None  # measured on different photos
    assert backends.kept_probe({"a": SimpleNamespace(kept=None, choice=choice)}) is None
    (tmp_path / "a.pt").write_bytes(b"half a file")
    assert backends.kept_probe({"a": a}) is None
    torch.save({"photos": "p1", "choice": choice.key(), "reference": torch.ones(2, 4)}, tmp_path / "a.pt")
    assert backends.kept_probe({"a": a}) is None  # half of what was kept
    assert backends.kept_probe({"b": SimpleNamespace(kept=b.kept, choice=Choice("torch", "bf16", "cpu"))}) is None
