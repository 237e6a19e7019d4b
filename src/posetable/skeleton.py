"""Changing a table's skeleton: add, remove, rename and reorder keypoints, map between layouts.

Each operation is one new revision of the table (its lineage records the operation and its
arguments) in which every instance, the OKS sigmas, the flip indices, the lines, the
triangles, the colours and the default pose follow the keypoints:

- ``table.add_keypoints(names, ...)``: new points, x = y = 0 and v = 0 in every instance;
- ``table.remove_keypoints(names)``: lines and triangles through removed points are dropped
  and reported (a :class:`SkeletonWarning`), a point whose mirror partner was removed flips
  to itself; COCO's ``num_keypoints`` field goes down by the labeled points removed;
- ``table.rename_keypoints(mapping)``: names only (a schema-only revision); flip indices are
  re-derived from the new names only when asked;
- ``table.reorder_keypoints(order)``: every per-keypoint value permuted;
- :func:`map_keypoints`: onto another layout (``posetable.layouts``), points without a
  source becoming v = 0.

The data is rewritten with one gather over the flat keypoint arrays of each batch of rows
(:mod:`posetable._gather`), never a loop per instance. A revision that rewrites the
keypoints touches the whole table, so an edit racing it (of rows or of the schema) is
refused with :class:`~posetable.errors.ConflictError` instead of landing in the wrong
layout; a rename touches the schema only. Bad arguments raise
:class:`~posetable.errors.SchemaError` naming the argument and the value before anything
is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from lance.dataset import Transaction
from lance.fragment import write_fragments
from tqdm.auto import tqdm

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._commit import ALL, create_dataset
from posetable._gather import gather_column
from posetable._validate import check_flip_indices, check_sigmas
from posetable.errors import PosetableError, PosetableWarning, SchemaError, StoreError
from posetable.schema import SIGMAS_UNIFORM, SIGMAS_USER, Keypoints2DSchema
from posetable.schema import flip_indices_from_names as _flip_indices_from_names
from posetable.store import METADATA_KEY, STORAGE_VERSION, encode_operation, resolve_store

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table

#: Rows rewritten per batch (bounded memory on big tables).
BATCH_ROWS = 8192
#: Batches Lance reads ahead while one is rewritten (its default of 16 holds ~130k rows).
READ_AHEAD = 2
#: Tables at least this long show a progress bar while their keypoints are rewritten.
PROGRESS_ROWS = 20_000
#: The colour of a new keypoint or line in a schema that has colours.
NEW_COLOR = (128, 128, 128)


class SkeletonWarning(PosetableWarning):
    """A skeleton change dropped or changed something besides the points it was asked to
    (lines through removed points, flip partners, source points a mapping leaves out)."""


# -- left/right names -----------------------------------------------------------------------
def flip_indices_from_names(names: Sequence[str]) -> tuple[int, ...]:
    """Flip indices derived from left/right names, checked to be an involution.

    The strict mode of :func:`posetable.schema.flip_indices_from_names` (one implementation:
    the COCO reader uses its lenient mode). Recognised (case-insensitive): ``left``/``right``
    anywhere in the name (``left_eye``, ``LeftEye``, ``eye_left``, DeepLabCut's
    ``leftear``), ``l_``/``r_`` (or ``l-``, ``l.``) prefixes, ``_l``/``_r`` (or ``-l``,
    ``.l``) suffixes, and OpenPose's capital ``LShoulder``/``RShoulder`` (only where both
    exist). A name without a side flips to itself.

    Raises:
        SchemaError: listing every left/right name whose partner is missing, names that
            differ only by case, or pairs that do not form an involution.

    Example:
        >>> flip_indices_from_names(["nose", "left_eye", "right_eye", "LEar", "REar"])
        (0, 2, 1, 4, 3)
        >>> flip_indices_from_names(["leftear", "rightear", "tail_l", "tail_r"])
        (1, 0, 3, 2)
        >>> flip_indices_from_names(["left_paw", "tail"])
        Traceback (most recent call last):
        ...
        posetable.errors.SchemaError: flip_indices_from_names: left/right names without a \
partner: 'left_paw' (no 'right_paw')
    """
    return _flip_indices_from_names(names, strict=True)


# -- resolving arguments --------------------------------------------------------------------
def _shown(names: Sequence[str]) -> str:
    items = list(names)
    text = ", ".join(repr(n) for n in items[:8])
    return f"[{text}{', ...' if len(items) > 8 else ''}]"


def _indices(schema: Keypoints2DSchema, items: Any, argument: str) -> list[int]:
    """Keypoint names or indices as indices; unknown or repeated ones are a SchemaError."""
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise SchemaError(f"{argument} must be a list of keypoint names or indices, got {items!r}")
    names = schema.keypoint_names
    where = {n: i for i, n in enumerate(names)}
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in where:
                raise SchemaError(
                    f"{argument}: {item!r} is not a keypoint of this table; its keypoints are "
                    f"{_shown(names)}"
                )
            out.append(where[item])
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < len(names):
                raise SchemaError(
                    f"{argument}: index {int(item)} is out of range for K={len(names)} "
                    f"keypoints (0..{len(names) - 1})"
                )
            out.append(int(item))
        else:
            raise SchemaError(f"{argument} must hold keypoint names or indices, got {item!r}")
    seen: set[int] = set()
    twice = [names[i] for i in out if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
    if twice:
        raise SchemaError(f"{argument} names keypoints more than once: {_shown(twice)}")
    return out


def _pairs(value: Any, names: Sequence[str], argument: str) -> list[tuple[int, int]]:
    """Pairs of keypoint names (or indices) of ``names`` as index pairs."""
    if value is None:
        return []
    where = {n: i for i, n in enumerate(names)}
    out = []
    for n, pair in enumerate(value):
        if isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise SchemaError(f"{argument}[{n}] must be a pair of keypoint names, got {pair!r}")
        ends = []
        for end in pair:
            if isinstance(end, str) and end in where:
                ends.append(where[end])
            elif isinstance(end, (int, np.integer)) and 0 <= int(end) < len(names):
                ends.append(int(end))
            else:
                raise SchemaError(
                    f"{argument}[{n}]: {end!r} is not a keypoint (keypoints: {_shown(names)})"
                )
        out.append((ends[0], ends[1]))
    return out


# -- the schema after a plan ----------------------------------------------------------------
def _carried(
    schema: Keypoints2DSchema,
    source: np.ndarray,
    names: Sequence[str],
    *,
    sigmas: np.ndarray | None,
    sigmas_source: str | None,
    flips: tuple[int, ...] | None,
    new_pose: np.ndarray | None = None,
    new_lines: Sequence[tuple[int, int]] = (),
) -> tuple[Keypoints2DSchema, list[str], list[str]]:
    """``schema`` with keypoint ``j`` taken from old keypoint ``source[j]`` (-1: new).

    Returns the schema and the descriptions of the lines and triangles dropped because a
    point of theirs has no place in the new layout.
    """
    k_new = len(source)
    new_index = np.full(schema.num_keypoints, -1, dtype=np.int64)
    kept = source >= 0
    new_index[source[kept]] = np.flatnonzero(kept)
    old_names = schema.keypoint_names
    changes: dict[str, Any] = {"num_keypoints": k_new, "keypoint_names": list(names)}
    if schema.keypoint_colors is not None:
        changes["keypoint_colors"] = [
            schema.keypoint_colors[s] if s >= 0 else NEW_COLOR for s in source.tolist()
        ]
    changes["oks_sigmas"] = None if sigmas is None else [float(s) for s in sigmas]
    changes["oks_sigmas_source"] = sigmas_source
    pose = schema.default_pose
    if pose is not None or new_pose is not None:
        old_pose = schema.pose_for_new_instance()
        fresh = iter(np.full((k_new, 2), 0.5) if new_pose is None else new_pose)
        changes["default_pose"] = [
            tuple(old_pose[s]) if s >= 0 else tuple(next(fresh)) for s in source.tolist()
        ]
    lines: list[tuple[int, int]] = []
    line_map: dict[int, int] = {}
    dropped: list[str] = []
    for n, (a, b) in enumerate(schema.lines):
        na, nb = int(new_index[a]), int(new_index[b])
        if na < 0 or nb < 0:
            dropped.append(f"line {old_names[a]}-{old_names[b]}")
            continue
        line_map[n] = len(lines)
        lines.append((na, nb))
    kept_lines = list(line_map)
    added = [tuple(p) for p in new_lines]
    changes["lines"] = lines + added
    if schema.line_names is not None:
        changes["line_names"] = [schema.line_names[n] for n in kept_lines] + [
            f"{names[a]}-{names[b]}" for a, b in added
        ]
    if schema.line_colors is not None:
        changes["line_colors"] = [schema.line_colors[n] for n in kept_lines] + [NEW_COLOR] * len(
            added
        )
    faces: list[tuple[int, ...]] = []
    face_map: dict[int, int] = {}
    dropped_faces: list[str] = []
    for n, face in enumerate(schema.triangles):
        moved = [int(new_index[v]) for v in face]
        if min(moved) < 0:
            dropped_faces.append("triangle " + "-".join(old_names[v] for v in face))
            continue
        face_map[n] = len(faces)
        faces.append(tuple(moved))
    changes["triangles"] = faces
    if schema.triangle_names is not None:
        changes["triangle_names"] = [schema.triangle_names[n] for n in face_map]
    if schema.triangle_colors is not None:
        changes["triangle_colors"] = [schema.triangle_colors[n] for n in face_map]
    maps = {"point": dict(enumerate(new_index.tolist())), "line": line_map, "triangle": face_map}
    attributes = []
    for target, index, key, value in schema.extra_attributes:
        if target == "class":
            attributes.append((target, index, key, value))
        elif maps[target].get(index, -1) >= 0:
            attributes.append((target, maps[target][index], key, value))
    changes["extra_attributes"] = attributes
    changes["flip_indices"] = flips
    return schema.replace(**changes), dropped, dropped_faces


def _carried_flips(
    schema: Keypoints2DSchema, source: np.ndarray
) -> tuple[tuple[int, ...] | None, list[str]]:
    """The flip indices after a plan: partners follow; a point whose partner is gone flips
    to itself (and is named in the second value)."""
    if schema.flip_indices is None:
        return None, []
    flips = np.asarray(schema.flip_indices, dtype=np.int64)
    new_index = np.full(schema.num_keypoints, -1, dtype=np.int64)
    kept = source >= 0
    new_index[source[kept]] = np.flatnonzero(kept)
    out = np.arange(len(source))
    lone = []
    for j, s in enumerate(source.tolist()):
        if s < 0:
            continue
        partner = int(new_index[flips[s]])
        if partner < 0:
            lone.append(schema.keypoint_names[s])
        else:
            out[j] = partner
    return tuple(int(v) for v in out), lone


def _kept_source(schema: Keypoints2DSchema) -> str | None:
    """The sigma source a plan that only moves or drops points keeps (None: inferred)."""
    return None if schema.oks_sigmas_source == SIGMAS_UNIFORM else schema.oks_sigmas_source


def _warn(operation: str, items: list[str]) -> None:
    if items:
        warnings.warn(f"{operation}: {'; '.join(items)}", SkeletonWarning, stacklevel=4)


# -- writing ------------------------------------------------------------------------------
def _metadata(schema: Keypoints2DSchema, metadata: Mapping[str, Any]) -> bytes:
    from posetable.table import _metadata_json

    return _metadata_json(schema, metadata)


def _rewritten(
    table: Table, schema: Keypoints2DSchema, source: np.ndarray, recount: bool
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The Arrow schema (with ``schema`` in its metadata) and the batches of ``table`` with
    the keypoints column gathered by ``source``."""
    meta = _metadata(schema, table._metadata)
    arrow_schema = table.dataset.schema.with_metadata({METADATA_KEY: meta})
    k = table.schema.num_keypoints
    where = arrow_schema.get_field_index(KEYPOINTS_COLUMN)
    n = len(table)

    def batches() -> Iterator[pa.RecordBatch]:
        bar = tqdm(total=n, desc="keypoints", unit="row", leave=False, disable=n < PROGRESS_ROWS)
        try:
            # row order, BATCH_ROWS at a time, little read ahead
            scan = table.iter_batches(
                batch_rows=BATCH_ROWS, columns=arrow_schema.names, read_ahead=READ_AHEAD
            )
            for batch in scan:
                column = gather_column(
                    batch.column(where), source, num_keypoints=k, recount=recount
                )
                columns = list(batch.columns)
                columns[where] = column
                bar.update(batch.num_rows)
                yield pa.RecordBatch.from_arrays(columns, schema=arrow_schema)
        finally:
            bar.close()

    return arrow_schema, batches()


@contextmanager
def _written_by_lance(
    arrow_schema: pa.Schema, batches: Iterator[pa.RecordBatch], failed: str
) -> Iterator[pa.RecordBatchReader]:
    """A reader of ``batches`` for Lance's writer, and its failures made ours.

    Inside the block, an error the batches raised comes back as itself (Lance wraps it),
    our own errors pass, and any other failure is a StoreError ``<failed>: <the error>``.
    """
    from posetable.table import _Guarded

    guarded = _Guarded(batches)
    try:
        yield pa.RecordBatchReader.from_batches(arrow_schema, iter(guarded))
    except PosetableError:
        raise
    except Exception as exc:
        if guarded.error is not None:
            raise guarded.error from None
        raise StoreError(f"{failed}: {exc}") from exc


def _rewrite(
    table: Table,
    schema: Keypoints2DSchema,
    source: np.ndarray,
    *,
    operation: str,
    arguments: Mapping[str, Any],
    recount: bool,
) -> Table:
    """A new revision of ``table`` with ``schema`` and its keypoints gathered by ``source``
    (one atomic commit that touches the whole table)."""

    def build(base: Table) -> Transaction:
        arrow_schema, batches = _rewritten(base, schema, source, recount)
        failed = f"{operation} on table {base.ref} failed"
        with _written_by_lance(arrow_schema, batches, failed) as reader:
            txn = write_fragments(
                reader,
                str(base.dataset.uri),
                schema=arrow_schema,
                return_transaction=True,
                mode="overwrite",
                data_storage_version=STORAGE_VERSION,
            )
        return Transaction(base.revision, txn.operation)

    return table._edit(build, operation=operation, arguments=arguments, touch=ALL)


def _derive(
    table: Table,
    name: str,
    store: StoreLike,
    schema: Keypoints2DSchema,
    source: np.ndarray,
    *,
    operation: str,
    arguments: Mapping[str, Any],
    recount: bool,
) -> Table:
    """A NEW table ``name`` holding ``table`` rewritten, with lineage to ``table``."""
    from posetable.store import check_name
    from posetable.table import Table, _write_lance

    check_name(name, "table")
    target = table.store if store is None else resolve_store(store)
    arrow_schema, batches = _rewritten(table, schema, source, recount)
    args = {"source": table.ref, **dict(arguments)}
    properties = encode_operation(operation, args, None, ALL.to_json())
    failed = f"{operation} of table {table.ref} into {name!r} failed"
    with _written_by_lance(arrow_schema, batches, failed) as reader:
        dataset = create_dataset(
            target, name, lambda uri: _write_lance(reader, uri, arrow_schema, properties)
        )
    return Table(target, name, dataset)


# -- the operations -------------------------------------------------------------------------
def add_keypoints(
    table: Table,
    names: Sequence[str],
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    flip_pairs: Sequence[tuple[str, str]] | None = None,
    lines: Sequence[tuple[str | int, str | int]] | None = None,
    default_points: Sequence[Sequence[float]] | np.ndarray | None = None,
) -> Table:
    """A new revision with keypoints ``names`` appended (x = y = 0, v = 0 in every instance).

    Args:
        table: the table (its latest revision, or the edit conflicts).
        names: the new keypoint names (new, unique).
        sigmas: their OKS sigmas, required when the table has sigmas and refused when it has
            none (uniform ``1/K`` then covers the new points too).
        flip_pairs: mirror pairs of names, each with at least one new point; an existing
            point in a pair must flip to itself now. Without flip indices in the table, the
            other points flip to themselves.
        lines: new skeleton lines as pairs of keypoint names (or new indices).
        default_points: (len(names), 2) unit-square points of the new keypoints in the
            default pose (default the centre, where the table has a default pose).

    Example:
        >>> import posetable as pt, tempfile
        >>> kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance([[10, 10, 2], [20, 30, 1]])
        >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 64, "height": 48,
        ...     "keypoints": kp}], name="add", store=tempfile.mkdtemp(),
        ...     schema=pt.Keypoints2DSchema(keypoint_names=["left_ear", "nose"]))
        >>> t2 = t.add_keypoints(["right_ear"], flip_pairs=[("left_ear", "right_ear")],
        ...                      lines=[("left_ear", "right_ear")])
        >>> t2.schema.keypoint_names, t2.schema.flip_indices, t2.schema.lines
        (('left_ear', 'nose', 'right_ear'), (2, 1, 0), ((0, 2),))
        >>> row = t2[0]["keypoints"]
        >>> row.keypoints.tolist(), row.keypoint_visibilities.tolist()
        ([[[10.0, 10.0], [20.0, 30.0], [0.0, 0.0]]], [[2, 1, 0]])
        >>> t2.operation, t2.parent
        ('add_keypoints', 1)
    """
    table.check_editable()
    schema = table.schema
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise SchemaError(f"add_keypoints names must be a list of new names, got {names!r}")
    added = [n for n in names]
    if not added:
        raise SchemaError("add_keypoints names must name at least one new keypoint, got none")
    bad = [n for n in added if not isinstance(n, str) or not n]
    if bad:
        raise SchemaError(f"add_keypoints names must be non-empty strings, got {bad[0]!r}")
    existing = [n for n in added if n in schema.keypoint_names]
    if existing:
        raise SchemaError(f"add_keypoints names: {_shown(existing)} are keypoints already")
    if len(set(added)) != len(added):
        twice = sorted({n for n in added if added.count(n) > 1})
        raise SchemaError(f"add_keypoints names names keypoints more than once: {_shown(twice)}")
    k, n_new = schema.num_keypoints, len(added)
    all_names = [*schema.keypoint_names, *added]
    new_sigmas = None
    if schema.oks_sigmas_given:
        if sigmas is None:
            raise SchemaError(
                f"add_keypoints sigmas: the table has OKS sigmas ({schema.oks_sigmas_source}), "
                f"so the {n_new} new keypoints need theirs: give sigmas=[...] ({n_new} values)"
            )
        fresh = check_sigmas(sigmas, n_new)
        new_sigmas = np.concatenate([schema.sigmas, fresh])
    elif sigmas is not None:
        raise SchemaError(
            "add_keypoints sigmas: the table has no OKS sigmas (uniform 1/K), so sigmas for the "
            "new keypoints alone cannot be kept; add them without sigmas, then set all K with "
            "KeypointHelper.edit_oks_sigmas"
        )
    flips: tuple[int, ...] | None = schema.flip_indices
    if flip_pairs is not None:
        current = list(schema.flip_indices or range(k)) + list(range(k, k + n_new))
        for a, b in _pairs(flip_pairs, all_names, "add_keypoints flip_pairs"):
            if a < k and b < k:
                raise SchemaError(
                    f"add_keypoints flip_pairs: ({all_names[a]!r}, {all_names[b]!r}) pairs two "
                    "existing keypoints; change those with KeypointHelper.edit_flip_indices"
                )
            for end in (a, b):
                if current[end] != end:
                    raise SchemaError(
                        f"add_keypoints flip_pairs: {all_names[end]!r} already flips to "
                        f"{all_names[current[end]]!r}"
                    )
            current[a], current[b] = b, a
        flips = check_flip_indices(current, k + n_new)
    elif flips is not None:
        flips = (*flips, *range(k, k + n_new))
    pose = None
    if default_points is not None:
        pose = np.asarray(default_points, dtype=np.float64)
        if pose.shape != (n_new, 2):
            raise SchemaError(
                f"add_keypoints default_points must have shape ({n_new}, 2), got {pose.shape}"
            )
    new_lines = _pairs(lines, all_names, "add_keypoints lines")
    source = np.concatenate([np.arange(k), np.full(n_new, -1)]).astype(np.int64)
    new_schema, _, _ = _carried(
        schema,
        source,
        all_names,
        sigmas=new_sigmas,
        sigmas_source=None if new_sigmas is None else SIGMAS_USER,
        flips=flips,
        new_pose=pose,
        new_lines=new_lines,
    )
    arguments = {
        "names": added,
        "sigmas": None if new_sigmas is None else new_sigmas[k:].tolist(),
        "flip_pairs": [list(p) for p in flip_pairs] if flip_pairs is not None else None,
        "lines": [[all_names[a], all_names[b]] for a, b in new_lines],
        "default_points": None if pose is None else pose.tolist(),
    }
    return _rewrite(
        table, new_schema, source, operation="add_keypoints", arguments=arguments, recount=False
    )


def remove_keypoints(table: Table, names: Sequence[str | int]) -> Table:
    """A new revision without the keypoints ``names`` (names or indices).

    Lines and triangles through a removed point are dropped, and a point whose mirror partner
    is removed flips to itself: both are reported in one :class:`SkeletonWarning` and kept
    in the revision's arguments. COCO's ``num_keypoints`` field, where the table has it, goes
    down by the labeled points each instance loses (a value a file gave apart from the
    count, which pycocotools reads, stays apart by the same amount).

    Example:
        >>> import posetable as pt, tempfile
        >>> kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance([[10, 10, 2], [20, 30, 1], [5, 5, 2]])
        >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 64, "height": 48,
        ...     "keypoints": kp}], name="rm", store=tempfile.mkdtemp(), schema=pt.Keypoints2DSchema(
        ...     keypoint_names=["head", "neck", "tail"], lines=[(0, 1)], oks_sigmas=[.1, .2, .3]))
        >>> t2 = t.remove_keypoints(["tail"])
        >>> t2.schema.keypoint_names, t2.schema.oks_sigmas, t2.schema.lines
        (('head', 'neck'), (0.1, 0.2), ((0, 1),))
        >>> t2[0]["keypoints"].keypoints.tolist()
        [[[10.0, 10.0], [20.0, 30.0]]]
    """
    table.check_editable()
    schema = table.schema
    gone = set(_indices(schema, names, "remove_keypoints names"))
    if not gone:
        raise SchemaError("remove_keypoints names must name at least one keypoint, got none")
    if len(gone) == schema.num_keypoints:
        raise SchemaError(
            f"remove_keypoints names: removing all K={schema.num_keypoints} keypoints would leave "
            "none; keep at least one"
        )
    source = np.array([i for i in range(schema.num_keypoints) if i not in gone], dtype=np.int64)
    flips, lone = _carried_flips(schema, source)
    sigmas = schema.sigmas[source] if schema.oks_sigmas_given else None
    new_names = [schema.keypoint_names[i] for i in source.tolist()]
    new_schema, dropped, dropped_faces = _carried(
        schema, source, new_names, sigmas=sigmas, sigmas_source=_kept_source(schema), flips=flips
    )
    removed = [schema.keypoint_names[i] for i in sorted(gone)]
    notes = dropped + dropped_faces + [f"{n} now flips to itself" for n in lone]
    _warn(f"remove_keypoints {_shown(removed)}", notes)
    arguments = {"names": removed, "dropped": notes}
    return _rewrite(
        table, new_schema, source, operation="remove_keypoints", arguments=arguments, recount=True
    )


def rename_keypoints(
    table: Table, mapping: Mapping[str, str], *, derive_flips: bool = False
) -> Table:
    """A new revision with keypoints renamed ``{old: new}`` (the schema only; no data moves).

    Flip indices stay as they are unless ``derive_flips=True``, which derives them from the
    new names with :func:`flip_indices_from_names` (and checks them).

    Example:
        >>> import posetable as pt, tempfile
        >>> t = pt.Table.from_rows([], name="rn", store=tempfile.mkdtemp(),
        ...     schema=pt.Keypoints2DSchema(keypoint_names=["a", "b", "c"]))
        >>> t2 = t.rename_keypoints({"a": "left_eye", "b": "right_eye"}, derive_flips=True)
        >>> t2.schema.keypoint_names, t2.schema.flip_indices
        (('left_eye', 'right_eye', 'c'), (1, 0, 2))
    """
    table.check_editable(schema=True)
    schema = table.schema
    if not isinstance(mapping, Mapping) or not mapping:
        raise SchemaError(
            f"rename_keypoints mapping must be a non-empty dict {{old: new}}, got {mapping!r}"
        )
    _indices(schema, list(mapping), "rename_keypoints mapping")
    for old, new in mapping.items():
        if not isinstance(new, str) or not new:
            raise SchemaError(
                f"rename_keypoints mapping[{old!r}] must be a non-empty name, got {new!r}"
            )
    names = [mapping.get(n, n) for n in schema.keypoint_names]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SchemaError(
            f"rename_keypoints mapping would give several keypoints the names {_shown(twice)}"
        )
    flips = flip_indices_from_names(names) if derive_flips else schema.flip_indices
    new_schema = schema.replace(keypoint_names=names, flip_indices=flips)
    arguments = {"mapping": dict(mapping), "derive_flips": bool(derive_flips)}
    return table.with_schema(new_schema, operation="rename_keypoints", arguments=arguments)


def reorder_keypoints(table: Table, order: Sequence[str | int]) -> Table:
    """A new revision with the keypoints in ``order`` (a permutation of names or indices).

    Every per-keypoint value follows: coordinates, visibility and confidences of every
    instance, names, sigmas, colours, default pose; flip indices and lines are re-indexed.

    Example:
        >>> import posetable as pt, tempfile
        >>> kp = pt.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
        >>> kp.add_instance([[10, 10, 2], [20, 30, 1], [5, 5, 2]])
        >>> t = pt.Table.from_rows([{"image": "a.jpg", "width": 64, "height": 48,
        ...     "keypoints": kp}], name="ro", store=tempfile.mkdtemp(), schema=pt.Keypoints2DSchema(
        ...     keypoint_names=["nose", "left_eye", "right_eye"], flip_indices=[0, 2, 1],
        ...     lines=[(0, 1), (0, 2)]))
        >>> t2 = t.reorder_keypoints(["left_eye", "right_eye", "nose"])
        >>> t2.schema.flip_indices, t2.schema.lines
        ((1, 0, 2), ((2, 0), (2, 1)))
        >>> t2[0]["keypoints"].keypoint_visibilities.tolist()
        [[1, 2, 2]]
    """
    table.check_editable()
    schema = table.schema
    indices = _indices(schema, order, "reorder_keypoints order")
    if len(indices) != schema.num_keypoints:
        missing = [n for i, n in enumerate(schema.keypoint_names) if i not in set(indices)]
        raise SchemaError(
            f"reorder_keypoints order must be a permutation of all K={schema.num_keypoints} "
            f"keypoints, got {len(indices)}; missing {_shown(missing)}"
        )
    source = np.asarray(indices, dtype=np.int64)
    flips, _ = _carried_flips(schema, source)
    sigmas = schema.sigmas[source] if schema.oks_sigmas_given else None
    names = [schema.keypoint_names[i] for i in indices]
    new_schema, _, _ = _carried(
        schema, source, names, sigmas=sigmas, sigmas_source=_kept_source(schema), flips=flips
    )
    arguments = {"order": names}
    return _rewrite(
        table, new_schema, source, operation="reorder_keypoints", arguments=arguments, recount=False
    )


def _target(target_schema: Keypoints2DSchema | str) -> Keypoints2DSchema:
    if isinstance(target_schema, str):
        from posetable.layouts import layout

        return layout(target_schema).schema()
    if not isinstance(target_schema, Keypoints2DSchema):
        raise SchemaError(
            "map_keypoints target_schema must be a Keypoints2DSchema or a layout name, got "
            f"{type(target_schema).__name__}"
        )
    return target_schema


def _mapped_schema(table: Keypoints2DSchema, target: Keypoints2DSchema) -> Keypoints2DSchema:
    """The target's keypoint fields with the table's instance fields (classes, flags)."""
    return target.replace(
        classes=table._declared_classes(),
        include_per_point_visibility=table.include_per_point_visibility,
        include_per_point_confidence=table.include_per_point_confidence,
        include_per_instance_label=table.include_per_instance_label,
        include_per_instance_confidence=table.include_per_instance_confidence,
        per_instance_fields=table.per_instance_fields,
        display=table.display,
        extra_attributes=[a for a in target.extra_attributes if a[0] != "class"]
        + [a for a in table.extra_attributes if a[0] == "class"],
    )


def map_keypoints(
    table: Table,
    target_schema: Keypoints2DSchema | str,
    mapping: Mapping[str, str | None] | str,
    *,
    name: str | None = None,
    store: StoreLike = None,
) -> Table:
    """The table in another keypoint layout: ``mapping`` says where each target point comes
    from; points without a source get x = y = 0 and v = 0 (no midpoint is invented).

    Args:
        table: the table to map.
        target_schema: the layout to map onto: a schema, or a layout name of
            :mod:`posetable.layouts` (``"mpii16"``). Its keypoint names, lines, triangles,
            flip indices, OKS sigmas (and their source), colours and default pose are used;
            the table keeps its own classes and instance fields.
        mapping: ``{target name: source name (or None)}``, target names left out having no
            source, or the name of a standard mapping (``"coco17->mpii16"``, see
            :func:`posetable.layouts.standard_mapping`).
        name: None (default): the result is the next revision of ``table``; a name: a NEW
            table with lineage to ``table``'s revision, which stays as it is.
        store: where the new table ``name`` goes (default ``table``'s store).

    Source keypoints the mapping leaves out, and target keypoints without a source, are
    named in a :class:`SkeletonWarning` and in the revision's arguments.

    Example:
        >>> import posetable as pt, tempfile, warnings
        >>> from tests._data import data_path
        >>> coco = pt.Table.from_coco(data_path("coco_kpts") / "annotations.json",
        ...                           name="coco", store=tempfile.mkdtemp())
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     mpii = pt.map_keypoints(coco, "mpii16", "coco17->mpii16", name="coco-as-mpii")
        >>> print(str(caught[0].message)[:62])
        map_keypoints: source keypoints not mapped (dropped): nose, le
        >>> mpii.schema.num_keypoints, mpii.source, mpii.schema.keypoint_names[6]
        (16, 'coco@1', 'pelvis')
        >>> int((mpii[0]["keypoints"].keypoint_visibilities[:, 6:10] > 0).sum())
        0
    """
    if name is None:
        table.check_editable()
    schema = table.schema
    target = _target(target_schema)
    label = mapping if isinstance(mapping, str) else None
    if isinstance(mapping, str):
        from posetable.layouts import standard_mapping

        mapping = standard_mapping(mapping)
    if not isinstance(mapping, Mapping):
        raise SchemaError(
            "map_keypoints mapping must be a dict {target name: source name} or a standard "
            f"mapping's name, got {type(mapping).__name__}"
        )
    unknown = [t for t in mapping if t not in target.keypoint_names]
    if unknown:
        raise SchemaError(
            f"map_keypoints mapping: targets {_shown(unknown)} are not keypoints of the target "
            f"layout {_shown(target.keypoint_names)}"
        )
    where = {n: i for i, n in enumerate(schema.keypoint_names)}
    missing = [s for s in mapping.values() if s is not None and s not in where]
    if missing:
        raise SchemaError(
            f"map_keypoints mapping: sources {_shown(missing)} are not keypoints of table "
            f"{table.ref} {_shown(schema.keypoint_names)}"
        )
    source = np.array(
        [where.get(mapping.get(t) or "", -1) for t in target.keypoint_names], dtype=np.int64
    )
    used = set(source[source >= 0].tolist())
    dropped = [n for i, n in enumerate(schema.keypoint_names) if i not in used]
    unsourced = [t for t, s in zip(target.keypoint_names, source.tolist(), strict=True) if s < 0]
    notes = []
    if dropped:
        notes.append(f"source keypoints not mapped (dropped): {', '.join(dropped)}")
    if unsourced:
        notes.append(f"target keypoints without a source (v=0): {', '.join(unsourced)}")
    _warn("map_keypoints", notes)
    new_schema = _mapped_schema(schema, target)
    arguments = {
        "mapping": label
        if label is not None
        else {t: mapping.get(t) for t in target.keypoint_names},
        "target": list(target.keypoint_names),
        "dropped": dropped,
        "unsourced": unsourced,
    }
    recount = bool(dropped)
    if name is None:
        return _rewrite(
            table,
            new_schema,
            source,
            operation="map_keypoints",
            arguments=arguments,
            recount=recount,
        )
    return _derive(
        table,
        name,
        store,
        new_schema,
        source,
        operation="map_keypoints",
        arguments=arguments,
        recount=recount,
    )
