"""What ``pt.check`` can read: a table in a store, a COCO keypoints JSON or a YOLO-pose
data.yaml. Files are imported into a temporary store that is removed afterwards; the user's
store is never written.

Each source becomes one or more :class:`Source` values (a YOLO dataset: one per split), each
a table plus where its instances came from (the label file and line, or the annotation id)
and what the file wrote that the schema could not hold.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posetable.errors import FormatError, PosetableWarning

if TYPE_CHECKING:
    from posetable.table import StoreLike, Table

YOLO_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Source:
    """One table to check and how to name its findings.

    Attributes:
        table: the table.
        file: the file its instances came from (None for a table in a store).
        split: the YOLO split, or None.
        label_files: per row, the YOLO label file (None for other sources).
        lines: per instance (flat order), its 1-based line in its label file, or None.
        source_lines: skeleton lines as the file wrote them (0-based), or None.
        source_flips: flip indices as the file wrote them, or None.
        key_lines: line of a data.yaml key (``flip_idx``, ``skeleton``...) for messages.
    """

    table: Table
    file: str | None = None
    split: str | None = None
    label_files: list[str] | None = None
    lines: np.ndarray | None = None
    source_lines: list[tuple[int, int]] | None = None
    source_flips: list[Any] | None = None
    key_lines: dict[str, int | None] | None = None


def _is_file_source(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    return path.suffix.lower() in (".json", ".yaml", ".yml") or path.is_dir() or path.is_file()


@contextlib.contextmanager
def open_sources(
    source: Any, *, store: StoreLike = None, split: str | None = None
) -> Iterator[list[Source]]:
    """The tables of ``source`` (a Table, ``NAME[@REV]``, a COCO JSON or a data.yaml)."""
    from posetable.table import Table

    if isinstance(source, Table):
        yield [Source(source, source_lines=_coco_lines(source))]
        return
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "source must be a Table, a table name (NAME or NAME@REV), a COCO keypoints JSON "
            f"or a YOLO-pose data.yaml, got {type(source).__name__}"
        )
    if not _is_file_source(source):
        table = Table.open(str(source), store=store)
        yield [Source(table, source_lines=_coco_lines(table))]
        return
    path = Path(source)
    with tempfile.TemporaryDirectory(prefix="posetable-check-") as tmp:
        if path.suffix.lower() == ".json":
            yield [_coco(path, Path(tmp))]
        else:
            yield _yolo(path, Path(tmp), split)


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """Import notes (assumed sigmas, dropped skeleton lines) become findings, not warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        yield


def _coco(path: Path, tmp: Path) -> Source:
    from posetable.table import Table

    with _quiet_import():
        table = Table.from_coco(path, name="check", store=tmp)
    return Source(table, file=str(path), source_lines=_coco_lines(table))


def _coco_lines(table: Table) -> list[tuple[int, int]] | None:
    """The skeleton of a COCO-imported table as its file wrote it (0-based), or None."""
    meta = table.metadata.get("coco")
    if not isinstance(meta, dict):
        return None
    categories = meta.get("categories") or []
    ids = set(meta.get("keypoint_category_ids") or [])
    base = int(meta.get("skeleton_base", 1) or 0)
    for category in categories:
        if isinstance(category, dict) and category.get("id") in ids:
            skeleton = category.get("skeleton") or []
            try:
                return [(int(a) - base, int(b) - base) for a, b in skeleton]
            except (TypeError, ValueError):
                return None
    return None


def _yolo(path: Path, tmp: Path, split: str | None) -> list[Source]:
    from posetable.formats._yolo_labels import parse_lines, read_files
    from posetable.formats._yolo_yaml import (
        dataset_root,
        dump_yaml,
        find_yaml,
        key_line,
        label_paths,
        load_yaml,
    )
    from posetable.table import Table

    yaml_path = find_yaml(path)
    data = load_yaml(yaml_path)
    key_lines = {key: key_line(yaml_path, key) for key in ("flip_idx", "skeleton", "kpt_shape")}
    k = _yolo_k(data, yaml_path)
    flips, lines = data.get("flip_idx"), data.get("skeleton")
    bad_flips = flips is not None and _yolo_flips_invalid(flips, k)
    raw_lines = _yolo_raw_lines(lines)
    bad_lines = lines is not None and (
        raw_lines is None or any(not (0 <= a < k and 0 <= b < k) for a, b in raw_lines)
    )
    read_from = yaml_path
    if bad_flips or bad_lines:  # import without what the schema cannot hold; report it
        patched = dict(data)
        patched["path"] = str(dataset_root(data, yaml_path))
        if bad_flips:
            patched.pop("flip_idx", None)
        if bad_lines:
            patched.pop("skeleton", None)
        read_from = tmp / "data.yaml"
        with open(read_from, "w", encoding="utf-8") as handle:
            dump_yaml(patched, handle)
    wanted = [split] if split is not None else [s for s in YOLO_SPLITS if data.get(s)]
    if not wanted:
        raise FormatError("the data.yaml names no split (train, val or test)", path=yaml_path)
    out = []
    for name in wanted:
        with _quiet_import():
            table = Table.from_yolo(read_from, split=name, name=f"check-{name}", store=tmp)
        images = table.to_arrow(columns=["image"]).column("image").to_pylist()
        files = label_paths(images)
        parsed = parse_lines(files, read_files(files))
        out.append(
            Source(
                table,
                file=str(yaml_path),
                split=name,
                label_files=files,
                lines=np.asarray(parsed.line_number, np.int64),
                source_lines=[(a, b) for a, b in raw_lines] if raw_lines is not None else None,
                source_flips=list(flips) if isinstance(flips, (list, tuple)) else flips,
                key_lines=key_lines,
            )
        )
    return out


def _yolo_k(data: dict[str, Any], path: Path) -> int:
    shape = data.get("kpt_shape")
    try:
        return int(shape[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        raise FormatError(
            f"'kpt_shape' must be [K, 2] or [K, 3], found {shape!r}", path=path
        ) from None


def _yolo_flips_invalid(flips: Any, k: int) -> bool:
    from posetable.diagnose._rules_schema import _involution_problem

    return _involution_problem(flips, k) is not None


def _yolo_raw_lines(lines: Any) -> list[tuple[int, int]] | None:
    if lines is None:
        return None
    try:
        return [(int(a), int(b)) for a, b in lines]
    except (TypeError, ValueError):
        return None
