"""Small file helpers shared by labeling and classification."""

from __future__ import annotations

from pathlib import Path


def unique_path(path: Path) -> Path:
    """``path`` if free, else ``name-1.ext``, ``name-2.ext``, ... (never overwrite)."""
    if not path.exists():
        return path
    for i in range(1, 1_000_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name for {path}")
