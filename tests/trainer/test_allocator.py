"""A job process's allocator settings: glibc gets them, any other C library is left alone."""

from __future__ import annotations

import platform
import sys

from trainer.allocator import tune_malloc


def test_glibc_is_tuned_and_other_c_libraries_are_left_alone() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert tune_malloc() is glibc
