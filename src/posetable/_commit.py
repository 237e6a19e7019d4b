"""Committing a revision: atomically, and only on top of the revision it was computed from.

DESIGN §1b: an edit is computed from one revision and records it as its parent. It commits
only while that revision is still the latest, in ONE Lance commit. Lance alone would rebase
a commit onto newer versions it finds compatible (and then the recorded parent would lie),
so every posetable commit passes a commit lock that (a) holds an exclusive lock file across
processes while Lance writes the manifest and (b) refuses any version but ``base + 1``.
When another writer won, :func:`commit_on` returns ``None`` and the caller decides, from
what the intervening revisions touched (:class:`Touch`), whether the edit is rebuilt on the
new latest or refused with :class:`~posetable.errors.ConflictError`.

Every Lance error of a commit becomes ours: a lost race is ``None`` here, anything else a
:class:`~posetable.errors.StoreError` naming the table.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posetable._lazy import LazyModule
from posetable.errors import ConflictError, StoreError
from posetable.store import Store

if TYPE_CHECKING:
    import lance
    from lance.dataset import LanceDataset, Transaction
else:
    lance = LazyModule("lance")

LOCK_FILE = "_posetable_commit.lock"


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes, held for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt
            import time

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    time.sleep(0.01)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@functools.cache
def _superseded() -> type[Exception]:
    """The error raised inside the commit lock when Lance wanted to write a version after
    ``base + 1`` (a ``CommitConflictError``, so Lance treats it as a lost race; the class is
    made on first use so that importing this module does not import Lance)."""

    from lance.commit import CommitConflictError

    class Superseded(CommitConflictError):
        pass

    return Superseded


def _lock_expecting(uri: Path, version: int) -> Any:
    """A Lance commit lock that admits exactly ``version`` and serialises all writers."""

    @contextlib.contextmanager
    def lock(wanted: int) -> Iterator[None]:
        with exclusive(uri / LOCK_FILE):
            if wanted != version:
                raise _superseded()(f"expected to commit version {version}, Lance chose {wanted}")
            yield

    return lock


def latest_version(uri: Path) -> int:
    """The latest committed version of a dataset, read from disk now."""
    return int(lance.dataset(str(uri)).version)


def commit_on(uri: Path, txn: Transaction, *, base: int, what: str) -> LanceDataset | None:
    """Commit ``txn`` as version ``base + 1``; None when another writer committed after ``base``.

    ``what`` names the table in the error of a commit that failed for any other reason.
    """
    try:
        return lance.LanceDataset.commit(
            str(uri), txn, read_version=base, commit_lock=_lock_expecting(uri, base + 1)
        )
    except Exception as exc:  # Lance raises OSError, CommitConflictError, ValueError...
        try:
            latest = latest_version(uri)
        except Exception:  # the dataset itself cannot be read: report the commit's error
            latest = base
        if latest != base:
            return None
        raise StoreError(f"{what}: the commit of revision {base + 1} failed: {exc}") from exc


def write_new_version(
    uri: Path, data: Any, *, base: int, what: str, **options: Any
) -> LanceDataset | None:
    """``lance.write_dataset(mode="overwrite")`` as version ``base + 1``, or None if raced."""
    try:
        return lance.write_dataset(
            data, str(uri), mode="overwrite", commit_lock=_lock_expecting(uri, base + 1), **options
        )
    except Exception:
        try:
            latest = latest_version(uri)
        except Exception:
            latest = base
        if latest != base:
            return None
        raise


@dataclass(frozen=True)
class Touch:
    """What a revision changed, so a racing edit knows whether it can be rebuilt on top.

    ``kind`` is ``"rows"`` (only the rows with ``sample_ids``, positions unchanged),
    ``"schema"`` (only the schema metadata) or ``"all"`` (anything else: deletions, new
    columns, overwrites, restores; also every revision written before this record existed).
    """

    kind: str
    sample_ids: frozenset[int] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The record kept in the revision's transaction properties."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "rows":
            out["sample_ids"] = sorted(self.sample_ids)
        return out

    @classmethod
    def from_json(cls, record: Any) -> Touch:
        """The record read back; anything unknown is ``"all"``."""
        if not isinstance(record, dict) or record.get("kind") not in ("rows", "schema"):
            return ALL
        ids = record.get("sample_ids") or []
        return cls(str(record["kind"]), frozenset(int(i) for i in ids))

    def compatible(self, other: Touch) -> bool:
        """Whether an edit touching ``self`` can be rebuilt on top of one touching ``other``."""
        if self.kind == "all" or other.kind == "all":
            return False
        if self.kind == "rows" and other.kind == "rows":
            return self.sample_ids.isdisjoint(other.sample_ids)
        return self.kind != other.kind  # rows over a schema change or the reverse


ALL = Touch("all")
SCHEMA = Touch("schema")


def rows_touch(sample_ids: Any) -> Touch:
    """The touch of an edit of the rows with these sample ids."""
    return Touch("rows", frozenset(int(i) for i in sample_ids))


STAGING_DIR = ".staging"
#: Staging folders older than this are leftovers of killed writers (removed on the next create).
STALE_AFTER_S = 3600.0


def remove_uncommitted(uri: Path) -> None:
    """Remove a dataset folder that holds no committed version (a killed create's leftovers)."""
    versions = uri / "_versions"
    if uri.exists() and (not versions.is_dir() or not any(versions.iterdir())):
        shutil.rmtree(uri, ignore_errors=True)


def sweep_staging(store: Store, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove staging folders of killed creates older than ``older_than_s``; returns them."""
    staging = store.tables_dir / STAGING_DIR
    if not staging.is_dir():
        return []
    now = time.time()
    removed = []
    for path in staging.iterdir():
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if age >= older_than_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def staging_uri(store: Store, name: str) -> Path:
    """A fresh private folder where a new table is written before it gets its name."""
    folder = store.tables_dir / STAGING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    flat = name.replace("/", "__")[:40]  # staged flat (and short), nested when published
    return folder / f"{flat}.{uuid.uuid4().hex}.lance"


def publish(store: Store, name: str, staged: Path) -> LanceDataset:
    """Give a fully written staged table its name, atomically (one rename).

    Raises ConflictError when another writer created the name first; the staged copy is
    removed either way on failure, and nothing is left under the name.
    """
    final = store.table_uri(name)
    final.parent.mkdir(parents=True, exist_ok=True)  # path-like names live in folders
    remove_uncommitted(final)  # leftovers of writers from before staging existed
    taken = ConflictError(
        f"table {name!r} was created in {store.root} by another writer while this one was "
        "being written; nothing was written under that name"
    )
    try:
        rename_into_place(staged, final, taken=taken, what=f"the new table {name!r}")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return lance.dataset(str(final))


def rename_into_place(staged: Path, final: Path, *, taken: Exception, what: str) -> None:
    """Give a fully written staged folder its final name with one atomic rename.

    Raises ``taken`` when another writer created ``final`` first, and StoreError naming
    ``what`` for any other failure; the caller removes ``staged``.
    """
    try:
        os.rename(staged, final)
    except OSError as exc:
        if final.exists():
            raise taken from exc
        raise StoreError(f"could not name {what} at {final}: {exc}") from exc


def create_dataset(store: Store, name: str, write: Callable[[Path], LanceDataset]) -> LanceDataset:
    """Write a NEW table with ``write(staged_uri)`` and publish it under ``name``.

    Nothing appears under the name until the write succeeded; a name taken meanwhile is a
    ConflictError. Staging leftovers of killed writers are swept first.
    """
    sweep_staging(store)
    if name in store.table_names():
        raise ConflictError(f"table {name!r} already exists in {store.root}")
    staged = staging_uri(store, name)
    try:
        write(staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return publish(store, name, staged)
