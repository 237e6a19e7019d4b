"""The dashboard's background work: one thread running the heavy jobs of large revisions
and runs (their checks, label-error suspects, summaries, filter columns) by priority, one
at a time, so that their peaks of memory never add up, and handing freed memory back to
the system after each (Arrow's pool and, on glibc, the C heap).
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pyarrow as pa

logger = logging.getLogger(__name__)

#: the order background work runs in when several jobs wait: suspects (a sort waits for
#: them) before a summary, the check, then the filter columns
_PRIORITY = {"suspects": 0, "evaluate": 1, "check": 2, "prepare": 3}


class _Worker:
    """One background thread running jobs by priority (then in the order given): the
    dashboard's heavy work on large revisions and runs runs one job at a time, so their
    peaks of memory never add up."""

    def __init__(self) -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Any, Future[None]]] = queue.PriorityQueue()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Callable[[], None]) -> Future[None]:
        future: Future[None] = Future()
        self._jobs.put((_PRIORITY[kind], next(self._count), work, future))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="posetable-work", daemon=True
                )
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            _, _, work, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                work()
            except BaseException as exc:  # logged, and the job's waiter sees it
                logger.exception("background work of the dashboard failed")
                future.set_exception(exc)
            else:
                future.set_result(None)


_WORKER: list[_Worker] = []
_WORKER_LOCK = threading.Lock()


def background(kind: str, work: Callable[[], None]) -> Future[None]:
    """Run ``work`` on the background thread (``kind``: ``suspects``, ``evaluate``,
    ``check``, ``prepare``; see ``_PRIORITY``), memory handed back after it."""
    with _WORKER_LOCK:
        if not _WORKER:
            _WORKER.append(_Worker())
        return _WORKER[0].submit(kind, _released(work))


def _released(work: Callable[[], None]) -> Callable[[], None]:
    """``work``, then the memory it freed handed back to the system (Arrow's pool and, on
    glibc, the C heap), so the server's resident size falls back after a large job."""

    def run() -> None:
        try:
            work()
        finally:
            gc.collect()
            pa.default_memory_pool().release_unused()
            _malloc_trim()

    return run


def _malloc_trim() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


# a forked child has the worker but not its thread
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WORKER.clear)
