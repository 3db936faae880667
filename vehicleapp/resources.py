"""Icons and the stylesheet, shipped inside the app as the ``vehicleapp.assets`` package.

The repository keeps them in its top-level ``resources/`` folder; the build installs that
folder as ``vehicleapp/assets`` (pyproject.toml), read here with ``importlib.resources``.
"""

from __future__ import annotations

import logging
from importlib import resources
from importlib.resources.abc import Traversable

log = logging.getLogger(__name__)
PACKAGE = "vehicleapp.assets"


def resource(name: str) -> Traversable:
    return resources.files(PACKAGE) / name


def stylesheet() -> str:
    """The app's stylesheet; a missing or unreadable one is logged and the app runs unstyled."""
    try:
        return resource("style.qss").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        log.warning("stylesheet not loaded, the app runs with Qt's default look: %s", exc)
        return ""
