"""The GUI process never imports torch: every torch use lives in a child job (fast start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VEHICLEAPP = Path(__file__).resolve().parents[2] / "vehicleapp"

SCRIPT = """
import importlib, pathlib, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
root = pathlib.Path(sys.argv[1])
for path in sorted(root.rglob("*.py")):
    if path.stem != "__main__":
        parts = path.relative_to(root.parent).with_suffix("").parts
        importlib.import_module(".".join(p for p in parts if p != "__init__"))
from vehicleapp.main_window import MainWindow
window = MainWindow(runs_dir=sys.argv[2])
window.show()
app.processEvents()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print(heavy[:5])
sys.exit(1 if heavy else 0)
"""


def test_showing_the_main_window_imports_no_torch(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(VEHICLEAPP), str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, f"torch reached the GUI process: {result.stdout}{result.stderr}"


def test_resources_ship_inside_the_package_and_load() -> None:
    tomllib = pytest.importorskip("tomllib")
    from vehicleapp.resources import resource, stylesheet

    assert "QTabBar" in stylesheet()
    assert resource("icon.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
    root = VEHICLEAPP.parent
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(root).parts)
             for top in ("trainer", "vehicleapp") for p in (root / top).glob("**/__init__.py")}
    assert set(setup["packages"]) == found | {"vehicleapp.assets"}, "list every package in pyproject.toml"
    assert setup["package-dir"] == {"vehicleapp.assets": "resources"}
