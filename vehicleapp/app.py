"""Entry point: ``vehicleapp [FOLDER] [--runs-dir DIR] [--screenshot DIR]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vehicleapp", description="Label, train, compare and classify vehicle photos.")
    p.add_argument("folder", nargs="?", help="dataset folder to open")
    p.add_argument("--runs-dir", help="checkpoints folder (default: ./checkpoints, remembered)")
    p.add_argument("--screenshot", metavar="DIR", help="render every page with demo content to PNGs and exit")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from vehicleapp.main_window import MainWindow
    from vehicleapp.resources import resource, stylesheet

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("vehicleapp")
    app.setApplicationName("vehicleapp")
    app.setWindowIcon(QIcon(str(resource("icon.svg"))))
    app.setStyleSheet(stylesheet())
    window = MainWindow(runs_dir=args.runs_dir)
    if args.screenshot:
        from vehicleapp.screenshots import take_screenshots

        for path in take_screenshots(window, Path(args.screenshot)):
            print(path)
        window.runner.shutdown()
        return 0
    window.show()
    if args.folder:
        window.open_dataset(args.folder)
    return app.exec()
