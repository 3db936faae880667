"""The C allocator's settings for a job process (glibc on Linux; elsewhere nothing changes).

glibc's malloc serves each block over 128 KB with a fresh ``mmap`` and gives it back to the
OS when it is freed, and trims the heap's top whenever 128 KB are free there. A backbone's
activations are megabytes, allocated and freed on every batch, so every batch page-faults its
way through new memory: the reference-style loop ran an epoch in 37-42 s in a fresh process
and 14 s with these settings (1,200 photos, MobileNetV2, 2 cores; ``benchmarks/speed.py``).
A job keeps its freed memory for the next batch instead; it ends when the job does.
"""

from __future__ import annotations

import sys

MMAP_THRESHOLD = 32 * 1024 * 1024  # blocks up to this come from the heap (glibc's maximum on 64-bit)
TRIM_THRESHOLD = 512 * 1024 * 1024  # free memory kept at the heap's top before giving it back
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def tune_malloc() -> bool:
    """Apply the settings above to this process; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # musl and others: their own allocator, left alone
        return False
