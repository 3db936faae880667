"""Launching the app like any other: a menu entry with the icon (``vehicleapp --install-desktop-entry``).

Linux: a freedesktop ``.desktop`` file in the user's ``applications`` folder and the icon in
the user's ``hicolor`` icon theme, both under the user data folder (``$XDG_DATA_HOME`` or
``~/.local/share``, from platformdirs). Windows: a Start-menu shortcut (``.lnk``, written by
PowerShell's WScript.Shell; no extra package) starting ``pythonw -m vehicleapp`` with an
``.ico`` made from the same icon. Elsewhere (macOS) there is no entry to write; the README
says how to start it. No Qt here except for rendering the Windows icon.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

from vehicleapp.resources import resource

APP_ID = "vehicleapp"  # the .desktop file's name, the icon's name and the window class (app.py)
TITLE = "Vehicle Classifier"
COMMENT = "Label vehicle photos, train image classifiers and classify folders"


class DesktopEntryError(RuntimeError):
    """The entry cannot be written here; the message says why."""


def launch_command() -> list[str]:
    """What the entry runs: this very Python with ``-m vehicleapp`` (a venv or pipx install)."""
    python = Path(sys.executable)
    if sys.platform == "win32" and (python.parent / "pythonw.exe").is_file():
        python = python.parent / "pythonw.exe"  # no console window behind the app
    return [str(python), "-m", "vehicleapp"]


# -- Linux (freedesktop) ----------------------------------------------------------------------
def _quote_exec_arg(arg: str) -> str:
    """One argument of an ``Exec`` key (Desktop Entry spec: quoting, then ``%`` doubled)."""
    if any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("%", "%%")


def desktop_file_text(command: list[str], icon: Path) -> str:
    exec_line = " ".join(_quote_exec_arg(a) for a in command) + " %f"  # %f: a folder dropped on it
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        f"Name={TITLE}",
        "GenericName=Image classifier",
        f"Comment={COMMENT}",
        f"Exec={exec_line}",
        f"Icon={icon}",
        "Terminal=false",
        "Categories=Graphics;Science;",
        "Keywords=photos;labeling;training;classifier;vehicles;",
        f"StartupWMClass={APP_ID}",
        "StartupNotify=true",
        "",
    ])


def linux_paths(data_home: Path | None = None) -> tuple[Path, Path]:
    """``(desktop file, icon file)`` under the user data folder."""
    base = data_home or Path(platformdirs.user_data_dir())
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    return base / "applications" / f"{APP_ID}.desktop", icon


def _install_linux() -> list[Path]:
    desktop, icon = linux_paths()
    icon.parent.mkdir(parents=True, exist_ok=True)
    icon.write_bytes(resource("icon.svg").read_bytes())
    desktop.parent.mkdir(parents=True, exist_ok=True)
    desktop.write_text(desktop_file_text(launch_command(), icon), encoding="utf-8")
    desktop.chmod(0o755)  # some desktops only launch entries marked executable
    _refresh(["update-desktop-database", str(desktop.parent)])
    return [desktop, icon]


# -- Windows (Start menu) ---------------------------------------------------------------------
def windows_shortcut_path() -> Path:
    """``%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Vehicle Classifier.lnk``."""
    roaming = Path(platformdirs.user_data_dir(roaming=True))  # %APPDATA% when no app name is given
    return roaming / "Microsoft" / "Windows" / "Start Menu" / "Programs" / f"{TITLE}.lnk"


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def shortcut_script(link: Path, command: list[str], icon: Path) -> str:
    """The PowerShell that writes the shortcut (WScript.Shell, present on every Windows)."""
    args = subprocess.list2cmdline(command[1:])
    return "; ".join([
        f"$s = (New-Object -ComObject WScript.Shell).CreateShortcut({_ps_quote(str(link))})",
        f"$s.TargetPath = {_ps_quote(command[0])}",
        f"$s.Arguments = {_ps_quote(args)}",
        f"$s.IconLocation = {_ps_quote(str(icon))}",
        f"$s.Description = {_ps_quote(COMMENT)}",
        "$s.WorkingDirectory = $env:USERPROFILE",
        "$s.Save()",
    ])


def _windows_icon() -> Path:
    """The icon as ``.ico`` in the app's data folder (Windows shortcuts take no SVG)."""
    from PySide6.QtGui import QGuiApplication, QIcon

    from trainer.config import user_data_dir

    _app = QGuiApplication.instance() or QGuiApplication([])  # rendering the SVG needs one
    ico = user_data_dir() / f"{APP_ID}.ico"
    ico.parent.mkdir(parents=True, exist_ok=True)
    pixmap = QIcon(str(resource("icon.svg"))).pixmap(256, 256)
    if pixmap.isNull() or not pixmap.save(str(ico), "ICO"):
        raise DesktopEntryError(f"could not write the icon {ico}")
    return ico


def _install_windows() -> list[Path]:
    link, icon = windows_shortcut_path(), _windows_icon()
    link.parent.mkdir(parents=True, exist_ok=True)
    script = shortcut_script(link, launch_command(), icon)
    done = subprocess.run(["powershell", "-NoProfile", "-NonInteractive", "-Command", script],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not link.is_file():
        raise DesktopEntryError(f"PowerShell could not write the shortcut {link}: {done.stderr.strip()}")
    return [link, icon]


# -- both -------------------------------------------------------------------------------------
def _refresh(cmd: list[str]) -> None:
    """Let the desktop see the change now, where its tool exists (optional everywhere)."""
    if shutil.which(cmd[0]):
        subprocess.run(cmd, capture_output=True, check=False)


def install() -> list[Path]:
    """Write the menu entry and its icon; returns the files written."""
    if sys.platform.startswith("linux"):
        return _install_linux()
    if sys.platform == "win32":
        return _install_windows()
    raise DesktopEntryError(f"no desktop entry on {sys.platform}: start the app with the 'vehicleapp' "
                            "command (pipx install puts it on the PATH)")


def installed_files() -> list[Path]:
    if sys.platform == "win32":
        from trainer.config import user_data_dir

        return [windows_shortcut_path(), user_data_dir() / f"{APP_ID}.ico"]
    return list(linux_paths())


def uninstall() -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed (none when none were there)."""
    removed = []
    for path in installed_files():
        if path.is_file():
            path.unlink()
            removed.append(path)
    if removed and sys.platform.startswith("linux"):
        _refresh(["update-desktop-database", str(linux_paths()[0].parent)])
    return removed
