"""The dashboard's server-side state: one store, cached revisions, indexes and runs.

Table revisions never change, so everything derived from one (its index, its image roots)
is cached by ``(name, revision)``; runs are cached by name and manifest time. Only "which
revision is the latest" is read from disk on every request.
"""

from __future__ import annotations

import ctypes
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import lance

from posetable.dashboard._index import RunIndex, RunView, TableIndex
from posetable.dashboard._params import MAX_REVISION, bounded
from posetable.dashboard.thumbnails import ImageSource, ThumbnailCache
from posetable.errors import NotFoundError, PosetableError
from posetable.store import RevisionInfo, Store, check_name, parse_table_ref, resolve_store
from posetable.table import StoreLike, Table

logger = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A small thread-safe LRU cache; ``get(key, make)`` builds a missing value once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[K, threading.Lock] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._building.pop(key, None)
            return value

    def peek(self, key: K) -> V | None:
        """The cached value of ``key`` (None when absent), without building or reordering."""
        with self._lock:
            return self._items.get(key)

    def drop(self, predicate: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                del self._items[key]


def _writable(folder: Path) -> Path:
    """``folder`` when it can be created and written, else a private temporary folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return folder
    except OSError:
        fallback = Path(tempfile.mkdtemp(prefix="posetable-dashboard-"))
        logger.warning("store cache %s is not writable; caching in %s", folder, fallback)
        return fallback


_MMAP_THRESHOLD = 4 << 20  # bytes: allocations this large are mapped, not taken from the heap
_HEAP_SET: list[bool] = []


def _map_large_allocations() -> None:
    """On glibc, serve allocations of ``_MMAP_THRESHOLD`` bytes and more by mapping memory
    (given back to the system when freed) for the rest of the process. glibc's own rule
    raises that threshold as large arrays are freed, so a server whose checks, suspects and
    evaluations make many short-lived arrays of a few MB would keep its heap at its peak
    size for good (measured: about 300 MB more after the 100k-image bench). Once per process."""
    if _HEAP_SET:
        return
    _HEAP_SET.append(True)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(-3, _MMAP_THRESHOLD)  # M_MMAP_THRESHOLD


class DashboardState:
    """Everything the API needs: the store and caches over it.

    Example:
        >>> import tempfile
        >>> state = DashboardState(tempfile.mkdtemp())
        >>> state.table_names()
        []
    """

    def __init__(self, store: StoreLike = None, *, thumbnail_dir: str | Path | None = None) -> None:
        _map_large_allocations()
        self.store: Store = resolve_store(store)
        self.cache_dir = _writable(self.store.root / ".cache")
        folder = Path(thumbnail_dir) if thumbnail_dir else self.cache_dir / "thumbnails"
        self.thumbnails = ThumbnailCache(folder)
        self._tables: _Lru[tuple[str, int], Table] = _Lru(32)
        self._indexes: _Lru[tuple[str, int], TableIndex] = _Lru(6)
        self._sources: _Lru[tuple[str, int], ImageSource] = _Lru(16)
        self._runs: _Lru[tuple[str, float], RunIndex] = _Lru(6)
        self._run_views: _Lru[tuple[str, str, str, int], RunView] = _Lru(8)
        self._lineage: _Lru[tuple[str, int], list[RevisionInfo]] = _Lru(32)

    # -- tables ----------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        """Table names in the store."""
        return self.store.table_names()

    def latest_revision(self, name: str) -> int:
        """The latest revision of a table, read from disk now."""
        uri = self.store.table_uri(name)  # checks the name: nothing outside the store
        if name not in self.store.table_names():
            Table.open(name, store=self.store)  # raises NotFoundError listing the known tables
        return int(lance.dataset(str(uri)).version)

    def table(self, name: str, revision: int | None = None) -> Table:
        """A table revision (the latest when ``revision`` is None)."""
        if "@" in name:
            name, parsed = parse_table_ref(name)
            revision = parsed if revision is None else revision
        check_name(name, "table")
        bounded("revision", revision, 1, MAX_REVISION)
        rev = self.latest_revision(name) if revision is None else int(revision)
        return self._tables.get((name, rev), lambda: Table.open(f"{name}@{rev}", store=self.store))

    def index(self, table: Table) -> TableIndex:
        """The row index of a revision (its check can reuse the parent revision's, when
        that index is still cached; a large revision's findings are kept in the store's
        cache, under ``checks/NAME``)."""
        name, parent = table.name, table.parent

        def previous() -> TableIndex | None:
            return None if parent is None else self._indexes.peek((name, parent))

        def make() -> TableIndex:
            return TableIndex(table, previous, checks_dir=self.cache_dir / "checks" / name)

        return self._indexes.get((name, table.revision), make)

    def revisions(self, table: Table) -> list[RevisionInfo]:
        """Every revision of a table name, oldest first (cached per latest revision)."""
        latest = self.latest_revision(table.name)
        return self._lineage.get((table.name, latest), table.revisions)

    def images(self, table: Table) -> ImageSource:
        """Where a revision's images may be served from."""
        return self._sources.get((table.name, table.revision), lambda: ImageSource(table))

    # -- runs ------------------------------------------------------------------------------
    def run_names(self, table: str | None = None) -> list[str]:
        """Runs in the store (of one table name when given); [] when runs are unavailable."""
        import posetable as pt

        if table:
            check_name(table, "table")

        lister = getattr(pt, "list_runs", None)
        if lister is None:
            return []
        return list(lister(table, store=self.store))

    def run(self, name: str) -> RunIndex:
        """A run's index (reopened when its manifest changes)."""
        check_name(name, "run")  # before any path is made of it: nothing outside the store
        manifest = self.store.runs_dir / name / "manifest.json"
        if not manifest.is_file():
            known = self.run_names()
            raise NotFoundError(
                f"no run named {name!r} in store {self.store.root}; known runs: "
                f"{', '.join(known) if known else '(none)'}"
            )
        stamp = manifest.stat().st_mtime

        def make() -> RunIndex:
            from posetable.runs import Run

            run = Run.open(name, store=self.store)
            try:  # the revision's Table object the pages use: its sample ids are read once
                table = self.table(run.table_name, run.table_revision)
            except PosetableError:
                table = None  # the run's revision is gone: RunIndex reads the run's own ids
            return RunIndex(run, self.cache_dir / "dashboard-runs", table)

        return self._runs.get((name, stamp), make)

    def run_on(self, name: str, table: Table) -> RunView:
        """A run's metrics and suspects against one table revision (evaluated once)."""
        index = self.run(name)
        key = (name, str(index.run.manifest.get("created")), table.name, table.revision)
        return self._run_views.get(key, lambda: RunView(index, table))

    def prewarm(self) -> None:
        """Build the caches of every latest table and every run (for a background thread).

        A run's first view copies its predictions into a Lance cache (about a second per
        100,000 images, once per run and store); doing it at start keeps pages fast.
        """
        for name in self.table_names():
            try:
                self.index(self.table(name)).derived(["num_instances"])
            except Exception:  # a broken table must not stop the server
                logger.exception("prewarming table %s failed", name)
        for name in self.run_names():
            try:
                self.run(name)
            except Exception:
                logger.exception("prewarming run %s failed", name)

    def open_run(self, name: str) -> Any:
        """The ``posetable.Run`` object of a run name."""
        return self.run(name).run
