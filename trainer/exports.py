"""Where a run's checkpoints were exported, and the threshold each exported file carries.

An exported ``.onnx`` or standalone ``.pt`` keeps the confidence threshold it was exported with.
When the run's threshold changes later (``trainer threshold``, the app's *Save threshold*), the
files shipped before still answer ``unknown`` by the old one. So ``trainer export`` records
each file in the run's ``exports.json``, and a threshold change names the files that still
exist and now disagree. Torch-free.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

from trainer import runs
from trainer.atomic import read_json, write_json

log = logging.getLogger(__name__)

EXPORTS = "exports.json"


def _ledger(checkpoint: Path) -> Path | None:
    """The run's record, or None for a checkpoint that is not in a run folder (a standalone
    file, such as a colleague's ``best.pt`` in Downloads)."""
    folder = checkpoint.parent
    return folder / EXPORTS if (folder / runs.CONFIG).is_file() else None


def _fingerprint(path: Path) -> list[int] | None:
    """Size and modification time: a file written since (another run's export to the same
    name) is no longer the one noted."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _read(ledger: Path) -> list[dict[str, Any]]:
    try:
        entries = read_json(ledger)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:  # a damaged record loses the reminder, never the export
        log.warning("%s cannot be read (%s); starting it again", ledger, exc)
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def record_export(checkpoint: Path, out: Path, threshold: float) -> None:
    """Note that ``checkpoint`` was exported to ``out`` carrying ``threshold`` (a new export to
    the same place replaces the old note)."""
    ledger = _ledger(checkpoint)
    if ledger is None:
        return
    out = Path(out).resolve()
    entries = [e for e in _read(ledger) if e.get("path") != str(out)]
    entries.append({"path": str(out), "checkpoint": checkpoint.name, "threshold": threshold,
                    "time": datetime.datetime.now().isoformat(timespec="seconds"), "file": _fingerprint(out)})
    try:
        write_json(ledger, entries)
    except OSError as exc:  # a read-only run folder, a full disk: the export itself stands
        log.warning("could not note the export in %s (%s): a later threshold change will not name %s",
                    ledger, exc, out)


def stale_exports(checkpoint: Path, threshold: float) -> list[dict[str, Any]]:
    """The recorded exports of ``checkpoint`` that are still as exported (not deleted, not
    overwritten since) and carry another threshold."""
    ledger = _ledger(checkpoint)
    if ledger is None:
        return []
    return [e for e in _read(ledger) if e.get("checkpoint") == checkpoint.name
            and isinstance(e.get("threshold"), (int, float)) and abs(e["threshold"] - threshold) > 1e-9
            and e.get("file") is not None and _fingerprint(Path(str(e.get("path", "")))) == e["file"]]


def stale_words(stale: list[dict[str, Any]], threshold: float) -> str:
    """One sentence naming the exported files that keep their old threshold ("" for none)."""
    if not stale:
        return ""
    named = "; ".join(f"{e['path']} (exported {str(e.get('time', '?')).replace('T', ' ')}, "
                      f"{e['threshold']:.3g})" for e in stale[:3])
    more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
    verb = "keeps its" if len(stale) == 1 else "keep their"
    return (f"Exported before this change, {named}{more} {verb} old threshold: export again to ship "
            f"{threshold:.3g}.")
