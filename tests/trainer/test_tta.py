"""Test-time augmentation: chosen on val, recorded, the same in the engine, the cache and the export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import quiet_events
from trainer import checkpoint as ckpt_io
from trainer import runs
from trainer import tta as TTA
from trainer.config import TrainConfig
from trainer.csvfile import read_predictions
from trainer.engine import train
from trainer.evaluate import evaluate_run
from trainer.models import create_model
from trainer.predict import classify_folder, load_scorer


@pytest.fixture(scope="module")
def tta_run(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A resnet50 (random mobilenet_v2 features vanish at 48 px) with every view forced on."""
    out = tmp_path_factory.mktemp("tta")
    cfg = TrainConfig(data=str(demo_root), model="resnet50", weights="none", freeze=True, epochs=2, image_size=48,
                      lr=0.01, workers=1,
                      out=str(out), cache_dir=str(out / "cache"), tta="flip+zoom")
    return train(cfg, quiet_events(), lambda: False)


def test_views_average_the_pooled_features_in_eval_mode_only() -> None:
    model = create_model("mobilenet_v2", 3, "none", frozen={"mobilenet_v2"}).eval()
    x = torch.randn(2, 3, 48, 48)
    plain = model.features(x)["mobilenet_v2"]
    model.tta = "flip"
    flipped = model._features(torch.flip(x, dims=[-1]))["mobilenet_v2"]
    assert torch.allclose(model.features(x)["mobilenet_v2"], (plain + flipped) / 2, atol=1e-6)
    model.train()
    assert torch.allclose(model.features(x)["mobilenet_v2"], plain, atol=1e-6)  # training sees one view


def test_each_view_is_its_function_and_the_zoom_is_resized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(2, 3, 48, 48)
    expected = {"": x, **{name: fn(x) for name, fn in TTA.VIEW_FNS.items()}}
    resized: list[int] = []
    real_zoom = TTA.zoom
    monkeypatch.setattr(TTA, "zoom", lambda t: resized.append(1) or real_zoom(t))
    names = ["", "flip", "zoom", "zoom+flip"]
    got = dict(TTA.views_of(x, names))
    assert list(got) == names and len(resized) == 1
    for name in names:
        assert torch.equal(got[name], expected[name]), name


def test_resolve_keeps_the_runs_choice_unless_overridden() -> None:
    assert TTA.resolve(None, "flip") == "flip"
    assert TTA.resolve("auto", "off") == "off"
    assert TTA.resolve("on", "off") == "flip"
    assert TTA.resolve("on", "flip+zoom") == "flip+zoom"
    assert TTA.resolve("off", "flip+zoom") == "off"
    with pytest.raises(ValueError, match="unknown test-time"):
        TTA.resolve("sideways", "off")


def test_the_run_records_its_mode_and_calibrates_with_it(tta_run: Path) -> None:
    for name in (runs.BEST, runs.LAST):
        assert ckpt_io.peek(tta_run / name, "tta") == "flip+zoom"
    model, _ = ckpt_io.load_model(tta_run)
    assert model.tta == "flip+zoom"
    tried = runs.load_run(tta_run).config["tta_choice"]
    assert tried["mode"] == "flip+zoom" and set(tried["tried"]) == {"flip+zoom"}


def test_cached_view_features_agree_with_the_model_on_photos(tta_run: Path, demo_root: Path) -> None:
    """The val accuracy the run measured from cached view features is what evaluate gets from the photos."""
    tried = runs.load_run(tta_run).config["tta_choice"]["tried"]["flip+zoom"]
    rep = evaluate_run(tta_run, demo_root, quiet_events(), lambda: False, split="val")
    assert rep["tta"] == "flip+zoom"
    assert rep["accuracy"] == pytest.approx(tried["val_acc"])


def test_classify_uses_the_runs_mode_unless_overridden(tta_run: Path, demo_root: Path, tmp_path: Path) -> None:
    on = classify_folder(tta_run, demo_root / "car", tmp_path / "on.csv", quiet_events(), lambda: False, workers=1)
    off = classify_folder(tta_run, demo_root / "car", tmp_path / "off.csv", quiet_events(), lambda: False,
                          workers=1, tta="off")
    assert (on["tta"], off["tta"]) == ("flip+zoom", "off")
    assert on["rows"] == off["rows"] == len(list(read_predictions(tmp_path / "on.csv")[1])) == 12
    x = torch.randn(4, 3, 48, 48)
    assert not torch.allclose(load_scorer(tta_run)(x)[0], load_scorer(tta_run, tta="off")(x)[0], atol=1e-5)


def test_the_export_includes_the_views_and_matches_pytorch(tta_run: Path, tmp_path: Path) -> None:
    from trainer.onnx_export import OnnxScorer, export_onnx
    from trainer.scoring import load_scored

    parity = export_onnx(tta_run, tmp_path / "m.onnx", quiet_events())
    assert parity.ok
    x = torch.randn(3, 3, 48, 48)
    onnx_probs, _ = OnnxScorer(tmp_path / "m.onnx")(x)
    with torch.no_grad():
        with_views, _, _ = load_scored(tta_run)[0](x)
        without, _, _ = load_scored(tta_run, "off")[0](x)
    assert torch.allclose(onnx_probs, with_views, atol=1e-4)
    assert not torch.allclose(onnx_probs, without, atol=1e-4)


def test_every_view_comes_from_one_decode_of_each_photo(demo_root: Path, tmp_path: Path) -> None:
    """Test-time augmentation's views are extracted in one pass (12-MP photos cost ~14 ms of
    decoding each time), with the same features as one view at a time."""
    from trainer.batches import ImageBatcher
    from trainer.features import extract_views
    from trainer.models import build_backbone
    from trainer.preprocess import Preprocess

    paths = sorted(demo_root.rglob("*.jpg"))[:10]
    backbones = {"m": build_backbone("mobilenet_v2", "none").eval()}
    cpu = torch.device("cpu")
    with ImageBatcher(Preprocess(72, 64).transform(), 1) as batcher:
        decoded: list[int] = []
        submit = batcher.submit
        batcher.submit = lambda batch: (decoded.append(len(batch)), submit(batch))[1]  # type: ignore[method-assign]
        views = ("", "flip", "zoom", "zoom+flip")
        found = extract_views(backbones, {v: {"m": f"all-{v}"} for v in views}, paths, batcher, cpu, tmp_path,
                              quiet_events(), lambda: False)
        assert sum(decoded) == len(paths)
        for v in views:
            alone, ok, failed = extract_views(backbones, {v: {"m": f"one-{v}"}}, paths, batcher, cpu, None,
                                              quiet_events(), lambda: False)[v]
            assert ok == found[v][1] == list(range(len(paths))) and not failed
            assert torch.allclose(found[v][0]["m"], alone["m"], atol=1e-5), v
    assert {p.name for p in tmp_path.iterdir()} == {f"all-{v}.pt" for v in views}  # one cache file per view


def test_views_of_some_photos_only_cover_those_photos(demo_root: Path, tmp_path: Path) -> None:
    """``views_for``: the held-out photos get their views in the same pass as every photo's own
    features; a view's result covers only them (unreadable ones reported), row for row what one
    view at a time gives, and asking for those views again decodes nothing."""
    from trainer.batches import ImageBatcher
    from trainer.features import extract_views
    from trainer.preprocess import Preprocess

    paths = sorted(demo_root.rglob("*.jpg"))[:9]
    for name in ("bad-held-out.jpg", "bad-train.jpg"):
        (tmp_path / name).write_bytes(b"not a photo")
    paths[3:3] = [tmp_path / "bad-held-out.jpg"]
    paths[5:5] = [tmp_path / "bad-train.jpg"]
    some = [i % 3 == 0 for i in range(len(paths))]  # 0, 3 (unreadable), 6, 9
    pixels = {"m": torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())}  # rows differ per photo
    cpu, cache = torch.device("cpu"), tmp_path / "cache"
    with ImageBatcher(Preprocess(72, 64).transform(), 1) as batcher:
        found = extract_views(pixels, {"": {"m": "all"}, "flip": {"m": "flip"}}, paths, batcher, cpu, cache,
                              quiet_events(), lambda: False, some)
        alone = extract_views(pixels, {"flip": {"m": "alone"}}, [p for p, s in zip(paths, some) if s], batcher,
                              cpu, None, quiet_events(), lambda: False)["flip"]
        decoded: list[int] = []
        submit = batcher.submit
        batcher.submit = lambda batch: (decoded.append(len(batch)), submit(batch))[1]  # type: ignore[method-assign]
        again = extract_views(pixels, {"flip": {"m": "flip"}}, [p for p, s in zip(paths, some) if s], batcher,
                              cpu, cache, quiet_events(), lambda: False)["flip"]
    assert found[""][1] == [i for i in range(len(paths)) if i not in (3, 5)]
    assert set(found[""][2]) == {str(paths[3]), str(paths[5])}
    assert found["flip"][1] == [0, 6, 9] and set(found["flip"][2]) == {str(paths[3])}
    assert alone[1] == [0, 2, 3]
    assert not torch.allclose(alone[0]["m"][0], alone[0]["m"][1], atol=1e-3)
    assert torch.allclose(found["flip"][0]["m"], alone[0]["m"], atol=1e-6)
    assert decoded == [] and torch.equal(again[0]["m"], found["flip"][0]["m"])


def test_photos_with_their_own_features_cached_compute_only_their_views(demo_root: Path, tmp_path: Path) -> None:
    """A run trying views after one that did not (``--tta off`` before ``auto``) runs the
    backbone on the held-out photos' views alone and leaves the photos' own store unwritten."""
    from trainer.batches import ImageBatcher
    from trainer.features import extract_views
    from trainer.preprocess import Preprocess

    paths = sorted(demo_root.rglob("*.jpg"))[:6]
    some = [i % 2 == 0 for i in range(len(paths))]
    seen: list[int] = []
    pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten())

    def counted(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return pool(x)

    cpu, cache = torch.device("cpu"), tmp_path / "cache"
    with ImageBatcher(Preprocess(72, 64).transform(), 1) as batcher:
        first = extract_views({"m": counted}, {"": {"m": "own"}}, paths, batcher, cpu, cache, quiet_events(),
                              lambda: False)[""]
        written = (cache / "own.pt").stat().st_mtime_ns
        seen.clear()
        found = extract_views({"m": counted}, {"": {"m": "own"}, "flip": {"m": "flip"}}, paths, batcher, cpu, cache,
                              quiet_events(), lambda: False, some)
    assert seen == [3]  # the three held-out photos' flip view, nothing else
    assert (cache / "own.pt").stat().st_mtime_ns == written
    assert torch.equal(found[""][0]["m"], first[0]["m"]) and found["flip"][1] == [0, 2, 4]


@pytest.mark.parametrize("tta", ["auto", "flip", "off"])
def test_a_cold_run_decodes_each_photo_once(tta: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frozen run trying test-time augmentation computes its val photos' views in the feature
    pass (a 12-MP photo costs ~14 ms of decoding each time), and only where it tries them; test
    photos, never used to choose, get only the chosen mode's views (decoded again only then)."""
    import trainer.batches as batches
    from trainer.demo_data import make_demo_data

    data = make_demo_data(tmp_path / "data", per_class=10, size=48, seed=2, splits=True)
    decoded: list[str] = []
    real = batches.decode

    def counted(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        decoded.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(batches, "decode", counted)
    cfg = TrainConfig(data=str(data), model="mobilenet_v2", weights="none", freeze=True, epochs=1,
                      image_size=48, workers=1, out=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache"),
                      tta=tta, backend="torch", precision="fp32")
    events = quiet_events()
    run = train(cfg, events, lambda: False)
    choice = runs.load_run(run).config["tta_choice"]
    assert set(choice["tried"]) == ({"off", "flip", "flip+zoom"} if tta == "auto" else {tta})
    done = next(e for e in events.seen if e["event"] == "done")  # the test accuracy of the chosen mode
    assert done["test_acc"] == runs.load_run(run).test_acc == choice["tried"][choice["mode"]]["test_acc"]
    assert f"test acc {done['test_acc']:.1%}" in done["message"]
    n = len(choice["tried"])  # the app shows a step per mode tried, not a finished-looking bar
    assert [(e["done"], e["total"]) for e in events.seen if e.get("phase") == "tta"] == [(i, n) for i in range(n + 1)]
    test_photos = sorted(str(p) for p in (data / "test").rglob("*.jpg"))
    again = test_photos if choice["mode"] != "off" else []
    assert sorted(decoded) == sorted([str(p) for p in data.rglob("*.jpg")] + again)
    stores = [{k.split("|")[0] for k in torch.load(f, weights_only=True)["keys"]}
              for f in (tmp_path / "cache").glob("*.pt")]
    val_photos = {str(p) for p in (data / "val").rglob("*.jpg")}
    assert len(stores) == {"auto": 4, "flip": 2, "off": 1}[tta]  # the photo itself, flip, zoom, zoom+flip
    views = [s for s in stores if len(s) < len(decoded) - len(again)]
    assert all(val_photos <= s for s in views)
    assert sum(set(test_photos) <= s for s in views) == len(TTA.extra_views(choice["mode"]))
    assert all(s <= val_photos | set(test_photos) for s in views)
