"""File paths as text that is always valid UTF-8: the one escaping rule of every CSV we write.

A file name is whatever bytes the OS allows; Python hands names that are not valid UTF-8 to us
as ``str`` holding lone surrogates (``os.fsdecode(b"caf\\xe9.jpg") == "caf\\udce9.jpg"``), which
no UTF-8 file can hold. The rule: a backslash is written ``\\\\``, a byte that is not valid
UTF-8 is written ``\\xNN`` (two lower-case hex digits), every other character as is.
:func:`decode` undoes :func:`encode` exactly. No torch, no Qt: the app imports this.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath
from typing import TypeVar

P = TypeVar("P", bound=PurePath)

_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})|\\")


def encode(name: str) -> str:
    """``name`` (a path as Python sees it, lone surrogates allowed) as escaped UTF-8 text."""
    # 0x5C never occurs inside a multi-byte UTF-8 sequence, so doubling it first is safe;
    # the decoder's "backslashreplace" then writes each invalid byte as \xNN.
    return os.fsencode(name).replace(b"\\", b"\\\\").decode("utf-8", errors="backslashreplace")


def decode(text: str) -> str:
    """The path :func:`encode` wrote as ``text``.

    Raises:
        ValueError: a backslash that starts neither ``\\\\`` nor ``\\xNN``.
    """
    raw = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(text):
        if m.group(1) is None:
            raise ValueError(f"bad escape at position {m.start()} in path {text!r}")
        raw += text[pos : m.start()].encode("utf-8")
        esc = m.group(1)
        raw += b"\\" if esc == "\\" else bytes([int(esc[1:], 16)])
        pos = m.end()
    raw += text[pos:].encode("utf-8")
    return os.fsdecode(bytes(raw))


def relative_text(path: PurePath, root: PurePath) -> str:
    """``path`` relative to ``root``, ``/``-separated on every OS, encoded by :func:`encode`.

    Windows paths work alike: drive letters and UNC shares stay in ``root``, the comparison
    ignores case as Windows does, and backslashes become ``/``.
    """
    return encode(path.relative_to(root).as_posix())


def join_relative(root: P, rel: str) -> P:
    """``root`` joined with ``rel``, a ``/``-separated relative path as CSVs and journals hold it.

    Refuses (ValueError) anything that would not stay inside ``root`` on the OS of ``root``'s
    kind: an absolute path, ``..``, an empty part, a drive (``C:``) or, under a Windows
    ``root``, a part holding a backslash or a colon (a file name from Linux that is a separator
    or a drive on Windows).
    """
    path = root
    for part in rel.split("/"):
        joined = path.joinpath(part)
        if part in ("", ".", "..") or joined.parent != path or joined.name != part:
            raise ValueError(f"not a relative path inside {root}: {rel!r}")
        path = joined
    return path


def from_relative_text(text: str, root: P) -> P:
    """The path under ``root`` that :func:`relative_text` wrote as ``text``."""
    return join_relative(root, decode(text))


def for_display(text: str) -> str:
    """``text`` with every byte that is not valid UTF-8 shown as U+FFFD (Qt cannot hold it)."""
    return os.fsencode(text).decode("utf-8", errors="replace")
