"""exports.json: which files a run was exported to, and which of them a threshold change leaves behind."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from trainer import exports, runs


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / runs.CONFIG).write_text("{}", encoding="utf-8")
    (run / runs.BEST).write_bytes(b"checkpoint")
    return run / runs.BEST


def test_only_existing_files_with_another_threshold_are_named(tmp_path: Path) -> None:
    best = _run(tmp_path)
    kept, gone, same = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "c.pt"
    for path, threshold in ((kept, 0.3), (gone, 0.3), (same, 0.5)):
        path.write_bytes(b"model")
        exports.record_export(best, path, threshold)
    gone.unlink()
    stale = exports.stale_exports(best, 0.5)
    assert [e["path"] for e in stale] == [str(kept.resolve())]
    assert exports.stale_exports(best.with_name(runs.LAST), 0.5) == []  # another checkpoint's exports
    words = exports.stale_words(stale, 0.5)
    assert words.startswith(f"Exported before this change, {kept.resolve()} (exported ")
    assert words.endswith("0.3) keeps its old threshold: export again to ship 0.5.")
    exports.record_export(best, kept, 0.5)  # exported again to the same place: one note, the new one
    assert exports.stale_exports(best, 0.5) == []
    assert len(json.loads((best.parent / exports.EXPORTS).read_text(encoding="utf-8"))) == 3


def test_a_file_written_again_since_is_no_longer_this_runs_export(tmp_path: Path) -> None:
    best = _run(tmp_path)
    shipped = tmp_path / "model.onnx"
    shipped.write_bytes(b"run A's model")
    exports.record_export(best, shipped, 0.3)
    shipped.write_bytes(b"run B's model, exported to the same name")
    assert exports.stale_exports(best, 0.5) == []  # "export again" would overwrite run B's model


@pytest.mark.parametrize("name", ["model.pt", runs.BEST])
def test_a_checkpoint_outside_a_run_folder_keeps_no_record(tmp_path: Path, name: str) -> None:
    loose = tmp_path / name  # a colleague's file in Downloads, even one named best.pt
    loose.write_bytes(b"checkpoint")
    exports.record_export(loose, tmp_path / "copy.pt", 0.3)
    assert not (tmp_path / exports.EXPORTS).exists() and exports.stale_exports(loose, 0.5) == []


def test_a_record_that_cannot_be_written_or_read_never_fails_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    best = _run(tmp_path)
    (best.parent / exports.EXPORTS).write_text("[{broken", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert exports.stale_exports(best, 0.5) == []

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exports, "write_json", full)
    with caplog.at_level(logging.WARNING):
        exports.record_export(best, tmp_path / "m.onnx", 0.3)
    assert "could not note the export" in caplog.text and "cannot be read" in caplog.text
