"""Garbage collection: the leftovers of killed writers, never a committed revision.

A writer killed mid-way can leave (a) a staging folder of a table or run that was never
named (``tables/.staging/*``, ``runs/.NAME.*.tmp``) and (b) data files it wrote into a
table's dataset before its commit, which no revision references. Neither is ever visible
as data; both only take disk space. Flat snapshots (``<store>/.cache/flat``, what
evaluation reads instead of Lance) that no revision can read any more go too.
:func:`collect_garbage` (``posetable gc``) removes those older than ``min_age_s`` (younger
ones may belong to a writer still running); every revision of every table stays readable.

Example:
    >>> import posetable as pt, tempfile
    >>> report = pt.collect_garbage(store=tempfile.mkdtemp())
    >>> report.removed, report.bytes_freed
    ([], 0)
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import lance

from posetable._commit import STAGING_DIR
from posetable._flat_snapshot import leftovers as flat_snapshot_leftovers
from posetable.errors import RevisionError
from posetable.store import Store, resolve_store

#: Leftovers younger than this may belong to a writer still running.
DEFAULT_MIN_AGE_S = 3600.0


@dataclass(frozen=True)
class GarbageReport:
    """What :func:`collect_garbage` removed (or would remove, with ``dry_run=True``).

    Attributes:
        removed: the files and folders, absolute paths, sorted.
        bytes_freed: their total size.
        dry_run: whether nothing was actually removed.
    """

    removed: list[Path] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _referenced(uri: Path) -> set[Path]:
    """Every data and deletion file some version of the dataset refers to."""
    latest = lance.dataset(str(uri))
    used: set[Path] = set()
    for entry in latest.versions():
        dataset = lance.dataset(str(uri), version=int(entry["version"]))
        for fragment in dataset.get_fragments():
            meta = fragment.metadata
            used.update(uri / "data" / f.path for f in meta.data_files())
            if meta.deletion_file is not None:
                used.add(uri / meta.deletion_file.path(meta.id))
    return used


def _orphans(uri: Path, cutoff: float) -> list[Path]:
    """Data and deletion files of a table no version refers to, older than ``cutoff``."""
    candidates = [
        p
        for folder in (uri / "data", uri / "_deletions")
        if folder.is_dir()
        for p in folder.iterdir()
        if p.is_file() and p.stat().st_mtime < cutoff
    ]
    if not candidates:
        return []
    used = _referenced(uri)
    return [p for p in candidates if p not in used]


def collect_garbage(
    store: Store | str | Path | None = None,
    *,
    min_age_s: float = DEFAULT_MIN_AGE_S,
    dry_run: bool = False,
) -> GarbageReport:
    """Remove what killed writers left in a store; committed revisions are never touched.

    Args:
        store: the store (default ``$POSETABLE_HOME`` or ``./posetable-data``).
        min_age_s: only leftovers at least this old (seconds) are removed.
        dry_run: report what would be removed, remove nothing.
    """
    if isinstance(min_age_s, bool) or not isinstance(min_age_s, (int, float)) or min_age_s < 0:
        raise RevisionError(f"min_age_s must be a number of seconds >= 0, got {min_age_s!r}")
    resolved = resolve_store(store)
    cutoff = time.time() - float(min_age_s)
    found: list[Path] = []
    staging = resolved.tables_dir / STAGING_DIR
    if staging.is_dir():
        found += [p for p in staging.iterdir() if p.stat().st_mtime < cutoff]
    if resolved.runs_dir.is_dir():
        found += [
            p for p in resolved.runs_dir.glob(".*.tmp") if p.is_dir() and p.stat().st_mtime < cutoff
        ]
    for name in resolved.table_names():
        found += _orphans(resolved.table_uri(name), cutoff)
    found += flat_snapshot_leftovers(resolved, cutoff)
    found.sort()
    freed = sum(_size(p) for p in found)
    if not dry_run:
        for path in found:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return GarbageReport(removed=found, bytes_freed=freed, dry_run=dry_run)
