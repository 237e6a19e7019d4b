"""JSON shapes of what the pages draw: schemas, instances, per-instance metrics.

Coordinates stay float64 image pixels (orjson writes the shortest exact repr), so what the
browser draws and sends back is what the table holds.
"""

from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from posetable.instances import Keypoints2DInstances
from posetable.schema import Keypoints2DSchema

# A 20-colour palette for schemas without keypoint_colors (Tableau 20, readable on photos).
DEFAULT_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#7f7f7f",
    "#393b79",
)


def default_colors(count: int) -> list[str]:
    """``count`` distinct colours: the palette, then golden-angle hues for more keypoints.

    Example:
        >>> default_colors(2), len(set(default_colors(68)))
        (['#1f77b4', '#ff7f0e'], 68)
    """
    out = list(DEFAULT_PALETTE[:count])
    for i in range(len(out), count):
        hue = (i * 0.618033988749895) % 1.0
        light = 0.55 + 0.15 * ((i // 7) % 2)
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        out.append(_hex((round(r * 255), round(g * 255), round(b * 255))))
    seen: set[str] = set()
    for i, color in enumerate(out):  # nudge the rare rounding collision
        while color in seen:
            color = _hex(
                ((int(color[1:3], 16) + 1) % 256, int(color[3:5], 16), int(color[5:7], 16))
            )
        out[i] = color
        seen.add(color)
    return out


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def schema_json(
    schema: Keypoints2DSchema, *, width: float = 1.0, height: float = 1.0
) -> dict[str, Any]:
    """What the pages need to draw and edit a keypoints column."""
    k = schema.num_keypoints
    colors = (
        [_hex(c) for c in schema.keypoint_colors]
        if schema.keypoint_colors is not None
        else default_colors(k)
    )
    line_colors = (
        [_hex(c) for c in schema.line_colors]
        if schema.line_colors is not None
        else [colors[a] for a, _ in schema.lines]
    )
    return {
        "num_keypoints": k,
        "keypoint_names": list(schema.keypoint_names),
        "lines": [list(pair) for pair in schema.lines],
        "flip_indices": None if schema.flip_indices is None else list(schema.flip_indices),
        "oks_sigmas": list(schema.oks_sigmas),
        "oks_sigmas_given": schema.oks_sigmas_given,
        "oks_sigmas_source": schema.oks_sigmas_source,
        "classes": list(schema.classes),
        "keypoint_colors": colors,
        "keypoint_colors_given": schema.keypoint_colors is not None,
        "line_colors": line_colors,
        "default_pose": schema.pose_for_new_instance().tolist(),
    }


def _plain(values: np.ndarray) -> list[Any]:
    out = values.tolist()
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in out]


def instances_json(item: Keypoints2DInstances | None) -> dict[str, Any] | None:
    """One row's instances as plain lists (None stays None: no predictions for the row)."""
    if item is None:
        return None
    return {
        "count": len(item),
        "keypoints": item.keypoints.tolist(),
        "visibility": None
        if item.keypoint_visibilities is None
        else item.keypoint_visibilities.tolist(),
        "confidence": None
        if item.keypoint_confidences is None
        else item.keypoint_confidences.astype(np.float64).tolist(),
        "boxes": item.instance_bbs.tolist(),
        "labels": item.instance_labels.tolist(),
        "scores": None if item.instance_confidences is None else _plain(item.instance_confidences),
        "extras": {name: _plain(np.asarray(v)) for name, v in item.instance_extras.items()},
    }


def per_instance_json(metrics: pa.Table, sigmas: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """Per-instance metrics split into ``gt`` and ``pred`` lists ordered by instance index.

    Each entry has the evaluation's columns plus ``keypoint_oks``: the per-keypoint OKS
    term ``exp(-e^2 / (8 sigma^2))`` from ``keypoint_errors`` (distance / sqrt(area)).
    """
    out: dict[str, list[dict[str, Any]]] = {"gt": [], "pred": []}
    sig = np.asarray(sigmas, dtype=np.float64)
    for record in metrics.to_pylist():
        errors = record.get("keypoint_errors")
        if errors is not None and len(errors) == len(sig):
            e = np.array([np.nan if v is None else v for v in errors], dtype=np.float64)
            terms = np.exp(-(e**2) / (8.0 * sig**2))
            record["keypoint_oks"] = _plain(terms)
        else:
            record["keypoint_oks"] = None
        for key, value in list(record.items()):
            if isinstance(value, float) and not math.isfinite(value):
                record[key] = None
        kind = "gt" if record.get("kind") == "gt" else "pred"
        out[kind].append(record)
    for items in out.values():
        items.sort(key=lambda r: int(r.get("index") or 0))
    return out


def dumps(value: Any) -> bytes:
    """JSON bytes (numpy values allowed, NaN written as null)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
