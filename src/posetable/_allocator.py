"""Handing freed memory back to the operating system between the pieces of a long job.

glibc's malloc keeps most memory that numpy frees (large blocks below its adaptive mmap
threshold stay in the heap for reuse), so a job that works through a table piece by piece
shows a resident size well above what it holds. :func:`release_freed_memory` asks glibc to
return those pages (``malloc_trim``); elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return freed heap pages to the operating system; whether the C library could.

    Example:
        >>> isinstance(release_freed_memory(), bool)
        True
    """
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
