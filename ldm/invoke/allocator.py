"""Keeps the C allocator from handing a large tensor's pages back to the OS each time it is freed.

A denoise step on the CPU allocates and frees tensors of tens of megabytes (a 512 px SD-1.5 step's
feed-forward output is 42 MB, a VAE decode's activations are 67 MB and more). glibc serves blocks above
its mmap threshold (at most 32 MB, adjusted on the fly) with fresh ``mmap``s and gives them back on
``free``, and trims the top of its heap beyond 128 KB, so every step pays a page fault and a page of
zeroing for each 4 KB of those tensors again: a third of a large linear layer's time here
(BENCHMARKS.md §4c). Raising both thresholds keeps the pages mapped between steps; the memory freed
is given back once a job ends (``release_freed_pages``), so an idle studio's resident size is what it
was. No pixel changes: only where a tensor's memory comes from.

glibc only (Linux); elsewhere, or when the user set glibc's own ``MALLOC_*`` variables, or
``INVOKEAI_MALLOC_TUNING=0``, nothing is changed. Every entry point (web, desktop window, CLI, a pool
worker) gets it the same way, from ``Generate``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache

log = logging.getLogger(__name__)

TUNING_ENV = "INVOKEAI_MALLOC_TUNING"  # "0" leaves glibc's defaults
# Blocks below this come from the heap, whose freed pages stay mapped (mallopt's upper limit is far above).
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1  # free space at the heap's top kept mapped until release_freed_pages()
# glibc's options (malloc.h); the variables below, if set, say the user tuned it already.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_USERS_OWN = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_", "LD_PRELOAD")


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # glibc only: not musl, macOS, Windows


@cache
def keep_freed_pages() -> bool:
    """Raises glibc's mmap and trim thresholds once per process; True when it did."""
    if os.environ.get(TUNING_ENV, "1").strip() == "0":
        return False
    if any(os.environ.get(name) for name in _USERS_OWN):
        log.info("allocator: left as the environment sets it")
        return False
    libc = _glibc()
    if libc is None:
        return False
    done = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not done:
        log.info("allocator: glibc refused the thresholds; left as it was")
    return done


def release_freed_pages() -> None:
    """Gives the OS back the memory freed since the last call (after a job, a model switch)."""
    if keep_freed_pages():
        _glibc().malloc_trim(0)
