"""Entry point: ``vehicleapp [FOLDER] [--runs-dir DIR] [--screenshot DIR]``."""

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
    return p.parse_args(argv)


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
    setup_logging()
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from vehicleapp.main_window import MainWindow
    from vehicleapp.resources import resource, stylesheet

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("vehicleapp")
    app.setApplicationName("vehicleapp")
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
