"""The keypoint schema of a COCO file: from its keypoint categories and the caller's options.

COCO JSON names the keypoints and the skeleton (1-based) in each keypoint category; it has
no field for OKS sigmas or flip indices. Defaults: pycocotools' COCO-17 values when the
names are COCO's; otherwise uniform ``1/K`` sigmas and flip indices derived from
``left``/``right`` name pairs, both reported in the import's warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from posetable._coco_constants import (
    COCO_FLIP_INDICES,
    COCO_KEYPOINT_DEFAULT_POSE,
    COCO_KEYPOINT_NAMES,
    COCO_OKS_SIGMAS,
    COCO_SKELETON,
    COCO_SKELETON_COLORS,
)
from posetable.errors import FormatError, SchemaError
from posetable.formats._notes import Notes, first_few
from posetable.schema import Keypoints2DSchema, flip_indices_from_names


@dataclass(frozen=True)
class CocoSchema:
    """The schema of an import and how the file's categories map to it.

    Attributes:
        schema: the table's keypoint schema.
        label_of: category id -> label (its index in the file's ``categories``).
        keypoint_ids: ids of the categories whose annotations become instances.
        skeleton_base: 1 for COCO's 1-based skeleton, 0 for a file that is 0-based.
        lines: the schema lines as imported (export writes the file's own skeleton back
            unless the schema's lines were edited since).
    """

    schema: Keypoints2DSchema
    label_of: dict[int, int]
    keypoint_ids: tuple[int, ...]
    skeleton_base: int
    lines: tuple[tuple[int, int], ...]


def _category_table(categories: Any, path: object) -> dict[int, int]:
    if not isinstance(categories, list):
        raise FormatError(
            f"'categories' must be a list of objects, found {type(categories).__name__}", path=path
        )
    label_of: dict[int, int] = {}
    for i, cat in enumerate(categories):
        if not isinstance(cat, dict):
            raise FormatError(f"categories[{i}] must be an object, found {cat!r:.60}", path=path)
        cid = cat.get("id")
        if isinstance(cid, bool) or not isinstance(cid, (int, float)) or float(cid) != int(cid):
            raise FormatError(f"categories[{i}] needs an integer 'id', found {cid!r}", path=path)
        if not isinstance(cat.get("name"), str):
            raise FormatError(
                f"categories[{i}] (id {cid}) needs a 'name' string, found {cat.get('name')!r}",
                path=path,
            )
        if int(cid) in label_of:
            raise FormatError(
                f"duplicate category id {int(cid)}: categories[{label_of[int(cid)]}] and "
                f"categories[{i}]",
                path=path,
            )
        label_of[int(cid)] = i
    return label_of


def _select(categories: list[dict[str, Any]], category: Any, path: object) -> list[dict[str, Any]]:
    keypointed = [
        c for c in categories if isinstance(c.get("keypoints"), list) and c.get("keypoints")
    ]
    described = ", ".join(
        f"{c['name']!r} (id {c['id']}, K={len(c['keypoints'])})" for c in keypointed[:8]
    )
    if not keypointed:
        raise FormatError(
            "no category has a 'keypoints' list of names, so this is not a COCO keypoints file "
            f"(categories: {first_few(repr(c['name']) for c in categories)})",
            path=path,
        )
    if category is not None:
        wanted = [category] if isinstance(category, (str, int)) else list(category)
        chosen = [c for c in keypointed if c["name"] in wanted or c["id"] in wanted]
        found = {c["name"] for c in chosen} | {c["id"] for c in chosen}
        unknown = [w for w in wanted if w not in found]
        if unknown:
            raise FormatError(
                f"category={category!r}: no keypoint category named or numbered "
                f"{first_few(repr(u) for u in unknown)}; keypoint categories: {described}",
                path=path,
            )
        keypointed = chosen
    sizes = sorted({len(c["keypoints"]) for c in keypointed})
    if len(sizes) > 1:
        by_size = "; ".join(
            f"K={k}: " + first_few(repr(c["name"]) for c in keypointed if len(c["keypoints"]) == k)
            for k in sizes
        )
        raise FormatError(
            f"the keypoint categories have different numbers of keypoints ({by_size}); one "
            "table holds one keypoint layout: import one of them with category=NAME or ID",
            path=path,
        )
    return keypointed


def _lines(
    first: dict[str, Any], k: int, path: object, notes: Notes
) -> tuple[tuple[tuple[int, int], ...], int]:
    skeleton = first.get("skeleton")
    if skeleton is None or skeleton == []:
        return (), 1
    try:
        pairs = [(int(a), int(b)) for a, b in skeleton]
        if any(float(a) != int(a) or float(b) != int(b) for a, b in skeleton):
            raise ValueError("not whole numbers")
    except (TypeError, ValueError) as exc:
        raise FormatError(
            f"category {first['name']!r}: 'skeleton' must be a list of [a, b] keypoint "
            f"numbers, found {str(skeleton)[:80]} ({exc})",
            path=path,
        ) from None
    base = 1
    if any(0 in pair for pair in pairs):
        base = 0
        notes.add(
            f"category {first['name']!r}: the skeleton uses keypoint index 0, so it is read "
            "as 0-based (COCO's is 1-based); export writes it back as the file had it"
        )
    lines = [(a - base, b - base) for a, b in pairs]
    bad = [pairs[i] for i, (a, b) in enumerate(lines) if not (0 <= a < k and 0 <= b < k)]
    if bad:
        notes.add(
            f"category {first['name']!r}: {len(bad)} skeleton line(s) name keypoints beyond "
            f"K={k} ({first_few(list(p) for p in bad)}); they are left out of the schema and "
            "export writes the file's skeleton back"
        )
        lines = [(a, b) for a, b in lines if 0 <= a < k and 0 <= b < k]
    return tuple(lines), base


def coco_schema(
    categories: Any,
    *,
    path: object,
    notes: Notes,
    category: Any = None,
    oks_sigmas: Sequence[float] | None = None,
    flip_indices: Sequence[int] | None = None,
    schema: Keypoints2DSchema | None = None,
) -> CocoSchema:
    """The schema for a COCO file's keypoint categories (see the module docstring)."""
    label_of = _category_table(categories, path)
    chosen = _select(categories, category, path)
    first = chosen[0]
    names = [str(n) for n in first["keypoints"]]
    k = len(names)
    lines, base = _lines(first, k, path, notes)
    classes = tuple(str(c["name"]) for c in categories)
    ids = tuple(int(c["id"]) for c in chosen)
    if schema is not None:
        if schema.num_keypoints != k:
            raise SchemaError(
                f"schema= has K={schema.num_keypoints} keypoints, but category "
                f"{first['name']!r} of {path} has {k}"
            )
        changes: dict[str, Any] = {"classes": classes}
        if oks_sigmas is not None:  # explicit arguments win over the schema's, never ignored
            changes["oks_sigmas"] = oks_sigmas
        elif not schema.oks_sigmas_given and tuple(names) == COCO_KEYPOINT_NAMES:
            # a schema without sigmas does not switch a COCO person file to uniform 1/K
            changes["oks_sigmas"] = COCO_OKS_SIGMAS
            notes.add(
                "OKS sigmas: schema= has none, so the COCO person sigmas of this file's "
                "keypoints are kept (pass oks_sigmas=[...] for others)"
            )
        elif not schema.oks_sigmas_given:
            notes.add(
                f"OKS sigmas: schema= has none, so uniform 1/K = {1 / k:.4g} for the K={k} "
                "keypoints (pass oks_sigmas=[...] for the dataset's own)"
            )
        if flip_indices is not None:
            changes["flip_indices"] = flip_indices
        return CocoSchema(schema.replace(**changes), label_of, ids, base, lines)
    is_coco = tuple(names) == COCO_KEYPOINT_NAMES
    assumed = []
    if oks_sigmas is None:
        if is_coco:
            oks_sigmas = COCO_OKS_SIGMAS
        else:
            assumed.append(
                f"OKS sigmas: none given, so uniform 1/K = {1 / k:.4g} for the K={k} keypoints "
                "(pass oks_sigmas=[...] for the dataset's own)"
            )
    if flip_indices is None:
        if is_coco:
            flip_indices = COCO_FLIP_INDICES
        else:
            flip_indices = flip_indices_from_names(names)
            if flip_indices is None:
                assumed.append(
                    "flip indices: none given and no left/right keypoint name pairs, so none "
                    "(pass flip_indices=[...])"
                )
            else:
                pairs = [(names[i], names[j]) for i, j in enumerate(flip_indices) if i < j]
                assumed.append(
                    f"flip indices: none given, derived from {len(pairs)} left/right name "
                    f"pairs ({first_few(f'{a}<->{b}' for a, b in pairs)}); pass "
                    "flip_indices=[...] to set them"
                )
    for text in assumed:
        notes.add(text)
    coco_lines = lines == COCO_SKELETON
    try:
        built = Keypoints2DSchema(
            keypoint_names=names,
            lines=lines,
            flip_indices=flip_indices,
            oks_sigmas=oks_sigmas,
            default_pose=COCO_KEYPOINT_DEFAULT_POSE if is_coco else None,
            classes=classes,
            line_colors=COCO_SKELETON_COLORS if is_coco and coco_lines else None,
        )
    except SchemaError as exc:
        raise SchemaError(f"{path}: category {first['name']!r}: {exc}") from exc
    return CocoSchema(built, label_of, ids, base, lines)
