"""The job protocol and the engine's habits: statuses, exit codes, logs, no silent rebuilds."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import quiet_events
from trainer.config import TrainConfig
from trainer.engine import train
from trainer.protocol import Event, Exit, Status, status_of_exit


def test_exit_codes_map_to_job_statuses() -> None:
    assert status_of_exit(Exit.OK) == Status.DONE == "done"
    assert status_of_exit(Exit.CANCELLED) == Status.CANCELLED
    assert status_of_exit(Exit.FAILED, cancel_requested=True) == Status.CANCELLED  # killed after Stop
    for code in (Exit.FAILED, Exit.USAGE, Exit.VERIFY_FAILED, Exit.MISSING_DEPENDENCY, -9):
        assert status_of_exit(code) == Status.FAILED
    assert [int(e) for e in Exit] == [0, 1, 2, 3, 4, 5]


def test_a_damaged_feature_cache_is_rebuilt_with_a_warning(demo_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(demo_root), weights="none", freeze=True, epochs=1, image_size=48,
                      out=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache"), workers=1, tta="off")
    train(cfg, quiet_events(), lambda: False)
    (cache_file,) = (tmp_path / "cache").iterdir()  # one backbone, no test-time views: one file
    cache_file.write_bytes(b"\x80\x02 not a torch file")
    events = quiet_events()
    run_dir = train(cfg, events, lambda: False)
    warnings = [e["message"] for e in events.seen if e["event"] == Event.WARNING]
    assert any("damaged and is rebuilt" in w for w in warnings), warnings
    assert os.path.getsize(cache_file) > 1000  # rebuilt
    log = (run_dir / "train.log").read_text(encoding="utf-8")
    assert "damaged and is rebuilt" in log and "finished: best val acc" in log


def test_the_terminal_says_1_image_not_1_images() -> None:
    from trainer.events import format_event

    assert format_event({"event": "start", "model": "m", "total": 1}) == "m: 1 image to process"
    assert format_event({"event": "start", "model": "m", "total": 3}) == "m: 3 images to process"
