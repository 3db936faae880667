"""``vehicleapp --install-desktop-entry``: a menu entry with the icon that really launches the app."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vehicleapp import desktop_entry

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux desktop entry")


def _app(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vehicleapp", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def _read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _exec_argv(entry: configparser.SectionProxy) -> list[str]:
    argv = shlex.split(entry["Exec"])  # the spec's quoting is a subset of the shell's
    assert argv[-1] == "%f"
    return argv[:-1]


@pytest.fixture
def data_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "share"
    return home, {**os.environ, "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def test_install_writes_an_entry_and_icon_and_uninstall_removes_them(data_home: tuple[Path, dict]) -> None:
    home, env = data_home
    done = _app("--install-desktop-entry", env=env)
    assert done.returncode == 0, done.stderr
    desktop, icon = desktop_entry.linux_paths(home)
    assert done.stdout.split() == [str(desktop), str(icon)]
    entry = _read_entry(desktop)
    assert entry["Type"] == "Application" and entry["Name"] == "Vehicle Classifier"
    assert entry["Icon"] == str(icon) and entry["StartupWMClass"] == "vehicleapp"
    assert _exec_argv(entry) == [sys.executable, "-m", "vehicleapp"]
    assert icon.read_bytes().startswith(b"<svg") or b"<svg" in icon.read_bytes()[:200]

    assert _app("--uninstall-desktop-entry", env=env).stdout.split() == [str(desktop), str(icon)]
    assert not desktop.exists() and not icon.exists()
    again = _app("--uninstall-desktop-entry", env=env)
    assert again.returncode == 0 and "no desktop entry" in again.stderr


def test_exec_quotes_paths_with_spaces_and_percent() -> None:
    command = ["/home/ann smith/100% venv/bin/python", "-m", "vehicleapp"]
    text = desktop_entry.desktop_file_text(command, Path("/i/vehicleapp.svg"))
    line = next(x for x in text.splitlines() if x.startswith("Exec="))
    assert line == 'Exec="/home/ann smith/100%% venv/bin/python" -m vehicleapp %f'


def test_the_windows_shortcut_script_quotes_for_powershell() -> None:
    script = desktop_entry.shortcut_script(Path("C:/Users/O'Neil/Start Menu/Vehicle Classifier.lnk"),
                                           ["C:/Program Files/Py/pythonw.exe", "-m", "vehicleapp"],
                                           Path("C:/Users/O'Neil/vehicleapp.ico"))
    assert "CreateShortcut('C:/Users/O''Neil/Start Menu/Vehicle Classifier.lnk')" in script
    assert "$s.TargetPath = 'C:/Program Files/Py/pythonw.exe'" in script
    assert "$s.Arguments = '-m vehicleapp'" in script and script.endswith("$s.Save()")


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool")
def test_the_entry_launches_the_app_on_an_x_display(data_home: tuple[Path, dict], tmp_path: Path) -> None:
    home, env = data_home
    assert _app("--install-desktop-entry", env=env).returncode == 0
    entry = _read_entry(desktop_entry.linux_paths(home)[0])
    # -displayfd: Xvfb picks a free display and writes its number once it is ready
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    app = None
    try:
        assert xvfb.stdout is not None
        xenv = {**env, "DISPLAY": f":{xvfb.stdout.readline().strip()}", "QT_QPA_PLATFORM": "xcb"}
        app = subprocess.Popen([*_exec_argv(entry), str(tmp_path)], env=xenv, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--class", entry["StartupWMClass"]],
                               env=xenv, capture_output=True, text=True, timeout=60)
        assert found.returncode == 0, found.stderr
        expected, deadline = f"{tmp_path.name} — Vehicle Classifier", time.monotonic() + 30
        while True:  # the title names the folder once it is open, a moment after the window shows
            names = _window_names(xenv, entry["StartupWMClass"])
            if expected in names or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert expected in names, names  # the main window, the app named once
        assert app.poll() is None
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        xvfb.terminate()
        xvfb.wait(10)


def _window_names(xenv: dict[str, str], wm_class: str) -> list[str]:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--class", wm_class], env=xenv,
                           capture_output=True, text=True, timeout=30)
    return [subprocess.run(["xdotool", "getwindowname", w], env=xenv, capture_output=True, text=True).stdout.strip()
            for w in found.stdout.split()]
