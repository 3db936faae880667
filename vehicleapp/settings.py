"""Persistent settings (QSettings): recent folders, checkpoints folder, model files, window
geometry, the Train page's options, where each file dialog was last answered and whether the
first-run tour was shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qs = settings or QSettings("vehicleapp", "vehicleapp")

    def recent_folders(self) -> list[str]:
        value = self.qs.value("recent_folders", [])
        folders = [value] if isinstance(value, str) else list(value or [])
        return [f for f in folders if Path(f).is_dir()]

    def add_recent(self, folder: str) -> list[str]:
        folders = [folder] + [f for f in self.recent_folders() if f != folder]
        self.qs.setValue("recent_folders", folders[:MAX_RECENT])
        return folders[:MAX_RECENT]

    def model_files(self) -> list[str]:
        """The model files chosen on the Classify page (the latest first) that still exist."""
        value = self.qs.value("model_files", [])
        files = [value] if isinstance(value, str) else list(value or [])
        return [f for f in files if Path(f).is_file()]

    def set_model_files(self, files: list[str]) -> None:
        self.qs.setValue("model_files", list(files)[:MAX_RECENT])

    def runs_dir(self) -> str:
        return str(self.qs.value("runs_dir", str(Path.cwd() / "checkpoints")))

    def set_runs_dir(self, path: str) -> None:
        self.qs.setValue("runs_dir", path)

    def geometry(self) -> QByteArray | None:
        value = self.qs.value("geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self.qs.setValue("geometry", data)
        self.qs.sync()

    def train_options(self) -> dict[str, Any]:
        """The Train page's last settings (JSON keeps their types across platforms' backends)."""
        return self._json_dict("train_options")

    def set_train_options(self, options: dict[str, Any]) -> None:
        self.qs.setValue("train_options", json.dumps(options))

    def last_folder(self, kind: str) -> str:
        """Where the file dialog titled ``kind`` was last answered ("" before that)."""
        return str(self._json_dict("last_folders").get(kind, ""))

    def set_last_folder(self, kind: str, folder: str) -> None:
        self.qs.setValue("last_folders", json.dumps({**self._json_dict("last_folders"), kind: folder}))

    def _json_dict(self, key: str) -> dict[str, Any]:
        """A setting kept as a JSON object ({} when absent or damaged)."""
        try:
            value = json.loads(str(self.qs.value(key, "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def tour_done(self) -> bool:
        return str(self.qs.value("tour_done", "false")).lower() == "true"

    def set_tour_done(self) -> None:
        self.qs.setValue("tour_done", "true")
