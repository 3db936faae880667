"""Where the icons and the stylesheet live (``resources/`` beside the packages)."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def resource(name: str) -> Path:
    return RESOURCES / name


def stylesheet() -> str:
    path = resource("style.qss")
    return path.read_text(encoding="utf-8") if path.is_file() else ""
