"""Splitting a table into derived tables (train / val / test ...).

Each split is a NEW table derived from one revision (:meth:`posetable.Table.derive` with
``rows=``): it keeps its rows' order and sample ids and records its source ``name@revision``,
the strategy and the seed. The source table is untouched. Strategies (numpy only):

- ``"random"``: shuffle (``shuffle=True``) and cut by the proportions.
- ``"stratified"``: each value of ``by`` is spread over the splits in the proportions
  (largest remainder, so every class with enough rows lands in every split).
- ``"balanced_greedy"``: classes rarest first, each shuffled and cut by the proportions.
- ``"undersampled_balanced"``: every class gives the same number of rows (the rarest
  class's count times the proportion) to each split; the rest is left out.
- ``"traversal_index"``: farthest-point sampling over the vectors in ``by`` (embeddings),
  smallest split first, so each split covers the whole embedding space.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from posetable.errors import PosetableWarning, RowError, TableExistsError, UnsupportedError
from posetable.store import resolve_store
from posetable.table import StoreLike, Table

STRATEGIES = ("random", "stratified", "traversal_index", "balanced_greedy", "undersampled_balanced")
_NEEDS_BY = {"stratified", "traversal_index", "balanced_greedy", "undersampled_balanced"}
_SHUFFLES = {"random", "balanced_greedy", "undersampled_balanced"}


def _proportions(splits: Mapping[str, float] | None) -> dict[str, float]:
    if not splits:
        return {"train": 0.8, "val": 0.2}
    if not isinstance(splits, Mapping):
        raise UnsupportedError(f"splits must be a dict {{name: proportion}}, got {splits!r}")
    out = {}
    for name, value in splits.items():
        if not isinstance(name, str) or not name:
            raise UnsupportedError(f"split names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise UnsupportedError(
                f"split proportion of {name!r} must be a number in [0, 1], got {value!r}"
            )
        out[name] = float(value)
    total = sum(out.values())
    if total <= 0:
        raise UnsupportedError(f"split proportions must not all be 0, got {dict(splits)}")
    if not math.isclose(total, 1.0):
        warnings.warn(
            f"split proportions sum to {total:g}, not 1; they are normalised",
            PosetableWarning,
            stacklevel=3,
        )
        out = {k: v / total for k, v in out.items()}
    return out


def _sizes(count: int, proportions: list[float]) -> list[int]:
    """3LC's sizes: ``int(count * p)`` each, what is left to the first split."""
    sizes = [int(count * p) for p in proportions]
    sizes[0] += count - sum(sizes)
    return sizes


def _values(
    table: Table, by: str | Callable[[dict[str, Any]], Any], *, vectors: bool = False
) -> np.ndarray:
    """One value per row to split by: a column (a list's first element, or the whole list
    for ``vectors``) or ``by(row)``."""
    if callable(by):
        return np.asarray([by(row) for row in table], dtype=object)
    if not isinstance(by, str) or by not in table.columns:
        raise UnsupportedError(
            f"by must be a column name ({table.columns}) or a function of a row, got {by!r}"
        )
    column = table.to_arrow(columns=[by]).column(0).combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        flat = column.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(column), column.type.list_size)
    items = column.to_pylist()
    if vectors:
        return np.asarray(items, dtype=np.float64)
    if by == "keypoints":  # the first instance's label
        return np.asarray(
            [(v["instances_additional_data"]["label"] or [None])[0] for v in items], dtype=object
        )
    return np.asarray([v[0] if isinstance(v, list) and v else v for v in items], dtype=object)


def _classes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class index per row (0..C-1, by first appearance) and the rows' count per class."""
    keys = [repr(v) for v in values]
    first: dict[str, int] = {}
    index = np.asarray([first.setdefault(k, len(first)) for k in keys], dtype=np.int64)
    return index, np.bincount(index, minlength=len(first))


def _stratified(idx: np.ndarray, cls: np.ndarray, p: list[float], rng: Any) -> list[np.ndarray]:
    parts: list[list[int]] = [[] for _ in p]
    for c in range(int(cls.max()) + 1 if len(cls) else 0):
        rows = rng.permutation(idx[cls == c])
        want = np.asarray(p) * len(rows)
        take = np.floor(want).astype(int)
        order = np.argsort(-(want - take), kind="stable")
        take[order[: len(rows) - int(take.sum())]] += 1
        for i, piece in enumerate(np.split(rows, np.cumsum(take)[:-1])):
            parts[i] += piece.tolist()
    return [np.asarray(sorted(x), dtype=np.int64) for x in parts]


def _per_class(
    idx: np.ndarray, cls: np.ndarray, counts: np.ndarray, p: list[float], seed: int, under: bool
) -> list[np.ndarray]:
    parts: list[list[int]] = [[] for _ in p]
    smallest = int(counts.min()) if len(counts) else 0
    for c in np.argsort(counts, kind="stable"):  # rarest first
        rows = np.random.default_rng(seed + int(c)).permutation(idx[cls == c])
        base = smallest if under else len(rows)
        take = [int(base * q) for q in p]
        if not under:
            take[0] += len(rows) - sum(take)  # nothing is left out
        start = 0
        for i, n in enumerate(take):
            parts[i] += rows[start : start + n].tolist()
            start += n
    return [np.asarray(x, dtype=np.int64) for x in parts]


def _traversal(idx: np.ndarray, vectors: np.ndarray, p: list[float]) -> list[np.ndarray]:
    points = np.asarray(vectors.tolist(), dtype=np.float64).reshape(len(vectors), -1)
    order = sorted(range(len(p)), key=lambda i: p[i])  # smallest split first
    left = list(range(len(idx)))
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(p)
    for i in order[:-1]:
        n = min(int(len(idx) * p[i]), len(left))
        chosen: list[int] = []
        if n:
            pool = np.asarray(left)
            chosen = [int(pool[0])]
            dist = np.linalg.norm(points[pool] - points[pool[0]], axis=1)
            for _ in range(n - 1):
                nxt = int(np.argmax(dist))
                chosen.append(int(pool[nxt]))
                dist = np.minimum(dist, np.linalg.norm(points[pool] - points[pool[nxt]], axis=1))
        taken = set(chosen)
        left = [r for r in left if r not in taken]
        out[i] = idx[np.asarray(chosen, dtype=np.int64)]
    out[order[-1]] = idx[np.asarray(left, dtype=np.int64)]
    return out


def split_indices(
    table: Table,
    splits: Mapping[str, float] | None = None,
    *,
    strategy: str = "random",
    by: str | Callable[[dict[str, Any]], Any] | None = None,
    seed: int = 0,
    shuffle: bool = True,
) -> dict[str, np.ndarray]:
    """The row positions of each split (what :func:`split_table` writes).

    Example:
        >>> import posetable as pt, tempfile
        >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 4, "height": 4}
        ...     for i in range(10)], name="t", schema=pt.Keypoints2DSchema(1),
        ...     store=tempfile.mkdtemp())
        >>> {k: len(v) for k, v in split_indices(t, {"train": 0.7, "val": 0.3}).items()}
        {'train': 7, 'val': 3}
    """
    proportions = _proportions(splits)
    if strategy not in STRATEGIES:
        raise UnsupportedError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if strategy in _NEEDS_BY and by is None:
        raise UnsupportedError(f"strategy {strategy!r} needs by= (a column or a function of a row)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise UnsupportedError(f"seed must be an int, got {seed!r}")
    names, p = list(proportions), list(proportions.values())
    idx = np.arange(len(table), dtype=np.int64)
    rng = np.random.default_rng(int(seed))
    if shuffle and strategy == "random":
        idx = rng.permutation(idx)
    if strategy == "random":
        parts = np.split(idx, np.cumsum(_sizes(len(idx), p))[:-1])
    else:
        values = _values(table, by, vectors=strategy == "traversal_index")  # type: ignore[arg-type]
        if len(values) != len(idx):  # pragma: no cover - one value per row by construction
            raise RowError(f"by gave {len(values)} values for {len(idx)} rows")
        if strategy == "traversal_index":
            parts = _traversal(idx, values, p)
        else:
            cls, counts = _classes(values)
            if strategy == "stratified":
                parts = _stratified(idx, cls, p, rng)
            else:
                under = strategy == "undersampled_balanced"
                parts = _per_class(idx, cls, counts, p, int(seed), under)
    return {name: np.asarray(part, dtype=np.int64) for name, part in zip(names, parts, strict=True)}


def split_table(
    table: Table,
    splits: Mapping[str, float] | None = None,
    *,
    strategy: str = "random",
    by: str | Callable[[dict[str, Any]], Any] | None = None,
    seed: int = 0,
    shuffle: bool = True,
    names: Mapping[str, str] | None = None,
    store: StoreLike = None,
    metadata: Callable[[str], Mapping[str, Any]] | None = None,
) -> dict[str, Table]:
    """Split one table revision into new derived tables, one per split.

    Args:
        table: the table revision to split (untouched).
        splits: ``{split name: proportion}`` (default ``{"train": 0.8, "val": 0.2}``);
            proportions that do not sum to 1 are normalised, with a warning.
        strategy: see the module docstring.
        by: a column name or ``by(row)`` for the strategies that need one.
        seed: the random seed (the same seed gives the same splits).
        shuffle: shuffle before a ``"random"`` split.
        names: ``{split: table name}``; default ``"<table name>-<split>"``.
        store: where the split tables go (default: the table's store).
        metadata: ``metadata(split)`` entries added to each split table's metadata.

    Returns:
        ``{split name: Table}``; each records ``table.ref`` as its source.

    Example:
        >>> import posetable as pt, tempfile
        >>> t = pt.Table.from_rows([{"image": f"{i}.jpg", "width": 4, "height": 4,
        ...     "kind": "cat" if i % 2 else "dog"} for i in range(10)], name="pets",
        ...     schema=pt.Keypoints2DSchema(1), store=tempfile.mkdtemp())
        >>> parts = pt.split_table(t, {"train": 0.6, "val": 0.4}, strategy="stratified",
        ...                        by="kind", seed=1)
        >>> [(p.ref, len(p), sorted({r["kind"] for r in p})) for p in parts.values()]
        [('pets-train@1', 6, ['cat', 'dog']), ('pets-val@1', 4, ['cat', 'dog'])]
        >>> parts["val"].source
        'pets@1'
    """
    if not isinstance(table, Table):
        raise UnsupportedError(f"table must be a posetable Table, got {type(table).__name__}")
    parts = split_indices(table, splits, strategy=strategy, by=by, seed=seed, shuffle=shuffle)
    chosen = {split: f"{table.name}-{split}" for split in parts}
    if names is not None:
        missing = sorted(set(parts) - set(names))
        if missing:
            raise UnsupportedError(f"names must name every split; missing {missing}")
        chosen = {split: names[split] for split in parts}
    target = table.store if store is None else resolve_store(store)
    taken = sorted(n for n in chosen.values() if n in target.table_names())
    if taken or len(set(chosen.values())) != len(chosen):
        raise TableExistsError(
            f"the split tables must have new, distinct names; {taken or list(chosen.values())} "
            f"already exist(s) in {target.root} or repeat: nothing was written. Pass names="
        )
    out = {}
    for split, rows in parts.items():
        out[split] = table.derive(
            chosen[split],
            store=target,
            rows=rows,
            metadata=None if metadata is None else metadata(split),
            operation="split",
            arguments={"split": split, "strategy": strategy, "seed": int(seed)},
        )
    return out
