"""The store: a directory of Lance datasets, one per table, one Lance version per revision.

posetable's own metadata for a revision travels in the same Lance commit as its data:
the schema (and format metadata) in the Arrow schema metadata under ``posetable``, and the
operation record (operation, arguments, parent) in the commit's transaction properties.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from posetable._lazy import LazyModule
from posetable.errors import NotFoundError, RevisionError, TableExistsError

if TYPE_CHECKING:
    import lance
else:
    lance = LazyModule("lance")

DEFAULT_STORE_DIR = "posetable-data"
STORE_ENV = "POSETABLE_HOME"
METADATA_KEY = "posetable"
# Lance's file format 2.0: on this machine (pylance 14.0.2, 100,000 images) it wrote the
# nested keypoints column twice as fast as 2.2 and read one random row in 1.1 ms against
# 1.8 ms, pages and batched reads alike. Every later pylance reads it; a store keeps the
# version it was created with.
STORAGE_VERSION: Final = "2.0"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Characters a part of a table name may not hold: path separators, characters file systems
#: refuse, and ``@`` (it separates the revision in ``name@3``).
_FORBIDDEN = frozenset('/\\:*?"<>|@')
_MAX_PART_BYTES = 200


@dataclass(frozen=True)
class RevisionInfo:
    """One revision of a table: its number, parent, the operation that made it, when.

    Attributes:
        revision: the revision number (the Lance version).
        parent: the parent revision number, or None for a first revision.
        operation: what made it (``create``, ``edit_rows``, ``edit_oks_sigmas``...).
        arguments: the operation's arguments (JSON values).
        timestamp: when it was committed.
    """

    revision: int
    parent: int | None
    operation: str
    arguments: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Store:
    """A posetable store directory (tables under ``tables/``, runs under ``runs/``).

    Example:
        >>> import posetable as pt, tempfile
        >>> store = pt.Store(tempfile.mkdtemp())
        >>> store.table_names()
        []
    """

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root).expanduser().absolute())

    @property
    def tables_dir(self) -> Path:
        """Where the table datasets live."""
        return self.root / "tables"

    @property
    def runs_dir(self) -> Path:
        """Where runs live."""
        return self.root / "runs"

    def table_uri(self, name: str) -> Path:
        """The Lance dataset path of a table name (the name is checked).

        A path-like name ``project/dataset/table`` lives in nested folders:
        ``tables/project/dataset/table.lance``.
        """
        check_name(name, "table")
        *folders, last = name.split("/")
        return self.tables_dir.joinpath(*folders, f"{last}.lance")

    def table_names(self, prefix: str | None = None) -> list[str]:
        """Names of the tables that have at least one committed revision, sorted.

        Path-like names (``project/dataset/table``) are listed with their ``/``; ``prefix``
        (``"project/dataset"``) keeps the names inside that folder only.

        Example:
            >>> import posetable as pt, tempfile
            >>> store = pt.Store(tempfile.mkdtemp())
            >>> schema = pt.Keypoints2DSchema(1)
            >>> for name in ("flat", "My Project/COCO/initial"):
            ...     _ = pt.Table.from_rows([], name=name, schema=schema, store=store)
            >>> store.table_names(), store.table_names("My Project/COCO")
            (['My Project/COCO/initial', 'flat'], ['My Project/COCO/initial'])
        """
        start = self.tables_dir
        if prefix:
            check_name(prefix, "table")
            start = start.joinpath(*prefix.split("/"))
        if not start.is_dir():
            return []
        names: list[str] = []
        pending = [start]
        while pending:
            folder = pending.pop()
            try:
                entries = list(folder.iterdir())
            except OSError:  # pragma: no cover - a folder removed while listing
                continue
            for path in entries:
                if path.name.startswith(".") or not path.is_dir():
                    continue  # staging folders, lock files
                if path.name.endswith(".lance"):
                    versions = path / "_versions"
                    if versions.is_dir() and any(versions.iterdir()):
                        relative = path.relative_to(self.tables_dir).as_posix()
                        names.append(relative[: -len(".lance")])
                else:
                    pending.append(path)
        return sorted(names)

    def dataset(self, name: str, revision: int | None = None) -> lance.LanceDataset:
        """Open a table's Lance dataset at a revision (latest when None)."""
        uri = self.table_uri(name)
        if name not in self.table_names():
            known = self.table_names()
            raise NotFoundError(
                f"no table named {name!r} in store {self.root}; known tables: "
                f"{', '.join(known) if known else '(none)'}"
            )
        if revision is None:
            return lance.dataset(str(uri))
        try:
            return lance.dataset(str(uri), version=int(revision))
        except (ValueError, OSError, RuntimeError) as exc:
            latest = lance.dataset(str(uri))
            known_revs = [int(v["version"]) for v in latest.versions()]
            raise NotFoundError(
                f"table {name!r} has no revision {revision}; known revisions: {_ranges(known_revs)}"
            ) from exc


#: what a ``store=`` argument takes: a Store, a folder, or None (the default store)
StoreLike = Store | str | os.PathLike[str] | None


def _ranges(values: list[int]) -> str:
    if not values:
        return "(none)"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}" if len(values) > 1 else str(values[0])
    return ", ".join(str(v) for v in values)


def check_name(name: str, what: str) -> str:
    """Check a table or run name.

    A table or run name is one or more parts joined by ``/`` (``"coco"``,
    ``"My Project/COCO/initial"``, a run ``"project/run/val-epoch-3"``):
    each part is non-empty, holds no ``/ \\ : * ? " < > | @`` or control characters, does
    not start with ``.`` or end with ``.lance``, and has no space at either end.

    Example:
        >>> check_name("3LC Tutorials - COCO128/COCO128/initial-keypoints", "table")
        '3LC Tutorials - COCO128/COCO128/initial-keypoints'
        >>> check_name("a/../b", "table")
        Traceback (most recent call last):
        ...
        posetable.errors.RevisionError: table name part '..' of 'a/../b' may not start with '.'...
    """
    if what not in ("table", "run"):
        if not isinstance(name, str) or not _NAME.match(name):
            raise RevisionError(
                f"{what} name must be letters, digits, '_', '.' or '-' (not starting with '.' "
                f"or '-'), got {name!r}"
            )
        return name
    if not isinstance(name, str) or not name:
        raise RevisionError(f"a {what} name must be a non-empty string, got {name!r}")
    for part in name.split("/"):
        _check_part(part, name, what)
    return name


def _check_part(part: str, name: str, what: str = "table") -> None:
    where = f"{what} name part {part!r} of {name!r}"
    example = "project/dataset/table" if what == "table" else "project/run"
    rule = (
        f"(a {what} name is parts joined by '/', e.g. '{example}'; each part is "
        'letters, digits, spaces and punctuation other than / \\ : * ? " < > | @)'
    )
    if not part:
        raise RevisionError(f"{what} name {name!r} has an empty part {rule}")
    bad = sorted({c for c in part if c in _FORBIDDEN or not c.isprintable()})
    if bad:
        raise RevisionError(f"{where} may not hold {''.join(bad)!r} {rule}")
    if part.startswith("."):
        raise RevisionError(f"{where} may not start with '.' {rule}")
    if part != part.strip():
        raise RevisionError(f"{where} may not start or end with a space {rule}")
    if part.endswith(".lance"):
        raise RevisionError(f"{where} may not end with '.lance' (the store's own suffix)")
    if len(part.encode("utf-8")) > _MAX_PART_BYTES:
        raise RevisionError(f"{where} is longer than {_MAX_PART_BYTES} bytes")


IF_EXISTS_CHOICES: Final = ("error", "new_revision")


def check_if_exists(
    store: Store, name: str, if_exists: str, importing: str, *, what: str = "if_exists"
) -> int | None:
    """Decide what writing a new table under ``name`` does; returns the parent revision.

    ``if_exists="error"`` (posetable's default) raises :class:`~posetable.errors.
    TableExistsError` when ``name`` already holds a table, naming that table and
    ``importing`` (what was being written), so another dataset never silently becomes a
    revision of it. ``"new_revision"`` makes the write the next revision on purpose (the
    latest becomes its parent). Returns None when the name is free.

    Example:
        >>> import posetable as pt, tempfile
        >>> store = pt.Store(tempfile.mkdtemp())
        >>> _ = pt.Table.from_rows([], name="initial", schema=pt.Keypoints2DSchema(20), store=store)
        >>> check_if_exists(store, "initial", "new_revision", "rows")
        1
        >>> check_if_exists(store, "initial", "error", "a K=17 import")
        Traceback (most recent call last):
        ...
        posetable.errors.TableExistsError: table 'initial' already exists in ...
    """
    if if_exists not in IF_EXISTS_CHOICES:
        raise RevisionError(f"{what} must be one of {list(IF_EXISTS_CHOICES)}, got {if_exists!r}")
    check_name(name, "table")
    if name not in store.table_names():
        return None
    latest = int(lance.dataset(str(store.table_uri(name))).version)
    if if_exists == "new_revision":
        return latest
    raise TableExistsError(
        f"table {name!r} already exists in {store.root} ({describe_table(store, name)}); "
        f"{importing} was not written, so it does not become revision {latest + 1} of that "
        f"table. Choose another name, or pass {what}='new_revision' to add it as the next "
        "revision on purpose"
    )


def describe_table(store: Store, name: str) -> str:
    """``"latest revision 3, K=17, 4 rows"`` for an existing table (for messages)."""
    dataset = lance.dataset(str(store.table_uri(name)))
    try:
        k: Any = read_table_metadata(dataset)["schema"].get("num_keypoints", "?")
    except (RevisionError, KeyError, TypeError, ValueError, AttributeError):
        k = "?"
    return f"latest revision {dataset.version}, K={k}, {dataset.count_rows()} rows"


def describe_write(operation: str, arguments: Mapping[str, Any] | None, schema: Any) -> str:
    """A few words naming what a write holds (for :func:`check_if_exists`'s message)."""
    args = dict(arguments or {})
    k = getattr(schema, "num_keypoints", "?")
    if args.get("annotation_file"):
        return f"the import of {args['annotation_file']} (K={k})"
    if args.get("data_yaml"):
        return f"the import of {args['data_yaml']} split {args.get('split')!r} (K={k})"
    if args.get("source"):
        return f"the table derived from {args['source']} (K={k})"
    return f"the new rows (K={k}, {operation!r})"


def resolve_store(store: Store | str | os.PathLike[str] | None = None) -> Store:
    """The store to use: the argument, else ``$POSETABLE_HOME``, else ``./posetable-data``."""
    if isinstance(store, Store):
        return store
    if store is not None:
        return Store(store)
    return Store(os.environ.get(STORE_ENV) or DEFAULT_STORE_DIR)


def parse_table_ref(ref: str) -> tuple[str, int | None]:
    """Split ``"name@3"`` into ``("name", 3)``; ``"name"`` gives ``("name", None)``."""
    if "@" not in ref:
        return ref, None
    name, _, rev = ref.rpartition("@")
    if not rev.isdigit():
        raise RevisionError(f"a table reference is 'name' or 'name@REVISION', got {ref!r}")
    return name, int(rev)


def encode_operation(
    operation: str,
    arguments: dict[str, Any],
    parent: int | None,
    touched: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Transaction properties recording one revision's operation (and what it touched)."""
    record: dict[str, Any] = {"operation": operation, "arguments": arguments, "parent": parent}
    if touched is not None:
        record["touched"] = touched
    return {METADATA_KEY: orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY).decode()}


def read_operation_record(dataset: lance.LanceDataset, version: int) -> dict[str, Any]:
    """The raw operation record of one version (empty for versions written by others)."""
    transaction = dataset.read_transaction(version)
    props = (transaction.transaction_properties or {}) if transaction is not None else {}
    return dict(orjson.loads(props[METADATA_KEY])) if METADATA_KEY in props else {}


def read_revision_info(
    dataset: lance.LanceDataset,
    version: int,
    *,
    timestamps: Mapping[int, Any] | None = None,
) -> RevisionInfo:
    """The operation record of one version of a table dataset.

    ``timestamps`` (version -> commit time) saves listing the versions again when many
    revisions are read.
    """
    record = read_operation_record(dataset, version)
    if timestamps is None:
        timestamps = {int(v["version"]): v.get("timestamp") for v in dataset.versions()}
    stamp = timestamps.get(version)
    parent = record.get("parent", version - 1 if version > 1 else None)
    return RevisionInfo(
        revision=version,
        parent=None if parent is None else int(parent),
        operation=str(record.get("operation", "unknown")),
        arguments=dict(record.get("arguments") or {}),
        timestamp=stamp if isinstance(stamp, datetime) else None,
    )


def read_table_metadata(dataset: lance.LanceDataset) -> dict[str, Any]:
    """posetable's metadata (schema JSON and format metadata) of a dataset version."""
    raw = (dataset.schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise RevisionError(
            f"dataset {dataset.uri} was not written by posetable (no '{METADATA_KEY}' metadata)"
        )
    return dict(orjson.loads(raw))


_TLC_TABLE_URL = re.compile(
    r"^(?P<root>.*?)/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)/tables/(?P<t>[^/]+)/?$"
)


def table_at(location: str, *, what: str = "url") -> tuple[Store, str]:
    """The store and table name an absolute location names (``what`` names it in errors).

    Accepted: a table's own folder ``<store>/tables/<name>`` (with or without ``.lance``;
    ``name`` may be path-like) and 3LC's ``<root>/<project>/datasets/<dataset>/tables/
    <table>``, whose store is ``<root>`` (without a trailing ``/projects``).

    Example:
        >>> store, name = table_at("/data/runs-root/P/datasets/D/tables/T")
        >>> str(store.root), name
        ('/data/runs-root', 'P/D/T')
    """
    text = location.rstrip("/")
    if text.endswith(".lance"):
        text = text[: -len(".lance")]
    match = _TLC_TABLE_URL.match(Path(text).as_posix())
    if match:
        root = match.group("root")
        if root.endswith("/projects"):
            root = root[: -len("/projects")]
        return Store(root or "/"), f"{match.group('p')}/{match.group('d')}/{match.group('t')}"
    parts = Path(text).parts
    if "tables" in parts:
        at = len(parts) - 1 - parts[::-1].index("tables")
        if parts[at + 1 :]:
            return Store(Path(*parts[:at])), "/".join(parts[at + 1 :])
    raise NotFoundError(
        f"{what} {location!r} does not name a table: expected a table's url "
        "(<store>/tables/<project>/<dataset>/<table>) or 3LC's "
        "<root>/<project>/datasets/<dataset>/tables/<table>"
    )


def free_table_name(store: Store, name: str) -> str:
    """``name`` when no table has it, else the first free ``name_0001``, ``name_0002``...

    Example:
        >>> import posetable as pt, tempfile
        >>> free_table_name(pt.Store(tempfile.mkdtemp()), "P/D/edited")
        'P/D/edited'
    """
    folder = name.rsplit("/", 1)[0] if "/" in name else None
    taken = set(store.table_names(folder))
    if name not in taken:
        return name
    for number in range(1, 100000):
        candidate = f"{name}_{number:04d}"
        if candidate not in taken:
            return candidate
    raise RevisionError(f"no free table name next to {name!r}")  # pragma: no cover
