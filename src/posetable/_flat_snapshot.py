"""A table revision's flat snapshot: what evaluating it needs, readable with numpy alone.

Evaluating a table reads its keypoints column from Lance and flattens it into the engine's
arrays (``eval._columns``). A revision never changes, so the first evaluation of a revision
keeps the result beside the store::

    <store>/.cache/flat/<table path>.lance/r<revision>/
        meta.json        format, the table's schema, metadata, columns, rows and the
                         identity (name, size, mtime) of the revision's Lance manifest
        frame-*.npy      the image and category frame (``eval._data.Frame``)
        gt-*.npy         the ground-truth columns (``eval._data.GroundTruthColumns``)
        rows-*.npy       per row: ``sample_id``, and ``width``, ``height`` once a run was
                         made from a results file (what it keeps of its table; added to
                         the snapshot then; older snapshots lack them)

Later, ``Table.open`` and ``pt.evaluate(table, run)`` read it without importing Lance or
pyarrow (~115 MB of resident imports, more than the evaluation of a val2017-size set).

A snapshot is used only while its manifest is the one on disk: a table deleted and made
again under the same name gets new manifests, so an old snapshot is never read for it.
Writing is best effort: a store that cannot be written still evaluates, from Lance.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from posetable.store import Store

if TYPE_CHECKING:
    from posetable.eval._data import Frame, GroundTruthColumns
    from posetable.table import Table

FORMAT = 1
_U64_MAX = (1 << 64) - 1
_MANIFEST = re.compile(r"^(\d+)\.manifest$")
ROW_COLUMNS = ("sample_id", "width", "height")  # the per-row columns a snapshot keeps


def _array_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The array fields of ``Frame`` and of ``GroundTruthColumns`` (imported here, not at
    module import: ``Table.open`` imports this module and needs nothing of the evaluation
    until a snapshot is read)."""
    from posetable.eval._data import Frame, GroundTruthColumns

    frame_names = tuple(f.name for f in fields(Frame) if f.name != "num_keypoints")
    return frame_names, tuple(f.name for f in fields(GroundTruthColumns))


@dataclass(frozen=True)
class Snapshot:
    """A revision's snapshot as read: the table's description and its flat arrays' folder.

    Attributes:
        folder: where its files are.
        revision: the table revision.
        schema: ``Keypoints2DSchema.to_dict()`` of the revision.
        metadata: the revision's format metadata.
        columns: the revision's column names (``Table.columns``).
        num_rows: its number of rows.
    """

    folder: Path
    revision: int
    schema: dict[str, Any]
    metadata: dict[str, Any]
    columns: list[str]
    num_rows: int

    def frame(self) -> Frame:
        """The evaluation frame (image and category positions)."""
        from posetable.eval._data import Frame

        names = _array_names()[0]
        arrays = {name: np.load(self.folder / f"frame-{name}.npy") for name in names}
        return Frame(**arrays, num_keypoints=int(self.schema["num_keypoints"]))

    def row_column(self, name: str) -> np.ndarray | None:
        """One of the per-row columns (:data:`ROW_COLUMNS`, read-only), or None where the
        snapshot was written without them."""
        path = self.folder / f"rows-{name}.npy"
        if name not in ROW_COLUMNS or not path.is_file():
            return None
        try:
            values = np.load(path)
        except (OSError, ValueError):
            return None
        if values.shape != (self.num_rows,):
            return None
        values.flags.writeable = False
        return values

    def keep_row_column(self, name: str, values: np.ndarray) -> None:
        """Add a per-row column to the snapshot (a temporary name renamed into place; best
        effort: a store that cannot be written keeps reading it from the table)."""
        if name not in ROW_COLUMNS or values.shape != (self.num_rows,):
            raise ValueError(f"{name!r}: not a per-row column of {self.num_rows} values")
        target = self.folder / f"rows-{name}.npy"
        staging = self.folder / f".rows-{name}.{uuid.uuid4().hex}.npy"
        try:
            np.save(staging, values)
            os.replace(staging, target)
        except OSError:
            staging.unlink(missing_ok=True)

    def ground_truth(self) -> GroundTruthColumns:
        """The ground-truth columns."""
        from posetable.eval._data import GroundTruthColumns

        names = _array_names()[1]
        return GroundTruthColumns(
            **{name: np.load(self.folder / f"gt-{name}.npy") for name in names}
        )


def _folder(store: Store, name: str, revision: int) -> Path:
    relative = store.table_uri(name).relative_to(store.tables_dir)
    return store.root / ".cache" / "flat" / relative / f"r{int(revision)}"


def revisions_on_disk(uri: Path) -> list[int] | None:
    """The revisions whose manifests are in ``uri/_versions``, read from the file names
    (Lance's V1 names ``<n>.manifest`` and V2 names ``<2**64 - 1 - n>.manifest``); None
    when a name is neither, so the caller asks Lance."""
    try:
        names = os.listdir(uri / "_versions")
    except OSError:
        return None
    found: list[int] = []
    for file_name in names:
        if not file_name.endswith(".manifest"):
            continue  # Lance's latest_version_hint.json and the like
        match = _MANIFEST.match(file_name)
        if match is None:
            return None
        number = int(match.group(1))
        found.append(_U64_MAX - number if len(match.group(1)) == 20 else number)
    return found


def _manifest_identity(uri: Path, revision: int) -> dict[str, Any] | None:
    for file_name in (f"{_U64_MAX - revision:020d}.manifest", f"{revision}.manifest"):
        try:
            st = os.stat(uri / "_versions" / file_name)
        except OSError:
            continue
        return {"file": file_name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return None


def find(store: Store, name: str, revision: int | None) -> Snapshot | None:
    """The snapshot of ``name`` at ``revision`` (None: the latest), or None when there is
    none, it is of another format, or its manifest is not the one on disk."""
    uri = store.table_uri(name)
    if revision is None:
        known = revisions_on_disk(uri)
        if not known:
            return None
        revision = max(known)
    folder = _folder(store, name, revision)
    try:
        meta = orjson.loads((folder / "meta.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if meta.get("format") != FORMAT or meta.get("manifest") != _manifest_identity(uri, revision):
        return None
    return Snapshot(
        folder=folder,
        revision=int(revision),
        schema=meta["schema"],
        metadata=meta["metadata"],
        columns=list(meta["columns"]),
        num_rows=int(meta["num_rows"]),
    )


def save(table: Table, frame: Frame, ground_truth: GroundTruthColumns) -> Path | None:
    """Keep a revision's frame and ground truth with its schema, metadata, columns and
    number of rows. Written in a staging folder and renamed into place, so a reader sees all
    of it or nothing; None when it could not be written (a read-only store), the revision's
    manifest is not found, or the image ids are strings."""
    store, name, revision = table.store, table.name, table.revision
    uri = store.table_uri(name)
    identity = _manifest_identity(uri, revision)
    frame_names, gt_names = _array_names()
    arrays = {f"frame-{n}": getattr(frame, n) for n in frame_names}
    arrays.update({f"gt-{n}": getattr(ground_truth, n) for n in gt_names})
    arrays["rows-sample_id"] = np.asarray(table.sample_ids(), np.int64)
    if identity is None or any(array.dtype == object for array in arrays.values()):
        return None  # string image ids (object arrays) are not kept: np.load would need pickle
    target = _folder(store, name, revision)
    staging = target.parent / f".r{revision}.{uuid.uuid4().hex}"
    meta = {
        "format": FORMAT,
        "revision": int(revision),
        "manifest": identity,
        "schema": table.schema.to_dict(),
        "metadata": table.metadata,
        "columns": table.columns,
        "num_rows": len(table),
    }
    try:
        staging.mkdir(parents=True)
        for file_name, array in arrays.items():
            np.save(staging / f"{file_name}.npy", array)
        (staging / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SERIALIZE_NUMPY))
        if target.exists():  # a stale snapshot (another manifest): moved aside, then removed
            aside = target.parent / f".old-r{revision}.{uuid.uuid4().hex}"
            os.rename(target, aside)
            shutil.rmtree(aside, ignore_errors=True)
        os.rename(staging, target)  # fails if another process renamed its own in meanwhile
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        return None
    return target


def leftovers(store: Store, cutoff: float) -> list[Path]:
    """Snapshot folders no revision can read any more (their table was deleted or made
    again, or the file is not one this version reads), and staging folders of writers that
    died, last changed before ``cutoff`` (a time): what ``posetable gc`` removes. Snapshots
    of revisions that exist stay; the whole cache may also be deleted at any time."""
    root = store.root / ".cache" / "flat"
    if not root.is_dir():
        return []
    found: list[Path] = []
    for dataset in root.rglob("*.lance"):
        if not dataset.is_dir():
            continue
        uri = store.tables_dir / dataset.relative_to(root)
        for folder in dataset.iterdir():
            if folder.name.startswith("."):
                if folder.stat().st_mtime < cutoff:
                    found.append(folder)
                continue
            try:
                meta = orjson.loads((folder / "meta.json").read_bytes())
                valid = meta.get("format") == FORMAT and meta.get("manifest") == (
                    _manifest_identity(uri, int(meta["revision"]))
                )
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                valid = False
            if not valid and folder.stat().st_mtime < cutoff:
                found.append(folder)
    return found
