"""Label Studio JSON exports with ``KeyPointLabels``, read and written (our own reader).

A Label Studio export is a list of tasks; each task's ``annotations[].result[]`` holds
``keypointlabels`` results (``value.x``/``value.y`` in percent of ``original_width`` /
``original_height``, the keypoint name in ``value.keypointlabels``) and
``rectanglelabels`` results (boxes, also in percent).

* **Rows**: one per task, in file order; ``image`` the task's data value (``data.image``,
  or the ``<Image value="$key">`` of ``label_config=``; under ``image_folder=`` by its base
  name when given), ``width``/``height`` from the results (else the image header, else
  ``image_size=``), row column ``label_studio_source`` (the task as the file had it).
* **Instances**: the first annotation of a task that is not cancelled is read (a note
  counts tasks with more; all are kept and written back). Every rectangle is an instance
  and its box; its keypoints attach through ``parentID`` or a ``relation`` result. The
  keypoints of an annotation without a parent rectangle form ONE more instance (with a
  note; two of them with the same name are a :class:`FormatError`, as is a ``parentID``
  that names no rectangle). Instance extra ``region_id``: the rectangle's id (``""`` for
  the unparented keypoints).
* **Visibility**: a keypoint present is v=2, one with ``value.hidden`` true is v=1 (what
  Label Studio's own COCO importer writes for COCO v < 2), a keypoint absent is v=0.
* **Schema**: keypoint names from ``keypoint_names=``, else the ``<KeyPointLabels>`` of
  ``label_config=`` (ordered by ``model_index``), else as they first appear (with a note);
  classes from the rectangles' labels. Label Studio has no skeleton.
* **Export** writes each task back with its results updated from the table: ids,
  ``from_name``/``to_name`` and other fields kept, a number the table still holds written
  exactly as the file had it (percent values round-trip bit for bit), new points and
  instances added (``parentID`` to their rectangle), deleted ones removed with their
  relations; other results, annotations and predictions are copied unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from tqdm.auto import tqdm

from posetable._arrow import keypoints_column
from posetable.errors import FormatError
from posetable.formats._imported import Exported, Imported, as_path, rows_table
from posetable.formats._label_studio_tasks import (
    Config,
    Instance,
    annotations_of,
    chosen_annotation,
    read_config,
    read_task,
)
from posetable.formats._label_studio_write import (
    config_text,
    rect_percent,
    rect_pixels,
    write_row,
)
from posetable.formats._labeling_common import fill_sizes
from posetable.formats._notes import Notes, count_text, first_few, show_progress
from posetable.schema import Keypoints2DSchema

__all__ = ["SOURCE_COLUMN", "read_label_studio", "write_label_studio"]

SOURCE_COLUMN = "label_studio_source"


def _task_texts(path: Path) -> list[Any]:
    """The tasks of the export, each as its own JSON text (nothing parsed yet)."""
    import msgspec

    from posetable._json_text import syntax_error
    from posetable.formats._json import read_bytes

    raw = read_bytes(path, "Label Studio JSON file")
    try:
        head = raw.lstrip()[:1]
        if head == b"{":
            return [msgspec.json.decode(raw, type=msgspec.Raw)]
        return msgspec.json.decode(raw, type=list[msgspec.Raw])
    except msgspec.ValidationError:
        raise FormatError(
            "a Label Studio JSON export is a list of tasks (objects with 'data' and 'annotations')",
            path=path,
            line=1,
        ) from None
    except msgspec.DecodeError as exc:
        raise syntax_error(path, raw, exc) from None


def _local_name(value: str) -> str:
    """The file name of a Label Studio image reference (``/data/upload/3/a.jpg``,
    ``/data/local-files/?d=dir/a.jpg``, a URL)."""
    return value.rsplit("?d=", 1)[-1].rstrip("/").rsplit("/", 1)[-1]


def _size_of(task: dict[str, Any], instances: list[Instance], path: Path) -> tuple[int, int]:
    sizes = {
        (r.get("original_width"), r.get("original_height"))
        for inst in instances
        for r in ([inst.rect] if inst.rect else []) + list(inst.points.values())
    }
    sizes.discard((None, None))
    if len(sizes) > 1:
        raise FormatError(
            f"task {task.get('id')}: its results give different image sizes "
            f"({first_few(sorted(map(str, sizes)))})",
            path=path,
        )
    if not sizes:
        chosen = chosen_annotation(task)
        results = annotations_of(task)[chosen].get("result") or [] if chosen is not None else []
        sizes = {
            (r.get("original_width"), r.get("original_height"))
            for r in results
            if isinstance(r, dict) and r.get("original_width")
        }
    if not sizes:
        return 0, 0
    w, h = next(iter(sizes))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (w, h)):
        raise FormatError(
            f"task {task.get('id')}: original_width/original_height must be positive numbers, "
            f"found {w!r} x {h!r}",
            path=path,
        )
    return int(w or 0), int(h or 0)


def _has_xy(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(c), (int, float)) and not isinstance(value.get(c), bool) for c in "xy"
    )


def _rect_label(rect: dict[str, Any]) -> str | None:
    labels = (rect.get("value") or {}).get("rectanglelabels")
    return str(labels[0]) if isinstance(labels, list) and labels else None


class _Columns:
    """The tasks read one at a time into flat lists (a task's dicts are dropped after it)."""

    def __init__(self, path: Path, index: dict[str, int], grow: bool, config: Config) -> None:
        self.path, self.index, self.grow, self.config = path, index, grow, config
        self.key: str | None = config.image_key
        self.counts: list[int] = []
        self.widths: list[int] = []
        self.heights: list[int] = []
        self.images: list[str] = []
        self.videos: list[str | None] = []
        self.frames: list[int | None] = []
        self.what: list[str] = []
        self.regions: list[str] = []
        self.rects: list[tuple[float, float, float, float]] = []
        self.rect_labels: list[str | None] = []
        self.owner: list[int] = []
        self.point: list[int] = []
        self.xy: list[float] = []
        self.hidden: list[bool] = []
        self.classes: dict[str, None] = dict.fromkeys(config.classes)
        self.tags = {"keypoints": "keypoints", "rectangles": "bbox", "image": "image"}
        self.tagged = {"keypoints": False, "rectangles": False}
        self.several = self.loose = self.predicted = self.rotated = 0

    def _image(self, task: dict[str, Any], row: int, folder: Path | None) -> None:
        data = task.get("data") or {}
        if self.key is None and data:
            texts = [k for k, v in data.items() if isinstance(v, str)]
            self.key = "image" if "image" in data else (texts[0] if len(texts) == 1 else None)
        key = self.key or "image"
        value = data.get(key)
        video = (task.get("meta") or {}).get("video")
        if isinstance(value, str):
            self.images.append(str(folder / _local_name(value)) if folder is not None else value)
            self.videos.append(None)
            self.frames.append(None)
            return
        if isinstance(video, dict) and isinstance(video.get("frame_idx"), int):  # sleap-io's
            name, frame = video.get("filename"), int(video["frame_idx"])
            if isinstance(name, list) and 0 <= frame < len(name) and isinstance(name[frame], str):
                self.images.append(name[frame])
                self.videos.append(None)
                self.frames.append(None)
                return
            if isinstance(name, str):  # a frame of a video file
                self.images.append(name)
                self.videos.append(name)
                self.frames.append(frame)
                return
        raise FormatError(
            f"task {task.get('id', row)}: data.{key} must be the image's path or URL, found "
            f"{value!r} (data fields: {first_few(data) or 'none'}); pass label_config= with "
            'its <Image value="$...">'[:400],
            path=self.path,
        )

    def add(self, task: Any, row: int, folder: Path | None) -> None:
        if not isinstance(task, dict):
            raise FormatError(
                f"task {row} must be an object with 'data' and 'annotations', found "
                f"{type(task).__name__}",
                path=self.path,
            )
        task_id = task.get("id", row)
        instances = read_task(task, task_id, self.index, self.path, grow=self.grow)
        width, height = _size_of(task, instances, self.path)
        self._image(task, row, folder)
        self.what.append(f"task {task_id}")
        self.widths.append(width)
        self.heights.append(height)
        self.counts.append(len(instances))
        self.several += len(annotations_of(task)) > 1
        self.predicted += bool(task.get("predictions"))
        self.loose += bool(instances) and instances[-1].region == ""
        for inst in instances:
            t = len(self.regions)
            self.regions.append(inst.region)
            if inst.rect is not None:
                label = _rect_label(inst.rect)
                self.classes.setdefault(label or "object", None)
                self.rects.append(rect_percent(inst.rect))
                self.rect_labels.append(label or "object")
                self.rotated += bool((inst.rect.get("value") or {}).get("rotation"))
                if not self.tagged["rectangles"]:
                    self.tags["rectangles"] = str(inst.rect.get("from_name") or "bbox")
                    self.tagged["rectangles"] = True
            else:
                self.rects.append((np.nan, np.nan, np.nan, np.nan))
                self.rect_labels.append(None)
            for j, result in inst.points.items():
                value = result.get("value") or {}
                if not _has_xy(value):
                    raise FormatError(
                        f"task {task_id}: keypoint {result.get('id')!r} needs numbers value.x "
                        "and value.y (percent of the image size)",
                        path=self.path,
                    )
                self.owner.append(t)
                self.point.append(j)
                self.xy += (value["x"], value["y"])
                self.hidden.append(bool(value.get("hidden")))
                if not self.tagged["keypoints"]:
                    self.tags["keypoints"] = str(result.get("from_name") or "keypoints")
                    self.tags["image"] = str(result.get("to_name") or "image")
                    self.tagged["keypoints"] = True

    def notes(self, notes: Notes) -> None:
        if self.several:
            notes.add(
                f"{count_text(self.several, 'task')} {'holds' if self.several == 1 else 'hold'} "
                "more than one annotation: the first not cancelled is read, all are kept and "
                "written back on export"
            )
        if self.loose:
            notes.add(
                f"{count_text(self.loose, 'task')} {'has' if self.loose == 1 else 'have'} "
                "keypoints without a parent rectangle: each task's unparented keypoints are one "
                "instance (region_id '')"
            )
        if self.predicted:
            notes.add(
                f"{count_text(self.predicted, 'task')} "
                f"{'holds' if self.predicted == 1 else 'hold'} predictions: kept for export, not "
                "read"
            )
        if self.rotated:
            notes.add(
                f"{count_text(self.rotated, 'rotated rectangle')}: the table's box is the "
                "unrotated one; the rotation is kept for export"
            )


def read_label_studio(
    path: str | os.PathLike[str],
    *,
    keypoint_names: list[str] | tuple[str, ...] | None = None,
    label_config: str | os.PathLike[str] | None = None,
    image_folder: str | os.PathLike[str] | None = None,
    image_size: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> Imported:
    """Read a Label Studio JSON export with keypoints into posetable's row layout.

    See the module docstring for rows, instances, visibility and the schema.

    Args:
        path: the JSON export (a list of tasks).
        keypoint_names: the keypoints in order (default: from ``label_config``, else as
            they first appear in the file).
        label_config: the project's labeling config (XML text or a file).
        image_folder: a folder holding the images by the base name of their task value.
        image_size: ``(width, height)`` for tasks without results whose image is not at hand.
        progress: a progress bar over the tasks (default: for large files).

    Raises:
        FormatError: a task that does not follow the format (the message names the task
            and the result id).
        MissingFileError: the file is missing, or the size of a task's image is unknown.

    Example:
        >>> from tests._data import data_path
        >>> folder = data_path("label_studio") / "sdk_yolo_keypoints"
        >>> imported = read_label_studio(folder / "data_keypoints.json",
        ...                              label_config=folder / "label_config_keypoints.xml")
        >>> imported.data.num_rows, imported.schema.num_keypoints, imported.schema.classes
        (1, 17, ('person',))
    """
    source = as_path(path)
    texts = _task_texts(source)
    if isinstance(label_config, str) and label_config.lstrip().startswith("<"):
        config = read_config(label_config)
    else:
        config = read_config(str(as_path(label_config))) if label_config is not None else Config()
    notes = Notes(source)
    given = [str(n) for n in keypoint_names] if keypoint_names is not None else None
    names = given if given is not None else list(config.keypoint_names)
    columns = _Columns(source, {n: j for j, n in enumerate(names)}, not names, config)
    folder = as_path(image_folder) if image_folder is not None else None
    bar = tqdm(
        texts,
        desc="tasks",
        unit="task",
        leave=False,
        disable=not show_progress(progress, len(texts)),
    )
    for row, text in enumerate(bar):
        try:
            task = orjson.loads(memoryview(text))
        except orjson.JSONDecodeError as exc:  # pragma: no cover - msgspec checked the syntax
            raise FormatError(f"task {row}: not valid JSON: {exc}", path=source) from None
        columns.add(task, row, folder)
    if not names:
        names = list(columns.index)
        if not names:
            raise FormatError(
                "no keypoint names: the file has no keypointlabels results", path=source
            )
        notes.add(
            f"keypoint names in the order they first appear ({first_few(names)}); pass "
            "keypoint_names= or label_config= to fix the order"
        )
    k = len(names)
    counts = np.asarray(columns.counts, np.int64)
    widths = np.asarray(columns.widths, np.int64)
    heights = np.asarray(columns.heights, np.int64)
    fill_sizes(columns.images, widths, heights, image_size, notes, columns.what)
    columns.notes(notes)
    row_of = np.repeat(np.arange(len(counts)), counts)
    w, h = widths[row_of].astype(np.float64), heights[row_of].astype(np.float64)
    owner, point = np.asarray(columns.owner, np.int64), np.asarray(columns.point, np.int64)
    xy = np.asarray(columns.xy, np.float64).reshape(-1, 2)
    total = len(columns.regions)
    keypoints = np.zeros((total, k, 2))
    vis = np.zeros((total, k), np.int32)
    keypoints[owner, point, 0] = (xy[:, 0] * w[owner]) / 100
    keypoints[owner, point, 1] = (xy[:, 1] * h[owner]) / 100
    vis[owner, point] = np.where(np.asarray(columns.hidden, bool), 1, 2)
    from posetable._arrow import derive_boxes

    boxes = derive_boxes(keypoints, vis > 0)
    rects = rect_pixels(np.asarray(columns.rects, np.float64).reshape(-1, 4), w, h)
    has = np.isfinite(rects).all(axis=1)
    boxes[has] = rects[has]
    class_list = list(columns.classes) or ["object"]
    class_index = {c: i for i, c in enumerate(class_list)}
    labels = np.array([class_index[c] if c else 0 for c in columns.rect_labels], np.int32)
    column = keypoints_column(
        counts,
        keypoints,
        widths=widths,
        heights=heights,
        visibilities=vis,
        boxes=boxes,
        labels=labels,
        extras={"region_id": np.array(columns.regions, dtype=object)},
        extra_types={"region_id": pa.string()},
        num_keypoints=k,
    )
    sources = pa.array([bytes(t) for t in texts], pa.large_binary()).cast(pa.large_string())
    data = rows_table(columns.images, widths, heights, column, {SOURCE_COLUMN: sources})
    if any(v is not None for v in columns.videos):  # frames of videos (sleap-io's meta.video)
        data = data.append_column("video", pa.array(columns.videos, pa.string()))
        data = data.append_column("frame_index", pa.array(columns.frames, pa.int64()))
    schema = Keypoints2DSchema(k, keypoint_names=names, classes=tuple(class_list))
    meta: dict[str, Any] = {
        "label_studio": {
            "keypoint_names": names,
            "classes": class_list,
            "image_key": columns.key or "image",
            "label_config": config.text,
            "names": columns.tags,
        }
    }
    if folder is not None:
        meta["image_roots"] = [str(folder)]
    arguments = {"path": str(source), "tasks": len(texts)}
    return Imported(data, schema, meta, notes, "import_label_studio", arguments)


# -- writing ----------------------------------------------------------------------------------
def write_label_studio(
    table: Exported,
    path: str | os.PathLike[str],
    *,
    label_config: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a Label Studio JSON export (a list of tasks) from a table.

    Tasks read from Label Studio come back with their results updated from the table (see
    the module docstring); rows from other formats become tasks whose instances are a
    rectangle (the box, labeled with the class) and keypoints with ``parentID`` to it.

    Args:
        table: the revision to write.
        path: the JSON file.
        label_config: also write a labeling config there (``KeyPointLabels`` with
            ``model_index`` in the table's keypoint order, ``RectangleLabels`` with its
            classes), ready to paste into the project settings.

    Returns:
        The JSON file written.
    """
    out = as_path(path)
    meta = dict(table.metadata.get("label_studio") or {})
    schema = table.schema
    names = list(schema.keypoint_names)
    notes = Notes(f"export of {table.ref} to {out}")
    if schema.lines:
        lines = count_text(len(schema.lines), "line")
        notes.add(f"Label Studio keypoints have no skeleton: the table's {lines} are not written")
    source_names = list(meta.get("keypoint_names") or names)
    source_index = {n: j for j, n in enumerate(source_names)}
    tags = {"keypoints": "keypoints", "rectangles": "bbox", "image": "image"}
    tags.update(meta.get("names") or {})
    key = str(meta.get("image_key") or "image")
    flat = table.flat()
    regions_all = table.extra(flat, "region_id")
    m = table.data.num_rows
    sources = table.column(SOURCE_COLUMN) or [None] * m
    images = [str(i) for i in (table.column("image") or [])]
    classes = schema.classes or ("object",)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:  # one task at a time, into a file that replaces the target once complete
        with open(partial, "wb") as handle:
            handle.write(b"[")
            for r in range(m):
                a, b = int(flat.offsets[r]), int(flat.offsets[r + 1])
                regions = list(regions_all[a:b]) if regions_all is not None else [None] * (b - a)
                task = orjson.loads(sources[r]) if sources[r] else None
                built = write_row(
                    r,
                    task,
                    names,
                    source_index,
                    classes,
                    tags,
                    (key, images[r]),
                    (int(flat.widths[r]), int(flat.heights[r])),
                    (
                        flat.keypoints[a:b],
                        flat.visibilities[a:b],
                        flat.boxes[a:b],
                        flat.labels[a:b],
                        regions,
                    ),
                )
                handle.write(b"\n" if r == 0 else b",\n")
                if task is not None and built == task:  # unchanged: the task's own text
                    handle.write(str(sources[r]).encode("utf-8"))
                else:
                    handle.write(orjson.dumps(built, option=orjson.OPT_INDENT_2))
            handle.write(b"\n]\n")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    if label_config is not None:
        Path(label_config).write_text(config_text(names, classes, tags, key), encoding="utf-8")
    notes.emit(stacklevel=3)
    return out
