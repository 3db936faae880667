"""Entry point: ``vehicleapp [FOLDER] [--runs-dir DIR] [--screenshot DIR] [--install-desktop-entry]``."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vehicleapp", description="Label, train, compare and classify vehicle photos.")
    p.add_argument("folder", nargs="?", help="dataset folder to open")
    p.add_argument("--runs-dir", help="checkpoints folder (default: ./checkpoints, remembered)")
    p.add_argument("--screenshot", metavar="DIR", help="render every page with demo content to PNGs and exit")
    entry = p.add_mutually_exclusive_group()
    entry.add_argument("--install-desktop-entry", action="store_true",
                       help="add the app, with its icon, to the desktop's application menu (Linux; a Start-menu "
                            "shortcut on Windows) and exit")
    entry.add_argument("--uninstall-desktop-entry", action="store_true", help="remove that entry again and exit")
    return p.parse_args(argv)


def desktop_entry(install: bool) -> int:
    """``--install-desktop-entry`` / ``--uninstall-desktop-entry``: prints the files written or removed."""
    from vehicleapp import desktop_entry as entry

    try:
        files = entry.install() if install else entry.uninstall()
    except (entry.DesktopEntryError, OSError) as exc:
        print(f"vehicleapp: {exc}", file=sys.stderr)
        return 1
    if not files:
        print("vehicleapp: no desktop entry was installed", file=sys.stderr)
    for path in files:
        print(path)
    return 0


def setup_logging() -> Path | None:
    """The app's rotating log, beside the engine's in the user's log folder (Help → Open log folder)."""
    from trainer.config import log_dir

    path = log_dir() / "vehicleapp.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("vehicleapp", "trainer"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return desktop_entry(args.install_desktop_entry)
    setup_logging()
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from vehicleapp.desktop_entry import APP_ID, TITLE
    from vehicleapp.main_window import MainWindow
    from vehicleapp.resources import resource, stylesheet

    app = QApplication.instance() or QApplication([APP_ID])  # X11 WM_CLASS instance: 'vehicleapp'
    app.setOrganizationName("vehicleapp")
    app.setApplicationName(APP_ID)
    app.setApplicationDisplayName(TITLE)
    app.setDesktopFileName(APP_ID)  # ties the window to its menu entry (Wayland app id, taskbar icon)
    icon = resource("icon.svg")
    app.setWindowIcon(QIcon(str(icon)) if icon.is_file() else QIcon())
    app.setStyleSheet(stylesheet())
    if args.screenshot:
        from vehicleapp.screenshots import screenshot_window, take_screenshots

        window = screenshot_window()  # its own settings: the user's are neither used nor changed
        for path in take_screenshots(window, Path(args.screenshot)):
            print(path)
        window.runner.shutdown()
        return 0
    window = MainWindow(runs_dir=args.runs_dir)
    window.show()
    window.maybe_show_tour()
    if args.folder:
        window.open_dataset(args.folder)
    return app.exec()
