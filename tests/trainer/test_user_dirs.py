"""Per-user folders come from the OS's conventions (platformdirs), never a hand-built ``~/.something``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainer import config

ROOT = Path(__file__).resolve().parents[2]


def test_overrides_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRAINER_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("VEHICLEAPP_DATA_DIR", str(tmp_path / "d"))
    assert config.default_cache_dir() == tmp_path / "c"
    assert config.user_data_dir() == tmp_path / "d"
    assert config.log_dir() == tmp_path / "d" / "logs"
    assert config.demo_data_dir() == tmp_path / "d" / "demo-data"


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="the Linux locations")
def test_linux_locations_are_the_ones_used_before(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("TRAINER_CACHE_DIR", "VEHICLEAPP_DATA_DIR", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.default_cache_dir() == tmp_path / ".cache" / "vehicleapp" / "features"
    assert config.user_data_dir() == tmp_path / ".local" / "share" / "vehicleapp"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
    assert config.default_cache_dir() == tmp_path / "xc" / "vehicleapp" / "features"
    assert config.user_data_dir() == tmp_path / "xd" / "vehicleapp"


def test_the_os_convention_decides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # What platformdirs answers on Windows and macOS is its business; that we ask it is ours.
    monkeypatch.delenv("TRAINER_CACHE_DIR")
    monkeypatch.delenv("VEHICLEAPP_DATA_DIR")
    asked: list[tuple[str, object]] = []

    def answer(kind: str) -> object:
        return lambda name, appauthor=None: asked.append((name, appauthor)) or str(tmp_path / kind)

    monkeypatch.setattr(config.platformdirs, "user_cache_dir", answer("Caches"))
    monkeypatch.setattr(config.platformdirs, "user_data_dir", answer("Application Support"))
    assert config.default_cache_dir() == tmp_path / "Caches" / "features"
    assert config.user_data_dir() == tmp_path / "Application Support"
    assert asked == [("vehicleapp", False)] * 2


# torch's own rule for its cache ($TORCH_HOME, else ~/.cache/torch on every OS) is mirrored, not ours
HAND_BUILT = re.compile(r"Path\.home\(\)|[\"']~/\.|[\"']\.local[\"']|(environ\.get|getenv|environ\[)\(?[\"']XDG_")
MIRRORS_TORCH = {"trainer/hub.py"}


def test_no_hand_built_home_folders() -> None:
    sources = [p for d in ("trainer", "vehicleapp") for p in (ROOT / d).rglob("*.py")]
    rel = {p.relative_to(ROOT).as_posix(): p for p in sources}
    offenders = [r for r, p in rel.items() if r not in MIRRORS_TORCH and HAND_BUILT.search(p.read_text("utf-8"))]
    assert offenders == []
