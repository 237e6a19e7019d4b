"""3LC's namespace (project / dataset / table) on a posetable store, and ``if_exists``.

A 3LC table named ``table_name`` in ``dataset_name`` of ``project_name`` is the posetable
table ``"project/dataset/table"`` (a path-like name: nested folders in the store, spaces
allowed). The same table name in two datasets is two tables. ``root_url`` is the store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from posetable.errors import RevisionError, TableExistsError, UnsupportedError
from posetable.store import (
    Store,
    check_name,
    describe_table,
    free_table_name,
    resolve_store,
    table_at,
)
from posetable.tlc._url import Url

DEFAULT_PROJECT = "default-project"
DEFAULT_DATASET = "default-dataset"
DEFAULT_TABLE = "table"
#: 3LC's ``if_exists`` choices for creating tables (``TableWriter`` has no ``"reuse"``).
IF_EXISTS = ("raise", "reuse", "rename", "overwrite")


@dataclass(frozen=True)
class Target:
    """Where a 3LC table lives: the store and the posetable name ``project/dataset/table``."""

    store: Store
    project: str
    dataset: str
    table: str

    @property
    def name(self) -> str:
        """The posetable table name."""
        return f"{self.project}/{self.dataset}/{self.table}"

    def with_table(self, table: str) -> Target:
        """The same dataset, another table name."""
        return Target(self.store, self.project, self.dataset, table)

    def exists(self) -> bool:
        """Whether a table is stored under this name."""
        return self.name in self.store.table_names()


def _part(value: Any, argument: str, default: str) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise UnsupportedError(f"{argument} must be a string, got {type(value).__name__} {value!r}")
    if "/" in value:
        raise UnsupportedError(
            f"{argument} may not hold '/' (it names one project, dataset or table), got {value!r}"
        )
    try:
        check_name(value, "table")
    except RevisionError as exc:
        raise UnsupportedError(f"{argument}={value!r} cannot name a table: {exc}") from None
    return value


def target(
    table_name: str | None = None,
    dataset_name: str | None = None,
    project_name: str | None = None,
    root_url: str | os.PathLike[str] | Url | None = None,
    table_url: str | os.PathLike[str] | Url | None = None,
) -> Target:
    """The target of 3LC's naming arguments (``table_url`` excludes the other four)."""
    if table_url is not None:
        if any(v is not None for v in (table_name, dataset_name, project_name, root_url)):
            raise UnsupportedError(
                "table_url is mutually exclusive with table_name, dataset_name, project_name "
                f"and root_url, got table_url={str(table_url)!r} with some of them"
            )
        return target_of_url(table_url)
    store = resolve_store(None if root_url is None else Url(root_url).to_absolute().to_str())
    return Target(
        store,
        _part(project_name, "project_name", DEFAULT_PROJECT),
        _part(dataset_name, "dataset_name", DEFAULT_DATASET),
        _part(table_name, "table_name", DEFAULT_TABLE),
    )


def target_of_url(url: str | os.PathLike[str] | Url) -> Target:
    """The 3LC table (project / dataset / table) a URL names; see :func:`table_of_url`."""
    store, name = table_of_url(url)
    parts = name.split("/")
    if len(parts) != 3:
        raise UnsupportedError(
            f"url {str(url)!r} names the table {name!r}, which is not in a project/dataset"
        )
    return Target(store, parts[0], parts[1], parts[2])


def table_of_url(url: str | os.PathLike[str] | Url) -> tuple[Store, str]:
    """The store and posetable name of the table a URL names.

    Accepted: a table's own ``table.url`` (``<store>/tables/<name>``, with or without
    ``.lance``) and 3LC's form ``<root>/<project>/datasets/<dataset>/tables/<table>``,
    whose store is ``<root>`` (without a trailing ``/projects``).
    """
    return table_at(Url(url).to_absolute().to_str())


def table_url(where: Target) -> Url:
    """``table.url`` of a table: its folder in the store, without Lance's suffix."""
    return Url(where.store.tables_dir.joinpath(where.project, where.dataset, where.table))


def unique(where: Target) -> Target:
    """``where`` when free, else the first free ``<table>_0001``, ``<table>_0002``..."""
    return where.with_table(free_table_name(where.store, where.name).rsplit("/", 1)[1])


def decide(
    where: Target, if_exists: Any, importing: str, *, choices: tuple[str, ...] = IF_EXISTS
) -> tuple[Target, str]:
    """Apply 3LC's ``if_exists`` to ``where``: returns the target and what to do.

    The action is ``"create"`` (a new table), ``"reuse"`` (open the existing one as it is),
    or ``"new_revision"`` (``"overwrite"``: posetable keeps history, so the new content is
    the table's next revision and the old one stays readable as ``name@revision``).
    ``"raise"`` raises :class:`~posetable.errors.TableExistsError` naming both.
    """
    if if_exists not in choices:
        raise UnsupportedError(f"if_exists must be one of {list(choices)}, got {if_exists!r}")
    if not where.exists():
        return where, "create"
    if if_exists == "reuse":
        return where, "reuse"
    if if_exists == "rename":
        return unique(where), "create"
    if if_exists == "overwrite":
        return where, "new_revision"
    raise TableExistsError(
        f"table {where.table!r} of dataset {where.dataset!r} in project {where.project!r} "
        f"already exists in {where.store.root} ({describe_table(where.store, where.name)}); "
        f"{importing} was not written (if_exists="
        "'raise'). Pass if_exists='rename' for a new name, 'overwrite' to make it the next "
        "revision, or 'reuse' to open the existing table"
    )
