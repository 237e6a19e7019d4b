"""PoseTrack 2018 JSON (one file per video, or a folder of them), lossless.

PoseTrack 2018's annotation files are COCO-shaped, so they are read and written by the
COCO machinery (:mod:`posetable.formats.coco`: every field, id and number type is kept),
with what makes them PoseTrack on top:

* **Rows**: one per image (frame) in file order, labeled or not (``is_labeled``); the row
  columns ``video`` (the image's ``vid_id``, as written) and ``frame_index`` (int64, the
  frame number of the ``file_name``, ``000012.jpg`` -> 12, 0-based as PoseTrack counts;
  where a name has no number, the frame's position in its video). The other image fields
  (``frame_id``, ``nframes``, ``ignore_regions_x``/``_y``, ``mask_file``...) are kept as
  COCO import keeps them. A folder import adds ``posetrack_file`` (the file a row is from).
* **Instances**: COCO's, plus the extra ``track_id`` (int64); ``bbox_head`` and
  ``scores`` are kept fields of the annotation.
* **Schema**: the file's 17 keypoint slots (PoseTrack labels 15 of them: ``left_ear`` and
  ``right_ear`` are always empty) and its skeleton; flip indices are PoseTrack 2018's
  (:data:`posetable.layouts.POSETRACK18`) when the names are PoseTrack's. No OKS sigmas
  unless ``oks_sigmas=`` gives them: PoseTrack is scored with PCKh and publishes none
  (mmpose's are COCO's moved onto its slots), so metrics use a uniform ``1/K`` and
  ``posetable check`` says so (``sigmas_missing``).
* **Metadata** ``metadata["posetrack"]["files"]``: per file its name and what COCO
  export needs (``metadata["coco"]`` holds the first file's, so ``export_coco`` writes
  the same content as a COCO file).

Bad input raises :class:`~posetable.errors.FormatError` naming the file, the line and the
image or annotation id; nothing is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
import pyarrow as pa

from posetable.errors import FormatError, UnsupportedError
from posetable.formats._coco_read import read_coco
from posetable.formats._coco_write import write_coco
from posetable.formats._errors import MissingFileError
from posetable.formats._imported import Exported, Imported, as_path
from posetable.formats._json import decode_top, read_bytes
from posetable.formats._notes import Notes, count_text, first_few
from posetable.formats._records import TEXT, decode_section
from posetable.formats.coco import _coco_arrow
from posetable.layouts import POSETRACK18

__all__ = ["read_posetrack", "write_posetrack"]

FILE_COLUMN = "posetrack_file"


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        found = sorted(source.glob("*.json"))
        if not found:
            raise MissingFileError(f"{source}: no PoseTrack *.json files in this folder")
        return found
    if not source.is_file():
        raise MissingFileError(f"{source}: no such PoseTrack file")
    return [source]


def _keypoint_names(top: dict[str, Any]) -> list[str]:
    if "categories" not in top:
        return []
    categories = orjson.loads(bytes(top["categories"]))
    for cat in categories if isinstance(categories, list) else []:
        if isinstance(cat, dict) and cat.get("keypoints"):
            return [str(n) for n in cat["keypoints"]]
    return []


def _frames(
    path: Path, raw: bytes, top: dict[str, Any], image_ids: np.ndarray, notes: Notes
) -> tuple[list[Any], Any]:
    """The ``video`` and ``frame_index`` of each row (its image's ``vid_id`` / file name)."""
    images = decode_section(
        path, raw, top.get("images"), "images", {"id": TEXT, "vid_id": TEXT, "file_name": TEXT}
    )
    at = {value: i for i, value in enumerate(images.columns.get("id", []))}
    vid = images.columns.get("vid_id", [])
    names = images.columns.get("file_name", [])
    videos: list[Any] = []
    frames = np.zeros(len(image_ids), np.int64)
    lacking: list[Any] = []
    seen: dict[str, int] = {}
    for row, image_id in enumerate(image_ids.tolist()):
        i = at[image_id]
        name = names[i] if isinstance(names[i], str) else ""
        video = vid[i] if isinstance(vid[i], (str, int)) and not isinstance(vid[i], bool) else None
        if video is None:
            lacking.append(image_id)
            video = os.path.basename(os.path.dirname(name)) or "video"
        video = str(video)
        stem = os.path.splitext(os.path.basename(name))[0]
        position = seen.get(video, 0)
        seen[video] = position + 1
        frames[row] = int(stem) if stem.isdigit() else position
        videos.append(video)
    if lacking:
        notes.add(
            f"{count_text(len(lacking), 'image')} have no 'vid_id' (image ids "
            f"{first_few(lacking)}): their video is the folder of their file_name"
        )
    return videos, frames


@dataclass
class _Read:
    path: Path
    data: pa.Table
    schema: Any
    metadata: dict[str, Any]


def _read_one(
    path: Path,
    image_folder: str | os.PathLike[str] | None,
    notes: Notes,
    oks_sigmas: Any,
    flip_indices: Any,
    missing_images: str,
) -> _Read:
    raw = read_bytes(path, "PoseTrack annotation file")
    top = decode_top(path, raw)
    names = _keypoint_names(top)
    posetrack = tuple(names) == POSETRACK18.keypoint_names
    columns = read_coco(
        path,
        image_folder,
        notes=notes,
        oks_sigmas=oks_sigmas,
        flip_indices=flip_indices
        if flip_indices is not None or not posetrack
        else POSETRACK18.flip_indices,
        missing_images=missing_images,
        int_fields=("track_id",),
    )
    data = _coco_arrow(columns)
    videos, frames = _frames(path, raw, top, np.asarray(columns.image_ids), notes)
    data = data.append_column("video", pa.array(videos, pa.string()))
    data = data.append_column("frame_index", pa.array(frames, pa.int64()))
    if int(np.asarray(columns.counts).sum()) and "track_id" not in columns.extras:
        notes.add(
            "not every annotation has an integer 'track_id', so it stays a kept field of the "
            "annotations (no track_id extra)"
        )
    return _Read(path, data, columns.coco.schema, columns.metadata)


def read_posetrack(
    path: str | os.PathLike[str],
    *,
    image_folder: str | os.PathLike[str] | None = None,
    missing_images: str = "error",
    oks_sigmas: Any = None,
    flip_indices: Any = None,
) -> Imported:
    """Read PoseTrack 2018 annotations into posetable's row layout (see the module docstring).

    Args:
        path: one PoseTrack JSON file (a video, or mmpose's merged ``*_val.json``) or a
            folder of them (``annotations/val``: every ``*.json``, in name order).
        image_folder: the folder the images' ``file_name`` is relative to (the dataset
            root holding ``images/``); when given, ``image`` is the absolute path and
            missing images are checked (``missing_images``: ``"error"``, ``"warn"``,
            ``"skip"``). Default: ``file_name`` as written.
        missing_images: as for :func:`posetable.formats.coco.table_from_coco`.
        oks_sigmas: K sigmas (default: none, so uniform ``1/K``; PoseTrack publishes
            none, :func:`posetable.estimate_sigmas` estimates them from two annotations).
        flip_indices: K flip indices (default: PoseTrack 2018's for its names).

    Raises:
        FormatError: a malformed file, or files of a folder with different keypoints.
        MissingFileError: the file, folder or (by default) an image is missing.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_posetrack(data_path("posetrack18") / "annotations/val")
        >>> imported.data.num_rows, imported.schema.num_keypoints
        (3, 17)
        >>> imported.data.column("video").to_pylist()
        ['003418', '009473', '012834']
    """
    source = as_path(path)
    files = _files(source)
    notes = Notes(source)
    folder = source.is_dir()
    reads = []
    said_by: list[tuple[str, list[str]]] = []
    for f in files:
        said = Notes(f)
        reads.append(_read_one(f, image_folder, said, oks_sigmas, flip_indices, missing_images))
        said_by.append((f.name, said.items))
    shared = len(files) > 1  # a note every file of a folder gives is said once
    everywhere = set.intersection(*(set(items) for _, items in said_by)) if shared else set()
    for text in dict.fromkeys(t for _, items in said_by for t in items if t in everywhere):
        notes.add(f"every file: {text}")
    for file_name, items in said_by:  # a folder's notes name their file
        for item in items:
            if item not in everywhere:
                notes.add(f"{file_name}: {item}" if folder else item)
    first = reads[0]
    for other in reads[1:]:
        if other.schema.keypoint_names != first.schema.keypoint_names:
            raise FormatError(
                f"its keypoints {list(other.schema.keypoint_names)} differ from "
                f"{first.path.name}'s {list(first.schema.keypoint_names)}; one table holds one "
                "keypoint layout",
                path=other.path,
            )
    tables = []
    for r in reads:
        data = r.data
        if folder:
            data = data.append_column(
                FILE_COLUMN, pa.array([r.path.name] * data.num_rows, pa.string())
            )
        tables.append(data)
    try:
        data = pa.concat_tables(tables, promote_options="permissive") if folder else tables[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise FormatError(
            f"the files' annotations have different fields and cannot share one table: {exc}",
            path=source,
        ) from None
    names = list(first.schema.keypoint_names)
    if tuple(names) == POSETRACK18.keypoint_names and flip_indices is None:
        notes.add("flip indices: PoseTrack 2018's (pass flip_indices=[...] for others)")
    if tuple(names) == POSETRACK18.keypoint_names and oks_sigmas is None:
        notes.add(
            "PoseTrack publishes no OKS sigmas (it is scored with PCKh); "
            "pt.estimate_sigmas(table_a, table_b) estimates them from two annotations"
        )
    meta = {
        "posetrack": {
            "source": str(source),
            "folder": folder,
            "files": [{"file": r.path.name, "coco": r.metadata["coco"]} for r in reads],
        },
        "coco": first.metadata["coco"],
        "image_roots": first.metadata.get("image_roots", []),
    }
    arguments = {
        "path": str(source),
        "files": len(files),
        "image_folder": None if image_folder is None else str(as_path(image_folder)),
    }
    return Imported(data, first.schema, meta, notes, "import_posetrack", arguments)


class _CocoView:
    """What the COCO writer reads from a table: its Arrow rows, schema and metadata."""

    def __init__(self, data: pa.Table, schema: Any, metadata: dict[str, Any]) -> None:
        self.data = data
        self.schema = schema
        self.metadata = metadata

    @property
    def columns(self) -> list[str]:
        return list(self.data.column_names)

    def __len__(self) -> int:
        return int(self.data.num_rows)

    def to_arrow(self, *, columns: list[str] | None = None) -> pa.Table:
        return self.data if columns is None else self.data.select(columns)


def write_posetrack(table: Exported, path: str | os.PathLike[str]) -> Path:
    """Write PoseTrack 2018 JSON: one file, or a folder with one file per imported file.

    A table imported from PoseTrack (or COCO) gives back the file(s) it came from, with its
    edits and its ``track_id`` extras. Any other table needs a ``track_id`` instance extra
    (PoseTrack follows people by it); its rows become frames of their ``video`` (row
    column, else one video) numbered by ``frame_index`` (else their order), with PoseTrack's
    image fields (``vid_id``, ``frame_id``, ``nframes``, ``is_labeled``) made from them.

    Args:
        table: the revision to write.
        path: a ``.json`` file, or a folder (one file per file of a folder import).

    Raises:
        UnsupportedError: a table without ``track_id`` extras and no PoseTrack origin.

    Returns:
        The file or folder written.
    """
    target = as_path(path)
    meta = dict(table.metadata.get("posetrack") or {})
    roots = list(table.metadata.get("image_roots") or [])
    files = meta.get("files") or []
    if not files and table.metadata.get("coco"):
        coco_meta = table.metadata["coco"]
        tracked = "track_id" in (coco_meta.get("annotation_keys") or [])
        if not tracked and table.extra(table.flat(), "track_id") is None:
            raise UnsupportedError(
                f"{table.ref}: PoseTrack follows each person by a 'track_id', and neither the "
                "COCO file this table came from nor its instances have one; add a track_id "
                "instance extra (int) first"
            )
        files = [{"file": target.name, "coco": coco_meta}]
    if not files:
        data, coco = _generic(table, target)
        files = [{"file": target.name, "coco": coco}]
        table = Exported(data, table.schema, table.metadata, table.ref)
    into_folder = target.suffix.lower() != ".json"
    if len(files) > 1 and not into_folder:
        raise UnsupportedError(
            f"{table.ref} came from {len(files)} PoseTrack files: write it to a folder (one "
            f"file each), not to the one file {target}"
        )
    data = table.data
    by_file = data.column(FILE_COLUMN).to_pylist() if FILE_COLUMN in data.column_names else None
    written = []
    for entry in files:
        coco = dict(entry["coco"])
        coco["int_fields"] = sorted(set(coco.get("int_fields") or []) | {"track_id"})
        rows = data
        if by_file is not None:
            keep = np.array([f == entry["file"] for f in by_file], dtype=bool)
            rows = data.filter(pa.array(keep))
        view = _CocoView(rows, table.schema, {"coco": coco, "image_roots": roots})
        out = target / entry["file"] if into_folder else target
        written.append((view, out))
    for view, out in written:
        write_coco(cast(Any, view), out)
    return target


def _generic(table: Exported, target: Path) -> tuple[pa.Table, dict[str, Any]]:
    """Rows and COCO metadata for a table that did not come from PoseTrack or COCO."""
    flat = table.flat()
    if table.extra(flat, "track_id") is None and len(flat.keypoints):
        raise UnsupportedError(
            f"{table.ref}: PoseTrack follows each person by a 'track_id', and this table's "
            "instances have none; add a track_id instance extra (int) first"
        )
    notes = Notes(target)
    if tuple(table.schema.keypoint_names) != POSETRACK18.keypoint_names:
        notes.add(
            f"the table's K={table.schema.num_keypoints} keypoints are not PoseTrack 2018's 17 "
            f"({first_few(table.schema.keypoint_names)}); written as they are, but PoseTrack's "
            "evaluation expects its own (map them first to evaluate there)"
        )
    m = table.data.num_rows
    videos = table.column("video") or ["video"] * m
    frames_col = table.column("frame_index")
    order = {name: i + 1 for i, name in enumerate(dict.fromkeys(str(v) for v in videos))}
    counts = np.diff(flat.offsets)
    seen: dict[str, int] = {}
    fields, ids = [], []
    numeric = all(str(v).isdigit() for v in order)
    length: dict[str, int] = {}
    frame_numbers = []
    for r in range(m):
        video = str(videos[r])
        position = seen.get(video, 0)
        seen[video] = position + 1
        frame = int(frames_col[r]) if frames_col and frames_col[r] is not None else position
        frame_numbers.append(frame)
        length[video] = max(length.get(video, 0), frame + 1)
    for r in range(m):
        video = str(videos[r])
        number = int(video) if numeric else order[video]
        frame_id = int(f"1{number:06d}{frame_numbers[r]:04d}")
        ids.append(frame_id)
        fields.append(
            orjson.dumps(
                {
                    "is_labeled": bool(counts[r]),
                    "nframes": length[video],
                    "frame_id": frame_id,
                    "vid_id": video if numeric else f"{number:06d}",
                }
            ).decode()
        )
    if not numeric:
        notes.add(
            f"video names are not PoseTrack's numbers, so the {len(order)} videos are numbered "
            f"1..{len(order)} in order of appearance (vid_id, frame_id)"
        )
    notes.emit(stacklevel=4)
    data = table.data
    for name, values, arrow_type in (
        ("image_id", ids, pa.int64()),
        ("coco_image_fields", fields, pa.string()),
    ):
        if name in data.column_names:
            data = data.drop_columns([name])
        data = data.append_column(name, pa.array(values, arrow_type))
    coco = {
        "image_keys": [
            "is_labeled", "nframes", "frame_id", "vid_id", "file_name", "id", "width", "height",
        ],
        "annotation_keys": [
            "keypoints", "track_id", "image_id", "bbox", "category_id", "id", "iscrowd",
            "num_keypoints", "area",
        ],
        "top_level_keys": ["categories", "images", "annotations"],
        "int_fields": ["track_id"],
    }  # fmt: skip
    return data, coco
