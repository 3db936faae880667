"""A colleague's model file (an exported ``model.onnx``, a standalone ``model.pt``) on the Classify
page: chosen with *File…*, kept across refreshes of the runs, used by the classify jobs;
*Why?* is off for an ``.onnx`` model, which has no Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from tests.app.conftest import DialogRecorder
from tests.app.test_new_user_fixes import fake_run
from trainer.csvfile import Prediction, write_predictions
from trainer.protocol import Status
from vehicleapp.jobs import Job
from vehicleapp.main_window import MainWindow
from vehicleapp.settings import AppSettings
from vehicleapp.widgets.run_picker import user_choice


@pytest.fixture
def jobs(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> list[Job]:
    """The jobs the window starts, recorded and not run."""
    started: list[Job] = []

    def run(args: list[str], title: str) -> Job:
        started.append(Job(args, title))
        return started[-1]

    monkeypatch.setattr(window.runner, "run", run)
    return started


def _model_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "from-a-colleague" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"not read by these tests")
    return path


def _choose(window: MainWindow, answers: DialogRecorder, path: Path) -> None:
    """*Model file…* clicked, ``path`` chosen in the (patched) file dialog."""
    answers.open_file = str(path)
    window.classify_page.file_button.click()


def test_a_chosen_model_file_is_listed_by_name_and_selected(window: MainWindow, answers: DialogRecorder,
                                                             tmp_path: Path) -> None:
    onnx = _model_file(tmp_path, "model.onnx")
    combo = window.classify_page.run_combo
    _choose(window, answers, onnx)
    assert combo.currentData() == str(onnx) and user_choice(combo) == str(onnx)
    assert combo.currentText().startswith("model.onnx")
    assert combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole) == str(onnx)
    answers.open_file = ""  # the dialog cancelled: nothing changes
    window.classify_page.file_button.click()
    assert combo.currentData() == str(onnx) and combo.count() == 1


def test_the_classify_jobs_use_the_model_file(window: MainWindow, answers: DialogRecorder, jobs: list[Job],
                                              demo_root: Path, tmp_path: Path) -> None:
    page = window.classify_page
    pt = _model_file(tmp_path, "model.pt")
    _choose(window, answers, pt)
    page.folder.setText(str(demo_root / "car"))
    assert page.start() is not None
    assert jobs[-1].args[:3] == ["classify", str(pt), str(demo_root / "car")]
    assert page.try_photo(demo_root / "car" / "car_0002.jpg") is not None
    assert jobs[-1].args[:2] == ["classify", str(pt)]


def test_why_is_off_for_an_onnx_model_and_says_why(window: MainWindow, answers: DialogRecorder, jobs: list[Job],
                                                   demo_root: Path, tmp_path: Path) -> None:
    page = window.classify_page
    page.try_path = demo_root / "car" / "car_0002.jpg"
    _choose(window, answers, _model_file(tmp_path, "model.onnx"))
    assert not page.why_button.isEnabled()
    assert "exported .onnx model cannot show where it looked" in page.why_button.toolTip()
    assert page.why_button.start() is None and jobs == []
    pt = _model_file(tmp_path, "model.pt")
    _choose(window, answers, pt)  # a .pt file explains
    assert page.why_button.isEnabled() and ".onnx" not in page.why_button.toolTip()
    assert page.why_button.start() is not None
    assert jobs[-1].args[:3] == ["explain", str(pt), str(page.try_path)]


def test_the_model_file_stays_chosen_across_refreshes_and_restarts(qtbot: QtBot, window: MainWindow,
                                                                   answers: DialogRecorder, demo_root: Path,
                                                                   tmp_path: Path) -> None:
    page, combo = window.classify_page, window.classify_page.run_combo
    runs_dir = window.runs.runs_dir
    assert runs_dir is not None
    run = fake_run(runs_dir, "20261130-060848", demo_root, 3, 0.97)
    window.runs.refresh()
    assert combo.currentData() == str(run)
    onnx = _model_file(tmp_path, "model.onnx")
    _choose(window, answers, onnx)
    fake_run(runs_dir, "20261130-070000", demo_root, 3, 0.99)  # a better run appears
    window.runs.refresh()
    page.set_dataset(str(demo_root))
    assert combo.count() == 3 and combo.currentData() == str(onnx)
    assert not page.why_button.isEnabled()
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert settings.model_files() == [str(onnx)]
    again = MainWindow(settings=settings, runs_dir=str(tmp_path / "empty-runs"))  # the colleague: no runs
    qtbot.addWidget(again)
    assert again.classify_page.run_combo.currentData() == str(onnx)
    again.runner.shutdown()


def test_dropping_a_model_file_on_the_page_chooses_it(window: MainWindow, tmp_path: Path) -> None:
    """Photos and folders could be dropped on the Classify page, a model file not."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    page, pt = window.classify_page, _model_file(tmp_path, "model.pt")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pt))])
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    page.dragEnterEvent(enter)
    assert enter.isAccepted()
    page.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))
    assert page.run_combo.currentData() == str(pt) and user_choice(page.run_combo) == str(pt)


def test_another_model_hides_the_tried_photos_answer(window: MainWindow, answers: DialogRecorder, jobs: list[Job],
                                                     demo_root: Path, tmp_path: Path) -> None:
    """Was: after File… chose model.onnx, the panel still showed the previous run's answer and heatmap."""
    page = window.classify_page
    _choose(window, answers, _model_file(tmp_path, "model.pt"))
    job = page.try_photo(demo_root / "car" / "car_0002.jpg")
    assert job is not None and not page.file_button.isEnabled()  # the model stays while it answers
    write_predictions(Path(job.args[2]) / "prediction.csv", ["car", "truck"],
                      [Prediction("car_0002.jpg", "car", 0.9, [0.9, 0.1])])
    window.runner.finished.emit(job, Status.DONE, "finished")  # its answer arrived
    assert not page.try_panel.isHidden() and page.file_button.isEnabled()
    _choose(window, answers, _model_file(tmp_path, "model.pt"))  # the same model again: the answer stays
    assert not page.try_panel.isHidden()
    _choose(window, answers, _model_file(tmp_path, "model.onnx"))
    assert page.try_panel.isHidden() and "try the photo again" in page.status.text()
