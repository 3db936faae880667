"""Item models checked with qtmodeltester, and their filters."""

from __future__ import annotations

from pathlib import Path

from trainer.csvfile import Prediction
from trainer.datasets import browse
from vehicleapp.models.predictions import PredictionFilter, PredictionsModel
from vehicleapp.models.runs_model import RunsModel
from vehicleapp.models.thumbnails import PATH_ROLE, ThumbnailFilter, ThumbnailModel
from vehicleapp.workers import ThumbnailLoader


def test_thumbnail_model_and_filter(qtmodeltester, qtbot, demo_root: Path) -> None:  # noqa: ANN001
    loader = ThumbnailLoader(size=32)
    model = ThumbnailModel(loader)
    _, classes, entries = browse(demo_root)
    model.set_entries(entries)
    qtmodeltester.check(model)
    proxy = ThumbnailFilter()
    proxy.setSourceModel(model)
    proxy.set_filter("truck")
    assert proxy.rowCount() == 12
    qtmodeltester.check(proxy)
    path = model.data(model.index(0), PATH_ROLE)
    loader.wait()  # the model tester asked for every decoration: let those loads finish first
    loader.cache.pop(str(path), None)
    assert isinstance(path, Path)  # a Qt string could not hold every file name
    with qtbot.waitSignal(loader.signals.ready, timeout=10_000, check_params_cb=lambda p: p == str(path)):
        assert loader.pixmap(path) is None  # queued; arrives on the GUI thread
    assert loader.pixmap(path) is not None
    loader.wait()


def test_runs_model(qtmodeltester, tmp_path: Path, demo_root: Path) -> None:  # noqa: ANN001
    from tests.conftest import quiet_events
    from trainer.config import TrainConfig
    from trainer.engine import train

    for lr in (0.01, 0.001):
        train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48, lr=lr,
                          out=str(tmp_path)), quiet_events(), lambda: False)
    model = RunsModel(tmp_path)
    model.refresh()
    assert model.rowCount() == 2
    qtmodeltester.check(model)


def test_predictions_model_and_filter(qtmodeltester) -> None:  # noqa: ANN001
    model = PredictionsModel()
    rows = [Prediction("a.jpg", "car", 0.9, [0.9, 0.1]), Prediction("b.jpg", "truck", 0.55, [0.45, 0.55]),
            Prediction("c.jpg", error="unreadable")]
    model.set_results(Path("/tmp"), ["car", "truck"], rows)
    qtmodeltester.check(model)
    proxy = PredictionFilter()
    proxy.setSourceModel(model)
    proxy.set_filter("", 0.6)
    assert [r.path for r in proxy.visible_rows()] == ["a.jpg"]
    proxy.set_filter("truck", 0.0)
    assert [r.path for r in proxy.visible_rows()] == ["b.jpg"]
    qtmodeltester.check(proxy)


def test_a_confidence_lowered_by_unfamiliarity_says_so_beside_its_probability(qtmodeltester) -> None:  # noqa: ANN001
    """Was: "unknown, 15.6%" next to P(truck) 0.995, with nothing on the row saying why."""
    from PySide6.QtCore import Qt

    model = PredictionsModel()
    rows = [Prediction("odd.jpg", "unknown", 0.156, [0.002, 0.003, 0.995]),
            Prediction("sure.jpg", "truck", 0.97, [0.01, 0.02, 0.97])]
    model.set_results(Path("/tmp"), ["car", "motorcycle", "truck"], rows)
    qtmodeltester.check(model)
    confidence = 3
    assert model.index(0, confidence).data() == "15.6% (unfamiliar)"
    assert model.index(1, confidence).data() == "97.0%"
    assert "looks unlike the photos the model was trained on" in model.index(0, confidence).data(
        Qt.ItemDataRole.ToolTipRole)
    tip = model.headerData(confidence, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "lowered for a photo that looks unlike" in tip and "unknown" in tip
    assert model.headerData(6, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole).startswith(
        "How likely the photo is a truck")


def test_unfamiliar_means_less_familiar_than_the_runs_validation_photos(qtmodeltester) -> None:  # noqa: ANN001
    """A real-photo walkthrough: 15 of 24 ordinary new photos read "(unfamiliar)", as every
    photo's confidence is lowered a little and any 5 points counted. With the run's own measure
    (9 in 10 validation photos keep at least 0.35 of their probability), only the unusual do."""
    from vehicleapp.models.predictions import lowered, verdict_html

    usual = Prediction("usual.jpg", "truck", 0.40, [0.0, 0.0, 1.0])  # factor 0.40: like most val photos
    odd = Prediction("odd.jpg", "unknown", 0.016, [0.0, 0.0, 1.0])  # factor 0.016: unlike them
    assert lowered(usual) and lowered(odd)  # a run that does not say: any 5 points
    assert not lowered(usual, 0.35) and lowered(odd, 0.35)
    model = PredictionsModel()
    model.set_results(Path("/tmp"), ["car", "motorcycle", "truck"], [usual, odd], 0.2, familiar_above=0.35)
    qtmodeltester.check(model)
    assert model.index(0, 3).data() == "40.0%" and model.index(1, 3).data() == "1.6% (unfamiliar)"
    assert "less like the photos" not in verdict_html("usual.jpg", usual, ["car", "motorcycle", "truck"],
                                                      familiar_above=0.35)
