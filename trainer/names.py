"""File and folder names that work on Windows, macOS and Linux alike (torch-free, Qt-free).

A dataset moves between machines, so the product holds every name it creates to the strictest
rules, whatever OS it runs on:

* Windows refuses reserved device names (``CON``, ``aux.jpg``, ``com1.png`` — the part before
  the first dot, in any case), the characters ``<>:"/\\|?*`` and control characters, and a name
  ending in a space or a dot;
* Windows and macOS compare names case-insensitively (and macOS ignores Unicode normalisation):
  ``car.JPG`` and ``car.jpg``, or class folders ``Car`` and ``car``, are one entry there. Two
  names are the same when their :func:`name_key` is.
"""

from __future__ import annotations

import unicodedata

_DIGITS = "123456789\u00b9\u00b2\u00b3"  # COM¹ .. are reserved too
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{p}{d}" for p in ("COM", "LPT") for d in _DIGITS)})
FORBIDDEN = frozenset('<>:"/\\|?*')


def name_key(name: str) -> str:
    """What a case-insensitive file system (Windows, macOS) compares: equal keys, one entry."""
    return unicodedata.normalize("NFC", name).casefold()


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file or folder name on every OS, or None when it can."""
    if name in ("", ".", ".."):
        return "a name cannot be empty, '.' or '..'"
    if "/" in name:
        return 'a name cannot contain "/" (a folder separator)'
    bad = sorted({c for c in name if c in FORBIDDEN or ord(c) < 32})
    if bad:
        shown = " ".join(repr(c)[1:-1] for c in bad)
        return f"'{name}' contains {shown}, which is not allowed on Windows, where this dataset may be opened"
    if name[-1] in " .":
        return f"'{name}' ends with a space or a dot, which Windows drops"
    if name.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        return f"'{name}' is a reserved device name on Windows"
    return None
