"""``KeypointHelper``: 3LC's helper calls over a table's keypoint schema.

Getters read the revision's schema (the shape getter also looks at the rows when the schema
does not declare the third channel). Every ``edit_*`` call derives a NEW table from the
``Table`` it is given, 3LC's way: named by ``table_name=`` (3LC's default names, a sibling
of the source in its ``project/dataset`` namespace, made unique with ``_0001``...), with
lineage to the source's ``name@revision``; the source table and its history are untouched,
so several edits of one table work in a row.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from posetable._arrow import KEYPOINTS_COLUMN
from posetable._coco_constants import (
    COCO_OKS_SIGMAS,
    TLC_COCO_FLIP_INDICES,
    TLC_COCO_KEYPOINT_DEFAULT_POSE,
    TLC_COCO_KEYPOINT_NAMES,
    TLC_COCO_SKELETON,
    TLC_COCO_SKELETON_COLORS,
    TLC_COCO_SKELETON_NAMES,
)
from posetable._schema_args import flatten_numbers
from posetable._validate import as_index, check_flip_indices, check_sigmas
from posetable.errors import (
    ConflictError,
    InstancesError,
    SchemaError,
    TableExistsError,
    UnsupportedError,
)
from posetable.instances import parse_keypoints
from posetable.schema import Keypoints2DSchema
from posetable.store import Store, free_table_name, table_at
from posetable.table import Table

#: 3LC's default ``label_column_name`` (``tlc.KEYPOINTS_2D``).
KEYPOINTS_2D = "keypoints_2d"
_UNIQUE_TRIES = 8


def _native(table: Any) -> Any:
    """The posetable table behind a 3LC view (``posetable.tlc.Table``), else ``table``."""
    hook = getattr(table, "__posetable_table__", None)
    return hook() if callable(hook) else table


def _schema(table: Any) -> Keypoints2DSchema:
    if isinstance(table, Keypoints2DSchema):
        return table
    native = _native(table)
    if isinstance(native, Table):
        return native.schema
    raise SchemaError(
        f"expected a posetable Table or Keypoints2DSchema, got {type(table).__name__}"
    )


def _column_names(table: Any) -> list[str]:
    """The names ``label_column_name`` may take for this table's keypoints column:
    3LC's default, posetable's, and the name a 3LC-made table gave it."""
    names = [KEYPOINTS_2D, KEYPOINTS_COLUMN]
    named = [getattr(table, "keypoints_column", None)]
    native = _native(table)
    if isinstance(native, Table):
        tlc = native.metadata.get("tlc")
        named.append(tlc.get("keypoints_column") if isinstance(tlc, dict) else None)
    for name in named:
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def _checked(table: Any, label_column_name: Any) -> Keypoints2DSchema:
    schema = _schema(table)
    names = _column_names(table)
    if label_column_name not in names:
        raise UnsupportedError(
            f"label_column_name must name the table's keypoints column ({', '.join(names)}), "
            f"got {label_column_name!r}"
        )
    return schema


def _rows_hold_a_third_channel(table: Table) -> bool:
    """Whether the first rows with instances carry visibilities or confidences."""
    for batch in table.iter_batches(columns=[KEYPOINTS_COLUMN], batch_rows=1024):
        column = batch.column(0)
        if not isinstance(column, pa.StructArray):  # pragma: no cover - our own layout
            return False
        instances = column.field("instances").flatten()
        if len(instances) == 0:
            continue
        data = dict(zip(instances.type.names, instances.flatten(), strict=True))
        per_point = data["vertices_2d_additional_data"]
        channels = dict(zip(per_point.type.names, per_point.flatten(), strict=True))
        return any(a.null_count < len(a) for a in channels.values())
    return False


def _sibling(source: str, table_name: str) -> str:
    """``table_name`` next to ``source`` in its ``project/dataset`` namespace."""
    if "/" in table_name or "/" not in source:
        return table_name
    return f"{source.rsplit('/', 1)[0]}/{table_name}"


def _target_of_url(table_url: Any) -> tuple[Store, str]:
    """A table URL as (store, name); see :func:`posetable.store.table_at`."""
    if isinstance(table_url, (str, os.PathLike)):
        text = os.fspath(table_url)
    elif hasattr(table_url, "to_str"):
        text = str(table_url.to_str())
    else:
        raise UnsupportedError(
            "table_url must be a path, a str or a Url, got "
            f"{type(table_url).__name__} {table_url!r}"[:200]
        )
    return table_at(str(Path(str(text)).expanduser().absolute()), what="table_url")


def _derived(
    table: Any,
    schema: Keypoints2DSchema,
    *,
    operation: str,
    arguments: dict[str, Any],
    table_name: Any,
    table_url: Any,
) -> Any:
    """A new table with ``schema`` derived from ``table``, named 3LC's way.

    A 3LC view (``posetable.tlc.Table``) is unwrapped, and the new table wrapped the same
    way (its ``__posetable_table__``/``__posetable_wrap__`` hooks).
    """
    source = _native(table)
    if not isinstance(source, Table):
        raise UnsupportedError(
            f"table must be a posetable Table to derive an edited table from, got "
            f"{type(table).__name__}"
        )
    if not isinstance(table_name, str) or not table_name:
        raise UnsupportedError(f"table_name must be a non-empty string, got {table_name!r}")
    if table_url is not None:
        store, base = _target_of_url(table_url)
    else:
        store, base = source.store, _sibling(source.name, table_name)
    wrap = getattr(table, "__posetable_wrap__", None)
    for _ in range(_UNIQUE_TRIES):
        name = free_table_name(store, base)
        try:
            derived = source.derive(
                name, schema=schema, store=store, operation=operation, arguments=arguments
            )
        except (ConflictError, TableExistsError):
            if name not in store.table_names():  # pragma: no cover - not a name clash
                raise
            continue
        return wrap(derived) if callable(wrap) else derived
    raise ConflictError(  # pragma: no cover - eight writers raced for the same names
        f"could not find a free table name next to {base!r}: other writers took each one"
    )


def _integers(values: list[Any], what: str) -> list[int]:
    out = []
    for i, v in enumerate(values):
        index = as_index(v)
        if index is None:
            raise SchemaError(f"{what}[{i}] must be an integer index, got {v!r}")
        out.append(index)
    return out


class KeypointHelper:
    """Static helpers over a table's keypoint schema, named and typed as in 3LC 2.x.

    Every getter takes a :class:`Table` (or a bare :class:`Keypoints2DSchema`) and
    returns plain lists (or None), as 3LC does; every ``edit_*`` call derives a new table
    and leaves the given one (and its history) untouched.

    Example:
        >>> import posetable as pt, tempfile
        >>> table = pt.Table.from_rows(
        ...     [{"image": "a.jpg", "width": 640, "height": 480}], name="people",
        ...     schema=pt.Keypoints2DSchema.coco_person(), store=tempfile.mkdtemp())
        >>> H = pt.KeypointHelper
        >>> H.get_keypoint_shape_from_table(table)
        [17, 3]
        >>> H.get_keypoint_attributes_from_table(table)[:2]
        [{'internal_name': 'nose'}, {'internal_name': 'left_eye'}]
        >>> H.get_lines_from_table(table)[:4]
        [15, 13, 13, 11]
        >>> H.get_flip_indices_from_table(table)[:5]
        [0, 2, 1, 4, 3]
        >>> H.get_oks_sigmas_from_table(table)[0] == 0.26 / 10
        True
        >>> tuned = H.edit_oks_sigmas(table, [0.05] * 17)
        >>> posed = H.edit_default_keypoints(table, H.COCO_KEYPOINT_DEFAULT_POSE)
        >>> lined = H.edit_default_lines(table, H.COCO_SKELETON)
        >>> tuned.ref, tuned.source, H.get_oks_sigmas_from_table(tuned)[0]
        ('edited_oks_sigmas@1', 'people@1', 0.05)
        >>> posed.ref, H.get_points_from_table(posed)[:2]
        ('edited_default_keypoints@1', [0.5, 0.15])
        >>> lined.ref, H.get_lines_from_table(lined)[:4], table.revision
        ('edited_default_lines@1', [3, 1, 4, 2], 1)
    """

    COCO_KEYPOINT_NAMES: ClassVar[list[str]] = TLC_COCO_KEYPOINT_NAMES
    COCO_KEYPOINT_DEFAULT_POSE: ClassVar[list[float]] = TLC_COCO_KEYPOINT_DEFAULT_POSE
    COCO_SKELETON: ClassVar[list[int]] = TLC_COCO_SKELETON
    COCO_SKELETON_COLORS: ClassVar[list[tuple[int, int, int]]] = TLC_COCO_SKELETON_COLORS
    COCO_SKELETON_NAMES: ClassVar[list[str]] = TLC_COCO_SKELETON_NAMES
    COCO_FLIP_INDICES: ClassVar[list[int]] = TLC_COCO_FLIP_INDICES
    #: pycocotools' COCO-17 sigmas (each literal divided by 10), exactly; not in 3LC.
    COCO_OKS_SIGMAS: ClassVar[list[float]] = list(COCO_OKS_SIGMAS)

    # -- getters -----------------------------------------------------------------------------
    @staticmethod
    def get_keypoint_shape_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[int] | None:
        """``[K, 3]`` when keypoints carry a third channel (visibility or confidence), else
        ``[K, 2]``.

        The channel is there when the schema declares it (``include_per_point_visibility``
        or ``include_per_point_confidence``) or, for a table, when its rows carry it.
        """
        schema = _checked(table, label_column_name)
        declared = schema.include_per_point_visibility or schema.include_per_point_confidence
        native = _native(table)
        third = declared or (isinstance(native, Table) and _rows_hold_a_third_channel(native))
        return [schema.num_keypoints, 3 if third else 2]

    @staticmethod
    def get_points_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[float] | None:
        """The default pose as the flat list ``[x0, y0, x1, y1, ...]``, or None."""
        pose = _checked(table, label_column_name).default_pose
        return None if pose is None else [v for point in pose for v in point]

    @staticmethod
    def get_keypoint_attributes_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[dict[str, Any]] | None:
        """``[{'internal_name': 'nose', ...}, ...]``, one dict per keypoint."""
        return list(_checked(table, label_column_name).attributes("point"))

    @staticmethod
    def get_keypoint_names_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[str]:
        """The K keypoint names (posetable's; not in 3LC)."""
        return list(_checked(table, label_column_name).keypoint_names)

    @staticmethod
    def get_lines_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[int] | None:
        """Skeleton lines as the flat list ``[a0, b0, a1, b1, ...]`` (0-based), or None."""
        lines = _checked(table, label_column_name).flat_lines
        return lines or None

    @staticmethod
    def get_line_attributes_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[dict[str, Any]] | None:
        """One attribute dict per line (name, ``display_color``...), or None when the
        lines have none."""
        attributes = _checked(table, label_column_name).attributes("line")
        return attributes if any(attributes) else None

    @staticmethod
    def get_triangles_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[int] | None:
        """Triangles as the flat list ``[i0, j0, k0, ...]``, or None."""
        return _checked(table, label_column_name).flat_triangles or None

    @staticmethod
    def get_triangle_attributes_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[dict[str, Any]] | None:
        """One attribute dict per triangle, or None when the triangles have none."""
        attributes = _checked(table, label_column_name).attributes("triangle")
        return attributes if any(attributes) else None

    @staticmethod
    def get_oks_sigmas_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[float] | None:
        """The K OKS sigmas as a list; uniform ``1/K`` when the table has none."""
        return list(_checked(table, label_column_name).oks_sigmas)

    @staticmethod
    def get_flip_indices_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> list[int] | None:
        """The flip indices, or None when the table has none."""
        flips = _checked(table, label_column_name).flip_indices
        return None if flips is None else list(flips)

    @staticmethod
    def get_default_keypoints_from_table(
        table: Table | Keypoints2DSchema, label_column_name: str = KEYPOINTS_2D
    ) -> np.ndarray:
        """The (K, 2) unit-square pose drawn for a new instance (posetable's; a ring when
        the table has no default pose)."""
        return _checked(table, label_column_name).pose_for_new_instance()

    # -- flattening and parsing ----------------------------------------------------------------
    @staticmethod
    def flatten_points(
        points: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
    ) -> list[float]:
        """Points as one flat list of floats (``[(x, y), ...]``, arrays or nested lists).

        Example:
            >>> import posetable as pt
            >>> pt.KeypointHelper.flatten_points([[1, 2], [3, 4]])
            [1.0, 2.0, 3.0, 4.0]
        """
        flat = flatten_numbers(points, "points")
        try:
            return [float(v) for v in flat]
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"points must hold numbers, got {points!r}"[:200]) from exc

    @staticmethod
    def flatten_lines(lines: Sequence[int] | Sequence[Sequence[int]] | np.ndarray) -> list[int]:
        """Lines as one flat list of indices ``[i0, j0, i1, j1, ...]``.

        Example:
            >>> import posetable as pt
            >>> pt.KeypointHelper.flatten_lines([(0, 1), (1, 2)])
            [0, 1, 1, 2]
        """
        return _integers(flatten_numbers(lines, "lines"), "lines")

    @staticmethod
    def flatten_triangles(
        triangles: Sequence[int] | Sequence[Sequence[int]] | np.ndarray,
    ) -> list[int]:
        """Triangles as one flat list of indices ``[i, j, k, ...]``.

        Example:
            >>> import posetable as pt
            >>> pt.KeypointHelper.flatten_triangles([[0, 1, 2]])
            [0, 1, 2]
        """
        return _integers(flatten_numbers(triangles, "triangles"), "triangles")

    @staticmethod
    def parse_keypoints_with_visibility(
        keypoints: list[float] | list[list[float]] | list[tuple[float, float]] | np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(points (K, 2), visibility (K,) or None)`` from pairs, triplets or flat lists.

        A flat list of ``6n`` values could be either; it is refused (pass pairs or
        triplets) rather than guessed.

        Example:
            >>> import posetable as pt
            >>> xy, v = pt.KeypointHelper.parse_keypoints_with_visibility([[1, 2, 2], [3, 4, 0]])
            >>> xy.tolist(), v.tolist()
            ([[1.0, 2.0], [3.0, 4.0]], [2, 0])
        """
        points, third = parse_keypoints(keypoints, None)
        if third is None:
            return points, None
        return points, KeypointHelper.parse_per_keypoint_channel(len(points), visibility=third)[
            0
        ].reshape(-1)  # type: ignore[union-attr]

    @staticmethod
    def parse_bbox(
        bbox: list[float] | tuple[float, float, float, float] | np.ndarray, format: str = "xyxy"
    ) -> np.ndarray:
        """A box as a (1, 4) float64 ``[x_min, y_min, x_max, y_max]`` array.

        ``format`` is ``"xyxy"`` (3LC's only one) or ``"xywh"`` (converted).

        Example:
            >>> import posetable as pt
            >>> pt.KeypointHelper.parse_bbox([10, 20, 5, 5], format="xywh").tolist()
            [[10.0, 20.0, 15.0, 25.0]]
        """
        if format not in ("xyxy", "xywh"):
            raise UnsupportedError(f"format must be 'xyxy' or 'xywh', got {format!r}")
        try:
            box = np.asarray(bbox, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InstancesError(f"bbox must be 4 numbers, got {bbox!r}") from exc
        if box.shape != (4,):
            raise InstancesError(f"bbox must be 4 numbers, got {box.size}")
        if not np.all(np.isfinite(box)):
            raise InstancesError(f"bbox must be finite, got {box.tolist()}")
        if format == "xywh":
            box = np.concatenate([box[:2], box[:2] + box[2:]])
        return box.reshape(1, 4)

    @staticmethod
    def parse_per_keypoint_channel(
        num_keypoints: int,
        visibility: list[int] | np.ndarray | None = None,
        confidence: list[float] | np.ndarray | None = None,
        derived_visibility: np.ndarray | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(visibility (1, K) int32 or None, confidence (1, K) float32 or None)``.

        ``visibility`` overrides ``derived_visibility`` (a third keypoint column); giving
        visibility and confidence together is an error.

        Example:
            >>> import posetable as pt
            >>> vis, conf = pt.KeypointHelper.parse_per_keypoint_channel(2, visibility=[2, 1])
            >>> vis.tolist(), conf
            ([[2, 1]], None)
        """
        k = as_index(num_keypoints)
        if k is None or k < 0:
            raise InstancesError(f"num_keypoints must be an integer >= 0, got {num_keypoints!r}")
        if visibility is not None and confidence is not None:
            raise InstancesError(
                "give visibility= (ground truth) or confidence= (predictions), not both"
            )
        if confidence is not None and derived_visibility is not None:
            raise InstancesError(
                "keypoints with a third (visibility) column and confidence= together: give "
                "(K, 2) keypoints with confidence=, or visibility= without confidence="
            )
        chosen = visibility if visibility is not None else derived_visibility
        vis = None
        if chosen is not None:
            raw = np.asarray(chosen)
            if raw.size != k:
                raise InstancesError(f"visibility must have K={k} values, got {raw.size}")
            flat = raw.reshape(-1)
            if flat.dtype.kind not in "biuf" or not np.all(np.isin(flat, (0, 1, 2))):
                raise InstancesError(f"visibility must be 0, 1 or 2, got {flat.tolist()}")
            vis = flat.astype(np.int32).reshape(1, k)
        conf = None
        if confidence is not None:
            values = np.asarray(confidence)
            if values.size != k:
                raise InstancesError(f"confidence must have K={k} values, got {values.size}")
            if values.dtype.kind not in "biuf" or not np.all(np.isfinite(values)):
                raise InstancesError(f"confidence must be finite numbers, got {values.tolist()}")
            conf = values.astype(np.float32).reshape(1, k)
        return vis, conf

    # -- derived tables ------------------------------------------------------------------------
    @staticmethod
    def edit_oks_sigmas(
        table: Table,
        oks_sigmas: list[float] | None = None,
        label_column_name: str = KEYPOINTS_2D,
        table_name: str = "edited_oks_sigmas",
        *,
        table_url: Any = None,
    ) -> Table:
        """A new table, derived from ``table``, with other OKS sigmas.

        ``oks_sigmas`` are K positive numbers (None: back to uniform ``1/K``). The new
        table is named ``table_name`` (next to ``table`` in its namespace; ``_0001``...
        when taken) or by ``table_url``, records ``table``'s ``name@revision`` as its
        source, and leaves ``table`` and its history as they were.
        """
        schema = _checked(table, label_column_name)
        values = None if oks_sigmas is None else check_sigmas(oks_sigmas, schema.num_keypoints)
        return _derived(
            table,
            schema.replace(oks_sigmas=values),
            operation="edit_oks_sigmas",
            arguments={"oks_sigmas": None if values is None else values.tolist()},
            table_name=table_name,
            table_url=table_url,
        )

    @staticmethod
    def edit_default_keypoints(
        table: Table,
        keypoints: list[float] | list[list[float]] | list[tuple[float, float]] | np.ndarray,
        label_column_name: str = KEYPOINTS_2D,
        table_name: str = "edited_default_keypoints",
        *,
        table_url: Any = None,
    ) -> Table:
        """A new table, derived from ``table``, with another default pose.

        ``keypoints`` are (K, 2) unit-square points or the flat ``[x0, y0, x1, y1, ...]``
        list: the pose drawn for a new instance. Named and recorded like
        :meth:`edit_oks_sigmas`.
        """
        schema = _checked(table, label_column_name)
        new = schema.replace(default_pose=flatten_numbers(keypoints, "keypoints"))
        return _derived(
            table,
            new,
            operation="edit_default_keypoints",
            arguments={"default_pose": [list(p) for p in new.default_pose or ()]},
            table_name=table_name,
            table_url=table_url,
        )

    @staticmethod
    def edit_default_lines(
        table: Table,
        lines: list[int] | list[list[int]] | np.ndarray,
        label_column_name: str = KEYPOINTS_2D,
        table_name: str = "edited_default_lines",
        *,
        table_url: Any = None,
    ) -> Table:
        """A new table, derived from ``table``, with other skeleton lines (pairs or the
        flat list); the old lines' names and colours go with them."""
        schema = _checked(table, label_column_name)
        new = schema.replace(
            lines=KeypointHelper.flatten_lines(lines),
            line_colors=None,
            line_names=None,
            extra_attributes=tuple(a for a in schema.extra_attributes if a[0] != "line"),
        )
        return _derived(
            table,
            new,
            operation="edit_default_lines",
            arguments={"lines": new.flat_lines},
            table_name=table_name,
            table_url=table_url,
        )

    @staticmethod
    def edit_flip_indices(
        table: Table,
        flip_indices: Sequence[int],
        label_column_name: str = KEYPOINTS_2D,
        table_name: str = "edited_flip_indices",
        *,
        table_url: Any = None,
    ) -> Table:
        """A new table, derived from ``table``, with other flip indices (posetable's; 3LC
        has no such edit). Named and recorded like :meth:`edit_oks_sigmas`."""
        schema = _checked(table, label_column_name)
        flips = check_flip_indices(flip_indices, schema.num_keypoints)
        return _derived(
            table,
            schema.replace(flip_indices=flips),
            operation="edit_flip_indices",
            arguments={"flip_indices": list(flips)},
            table_name=table_name,
            table_url=table_url,
        )
