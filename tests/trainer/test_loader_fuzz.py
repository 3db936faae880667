"""The loader fuzz benchmark runs (a few seconds here; 10 minutes before a release): mutated
JPEG/PNG/HEIC bytes are loaded or refused with ImageLoadError, never a crash, hang or other error."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_a_short_fuzz_run_finds_no_crash_hang_or_unexpected_exception(tmp_path) -> None:  # noqa: ANN001
    res = subprocess.run([sys.executable, "loader_fuzz.py", "--seconds", "4", "--limit", "20", "--json",
                          "--save", str(tmp_path / "findings")], cwd=ROOT / "benchmarks", capture_output=True,
                         text=True, timeout=300)
    report = json.loads(res.stdout)
    assert res.returncode == 0, report["problems"]
    assert report["tried"] > 100 and report["loaded"] > 0 and report["refused_cleanly"] > 0
    assert report["crashes"] == report["hangs"] == report["other_exceptions"] == 0
    assert {"jpeg", "png-rgba"} <= set(report["seeds"])
