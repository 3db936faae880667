"""A file typed into a save dialog without its suffix gets the one the dialog asked for."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog

from vehicleapp import dialogs


@pytest.mark.parametrize(
    ("typed", "filters", "expected"),
    [
        ("/tmp/x/model", "ONNX model (*.onnx)", "/tmp/x/model.onnx"),
        ("/tmp/x/model.ONNX", "ONNX model (*.onnx)", "/tmp/x/model.ONNX"),
        ("/tmp/x/results.v2", "CSV (*.csv)", "/tmp/x/results.v2.csv"),
        ("/tmp/x/chart.png", "PNG image (*.png);;SVG (*.svg)", "/tmp/x/chart.png"),
        ("", "CSV (*.csv)", ""),  # cancelled
    ],
)
def test_a_save_dialogs_name_ends_in_its_kind(monkeypatch: pytest.MonkeyPatch, typed: str, filters: str,
                                              expected: str) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (typed, filters))
    assert dialogs.ask_save_file(None, "Save", "x", filters) == expected
