"""Making 3LC tables: each is ONE posetable write, after every argument was checked.

Imports run posetable's own importer into a private temporary store first, then write the
result (with 3LC's pose arguments, a ``weight`` column and the ``tlc`` metadata) under the
target name in one commit, so a failure leaves nothing in the target store.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

import posetable as pt
from posetable._arrow import extras_of_type
from posetable.errors import UnsupportedError
from posetable.store import Store
from posetable.tlc._names import Target, decide
from posetable.tlc._pose import apply_pose_options
from posetable.tlc._rows import NATIVE_IMAGE, NATIVE_KEYPOINTS, WEIGHT, ColumnPlan
from posetable.tlc._schemas import value_map
from posetable.tlc._table import _HIDDEN, KEYPOINTS_2D, META, Table
from posetable.tlc._url import Url

_NATIVE_IF_EXISTS = {"create": "error", "new_revision": "new_revision"}


def _tlc_meta(where: Target, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"project": where.project, "dataset": where.dataset, "table": where.table, **extra}


def write_rows(
    where: Target,
    rows: Iterable[Mapping[str, Any]],
    *,
    structure: Any,
    first_keys: list[str],
    if_exists: Any,
    weight: float | None,
    extra: Mapping[str, Any],
    operation: str,
) -> Table:
    """Write 3LC rows as one new table (``from_dict``)."""
    plan = ColumnPlan.from_structure(structure, first_keys, argument="structure", weight=weight)
    where, action = decide(where, if_exists, f"the {operation} rows")
    if action == "reuse":
        return Table(pt.Table.open(where.name, store=where.store))
    native = pt.Table.from_rows(
        (plan.native_row(row, i) for i, row in enumerate(rows)),
        name=where.name,
        schema=plan.keypoint_schema,
        store=where.store,
        metadata={META: plan.metadata(_tlc_meta(where, extra))},
        if_exists=_NATIVE_IF_EXISTS[action],
        operation=operation,
        arguments={"tlc_if_exists": if_exists},
    )
    return Table(native)


def _view_columns(native: pt.Table, weight: float | None) -> list[str]:
    out = [KEYPOINTS_2D if c == NATIVE_KEYPOINTS else c for c in native.columns if c not in _HIDDEN]
    if weight is not None and WEIGHT not in out:
        out.append(WEIGHT)
    return out


def _with_weight(native: pt.Table, weight: float | None) -> pa.RecordBatchReader:
    data = native.iter_batches()
    first = native.dataset.schema.remove_metadata()
    columns = [f for f in first if f.name != "sample_id"]
    schema = pa.schema(columns)
    if weight is not None and WEIGHT not in native.columns:
        schema = schema.append(pa.field(WEIGHT, pa.float32()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in data:
            arrays = [batch.column(f.name) for f in columns]
            if len(schema) > len(columns):
                arrays.append(pa.array([weight] * batch.num_rows, pa.float32()))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _finish_import(
    where: Target,
    action: str,
    staged: pt.Table,
    *,
    weight: float | None,
    extra: Mapping[str, Any],
    pose: Mapping[str, Any],
    arguments: Mapping[str, Any],
) -> Table:
    """Write a staged import under the target name with the 3LC pose arguments applied."""
    schema = apply_pose_options(staged.schema, **pose)
    meta = dict(staged.metadata)
    meta[META] = {
        **_tlc_meta(where, extra),
        "keypoints_column": KEYPOINTS_2D,
        "image_column": NATIVE_IMAGE,
        "columns": _view_columns(staged, weight),
        "hidden": [c for c in _HIDDEN if c in staged.columns],
        "column_schemas": {},
    }
    native = pt.Table.from_arrow(
        _with_weight(staged, weight),
        name=where.name,
        schema=schema,
        store=where.store,
        metadata=meta,
        if_exists=_NATIVE_IF_EXISTS[action],
        operation=staged.operation,
        arguments={**staged.info.arguments, **arguments},
    )
    return Table(native)


def _staged(
    where: Target,
    if_exists: Any,
    importing: str,
    run: Callable[[Store, Target, str], Table],
) -> Table:
    where, action = decide(where, if_exists, importing)
    if action == "reuse":
        return Table(pt.Table.open(where.name, store=where.store))
    with tempfile.TemporaryDirectory(prefix="posetable-tlc-") as folder:
        return run(Store(folder), where, action)


def import_coco(
    where: Target,
    annotations_file: str,
    image_folder: str | None,
    *,
    if_exists: Any,
    weight: float | None,
    extra: Mapping[str, Any],
    pose: Mapping[str, Any],
    per_instance: Mapping[str, Any] | None,
) -> Table:
    """``Table.from_coco(task="pose")``."""
    folder = image_folder if image_folder is not None else str(Path(annotations_file).parent)

    def run(staging: Store, where: Target, action: str) -> Table:
        staged = pt.Table.from_coco(
            annotations_file,
            folder,
            name="import",
            store=staging,
            oks_sigmas=pose.get("oks_sigmas"),
            flip_indices=pose.get("flip_indices"),
        )
        if per_instance:
            held = extras_of_type(staged.dataset.schema.field(NATIVE_KEYPOINTS).type)
            missing = sorted(set(per_instance) - set(held))
            if missing:
                raise UnsupportedError(
                    f"per_instance_schemas names {missing}, which the annotations of "
                    f"{annotations_file} do not hold (they hold: {sorted(held)}); posetable "
                    "keeps every annotation field, so name only those"
                )
        return _finish_import(
            where,
            action,
            staged,
            weight=weight,
            extra=extra,
            pose=pose,
            arguments={"tlc_if_exists": if_exists},
        )

    return _staged(where, if_exists, f"the import of {annotations_file}", run)


def _yolo_root(data: Mapping[str, Any], yaml_path: Path, datasets_dir: str | None) -> Path:
    """The dataset root as Ultralytics (and posetable) resolve ``path:``."""
    given = data.get("path")
    if given in (None, ""):
        return yaml_path.parent
    path = Path(str(given)).expanduser()
    if path.is_absolute():
        return path
    if datasets_dir is not None:
        return Path(datasets_dir) / path
    beside = yaml_path.parent / path
    return beside if beside.exists() else Path.cwd() / path


def _paths(value: Any) -> list[str]:
    items = [value] if isinstance(value, (str, os.PathLike, Url)) else list(value)
    return [Url(v).to_absolute().to_str() for v in items]


def _pose_from_yaml(data: Mapping[str, Any], pose: Mapping[str, Any]) -> dict[str, Any]:
    """3LC reads the pose arguments from the YAML too; the arguments win."""
    out = dict(pose)
    for key in pose:
        if out.get(key) is None and data.get(key) is not None:
            out[key] = data[key]
    return out


def import_yolo(
    where: Target,
    yaml_file: str,
    split: str,
    *,
    datasets_dir: str | None,
    override: Any,
    if_exists: Any,
    weight: float | None,
    extra: Mapping[str, Any],
    pose: Mapping[str, Any],
) -> Table:
    """``Table.from_yolo(task="pose")``."""
    yaml_path = Path(yaml_file)
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise pt.errors.FormatError(f"cannot read the dataset YAML: {exc}", path=yaml_path) from exc
    if not isinstance(data, Mapping):
        raise pt.errors.FormatError("a dataset YAML must be a mapping", path=yaml_path)
    pose = _pose_from_yaml(data, pose)

    def run(staging: Store, where: Target, action: str) -> Table:
        source = yaml_path
        if datasets_dir is not None or override is not None:
            copy = {**data, "path": str(_yolo_root(data, yaml_path, datasets_dir))}
            if override is not None:
                copy[split] = _paths(override)
            source = Path(staging.root) / yaml_path.name
            source.write_text(yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
        staged = pt.Table.from_yolo(source, split=split, name="import", store=staging)
        return _finish_import(
            where,
            action,
            staged,
            weight=weight,
            extra=extra,
            pose=pose,
            arguments={"data_yaml": str(yaml_path), "tlc_if_exists": if_exists},
        )

    return _staged(where, if_exists, f"the import of {yaml_path} split {split!r}", run)


def import_yolo_url(
    where: Target,
    images: Any,
    categories: Any,
    kpt_shape: Sequence[int],
    *,
    if_exists: Any,
    weight: float | None,
    extra: Mapping[str, Any],
    pose: Mapping[str, Any],
) -> Table:
    """``Table.from_yolo_url(task="pose")`` (3LC 3.x): a data.yaml is written for it."""
    names = {i: entry["internal_name"] for i, entry in value_map(categories).items()}
    if not names:
        raise UnsupportedError(
            "categories=None is not supported for task='pose': pass the class names "
            "(a list, or {id: name})"
        )

    def run(staging: Store, where: Target, action: str) -> Table:
        spec = {"path": "/", "train": _paths(images), "names": names, "kpt_shape": list(kpt_shape)}
        source = Path(staging.root) / "data.yaml"
        source.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        staged = pt.Table.from_yolo(source, split="train", name="import", store=staging)
        return _finish_import(
            where,
            action,
            staged,
            weight=weight,
            extra=extra,
            pose=pose,
            arguments={"images_url": _paths(images), "tlc_if_exists": if_exists},
        )

    return _staged(where, if_exists, f"the import of {images}", run)
