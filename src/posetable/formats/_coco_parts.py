"""COCO-WholeBody's part fields as one keypoint set, Halpe files that name no keypoints,
and integer annotation fields (PoseTrack's ``track_id``) lifted into instance extras.

``Table.from_coco(path, merge_parts=True)`` reads COCO-WholeBody's ``foot_kpts`` (6),
``face_kpts`` (68), ``lefthand_kpts`` (21) and ``righthand_kpts`` (21) after the 17 body
``keypoints``, in the official order (body, foot, face, left hand, right hand), as ONE K=133
keypoint set with COCO-WholeBody's names, skeleton and sigmas. Each part's ``<part>_valid``
and ``<part>_box`` become instance extras of the same names. ``metadata["coco"]["parts"]``
lists the fields and their sizes, so export splits the points back into the part fields
(number types kept per field) and the file comes back as it was.

A file whose keypoint category lists no names (``"keypoints": []``, as Halpe's files have)
but whose annotations hold a known layout's points (Halpe-136, or an already merged
COCO-WholeBody-133) imports with that layout's names, skeleton, flip indices and sigmas;
export writes the category back as the file had it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import msgspec
import numpy as np
import orjson
from msgspec import Raw

from posetable.errors import FormatError
from posetable.formats._coco_schema import CocoSchema
from posetable.formats._coco_values import Reader
from posetable.formats._notes import Notes, count_text, number_text
from posetable.formats._records import Section
from posetable.layouts import COCO_WHOLEBODY, HALPE136, Layout

#: COCO-WholeBody's part fields, in the order they follow the 17 body points.
WHOLEBODY_PARTS = (
    ("foot_kpts", 6),
    ("face_kpts", 68),
    ("lefthand_kpts", 21),
    ("righthand_kpts", 21),
)
BODY = COCO_WHOLEBODY.num_keypoints - sum(size for _, size in WHOLEBODY_PARTS)  # 17
_BY_SIZE = {HALPE136.num_keypoints: HALPE136, COCO_WHOLEBODY.num_keypoints: COCO_WHOLEBODY}
_FIRST = msgspec.json.Decoder(list[dict[str, Raw]])


@dataclass(frozen=True)
class PartPlan:
    """How a file's keypoints are laid out before the schema is built.

    Attributes:
        categories: the categories the schema is built from (names filled in for a
            category that lists none; the file's own are kept for export).
        layout: the known layout applied (names, lines, flip indices, sigmas), or None.
        parts: ``(field, size)`` of the part fields merged after ``keypoints`` (empty
            unless ``merge_parts=True``).
    """

    categories: Any
    layout: Layout | None = None
    parts: tuple[tuple[str, int], ...] = ()

    def apply(self, coco: CocoSchema) -> CocoSchema:
        """The schema with the layout's skeleton (the file's own is written back on export)."""
        if self.layout is None:
            return coco
        lines = self.layout.line_indices
        return replace(coco, schema=coco.schema.replace(lines=lines), lines=lines)


def plan_parts(
    categories: Any, annotations: Raw | None, *, merge_parts: bool, path: object, notes: Notes
) -> PartPlan:
    """Decide the layout (see the module docstring); errors name the file and category."""
    if not isinstance(categories, list):
        return PartPlan(categories)  # coco_schema reports it
    named = [c for c in categories if isinstance(c, dict) and c.get("keypoints")]
    if merge_parts:
        return _wholebody(categories, named, path, notes)
    if named or annotations is None:
        return PartPlan(categories)
    empty = [c for c in categories if isinstance(c, dict) and c.get("keypoints") == []]
    length = _first_keypoints_length(annotations)
    layout = _BY_SIZE.get(length // 3) if length % 3 == 0 else None
    if not empty or layout is None:
        return PartPlan(categories)
    patched = [
        dict(c, keypoints=list(layout.keypoint_names)) if c in empty else c for c in categories
    ]
    notes.add(
        f"category {empty[0].get('name')!r} lists no keypoint names, and its annotations hold "
        f"{layout.num_keypoints} points: read as the {layout.name} layout (its names, skeleton, "
        "flip indices and OKS sigmas); export writes the category back as the file had it"
    )
    return PartPlan(patched, layout)


def _wholebody(
    categories: list[Any], named: list[dict[str, Any]], path: object, notes: Notes
) -> PartPlan:
    body = list(COCO_WHOLEBODY.keypoint_names[:BODY])
    fitting = [c for c in named if list(c["keypoints"]) == body]
    if not fitting:
        found = "; ".join(f"{c.get('name')!r}: K={len(c['keypoints'])}" for c in named[:4])
        raise FormatError(
            "merge_parts=True merges COCO-WholeBody's part fields after the 17 COCO body "
            f"keypoints, but no keypoint category has those 17 names ({found or 'none'}); "
            "import without merge_parts",
            path=path,
        )
    patched = [
        dict(c, keypoints=list(COCO_WHOLEBODY.keypoint_names)) if c in fitting else c
        for c in categories
    ]
    notes.add(
        "merge_parts=True: body, foot, face, left and right hand points read as one K=133 "
        "COCO-WholeBody keypoint set with its names, skeleton and OKS sigmas (export writes "
        "the part fields and the category back as the file had them)"
    )
    return PartPlan(patched, COCO_WHOLEBODY, WHOLEBODY_PARTS)


def _first_keypoints_length(annotations: Raw) -> int:
    """The number of values in the first annotation's ``keypoints`` (0 when unknown)."""
    try:
        records = _FIRST.decode(annotations)
    except msgspec.MsgspecError:
        return 0
    if not records or "keypoints" not in records[0]:
        return 0
    try:
        values = orjson.loads(bytes(records[0]["keypoints"]))
    except orjson.JSONDecodeError:
        return 0
    return len(values) if isinstance(values, list) else 0


def merged_keypoints(
    reader: Reader,
    anns: Section,
    sub: np.ndarray | None,
    parts: tuple[tuple[str, int], ...],
    names: tuple[str, ...],
    notes: Notes,
) -> tuple[np.ndarray, np.ndarray, dict[int, dict[str, Any]]]:
    """Body ``keypoints`` then each part field, as (T, K, 2) points and (T, K) visibility.

    Returns the points, the visibilities and, per instance that needs it, the number types
    of each field (``{"face_kpts": "float"}`` or the indices of whole numbers written as
    floats), which export gives back field by field. COCO-WholeBody's hands and faces
    sometimes carry a score in (0, 2) instead of a visibility: such a point is visible
    (v=2, as COCO-WholeBody's evaluation counts every v > 0) and its score is kept under
    ``"scores"`` (``{field: [[point, score], ...]}``) for export.
    """
    k_body = len(names) - sum(size for _, size in parts)
    fields = (("keypoints", k_body), *parts)
    points: list[np.ndarray] = []
    flags: dict[int, dict[str, Any]] = {}
    scored: dict[str, int] = {}
    start = 0
    for field, size in fields:
        col = reader.batched_lists(anns, field, sub)  # no Python number per value
        t = len(col.present)

        def at(j: int) -> int:
            return j if sub is None else int(sub[j])

        if not col.present.all():
            i = at(int(np.flatnonzero(~col.present)[0]))
            lacking = count_text(int((~col.present).sum()), "annotation")
            raise reader.error(
                f"{anns.name(i)} has no {field!r} ({lacking} lack it); merge_parts=True needs "
                "every annotation of the keypoint category to have COCO-WholeBody's part "
                "fields: import without merge_parts to keep them as extra fields",
                anns,
                i,
            )
        wrong = col.lengths != 3 * size
        if wrong.any():
            j = int(np.flatnonzero(wrong)[0])
            raise reader.error(
                f"{anns.name(at(j))}: {field!r} must hold 3 x {size} = {3 * size} values (x, y, v "
                f"for keypoints {start}..{start + size - 1}: {names[start]!r}...), found "
                f"{int(col.lengths[j])}",
                anns,
                at(j),
            )
        values = col.flat.reshape(t, size, 3)
        raw_v = values[..., 2]
        odd = ~np.isin(raw_v, (0.0, 1.0, 2.0))
        bad = odd & ~((raw_v > 0) & (raw_v < 2))
        if bad.any() or (odd.any() and field == "keypoints"):
            j, p = (int(v) for v in np.argwhere(bad if bad.any() else odd)[0])
            raise reader.error(
                f"{anns.name(at(j))}: visibility must be 0, 1 or 2 (or a part point's score in "
                f"(0, 2)), found {number_text(raw_v[j, p])} in {field!r} for keypoint "
                f"{start + p} ({names[start + p]!r})",
                anns,
                at(j),
            )
        if odd.any():
            for j in np.flatnonzero(odd.any(axis=1)).tolist():
                where = np.flatnonzero(odd[j])
                kept = [[int(p), float(raw_v[j, p])] for p in where.tolist()]
                flags.setdefault(j, {}).setdefault("scores", {})[field] = kept
            scored[field] = int(odd.sum())
            values = values.copy()
            values[..., 2] = np.where(odd, 2.0, raw_v)
        points.append(values)
        if col.float_whole is not None:
            float_whole = col.float_whole.reshape(t, 3 * size)
            wholes = (np.mod(col.flat, 1) == 0).reshape(t, 3 * size).sum(axis=1)
            flagged = float_whole.sum(axis=1)
            for j in np.flatnonzero(flagged).tolist():
                every = flagged[j] == wholes[j]
                flags.setdefault(j, {})[field] = (
                    "float" if every else np.flatnonzero(float_whole[j]).tolist()
                )
        start += size
    if scored:
        listed = ", ".join(f"{count_text(n, 'point')} in {f!r}" for f, n in scored.items())
        notes.add(
            f"{listed} carry a score in (0, 2) instead of a visibility: read as visible (v=2, "
            "as COCO-WholeBody's evaluation counts every v > 0); export writes the scores back"
        )
    values = np.concatenate(points, axis=1)
    return np.ascontiguousarray(values[..., :2]), values[..., 2].astype(np.int32), flags


def part_extras(
    anns: Section, chosen: np.ndarray, parts: tuple[tuple[str, int], ...]
) -> dict[str, np.ndarray]:
    """``<part>_valid`` and ``<part>_box`` of the chosen annotations, as instance extras.

    A field becomes an extra only when every chosen annotation has it (COCO-WholeBody
    files always do); otherwise it stays among the annotation's kept fields.
    """
    out: dict[str, np.ndarray] = {}
    rows = chosen.tolist()
    for field, _ in parts:
        part = field.removesuffix("_kpts")
        for name in (f"{part}_valid", f"{part}_box"):
            column = anns.columns.get(name)
            if column is None:
                continue
            raws = [column[i] for i in rows]
            if not all(isinstance(r, Raw) and len(r) for r in raws):
                continue
            decoded = orjson.loads(b"[" + b",".join(bytes(r) for r in raws) + b"]")
            values = np.empty(len(decoded), dtype=object)
            values[:] = decoded
            if all(isinstance(v, bool) for v in decoded):
                values = values.astype(bool)
            out[name] = values
    return out


def lift_ints(
    reader: Reader, anns: Section, chosen: np.ndarray, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Integer fields (PoseTrack's ``track_id``) of the chosen annotations as int64 extras.

    A field is lifted only when every chosen annotation has it as a JSON integer; otherwise
    it stays among the annotation's kept fields, as any other field.
    """
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in anns.columns or not chosen.size:
            continue
        try:
            col = reader.numbers(anns, name, chosen)
        except FormatError:  # text or lists: the field stays as the file wrote it
            continue
        if col.ints is None or not col.present.all() or col.written_bool.any():
            continue
        out[name] = col.ints.astype(np.int64)
    return out


def part_float_mask(privates: list[dict[str, Any]], parts: list[Any], k: int) -> np.ndarray:
    """(T, 3K) whole numbers to write as floats, from each field's recorded number types."""
    mask = np.zeros((len(privates), 3 * k), dtype=bool)
    k_body = k - sum(int(size) for _, size in parts)
    spans = [("keypoints", 0, 3 * k_body)]
    start = 3 * k_body
    for field, size in parts:
        spans.append((str(field), start, start + 3 * int(size)))
        start += 3 * int(size)
    for i, private in enumerate(privates):
        types = private.get("types")
        if not types:
            continue
        for field, begin, end in spans:
            kind = types.get(field)
            if kind == "float":
                mask[i, begin:end] = True
            elif isinstance(kind, list):
                mask[i, [begin + j for j in kind if begin + j < end]] = True
    return mask


def split_fields(
    values: list[Any], parts: list[Any], k: int, private: dict[str, Any]
) -> dict[str, list[Any]]:
    """One annotation's 3K written values cut back into ``keypoints`` and the part fields
    (with the part points' scores the file had in place of a visibility)."""
    k_body = k - sum(int(size) for _, size in parts)
    out = {"keypoints": values[: 3 * k_body]}
    start = 3 * k_body
    for field, size in parts:
        out[str(field)] = values[start : start + 3 * int(size)]
        start += 3 * int(size)
    scores = (private.get("types") or {}).get("scores") or {}
    for field, kept in scores.items():
        target = out.get(field)
        for point, score in kept:
            if target is not None and target[3 * point + 2] == 2:  # unless edited since
                target[3 * point + 2] = score
    return out


def part_defaults(
    keypoints: np.ndarray, vis: np.ndarray, parts: list[Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``(valid, [x, y, w, h] box)`` of each part for instances added after the import."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    start = keypoints.shape[1] - sum(int(size) for _, size in parts)
    for field, size in parts:
        end = start + int(size)
        labeled = vis[:, start:end] > 0
        pts = keypoints[:, start:end]
        valid = np.asarray(labeled.any(axis=1), dtype=bool)
        box = np.zeros((len(pts), 4))
        if valid.any():
            x = np.where(labeled, pts[..., 0], np.nan)
            y = np.where(labeled, pts[..., 1], np.nan)
            with np.errstate(invalid="ignore"):
                x0, y0 = np.nanmin(x[valid], axis=1), np.nanmin(y[valid], axis=1)
                x1, y1 = np.nanmax(x[valid], axis=1), np.nanmax(y[valid], axis=1)
            box[valid] = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        out[str(field).removesuffix("_kpts")] = (valid, box)
        start = end
    return out
