"""What a new user found with runs on two datasets: the run pickers' defaults, the comparison
legends, the try-a-photo sentence, the window title and stale classification results."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder, open_folder
from trainer.csvfile import Prediction, write_predictions
from trainer.protocol import UNKNOWN
from trainer.runs import METRICS, write_metrics
from vehicleapp.main_window import MainWindow
from vehicleapp.widgets.charts import CompareCurves
from vehicleapp.widgets.run_picker import forget_choice

CLASSES = ["car", "motorcycle", "truck"]


def fake_run(runs_dir: Path, stamp: str, data: Path, epochs: int, best_acc: float) -> Path:
    """A finished run folder as ``trainer train`` leaves it (a checkpoint that looks whole)."""
    run = runs_dir / f"{stamp}-mobilenet_v2-lr0.001-bs8"
    run.mkdir(parents=True)
    created = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"
    config = {"data": str(data), "model": "mobilenet_v2", "weights": "imagenet", "lr": 0.001, "batch_size": 8,
              "epochs": epochs, "status": "done", "created": created, "classes": CLASSES}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_metrics(run, [{"epoch": e, "train_loss": 1.0 / e, "train_acc": best_acc - 0.1 / e,
                         "val_loss": 0.9 / e, "val_acc": best_acc - 0.05 * (epochs - e) / epochs}
                        for e in range(1, epochs + 1)])
    assert (run / METRICS).is_file()
    with zipfile.ZipFile(run / "best.pt", "w") as z:
        z.writestr("archive/data.pkl", b"not loaded by these tests")
    return run


def _runs_on_two_datasets(window: MainWindow, photos: Path, tmp_path: Path) -> dict[str, Path]:
    """Runs on ``photos`` and on another folder ``small``, whose run scores best."""
    out = window.runs.runs_dir
    assert out is not None
    runs = {"photos-3": fake_run(out, "20261130-060848", photos, 3, 0.97),
            "small": fake_run(out, "20261130-060952", tmp_path / "small", 3, 1.0),
            "photos-15": fake_run(out, "20261130-061232", photos, 15, 0.985),
            "photos-3b": fake_run(out, "20261130-061302", photos, 3, 0.97)}
    window.runs.refresh()  # listed before the dataset opens, as at a start with a folder argument
    return runs


# -- 1. the run pickers default to a run trained on the open dataset -------------------------------------
def test_labeling_and_review_default_to_the_best_run_on_the_open_dataset(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path, tmp_path: Path) -> None:
    runs = _runs_on_two_datasets(window, demo_root, tmp_path)
    suggestions = window.label_page.suggestions
    assert suggestions is not None
    assert suggestions.run_combo.currentData() == str(runs["small"])  # no dataset yet: the best run
    open_folder(qtbot, window, answers, demo_root)
    review = window.review_page
    for combo in (suggestions.run_combo, review.run_combo, window.classify_page.run_combo):
        assert combo.currentData() == str(runs["photos-15"])
    # the Review page says what to do with what is open, not "open a dataset and train a model"
    assert "Open a dataset" not in review.status.text()
    assert demo_root.name in review.status.text() and "Review the dataset" in review.status.text()
    # a run the user picks stays across a refresh (a finished job) ...
    review.run_combo.setCurrentIndex(review.run_combo.findData(str(runs["small"])))
    review.run_combo.activated.emit(review.run_combo.currentIndex())
    assert "trained on small" in review.status.text()  # and the page says it was trained elsewhere
    window.runs.refresh()
    assert review.run_combo.currentData() == str(runs["small"])


def test_runs_on_other_datasets_only_when_none_was_trained_on_the_open_one(
        qtbot: QtBot, window: MainWindow, answers: DialogRecorder, demo_root: Path, tmp_path: Path) -> None:
    out = window.runs.runs_dir
    assert out is not None
    elsewhere = fake_run(out, "20261130-060952", tmp_path / "small", 3, 1.0)
    window.runs.refresh()
    open_folder(qtbot, window, answers, demo_root)
    review = window.review_page
    assert review.run_combo.currentData() == str(elsewhere)
    assert "trained on small, not on" in review.status.text()


# -- 2. comparison legends: never on the curves, short but telling ------------------------------------------
def test_comparison_legend_stays_off_the_plots_and_names_only_what_differs(qtbot: QtBot, demo_root: Path,
                                                                          tmp_path: Path) -> None:
    from trainer.runs import load_run

    paths = [fake_run(tmp_path / "runs", "20261130-061302", demo_root, 3, 0.97),
             fake_run(tmp_path / "runs", "20261130-061232", demo_root, 15, 0.985),
             fake_run(tmp_path / "runs", "20261130-060952", tmp_path / "small", 3, 1.0)]
    chart = CompareCurves()
    qtbot.addWidget(chart)
    chart.resize(860, 400)
    chart.show()
    chart.show_runs([load_run(p) for p in paths])
    chart.draw()
    renderer = chart.figure.canvas.get_renderer()
    legends = list(chart.figure.legends) + [ax.get_legend() for ax in chart.figure.axes if ax.get_legend()]
    assert legends, "the runs are named somewhere"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in chart.figure.axes:  # neither the curves nor the axis labels are covered
            assert not box.overlaps(ax.get_tightbbox(renderer)), "a legend covers a plot"
    texts = [t.get_text() for legend in legends for t in legend.get_texts()]
    data = demo_root.name
    assert texts == [f"{data} · 3 ep", f"{data} · 15 ep", "small · 3 ep", "val", "train"]
    assert all(len(t) <= 30 for t in texts)
    assert legends[0].get_title().get_text() == "mobilenet_v2 · lr 0.001 · bs 8"


# -- 3. the try-a-photo sentence --------------------------------------------------------------------------
def _try_result(window: MainWindow, tmp_path: Path, name: str, p: Prediction) -> str:
    page = window.classify_page
    photo = tmp_path / name
    photo.write_bytes(b"")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    write_predictions(work / "prediction.csv", CLASSES, [p])
    page.try_path = photo
    page._show_try(work)
    return page.try_result.text()


def test_an_unknown_photo_says_it_looks_unlike_the_training_photos(window: MainWindow, tmp_path: Path) -> None:
    text = _try_result(window, tmp_path, "truck95.jpg", Prediction("truck95.jpg", UNKNOWN, 0.058, [0.0, 0.0, 1.0]))
    assert "a <b>unknown" not in text and "sure" not in text
    assert "looks unlike the photos the model was trained on" in text
    assert "best guess (truck, 100%) is not trusted" in text
    assert "not recognised" in window.classify_page.status.text()
    torn = _try_result(window, tmp_path, "x.jpg", Prediction("x.jpg", UNKNOWN, 0.45, [0.45, 0.1, 0.45]))
    assert "cannot tell which class" in torn


def test_a_known_photo_reads_as_a_sentence(window: MainWindow, tmp_path: Path) -> None:
    classes = ["ambulance", "car"]
    page = window.classify_page
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"")
    work = tmp_path / "work"
    work.mkdir()
    write_predictions(work / "prediction.csv", classes, [Prediction("a.jpg", "ambulance", 0.9, [0.9, 0.1])])
    page.try_path = photo
    page._show_try(work)
    assert "is an <b>ambulance</b> (90.0% sure)" in page.try_result.text()


def test_unknown_rows_in_the_results_table_explain_themselves(window: MainWindow, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    csv = tmp_path / "p.csv"
    write_predictions(csv, CLASSES, [Prediction("t.jpg", UNKNOWN, 0.058, [0.0, 0.0, 1.0]),
                                     Prediction("c.jpg", "car", 0.9, [0.9, 0.05, 0.05])])
    page = window.classify_page
    page.load_results(tmp_path, csv)
    tips = [page.model.index(r, 2).data(Qt.ItemDataRole.ToolTipRole) for r in range(2)]
    assert "looks unlike the photos the model was trained on" in tips[0] and tips[1] is None


# -- 4. the app's name once in the title, the dataset once in the model box -------------------------------
def test_window_title_names_the_app_once(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
                                         demo_root: Path) -> None:
    open_folder(qtbot, window, answers, demo_root)
    title = window.windowTitle()
    assert title == f"{demo_root.name} — Vehicle Classifier"
    assert title.endswith("Vehicle Classifier")  # so Qt does not append the display name again


def test_the_model_box_names_each_runs_dataset_once(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
                                                    demo_root: Path, tmp_path: Path) -> None:
    runs = _runs_on_two_datasets(window, demo_root, tmp_path)
    combo = window.classify_page.run_combo
    texts = {p: combo.itemText(combo.findData(str(p))) for p in runs.values()}
    assert len(set(texts.values())) == len(texts)  # still told apart
    for path, text in texts.items():
        assert text.count(demo_root.name) + text.count("small") == 1, text
        assert path.name not in text  # look-alike runs differ by their start time, not the long folder name
    assert "06:13:02" in texts[runs["photos-3b"]]


# -- 5. a new classification starts with an empty table -------------------------------------------------
def test_a_new_classify_job_clears_the_last_results(qtbot: QtBot, window: MainWindow, answers: DialogRecorder,
                                                    demo_root: Path, tmp_path: Path) -> None:
    _runs_on_two_datasets(window, demo_root, tmp_path)
    page = window.classify_page
    csv = tmp_path / "p.csv"
    write_predictions(csv, CLASSES, [Prediction("c.jpg", "car", 0.9, [0.9, 0.05, 0.05]),
                                     Prediction("bad.jpg", error="not an image")])
    page.load_results(tmp_path, csv)
    assert page.model.rowCount() == 2
    page.folder.setText(str(tmp_path / "no-such-folder"))
    with qtbot.waitSignal(window.runner.finished, timeout=60_000) as finished:
        assert page.start() is not None
        assert page.model.rowCount() == 0 and page.label_filter.count() == 0
    assert finished.args[1] == "failed"
    assert page.model.rowCount() == 0  # nothing of the previous folder is listed under "Failed"
    assert page.shown.text() == "0 of 0 shown"


# -- 6. another model chosen: the previous model's results go ----------------------------------------------
def test_choosing_another_model_clears_the_previous_models_results(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    runs = _runs_on_two_datasets(window, tmp_path / "photos", tmp_path)
    page = window.classify_page
    csv = tmp_path / "p.csv"
    write_predictions(csv, CLASSES, [Prediction("c.jpg", "car", 0.9, [0.9, 0.05, 0.05])])
    page.load_results(tmp_path, csv)
    window.runs.refresh()  # the same model stays chosen: its results stay
    assert page.model.rowCount() == 1
    other = page.run_combo.findData(str(runs["photos-3"]))
    assert other != page.run_combo.currentIndex()
    page.run_combo.setCurrentIndex(other)
    page.run_combo.activated.emit(other)  # as a user's pick
    assert page.model.rowCount() == 0 and page.status.text() == (
        f"The model changed: the folder's results were the other model's (they stay in {csv}): classify again "
        "to see what this model says.")
    page.load_results(tmp_path, csv)
    fake_run(window.runs.runs_dir, "20261130-070000", tmp_path / "photos", 3, 0.999)
    forget_choice(page.run_combo)  # as when the user never picked one
    window.runs.refresh()  # a new best run is chosen by itself
    assert page.model.rowCount() == 0
