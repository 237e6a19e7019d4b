"""3LC's ``tlc_tools.split.split_table`` over :func:`posetable.split_table`.

Each split is a new table in the source's dataset, named by the split (``train``,
``val``...), derived from the source revision (lineage to its ``name@revision``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import posetable as pt
from posetable.errors import TableExistsError, UnsupportedError
from posetable.split import split_indices
from posetable.tlc._names import Target, unique
from posetable.tlc._table import META, Table
from posetable.tlc._url import Url

IF_EXISTS = ("reuse", "overwrite", "rename")


def _source(table: Any) -> Table:
    if isinstance(table, Table):
        return table
    if isinstance(table, pt.Table):
        return Table(table)
    if isinstance(table, (str, os.PathLike, Url)):
        return Table.from_url(table)
    raise UnsupportedError(f"table must be a Table, a Url or a str, got {type(table).__name__}")


def _by(table: Table, split_by: Any) -> str | Callable[[dict[str, Any]], Any] | None:
    if split_by is None:
        return None
    if isinstance(split_by, (bool, int)):
        raise UnsupportedError(
            f"split_by={split_by!r} indexes tuple rows; posetable rows are dicts: pass a "
            f"column name ({table.columns}) or a function of a row"
        )
    if isinstance(split_by, str):
        if split_by not in table.columns:
            raise UnsupportedError(
                f"split_by={split_by!r} is not a column of {table.name!r} ({table.columns})"
            )
        return split_by if split_by != table.keypoints_column else "keypoints"
    if callable(split_by):
        return lambda row: split_by(table._row(row))
    raise UnsupportedError(f"split_by must be a column name or a function, got {split_by!r}")


def _where(table: Table) -> Target:
    native = table.native
    parts = native.name.split("/")
    if len(parts) != 3:
        raise UnsupportedError(
            f"table {native.name!r} is not in a project/dataset; split it with "
            "posetable.split_table(table, names=...)"
        )
    return Target(native.store, parts[0], parts[1], parts[2])


def split_table(
    table: Table | Url | str,
    splits: dict[str, float] | None = None,
    random_seed: int = 0,
    split_strategy: str = "random",
    shuffle: bool = True,
    split_by: int | str | Callable[[Any], Any] | None = None,
    if_exists: str = "reuse",
) -> dict[str, Table]:
    """Split a table into tables named by the splits, in its dataset (3LC's ``split_table``).

    Strategies: ``"random"``, ``"stratified"``, ``"traversal_index"``,
    ``"balanced_greedy"``, ``"undersampled_balanced"`` (see :mod:`posetable.split`; numpy
    only, no scikit-learn: a stratified split gives each class the proportions, not the
    rows scikit-learn would pick). ``split_by`` is a column name or a function of a 3LC row.
    ``if_exists``: ``"reuse"`` (default: when every split table exists, they are opened as
    they are; when only some do, :class:`~posetable.errors.TableExistsError`),
    ``"rename"`` (new names ``train_0001``...) or ``"overwrite"`` (their next revision).

    Example:
        >>> import posetable.tlc as tlc, tempfile
        >>> from posetable.tlc_tools.split import split_table
        >>> rows = {"image": [f"{i}.jpg" for i in range(10)],
        ...         "kp": [tlc.Keypoints2DInstances.create_empty(image_width=8,
        ...                image_height=8).to_row() for _ in range(10)]}
        >>> table = tlc.Table.from_dict(rows, structure={"image": tlc.ImageUrlSchema(),
        ...     "kp": tlc.Keypoints2DSchema(num_keypoints=1)}, table_name="all",
        ...     root_url=tempfile.mkdtemp())
        >>> parts = split_table(table, splits={"train": 0.7, "val": 0.3}, random_seed=1)
        >>> {name: (t.name, len(t)) for name, t in parts.items()}
        {'train': ('train', 7), 'val': ('val', 3)}
    """
    source = _source(table)
    if if_exists not in IF_EXISTS:
        raise UnsupportedError(f"if_exists must be one of {list(IF_EXISTS)}, got {if_exists!r}")
    where = _where(source)
    names = list(splits or {"train": 0.8, "val": 0.2})
    targets = {name: where.with_table(name) for name in names}
    existing = [name for name, t in targets.items() if t.exists()]
    if if_exists == "reuse" and existing:
        if len(existing) == len(targets):
            return {name: Table.from_names(t.table, t.dataset, t.project, t.store.root)
                    for name, t in targets.items()}  # fmt: skip
        raise TableExistsError(
            f"split tables {existing} of {names} already exist in dataset {where.dataset!r}; "
            "nothing was written. Pass if_exists='overwrite' or 'rename'"
        )
    if if_exists == "rename":
        targets = {name: unique(t) for name, t in targets.items()}
    parts = split_indices(
        source.native,
        splits,
        strategy=split_strategy,
        by=_by(source, split_by),
        seed=random_seed,
        shuffle=shuffle,
    )
    out = {}
    for name, rows in parts.items():
        out[name] = Table(_write(source, targets[name], rows, name, split_strategy, random_seed))
    return out


def _write(
    source: Table, where: Target, rows: Any, split: str, strategy: str, seed: int
) -> pt.Table:
    meta = dict(source.metadata.get(META) or {})
    meta.update(table=where.table, description=f"{split} split of {source.name} by {strategy}")
    arguments = {"split": split, "strategy": strategy, "seed": int(seed)}
    if not where.exists():
        return source.native.derive(
            where.name,
            store=where.store,
            rows=rows,
            metadata={META: meta},
            operation="split",
            arguments=arguments,
        )
    # overwrite: the split becomes the table's next revision (its history is kept)
    data = source.native.take(sorted(int(r) for r in rows))
    return pt.Table.from_arrow(
        data,
        name=where.name,
        schema=source.schema,
        store=where.store,
        metadata={**source.metadata, META: meta},
        if_exists="new_revision",
        operation="split",
        arguments={"source": source.native.ref, **arguments},
    )


__all__ = ["split_table"]
