"""Counts in words: "1 image", "2 images" (never "1 images")."""

from __future__ import annotations


def count_of(n: int, noun: str, plural: str = "") -> str:
    """``n`` and ``noun``, in the plural (``plural``, else ``noun`` + "s") unless ``n`` is 1."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
