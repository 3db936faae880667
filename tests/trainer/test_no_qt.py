"""The engine never imports Qt (napari's rule): checked statically and at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TRAINER = Path(__file__).resolve().parents[2] / "trainer"
QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "qtpy", "shiboken6", "vehicleapp")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_in_trainer_imports_qt() -> None:
    files = sorted(TRAINER.rglob("*.py"))
    assert len(files) > 5
    offenders = {f.name: _imports(f) & set(QT_MODULES) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_trainer_module_loads_no_qt() -> None:
    mods = [f"trainer.{p.stem}" for p in TRAINER.glob("*.py") if p.stem != "__main__"]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
