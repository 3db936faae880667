"""The Runs page with damaged run folders: shown as damaged with the reason, the rest works."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from tests.conftest import quiet_events
from trainer import runs
from trainer.config import TrainConfig
from trainer.engine import train
from vehicleapp.main_window import MainWindow
from vehicleapp.models.runs_model import COLUMNS


def test_damaged_runs_show_why_and_the_healthy_one_still_works(qtbot, window: MainWindow, demo_root: Path,  # noqa: ANN001
                                                               tmp_path: Path, answers) -> None:  # noqa: ANN001
    out = tmp_path / "runs"
    healthy = train(TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                                out=str(out), workers=1), quiet_events(), lambda: False)
    broken = shutil.copytree(healthy, out / "broken")
    (broken / runs.BEST).write_bytes(b"")
    cut = (broken / runs.CONFIG).read_bytes()
    (broken / runs.CONFIG).write_bytes(cut[: len(cut) // 2])
    rp = window.runs_page
    rp.refresh()
    model = rp.model
    assert model.rowCount() == 2
    rows = {model.run_at(r).name: r for r in range(model.rowCount())}
    status = COLUMNS.index("Status")
    assert model.data(model.index(rows["broken"], status)) == "damaged"
    tip = model.data(model.index(rows["broken"], status), Qt.ItemDataRole.ToolTipRole)
    assert "config.json is cut off" in tip and "best.pt is empty" in tip
    rp.select_runs({broken})
    assert not rp.evaluate_button.isEnabled() and not rp.resume_button.isEnabled()
    assert rp.delete_button.isEnabled()  # it may be deleted, after the usual question
    rp.select_runs({healthy})
    assert rp.evaluate_button.isEnabled()
    answers.confirm_answer = False
    rp.select_runs({broken})
    rp.delete_selected()
    assert broken.is_dir() and answers.confirms == ["Delete runs"]
