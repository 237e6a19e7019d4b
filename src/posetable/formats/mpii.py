"""MPII Human Pose: the official ``.mat`` (via scipy) and mmpose's JSON layout.

Two files carry MPII's labels:

* the official ``mpii_human_pose_v1_u12_1.mat`` (``RELEASE``: ``annolist(i).image.name``,
  ``annolist(i).annorect(j)`` with the head box ``x1, y1, x2, y2``, ``scale``, ``objpos``
  and ``annopoints.point`` = ``id, x, y, is_visible``; ``img_train``, ``single_person``,
  ``act``, ``video_list``). Read with scipy (``pip install "posetable[mpii]"``).
* mmpose's (and HRNet's) JSON: a list of people with ``image``, ``joints`` (16 x [x, y]),
  ``joints_vis`` (0/1), ``center`` and ``scale``.

Where each part goes:

* **Rows**: one per image, in file order (the ``.mat``: every ``annolist`` entry; the
  JSON: images in order of first appearance). ``image`` is the path under
  ``image_folder`` (default: the file's folder); ``width``/``height`` from the image
  header, or ``image_size=`` for images not at hand. From the ``.mat`` also ``img_train``
  (int64), ``act_cat``, ``act_name`` (string), ``act_id``, ``vididx`` and ``frame_sec``
  (int64, -1 when absent).
* **Instances**: one per person (``.mat``: every ``annorect``, also those without points,
  as the test images have), K=16 in MPII's joint order (``id`` 0 = right ankle ... 15 =
  left wrist). Visibility: a point the file lists is labeled; ``is_visible`` 0 makes it
  v=1, 1 (or empty) v=2; an unlisted joint is v=0. ``joints_vis`` 1 is v=2, 0 is v=0 (its
  x, y kept). Coordinates are the file's (MATLAB's 1-based pixels, as mmpose's JSON keeps
  them). Extras: ``scale`` (float), ``center`` (JSON ``[x, y]``) or ``objpos`` and
  ``head_box`` (``[x1, y1, x2, y2]``) and ``single_person`` (bool) from the ``.mat``;
  ``mpii_order`` (the record's position) and ``mpii_fields`` (other JSON fields, as text).
* **Schema**: MPII's names, skeleton and flip indices (:data:`posetable.layouts.MPII16`)
  and no OKS sigmas unless ``oks_sigmas=`` gives them: MPII evaluates PCKh and publishes
  none (mmpose's are COCO's moved onto MPII's joints, not measured), so metrics use a
  uniform ``1/K`` and ``posetable check`` says so (``sigmas_missing``), with how to
  estimate them from two annotations (:func:`posetable.estimate_sigmas`).

Export (:func:`write_mpii`) writes mmpose's JSON layout (byte for byte what mmpose wrote,
for a table read from such a file); writing ``.mat`` is not supported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pyarrow as pa

from posetable._arrow import keypoints_column
from posetable.errors import FormatError, UnsupportedError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_sizes_or_given
from posetable.formats._imported import Exported, Imported, as_path, require, rows_table
from posetable.formats._json import BadValue, NumberLists, check_text, number_lists, read_bytes
from posetable.formats._notes import Notes, count_text, first_few
from posetable.layouts import MPII16
from posetable.schema import Keypoints2DSchema

__all__ = ["read_mpii", "write_mpii"]

K = MPII16.num_keypoints
JSON_KEYS = ["joints_vis", "joints", "image", "scale", "center"]
_RECORDS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])


def mpii_schema(oks_sigmas: Any = None) -> Keypoints2DSchema:
    """MPII's 16-joint schema (names, skeleton, flip indices; sigmas only when given).

    Raises:
        SchemaError: ``oks_sigmas`` that are not 16 positive numbers.

    Example:
        >>> mpii_schema().keypoint_names[:3], mpii_schema().oks_sigmas_source
        (('right_ankle', 'right_knee', 'right_hip'), 'uniform 1/K')
        >>> mpii_schema([0.05] * 16).oks_sigmas_source
        'user'
    """
    return Keypoints2DSchema(
        keypoint_names=MPII16.keypoint_names,
        lines=MPII16.line_indices,
        flip_indices=MPII16.flip_indices,
        oks_sigmas=oks_sigmas,
        classes=("person",),
    )


# -- mmpose JSON ------------------------------------------------------------------------------
def _flat(raws: list[msgspec.Raw], path: Path, what: str) -> NumberLists:
    """``[[x, y], ...]`` of every record as one flat number list (inner brackets dropped)."""
    flattened = [
        msgspec.Raw(b"[" + bytes(r).replace(b"[", b"").replace(b"]", b"").strip() + b"]")
        for r in raws
    ]
    try:
        return number_lists(flattened)
    except BadValue as exc:
        raise FormatError(f"record {exc.index}: {what!r} {exc.text}", path=path) from None


def _number_kind(col: NumberLists) -> str:
    """How the file wrote the whole numbers of a field: ``"float"`` (``804.0``) or ``"int"``.

    A file that wrote them both ways is written back with floats (noted on import).
    """
    whole = np.mod(col.flat, 1) == 0
    floats = col.float_whole if col.float_whole is not None else np.zeros_like(whole)
    if whole.any() and not floats[whole].any():
        return "int"
    return "float" if floats[whole].all() else "mixed"


def _read_json(path: Path, notes: Notes) -> dict[str, Any]:
    raw = read_bytes(path, "MPII JSON file")
    check_text(path, raw)
    try:
        records = _RECORDS.decode(raw)
    except msgspec.MsgspecError as exc:
        raise FormatError(
            f"an MPII JSON file (mmpose's layout) is a list of people objects: {exc}", path=path
        ) from None
    t = len(records)
    for key in ("image", "joints", "joints_vis"):
        lacking = [i for i, r in enumerate(records) if key not in r]
        if lacking:
            raise FormatError(
                f"record {lacking[0]} has no {key!r} ({count_text(len(lacking), 'record')} lack "
                f"it); mmpose's MPII layout has {JSON_KEYS}",
                path=path,
            )
    images = orjson.loads(b"[" + b",".join(bytes(r["image"]) for r in records) + b"]")
    bad = [i for i, v in enumerate(images) if not isinstance(v, str) or not v]
    if bad:
        raise FormatError(f"record {bad[0]}: 'image' must be a file name", path=path)
    joints = _flat([r["joints"] for r in records], path, "joints")
    vis = _flat([r["joints_vis"] for r in records], path, "joints_vis")
    for name, col, size in (("joints", joints, 2 * K), ("joints_vis", vis, K)):
        wrong = np.flatnonzero(col.lengths != size)
        if wrong.size:
            i = int(wrong[0])
            raise FormatError(
                f"record {i} ({images[i]}): {name!r} must hold {size} values for MPII's "
                f"{K} joints, found {int(col.lengths[i])}",
                path=path,
            )
    flags = vis.flat.reshape(t, K)
    odd = ~np.isin(flags, (0, 1))
    if odd.any():
        i, j = (int(v) for v in np.argwhere(odd)[0])
        raise FormatError(
            f"record {i} ({images[i]}): joints_vis must be 0 or 1, found {flags[i, j]!r} for "
            f"joint {j} ({MPII16.keypoint_names[j]!r})",
            path=path,
        )
    scale_raw = [r.get("scale") for r in records]
    scale = np.full(t, np.nan)
    has_scale = np.array([s is not None for s in scale_raw], dtype=bool)
    if has_scale.any():
        decoded = orjson.loads(
            b"[" + b",".join(bytes(s) for s in scale_raw if s is not None) + b"]"
        )
        scale[has_scale] = np.asarray(decoded, dtype=np.float64)
    center = _json_values([r.get("center") for r in records])
    kinds = {"joints": _number_kind(joints), "joints_vis": _number_kind(vis), "scale": "float"}
    mixed = [name for name, kind in kinds.items() if kind == "mixed"]
    if mixed:
        notes.add(
            f"{' and '.join(mixed)}: whole numbers written both as ints and as floats; export "
            "writes them as floats"
        )
    rest = [
        {key: value for key, value in r.items() if key not in JSON_KEYS} for r in records
    ]  # fields mmpose's layout does not name (kept as text)
    fields = np.array(
        [
            orjson.dumps({k: orjson.Fragment(bytes(v)) for k, v in r.items()}).decode() if r else ""
            for r in rest
        ],
        dtype=object,
    )
    return {
        "names": images,
        "points": joints.flat.reshape(t, K, 2),
        "vis": np.where(flags > 0, 2, 0).astype(np.int32),
        "extras": {
            "scale": scale,
            "center": center,
            "mpii_order": np.arange(t, dtype=np.int64),
            "mpii_fields": fields,
        },
        "meta": {
            "kind": "json",
            "keys": list(records[0]) if records else JSON_KEYS,
            "number_kinds": kinds,
            "trailing_newline": raw.endswith(b"\n"),
        },
        "rows": {},
    }


def _json_values(raws: list[Any]) -> np.ndarray:
    out = np.empty(len(raws), dtype=object)
    present = [i for i, r in enumerate(raws) if r is not None]
    if present:
        decoded = orjson.loads(b"[" + b",".join(bytes(raws[i]) for i in present) + b"]")
        for i, value in zip(present, decoded, strict=True):
            out[i] = value
    return out


# -- the official .mat ----------------------------------------------------------------------
def _items(value: Any) -> list[Any]:
    """A MATLAB struct array / cell as a list (scipy squeezes 1-element arrays away)."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return [v for v in value.ravel().tolist()] if value.size else []
    return [value]


def _number(value: Any) -> float | None:
    """A MATLAB scalar (number, numeric string, or empty) as a float, or None."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.ravel()[0]
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return float(text.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return None


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "" if value.size == 0 else str(value.ravel()[0])
    return "" if value is None else str(value)


def _read_mat(path: Path, notes: Notes) -> dict[str, Any]:
    io = require("scipy.io", "mpii", "reading MPII's .mat annotations")
    try:
        mat = io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise FormatError(f"not a MATLAB .mat file scipy can read: {exc}", path=path) from None
    release = mat.get("RELEASE")
    if release is None or not hasattr(release, "annolist"):
        raise FormatError(
            f"expected the MPII 'RELEASE' struct with 'annolist', found variables "
            f"{sorted(k for k in mat if not k.startswith('__'))}",
            path=path,
        )
    annolist = _items(release.annolist)
    m = len(annolist)
    img_train = np.full(m, -1, np.int64)
    given = _items(getattr(release, "img_train", None))
    if given:
        img_train[: len(given)] = np.asarray([_number(g) or 0 for g in given], np.int64)
    acts = _items(getattr(release, "act", None))
    singles = _items(getattr(release, "single_person", None))
    video_list = [_text(v) for v in _items(getattr(release, "video_list", None))]
    names: list[str] = []
    counts = np.zeros(m, np.int64)
    points: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    head, scale, objpos, single = [], [], [], []
    empty_visible = 0
    row_cols: dict[str, list[Any]] = {k: [] for k in ("act_cat", "act_name")}
    act_id = np.full(m, -1, np.int64)
    vididx = np.full(m, -1, np.int64)
    frame_sec = np.full(m, -1, np.int64)
    for i, entry in enumerate(annolist):  # nested MATLAB structs: scipy gives one object each
        image = getattr(entry, "image", None)
        name = _text(getattr(image, "name", ""))
        if not name:
            raise FormatError(f"annolist({i + 1}) has no image.name", path=path)
        names.append(name)
        chosen = (
            {int(n) for n in (_number(s) for s in _items(singles[i])) if n}
            if i < len(singles)
            else set()
        )
        rects = _items(getattr(entry, "annorect", None))
        counts[i] = len(rects)
        for j, rect in enumerate(rects):
            fields = set(getattr(rect, "_fieldnames", []))
            pts = np.zeros((K, 2))
            v = np.zeros(K, np.int32)
            annopoints = getattr(rect, "annopoints", None) if "annopoints" in fields else None
            for p in _items(getattr(annopoints, "point", None)) if annopoints is not None else []:
                pid = _number(getattr(p, "id", None))
                if pid is None or not 0 <= pid < K or pid != int(pid):
                    raise FormatError(
                        f"annolist({i + 1}).annorect({j + 1}) ({name}): a point has id "
                        f"{getattr(p, 'id', None)!r}; MPII's joint ids are 0..{K - 1}",
                        path=path,
                    )
                x, y = _number(getattr(p, "x", None)), _number(getattr(p, "y", None))
                if x is None or y is None:
                    raise FormatError(
                        f"annolist({i + 1}).annorect({j + 1}) ({name}): joint {int(pid)} has no "
                        "numeric x, y",
                        path=path,
                    )
                shown = _number(getattr(p, "is_visible", None))
                empty_visible += shown is None
                pts[int(pid)] = (x, y)
                v[int(pid)] = 1 if shown == 0 else 2
            points.append(pts)
            vis.append(v)
            box = [_number(getattr(rect, key, None)) for key in ("x1", "y1", "x2", "y2")]
            head.append(box if all(b is not None for b in box) else None)
            s = _number(getattr(rect, "scale", None)) if "scale" in fields else None
            scale.append(np.nan if s is None else s)
            pos = getattr(rect, "objpos", None) if "objpos" in fields else None
            xy = [_number(getattr(pos, "x", None)), _number(getattr(pos, "y", None))]
            objpos.append(xy if pos is not None and None not in xy else None)
            single.append(j + 1 in chosen)
        act = acts[i] if i < len(acts) else None
        row_cols["act_cat"].append(_text(getattr(act, "cat_name", "")))
        row_cols["act_name"].append(_text(getattr(act, "act_name", "")))
        ident = _number(getattr(act, "act_id", None))
        act_id[i] = -1 if ident is None else int(ident)
        vid = _number(getattr(entry, "vididx", None))
        vididx[i] = -1 if vid is None else int(vid)
        sec = _number(getattr(entry, "frame_sec", None))
        frame_sec[i] = -1 if sec is None else int(sec)
    if empty_visible:
        notes.add(
            f"{count_text(empty_visible, 'labeled joint')} have an empty is_visible: read as "
            "visible (v=2)"
        )
    t = int(counts.sum())
    return {
        "names": names,
        "counts": counts,
        "points": np.array(points, dtype=np.float64).reshape(t, K, 2),
        "vis": np.array(vis, dtype=np.int32).reshape(t, K),
        "extras": {
            "scale": np.asarray(scale, dtype=np.float64),
            "objpos": _object(objpos),
            "head_box": _object(head),
            "single_person": np.asarray(single, dtype=bool),
            "mpii_order": np.arange(t, dtype=np.int64),
        },
        "meta": {"kind": "mat", "video_list": video_list},
        "rows": {
            "img_train": pa.array(img_train, pa.int64()),
            "act_cat": pa.array(row_cols["act_cat"], pa.string()),
            "act_name": pa.array(row_cols["act_name"], pa.string()),
            "act_id": pa.array(act_id, pa.int64()),
            "vididx": pa.array(vididx, pa.int64()),
            "frame_sec": pa.array(frame_sec, pa.int64()),
        },
    }


def _object(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# -- reading ---------------------------------------------------------------------------------


def read_mpii(
    path: str | os.PathLike[str],
    *,
    image_folder: str | os.PathLike[str] | None = None,
    image_size: tuple[int, int] | None = None,
    oks_sigmas: Any = None,
) -> Imported:
    """Read MPII annotations (``.mat`` or mmpose's ``.json``; see the module docstring).

    Args:
        path: ``mpii_human_pose_v1_u12_1.mat`` (or a ``.mat`` of the same layout) or an
            MPII JSON file in mmpose's layout.
        image_folder: the folder holding the images (default: the file's folder).
        image_size: ``(width, height)`` for images that are not at hand.
        oks_sigmas: the 16 joints' OKS sigmas, if you have them (for instance from
            :func:`posetable.estimate_sigmas`); default none (uniform ``1/K``): MPII
            publishes none.

    Raises:
        FormatError: a file that does not follow either layout (names the record).
        SchemaError: ``oks_sigmas`` that are not 16 positive numbers (before reading).
        MissingFileError: the file, or an image without ``image_size``, is missing.
        MissingDependencyError: a ``.mat`` without scipy installed.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_mpii(data_path("mpii") / "test_mpii.json")
        >>> imported.data.num_rows, imported.schema.num_keypoints
        (5, 16)
    """
    source = as_path(path)
    schema = mpii_schema(oks_sigmas)
    if not source.is_file():
        raise MissingFileError(f"{source}: no such MPII file")
    notes = Notes(source)
    decoded = (
        _read_mat(source, notes) if source.suffix.lower() == ".mat" else _read_json(source, notes)
    )
    folder = as_path(image_folder) if image_folder is not None else source.parent
    prefix = str(folder).rstrip("/") + "/"
    if "counts" in decoded:  # .mat: rows are the annolist entries, instances in order
        names = decoded["names"]
        counts = decoded["counts"]
        order = np.arange(int(counts.sum()))
    else:  # JSON: people grouped by image, images in order of first appearance
        people = np.array(decoded["names"], dtype=object)
        unique, first, inverse = np.unique(people, return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
        row_of = rank[inverse]
        order = np.argsort(row_of, kind="stable")
        names = [str(n) for n in unique[np.argsort(first, kind="stable")]]
        counts = np.bincount(row_of, minlength=len(names))
    images = [prefix + n for n in names]
    widths, heights = image_sizes_or_given(
        images,
        image_size,
        notes,
        hint="pass image_folder= (the images' folder) or image_size=(width, height) to give "
        "their size",
    )
    extras = {key: values[order] for key, values in decoded["extras"].items()}
    types = {
        "scale": pa.float64(),
        "mpii_order": pa.int64(),
        "mpii_fields": pa.string(),
        "single_person": pa.bool_(),
    }
    column = keypoints_column(
        counts,
        decoded["points"][order],
        widths=widths,
        heights=heights,
        visibilities=decoded["vis"][order],
        extras=extras,
        extra_types={k: v for k, v in types.items() if k in extras},
        num_keypoints=K,
    )
    data = rows_table(
        images,
        widths,
        heights,
        column,
        {"mpii_image": pa.array(names, pa.string()), **decoded["rows"]},
    )
    meta = {
        "mpii": {**decoded["meta"], "source": str(source)},
        "image_roots": [str(folder)],
    }
    arguments: dict[str, Any] = {"path": str(source), "kind": decoded["meta"]["kind"]}
    if schema.oks_sigmas_given:
        arguments["oks_sigmas"] = list(schema.oks_sigmas)
    return Imported(data, schema, meta, notes, "import_mpii", arguments)


# -- writing ---------------------------------------------------------------------------------
def _as_number(value: float, kind: str) -> float | int:
    if kind == "int" and float(value).is_integer():
        return int(value)
    return float(value)


def write_mpii(table: Exported, path: str | os.PathLike[str]) -> Path:
    """Write MPII annotations in mmpose's JSON layout (one record per person).

    A table read from such a JSON gives back the same file (byte for byte). Any other MPII
    table (from the ``.mat``, or mapped to MPII's 16 joints) gets ``center`` from its
    ``center`` or ``objpos`` extra (else the box centre) and ``scale`` from its ``scale``
    extra (else the box height / 200, MPII's rule). Visibility 1 (occluded) is written as
    ``joints_vis`` 1 with a warning: the layout cannot say it.

    Raises:
        UnsupportedError: a ``.mat`` target, or a table whose keypoints are not MPII's.

    Returns:
        The file written.
    """
    target = as_path(path)
    if target.suffix.lower() == ".mat":
        raise UnsupportedError(
            f"{target}: writing MPII's .mat is not supported; write a .json (mmpose's layout)"
        )
    if tuple(table.schema.keypoint_names) != MPII16.keypoint_names:
        raise UnsupportedError(
            f"{table.ref}: mmpose's MPII layout holds MPII's 16 joints "
            f"({first_few(MPII16.keypoint_names)}), the table has K={table.schema.num_keypoints} "
            f"({first_few(table.schema.keypoint_names)}); map the keypoints first"
        )
    meta = dict(table.metadata.get("mpii") or {})
    kinds = dict(meta.get("number_kinds") or {"joints": "float", "joints_vis": "int"})
    flat = table.flat()
    t = len(flat.keypoints)
    rows = np.repeat(np.arange(len(flat.counts)), flat.counts)
    names = table.column("mpii_image") or [Path(p).name for p in table.column("image") or []]
    vis = flat.visibilities
    notes = Notes(target)
    occluded = int((vis == 1).sum())
    if occluded:
        notes.add(
            f"{count_text(occluded, 'point')} with visibility 1 (labeled, occluded) are written "
            "as joints_vis 1: mmpose's MPII layout has no occlusion flag"
        )

    def extra(name: str) -> tuple[np.ndarray | None, np.ndarray]:
        found = flat.extras.get(name)
        if found is None:
            return None, np.ones(t, bool)
        return np.asarray(found[0]), np.repeat(found[1], flat.counts)

    scale, scale_missing = extra("scale")
    center, center_missing = extra("center")
    objpos, objpos_missing = extra("objpos")
    order, order_missing = extra("mpii_order")
    fields, fields_missing = extra("mpii_fields")
    boxes = flat.boxes
    labeled = (vis > 0).any(axis=1)
    keep = labeled | (~center_missing if center is not None else np.zeros(t, bool))
    skipped = int((~keep).sum())
    if skipped:
        notes.add(
            f"{count_text(skipped, 'person')} without labeled joints (MPII's test people) "
            "are not written: mmpose's layout lists labeled people"
        )
    joints = flat.keypoints
    keys = list(meta.get("keys") or JSON_KEYS)
    records: list[tuple[int, dict[str, Any]]] = []
    for i in np.flatnonzero(keep).tolist():
        record: dict[str, Any] = {}
        if fields is not None and not fields_missing[i] and fields[i]:
            record.update(json.loads(fields[i]))
        record["joints_vis"] = [
            _as_number(v, kinds.get("joints_vis", "int")) for v in (vis[i] > 0).astype(int)
        ]
        record["joints"] = [
            [
                _as_number(x, kinds.get("joints", "float")),
                _as_number(y, kinds.get("joints", "float")),
            ]
            for x, y in joints[i].tolist()
        ]
        record["image"] = names[rows[i]]
        if scale is not None and not scale_missing[i] and np.isfinite(scale[i]):
            record["scale"] = float(scale[i])
        else:
            record["scale"] = float(boxes[i, 3] - boxes[i, 1]) / 200.0
        if center is not None and not center_missing[i] and center[i] is not None:
            record["center"] = center[i]
        elif objpos is not None and not objpos_missing[i] and objpos[i] is not None:
            record["center"] = [float(v) for v in objpos[i]]
        else:
            record["center"] = [
                float(boxes[i, 0] + boxes[i, 2]) / 2,
                float(boxes[i, 1] + boxes[i, 3]) / 2,
            ]
        ordered = {key: record[key] for key in keys if key in record}
        ordered.update({key: value for key, value in record.items() if key not in ordered})
        position = int(order[i]) if order is not None and not order_missing[i] else -1
        records.append((position, ordered))
    big = 1 << 62
    records.sort(key=lambda item: item[0] if item[0] >= 0 else big)
    text = json.dumps([r for _, r in records], indent=4)
    if meta.get("trailing_newline", True):
        text += "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)
    notes.emit(stacklevel=3)
    return target
