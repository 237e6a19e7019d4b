"""Ultralytics NDJSON (Ultralytics Platform dataset exports) for pose, read and written.

The format is what ``ultralytics.data.converter.convert_ndjson_to_yolo`` reads (checked
against Ultralytics 8.4): one JSON object per line,

* line 1, the dataset record: ``{"type": "dataset", "task": "pose", "class_names":
  {"0": "person"}, "kpt_shape": [17, 3], "flip_idx": [...], ...}``; every other key of a
  YOLO ``data.yaml`` may be there too (``kpt_names``, ``kpt_oks_sigmas``), and ``path``
  (a local dataset: images at ``<path>/images/<split>/<file>`` beside the file);
* then one image record per line: ``{"type": "image", "file": "a.jpg", "url": ...,
  "width": 640, "height": 480, "split": "train", "annotations": {"pose": [[class, cx, cy,
  w, h, x1, y1, v1, ...], ...]}}``, box and keypoints normalised by the image size as in
  a YOLO-pose label line.

Our own reader (no library reads the format but Ultralytics' converter, which downloads
every image first):

* **Rows**: one per image record, in file order; ``image`` the local image (``path`` set)
  or the ``url`` (else ``file``), ``width``/``height`` from the record (else the image
  header, else ``image_size=``), row columns ``split`` and ``ndjson_source`` (the record's
  line, which export writes back unchanged while the table's values are unchanged).
* **Instances**: one per ``pose`` annotation; ``kpt_shape [K, 3]`` visibility as given,
  ``[K, 2]`` a point written ``0 0`` is v=0 and any other v=2 (the YOLO rule).
* **Schema**: from the dataset record as from a ``data.yaml`` (class names, ``kpt_names``,
  ``flip_idx``, sigmas: COCO's for an unnamed ``[17, 3]`` layout, as Ultralytics uses).
  A missing ``kpt_shape`` is inferred from the annotations as Ultralytics does, with a note.
* **Metadata** ``metadata["ndjson"]``: the dataset record and its line, ``kpt_shape``, the
  names, and where ``path`` pointed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from tqdm.auto import tqdm

from posetable._arrow import keypoints_column
from posetable.errors import FormatError, UnsupportedError
from posetable.formats._images import unique_names
from posetable.formats._imported import Exported, Imported, as_path, rows_table
from posetable.formats._labeling_common import fill_sizes, reuse
from posetable.formats._notes import Notes, first_few, show_progress
from posetable.formats._yolo_yaml import yolo_layout

__all__ = ["SOURCE_COLUMN", "read_ndjson", "write_ndjson"]

SOURCE_COLUMN = "ndjson_source"
IMAGE_MODES = ("none", "symlink", "copy")


# -- reading ----------------------------------------------------------------------------------
def _lines(raw: bytes, path: Path) -> tuple[list[bytes], list[int]]:
    """The non-blank lines and their 1-based numbers."""
    texts, numbers = [], []
    for number, line in enumerate(raw.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if line.strip():
            texts.append(line)
            numbers.append(number)
    if not texts:
        raise FormatError("the file is empty; expected a dataset record on line 1", path=path)
    return texts, numbers


def _parse(text: bytes, number: int, path: Path) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise FormatError(
            f"not valid JSON: {err.msg} at column {err.colno}; every line of an NDJSON file is "
            "one JSON object",
            path=path,
            line=number,
        ) from None


def _pose_of(record: Any) -> Any:
    annotations = record.get("annotations") if isinstance(record, dict) else None
    return annotations.get("pose") if isinstance(annotations, dict) else None


def _infer_kpt_shape(texts: list[bytes], numbers: list[int], path: Path) -> list[int] | None:
    """Ultralytics' rule (``_infer_ndjson_kpt_shape``): up to 50 annotations, [K, 3] when the
    lengths divide by 3 and every third value is 0/1/2, else [K, 2]."""
    samples: list[Any] = []
    for text, number in zip(texts, numbers, strict=True):
        pose = _pose_of(_parse(text, number, path))
        samples += [a for a in pose or [] if isinstance(a, list) and len(a) > 5]
        if len(samples) >= 50:
            break
    samples = samples[:50]
    lengths = {len(a) - 5 for a in samples}
    if len(lengths) != 1:
        return None
    n = lengths.pop()
    if n % 3 == 0 and all(v in (0, 1, 2) for a in samples for v in a[5:][2::3]):
        return [n // 3, 3]
    if n % 2 == 0 and n % 3 != 0:
        return [n // 2, 2]
    return None


def _layout(dataset: dict[str, Any], shape: Any, top: int, path: Path) -> Any:
    """The schema of the dataset record (as of a ``data.yaml``); class ids up to ``top``
    without a name are named ``class<i>``, as Ultralytics' converter names them."""
    if dataset.get("task", "detect") != "pose":
        raise UnsupportedError(
            f"{path}:1: the dataset's task is {dataset.get('task', 'detect')!r}; posetable reads "
            "pose datasets (task 'pose')"
        )
    raw_names = dataset.get("class_names") or {}
    if not isinstance(raw_names, dict):
        raise FormatError(
            f"'class_names' must map class ids to names, found {raw_names!r}"[:300],
            path=path,
            line=1,
        )
    names: dict[int, Any] = {}
    for key, value in raw_names.items():
        if not str(key).strip().isdigit():
            raise FormatError(
                f"'class_names' keys must be class ids, found {key!r}", path=path, line=1
            )
        names[int(key)] = value
    top = max([*names, top, 0])
    data = {k: v for k, v in dataset.items() if k not in ("type", "class_names", "path")}
    data["names"] = [names.get(i, f"class{i}") for i in range(top + 1)]
    data["kpt_shape"] = shape
    try:
        return yolo_layout(data, path)
    except FormatError as exc:
        text = str(exc).removeprefix(f"{path}: ")
        raise FormatError(text + " (the dataset record)", path=path, line=1) from None


class _Images:
    """The image records of a file, parsed one line at a time and checked, as columns
    (each record's dict is dropped once its values are taken)."""

    def __init__(
        self,
        texts: list[bytes],
        numbers: list[int],
        width: int,
        path: Path,
        notes: Notes,
        progress: bool,
    ) -> None:
        self.files: list[str] = []
        self.urls: list[str | None] = []
        self.splits: list[str] = []
        blocks: list[np.ndarray] = []
        m = len(texts)
        self.widths = np.zeros(m, np.int64)
        self.heights = np.zeros(m, np.int64)
        self.counts = np.zeros(m, np.int64)
        other: set[str] = set()
        lines = tqdm(
            zip(texts, numbers, strict=True),
            total=m,
            desc="records",
            leave=False,
            disable=not progress,
        )
        for i, (text, number) in enumerate(lines):
            record = _parse(text, number, path)
            if not isinstance(record, dict) or record.get("type", "image") != "image":
                kind = record.get("type") if isinstance(record, dict) else type(record).__name__
                raise FormatError(
                    f'expected an image record ({{"type": "image", ...}}), found {kind!r}',
                    path=path,
                    line=number,
                )
            file, split = record.get("file"), record.get("split")
            if not isinstance(file, str) or not file:
                raise FormatError(
                    f"'file' must name the image, found {file!r}", path=path, line=number
                )
            if not isinstance(split, str) or not split:
                raise FormatError(
                    f"'split' must be train, val or test, found {split!r}", path=path, line=number
                )
            for key, out in (("width", self.widths), ("height", self.heights)):
                value = record.get(key)
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise FormatError(
                        f"'{key}' must be a positive whole number of pixels, found {value!r}",
                        path=path,
                        line=number,
                    )
                out[i] = value
            annotations = record.get("annotations") or {}
            if not isinstance(annotations, dict):
                raise FormatError(
                    f"'annotations' must be an object, found {annotations!r}"[:200],
                    path=path,
                    line=number,
                )
            other.update(k for k, v in annotations.items() if k != "pose" and v)
            block = _block(annotations.get("pose") or [], width, path, number)
            blocks.append(block)
            self.counts[i] = len(block)
            url = record.get("url")
            self.files.append(file)
            self.urls.append(url if isinstance(url, str) else None)
            self.splits.append(split)
        self.values = np.concatenate(blocks) if blocks else np.zeros((0, width))
        self.lines = np.repeat(np.asarray(numbers, np.int64), self.counts)
        if other:
            notes.add(
                f"annotations other than 'pose' ({first_few(sorted(other))}) are kept for "
                "export, not read as keypoints"
            )


def _block(pose: Any, width: int, path: Path, line: int) -> np.ndarray:
    """(n, width) float64 values of one record's pose annotations, checked."""
    if not isinstance(pose, list):
        raise FormatError(f"'pose' must be a list, found {pose!r}"[:200], path=path, line=line)
    for index, annotation in enumerate(pose):
        if not isinstance(annotation, list):
            raise FormatError(
                f"pose annotation {index} must be a list of numbers, found {annotation!r}"[:200],
                path=path,
                line=line,
            )
        if len(annotation) != width:
            raise FormatError(
                f"pose annotation {index} must hold {width} numbers (class, box cx cy w h and "
                f"the keypoints of kpt_shape), found {len(annotation)}",
                path=path,
                line=line,
            )
    try:
        return np.array(pose, dtype=np.float64).reshape(len(pose), width)
    except (TypeError, ValueError):
        for index, annotation in enumerate(pose):
            bad = next((v for v in annotation if not isinstance(v, (int, float))), None)
            if bad is not None:
                raise FormatError(
                    f"pose annotation {index} must hold numbers only, found {bad!r}",
                    path=path,
                    line=line,
                ) from None
        raise


def _pixels(
    values: np.ndarray, w: np.ndarray, h: np.ndarray, k: int, dims: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (T, 4) xyxy, keypoints (T, K, 2) and visibility (T, K) in pixels from the
    normalised values (the import's conversion; export reuses it to find unchanged values)."""
    scale = np.stack([w, h], axis=1).astype(np.float64)
    centre, size = values[:, 1:3] * scale, values[:, 3:5] * scale
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    points = values[:, 5:].reshape(-1, k, dims)
    keypoints = points[..., :2] * scale[:, None, :]
    if dims == 3:
        vis = points[..., 2]
    else:
        vis = np.where((points[..., 0] == 0) & (points[..., 1] == 0), 0.0, 2.0)
    return boxes, keypoints, vis


def _image_paths(
    images: _Images, dataset: dict[str, Any], path: Path, image_folder: Path | None
) -> tuple[list[str], str | None]:
    if image_folder is not None:
        return [os.path.join(image_folder, f) for f in images.files], None
    local = dataset.get("path")
    if isinstance(local, str) and local:
        root = os.path.normpath(os.path.join(path.parent, local))
        paths = [
            os.path.join(root, "images", s, f)
            for s, f in zip(images.splits, images.files, strict=True)
        ]
        return paths, root
    return [u or f for u, f in zip(images.urls, images.files, strict=True)], None


def read_ndjson(
    path: str | os.PathLike[str],
    *,
    image_folder: str | os.PathLike[str] | None = None,
    image_size: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> Imported:
    """Read an Ultralytics NDJSON pose dataset into posetable's row layout.

    See the module docstring for the rows, instances and schema it gives.

    Args:
        path: the ``.ndjson`` file.
        image_folder: a folder holding the images by their ``file`` name (default: the
            dataset's ``path``, else each record's ``url``).
        image_size: ``(width, height)`` for records without a size whose image is not at hand.
        progress: a progress bar over the records (default: for large files).

    Raises:
        FormatError: a malformed line (the message names the line and annotation).
        UnsupportedError: a dataset whose task is not ``pose``.
        MissingFileError: the file, or the size of an image, is missing.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_ndjson(data_path("ndjson") / "coco8-pose.ndjson")
        >>> imported.data.num_rows, imported.schema.num_keypoints, imported.data["split"][0]
        (4, 17, <pyarrow.StringScalar: 'train'>)
    """
    from posetable.formats._json import read_bytes

    source = as_path(path)
    raw = read_bytes(source, "NDJSON file")
    texts, numbers = _lines(raw, source)
    del raw
    dataset = _parse(texts[0], numbers[0], source)
    if not isinstance(dataset, dict) or dataset.get("type", "dataset") != "dataset":
        raise FormatError(
            'line 1 must be the dataset record ({"type": "dataset", "task": "pose", ...})',
            path=source,
            line=numbers[0],
        )
    notes = Notes(source)
    shape: Any = dataset.get("kpt_shape")
    if shape is None and dataset.get("task", "detect") == "pose":
        shape = _infer_kpt_shape(texts[1:], numbers[1:], source)
        if shape is None:
            raise FormatError(
                "the dataset record has no 'kpt_shape' and the annotations do not show one "
                '(Ultralytics infers it the same way); add "kpt_shape": [K, 2 or 3]',
                path=source,
                line=1,
            )
        notes.add(f"no kpt_shape in the dataset record: {shape}, inferred from the annotations")
    layout = _layout(dataset, shape, 0, source)
    k, dims = layout.num_keypoints, layout.ndim
    enabled = show_progress(progress, len(texts))
    images = _Images(texts[1:], numbers[1:], 5 + k * dims, source, notes, enabled)
    values, counts = images.values, images.counts
    cls = values[:, 0]
    bad = (np.mod(cls, 1) != 0) | (cls < 0)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise FormatError(
            f"pose annotation class {values[t, 0]:g} is not a class id (a whole number >= 0)",
            path=source,
            line=int(images.lines[t]),
        )
    top = int(cls.max()) if len(cls) else 0
    if top >= layout.class_count:
        layout = _layout(dataset, shape, top, source)
    folder = as_path(image_folder) if image_folder is not None else None
    paths, root = _image_paths(images, dataset, source, folder)
    widths, heights = images.widths, images.heights
    fill_sizes(paths, widths, heights, image_size, notes, [f"line {n}" for n in numbers[1:]])
    w = np.repeat(widths, counts).astype(np.float64)
    h = np.repeat(heights, counts).astype(np.float64)
    boxes, keypoints, vis = _pixels(values, w, h, k, dims)
    invalid = ~np.isin(vis, (0.0, 1.0, 2.0))
    if invalid.any():
        t, j = (int(v) for v in np.argwhere(invalid)[0])
        raise FormatError(
            f"keypoint {j} visibility must be 0, 1 or 2, found {vis[t, j]:g}",
            path=source,
            line=int(images.lines[t]),
        )
    column = keypoints_column(
        counts,
        keypoints,
        widths=widths,
        heights=heights,
        visibilities=vis.astype(np.int32),
        boxes=boxes,
        labels=cls.astype(np.int32),
        num_keypoints=k,
    )
    data = rows_table(
        paths,
        widths,
        heights,
        column,
        {
            "split": pa.array(images.splits, pa.string()),
            SOURCE_COLUMN: pa.array(texts[1:], pa.large_binary()).cast(pa.large_string()),
        },
    )
    meta = {
        "ndjson": {
            "dataset": dataset,
            "dataset_line": texts[0].decode("utf-8"),
            "kpt_shape": [k, dims],
            "keypoint_names": list(layout.schema.keypoint_names),
            "classes": list(layout.schema.classes),
            "flip_idx": None
            if layout.schema.flip_indices is None
            else list(layout.schema.flip_indices),
            "root": root,
        }
    }
    arguments = {"path": str(source), "images": len(paths)}
    return Imported(data, layout.schema, meta, notes, "import_ndjson", arguments)


# -- writing ----------------------------------------------------------------------------------
def _dataset_line(
    table: Exported, meta: dict[str, Any], dims: int, out: Path, local: bool
) -> bytes:
    schema = table.schema
    k = schema.num_keypoints
    names, classes = list(schema.keypoint_names), list(schema.classes)
    flip = None if schema.flip_indices is None else list(schema.flip_indices)
    record = dict(meta.get("dataset") or {})
    same = (
        bool(record)
        and meta.get("kpt_shape") == [k, dims]
        and meta.get("keypoint_names") == names
        and meta.get("classes") == classes
        and meta.get("flip_idx") == flip
    )
    if not same:
        record.setdefault("type", "dataset")
        record["task"] = "pose"
        record.setdefault("name", table.ref.split("@")[0])
        record["class_names"] = {str(i): c for i, c in enumerate(classes)}
        record["kpt_shape"] = [k, dims]
        if flip is not None:
            record["flip_idx"] = flip
        else:
            record.pop("flip_idx", None)
        record["kpt_names"] = {"0": names}
    root = meta.get("root")
    if local:
        record["path"] = "."
    elif root:  # keep pointing at the images from where the file is written now
        record["path"] = os.path.relpath(root, out.parent)
    if same and record == meta.get("dataset"):
        return str(meta.get("dataset_line") or "").encode()
    return orjson.dumps(record)


def _originals(sources: list[Any], counts: np.ndarray, width: int) -> np.ndarray:
    """(T, width) the file's values of each table instance, NaN where the row's record no
    longer lines up with the table (another instance count, no record)."""
    out = np.full((int(counts.sum()), width), np.nan)
    start = 0
    for record, count in zip(sources, counts.tolist(), strict=True):
        pose = ((record or {}).get("annotations") or {}).get("pose") if record else None
        if isinstance(pose, list) and len(pose) == count and count:
            try:
                block = np.array(pose, dtype=np.float64)
            except (TypeError, ValueError):
                block = None
            if block is not None and block.shape == (count, width):
                out[start : start + count] = block
        start += count
    return out


def _place_images(
    images: list[str], splits: list[str], files: list[str], out: Path, mode: str
) -> None:
    for image, split, file in zip(images, splits, files, strict=True):
        target = out.parent / "images" / split / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            continue
        if not Path(image).is_file():
            raise UnsupportedError(f"image {image} is not a local file: cannot {mode} it")
        if mode == "copy":
            shutil.copy2(image, target)
        else:
            target.symlink_to(Path(image).absolute())


def write_ndjson(
    table: Exported,
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    image_mode: str = "none",
) -> Path:
    """Write an Ultralytics NDJSON pose dataset (see the module docstring).

    Records read from NDJSON are written back as they were while the table's values are
    unchanged (each number the table still holds is the file's own); other rows get a new
    record (``file`` the image's base name).

    Args:
        table: the revision to write.
        path: the ``.ndjson`` file.
        split: the split of rows without a ``split`` column value.
        image_mode: ``"none"`` (labels only; a local dataset's ``path`` is rewritten to
            point at its images from the new place), or ``"symlink"`` / ``"copy"`` the
            images to ``images/<split>/<file>`` beside the file with ``path: "."``, the
            layout Ultralytics' converter reads offline.

    Raises:
        UnsupportedError: what the file cannot hold (visibility 1 in a ``[K, 2]`` layout).

    Returns:
        The file written.
    """
    if image_mode not in IMAGE_MODES:
        raise UnsupportedError(f"image_mode must be one of {IMAGE_MODES}, got {image_mode!r}")
    out = as_path(path)
    meta = dict(table.metadata.get("ndjson") or {})
    schema = table.schema
    k = schema.num_keypoints
    shape = meta.get("kpt_shape") or [k, 3]
    dims = int(shape[1]) if shape[0] == k else 3
    flat = table.flat()
    vis = flat.visibilities
    if dims == 2 and (vis == 1).any():
        raise UnsupportedError(
            f"{table.ref}: {int((vis == 1).sum())} points have visibility 1, which kpt_shape "
            f"[{k}, 2] cannot hold; set them to 2 or 0 first"
        )
    m = table.data.num_rows
    images = [str(i) for i in (table.column("image") or [])]
    sources_text = table.column(SOURCE_COLUMN) or [None] * m
    sources = [orjson.loads(s) if s else None for s in sources_text]
    split_column = table.column("split") or [None] * m
    splits = [
        str(s) if s else (r or {}).get("split") or split
        for s, r in zip(split_column, sources, strict=True)
    ]
    fallback = unique_names([os.path.basename(i) for i in images])
    files = [str((r or {}).get("file") or f) for r, f in zip(sources, fallback, strict=True)]
    widths = flat.widths.astype(np.int64)
    heights = flat.heights.astype(np.int64)
    counts = flat.counts.astype(np.int64)
    w = np.repeat(widths, counts).astype(np.float64)
    h = np.repeat(heights, counts).astype(np.float64)
    width = 5 + k * dims
    original = _originals(sources, counts, width)
    seen_boxes, seen_points, _ = _pixels(np.nan_to_num(original), w, h, k, dims)
    values = np.empty((len(w), width))
    values[:, 0] = flat.labels
    box = flat.boxes
    fresh_box = np.stack(
        [(box[:, 0] + box[:, 2]) / 2 / w, (box[:, 1] + box[:, 3]) / 2 / h,
         (box[:, 2] - box[:, 0]) / w, (box[:, 3] - box[:, 1]) / h], axis=1
    )  # fmt: skip
    same_box = (seen_boxes == box).all(axis=1) & ~np.isnan(original[:, 1:5]).any(axis=1)
    values[:, 1:5] = np.where(same_box[:, None], original[:, 1:5], fresh_box)
    points = values[:, 5:].reshape(-1, k, dims)
    kp = flat.keypoints
    if dims == 2:  # the YOLO rule: an unlabeled point is written 0 0
        kp = np.where((vis == 0)[..., None], 0.0, kp)
    scale = np.stack([w, h], axis=1)[:, None, :]
    orig_points = original[:, 5:].reshape(-1, k, dims)
    points[..., :2] = reuse(orig_points[..., :2], seen_points, kp, kp / scale)
    if dims == 3:
        points[..., 2] = vis
    rows = np.split(values, np.cumsum(counts)[:-1]) if m else []
    lines = [_dataset_line(table, meta, dims, out, image_mode != "none")]
    integer = [0] + ([5 + 3 * j + 2 for j in range(k)] if dims == 3 else [])
    for r in range(m):
        block = rows[r].astype(object)
        for c in integer:
            block[:, c] = [int(v) for v in rows[r][:, c]]
        record = dict(sources[r] or {"type": "image"})
        record["file"] = files[r]
        record["width"], record["height"] = int(widths[r]), int(heights[r])
        record["split"] = splits[r]
        if not sources[r] and not images[r].startswith(("/", ".")) and "://" in images[r]:
            record["url"] = images[r]
        annotations = dict(record.get("annotations") or {})
        annotations["pose"] = block.tolist()
        record["annotations"] = annotations
        if sources[r] is not None and record == sources[r]:
            lines.append(str(sources_text[r]).encode())
        else:
            lines.append(orjson.dumps(record))
    if image_mode != "none":
        _place_images(images, splits, files, out, image_mode)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out
