"""Rules on the schema: flip indices, skeleton lines and OKS sigmas.

These look at the table's schema and, for a file, at what the file itself wrote (a
data.yaml ``flip_idx`` the schema refused, a COCO ``skeleton`` naming keypoints past K).
"""

from __future__ import annotations

from typing import Any

from posetable._validate import as_index
from posetable.diagnose._context import Context
from posetable.diagnose._found import Found, schema_finding
from posetable.schema import _mirror_name


def flip_indices_invalid(ctx: Context) -> list[Found]:
    """Flip indices that are not an involution, or map ``left_*`` to a non-``right_*`` name."""
    k = ctx.schema.num_keypoints
    names = ctx.names
    out: list[Found] = []
    if ctx.source_flips is not None:
        problem = _involution_problem(ctx.source_flips, k)
        if problem:
            out.append(schema_finding("flip_indices_invalid", "error", f"flip_idx {problem}"))
            return out
    flips = ctx.schema.flip_indices
    if flips is None:
        return out
    index = {n.lower(): i for i, n in enumerate(names)}
    for i, name in enumerate(names):
        partner = _mirror_name(name)
        if partner is None or partner not in index:
            continue
        j = flips[i]
        if names[j].lower() != partner:
            out.append(
                schema_finding(
                    "flip_indices_invalid",
                    "error",
                    f"flip_indices maps {name} ({i}) to {names[j]} ({j}); a horizontal flip "
                    f"turns it into {names[index[partner]]} ({index[partner]})",
                    float(i),
                )
            )
    return out


def _involution_problem(values: Any, k: int) -> str | None:
    """Why ``values`` are not K flip indices that are their own inverse (None: they are)."""
    if not isinstance(values, (list, tuple)):
        return f"must be a list of {k} indices, found {values!r}"[:200]
    if len(values) != k:
        return f"must have K={k} entries, found {len(values)}"
    ints = [as_index(v) for v in values]
    for i, v in enumerate(ints):
        if v is None or not 0 <= v < k:
            return f"[{i}] must be an index in [0, {k - 1}], found {values[i]!r}"
    for i, j in enumerate(ints):
        if ints[j] != i:  # type: ignore[index]
            return (
                "must be its own inverse (flipping twice gives the keypoint back), found "
                f"flip[{i}]={j} but flip[{j}]={ints[j]}"  # type: ignore[index]
            )
    return None


def skeleton_invalid(ctx: Context) -> list[Found]:
    """Skeleton lines naming keypoints past K (in the file), joining a point to itself, or
    given twice."""
    k = ctx.schema.num_keypoints
    out: list[Found] = []
    if ctx.source_lines is not None:
        for n, (a, b) in enumerate(ctx.source_lines):
            if not (0 <= a < k and 0 <= b < k):
                out.append(
                    schema_finding(
                        "skeleton_invalid",
                        "error",
                        f"skeleton line {n} joins keypoints {a} and {b} (0-based), but there "
                        f"are K={k} keypoints (0..{k - 1}); the line was left out",
                        float(n),
                    )
                )
    seen: dict[tuple[int, int], int] = {}
    names = ctx.names
    for n, (a, b) in enumerate(ctx.schema.lines):
        if a == b:
            out.append(
                schema_finding(
                    "skeleton_invalid",
                    "warning",
                    f"line {n} joins {names[a]} ({a}) to itself",
                    float(n),
                )
            )
            continue
        key = (min(a, b), max(a, b))
        if key in seen:
            out.append(
                schema_finding(
                    "skeleton_invalid",
                    "warning",
                    f"line {n} ({names[a]}-{names[b]}) repeats line {seen[key]}",
                    float(n),
                )
            )
        else:
            seen[key] = n
    return out


def sigmas_missing(ctx: Context) -> list[Found]:
    """The table has no OKS sigmas, so every metric uses a uniform 1/K."""
    schema = ctx.schema
    if schema.oks_sigmas_given:
        return []
    k = schema.num_keypoints
    return [
        schema_finding(
            "sigmas_missing",
            "warning",
            f"no OKS sigmas: every metric (OKS, AP, duplicates) uses a uniform 1/K = {1 / k:.4g} "
            f"for the K={k} keypoints; estimate them with pt.estimate_sigmas(table_a, table_b) "
            "(two annotations of the same images; .apply(table) writes them) or set the "
            "dataset's own with table.with_schema(schema.replace(oks_sigmas=...))",
            float(k),
        )
    ]
