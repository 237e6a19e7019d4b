"""Writing one Label Studio task from a table row (see :mod:`..label_studio`).

:func:`write_row` reads the task the row came from with the import's own decoder, matches
the table's instances to its rectangles by ``region_id``, and updates, adds and removes
results, keeping ids, fields and every number the table still holds as the file had it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posetable.formats._label_studio_tasks import (
    KEYPOINT,
    annotations_of,
    chosen_annotation,
    read_task,
)
from posetable.formats._labeling_common import name_map

POINT_WIDTH = 0.5  # the marker size (percent of the width) of a point Label Studio draws


def rect_percent(rect: dict[str, Any]) -> tuple[float, float, float, float]:
    """A rectangle's percent x, y, width, height (NaN when one is not a number)."""
    value = rect.get("value") or {}
    found = [value.get(c) for c in ("x", "y", "width", "height")]
    numbers = [float(v) for v in found if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != 4:
        return (np.nan, np.nan, np.nan, np.nan)
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def rect_pixels(pct: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(n, 4) xyxy pixels from (n, 4) percent x, y, width, height (the import's rule).

    Example:
        >>> rect_pixels(np.array([[10.0, 20.0, 50.0, 25.0]]), np.array([200.0]),
        ...             np.array([100.0])).tolist()
        [[20.0, 20.0, 120.0, 45.0]]
    """
    return np.stack(
        [
            (pct[:, 0] * w) / 100,
            (pct[:, 1] * h) / 100,
            ((pct[:, 0] + pct[:, 2]) * w) / 100,
            ((pct[:, 1] + pct[:, 3]) * h) / 100,
        ],
        axis=1,
    )


class _Row:
    """Builds the results of one task from the table's instances and the task's own."""

    def __init__(
        self, row: int, size: tuple[int, int], names: list[str], tags: dict[str, str]
    ) -> None:
        self.row, self.names, self.tags = row, names, tags
        self.w, self.h = size
        self.updates: dict[str, dict[str, Any] | None] = {}
        self.new: list[dict[str, Any]] = []

    def _common(self, result: dict[str, Any] | None, kind: str) -> dict[str, Any]:
        out = (
            dict(result)
            if result is not None
            else {
                "type": kind,
                "from_name": self.tags["keypoints" if kind == KEYPOINT else "rectangles"],
                "to_name": self.tags["image"],
                "image_rotation": 0,
            }
        )
        out["original_width"], out["original_height"] = self.w, self.h
        return out

    def point(
        self,
        old: dict[str, Any] | None,
        name: str,
        xy: np.ndarray,
        v: int,
        parent: str | None,
        tag: str,
    ) -> None:
        result = self._common(old, KEYPOINT)
        value = dict((old or {}).get("value") or {"width": POINT_WIDTH})
        for c, size, px in (("x", self.w, float(xy[0])), ("y", self.h, float(xy[1]))):
            original = value.get(c)
            width_then = (old or {}).get("original_width" if c == "x" else "original_height")
            same = (
                isinstance(original, (int, float))
                and width_then == size
                and (original * size) / 100 == px
            )
            value[c] = original if same else px * 100 / size
        value["keypointlabels"] = [name]
        if v == 1:
            value["hidden"] = True
        elif value.get("hidden"):
            value["hidden"] = False
        result["value"] = value
        if old is None:
            result["id"] = tag
            if parent:
                result["parentID"] = parent
            self.new.append(result)
        else:
            self.updates[str(old.get("id"))] = result

    def rect(self, old: dict[str, Any] | None, box: np.ndarray, label: str, tag: str) -> str:
        result = self._common(old, "rectanglelabels")
        value = dict((old or {}).get("value") or {"rotation": 0, "rectanglelabels": [label]})
        pct = np.array([rect_percent(old)]) if old is not None else np.full((1, 4), np.nan)
        then = ((old or {}).get("original_width"), (old or {}).get("original_height"))
        seen = rect_pixels(pct, np.array([float(self.w)]), np.array([float(self.h)]))[0]
        if then != (self.w, self.h) or not np.array_equal(seen, box):
            x0, y0, x1, y1 = (float(v) for v in box)  # else every number as the file had it
            value["x"], value["y"] = x0 * 100 / self.w, y0 * 100 / self.h
            value["width"] = (x1 - x0) * 100 / self.w
            value["height"] = (y1 - y0) * 100 / self.h
        if "rectanglelabels" in value or old is None:
            value["rectanglelabels"] = [label]
        result["value"] = value
        if old is None:
            result["id"] = tag
            self.new.append(result)
            return tag
        self.updates[str(old.get("id"))] = result
        return str(old.get("id"))

    def results(self, original: list[Any], dropped: set[str]) -> list[Any]:
        out = []
        for result in original:
            rid = str(result.get("id")) if isinstance(result, dict) and "id" in result else None
            kind = result.get("type") if isinstance(result, dict) else None
            if kind == "relation":
                ends = {str(result.get("from_id")), str(result.get("to_id"))}
                if not ends & dropped:
                    out.append(result)
            elif rid is not None and rid in self.updates:
                updated = self.updates.pop(rid)
                if updated is not None:
                    out.append(updated)
            elif rid is not None and rid in dropped:
                continue  # a deleted point or instance, or a per-region result of one
            else:
                out.append(result)
        return out + self.new


def write_row(
    row: int,
    task: dict[str, Any] | None,
    table_names: list[str],
    source_index: dict[str, int],
    classes: tuple[str, ...],
    tags: dict[str, str],
    image: tuple[str, str],
    size: tuple[int, int],
    instances: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]],
) -> dict[str, Any]:
    keypoints, vis, boxes, labels, regions = instances
    decoded = (
        read_task(task, task.get("id", row), source_index, Path("label_studio_source"))
        if task
        else []
    )
    by_region = {inst.region: inst for inst in decoded}
    to_table = name_map(list(source_index), table_names)
    builder = _Row(row, size, table_names, tags)
    used: set[str] = set()
    for i in range(keypoints.shape[0]):
        region = regions[i] if regions[i] is not None else None
        old = by_region.get(region) if region is not None and region not in used else None
        if old is not None:
            used.add(old.region)
        tag = f"posetable-{row}-{i}"
        parent = None
        if old is not None and old.rect is not None:
            parent = builder.rect(old.rect, boxes[i], classes[int(labels[i])], tag)
        elif old is None and region != "":
            parent = builder.rect(None, boxes[i], classes[int(labels[i])], tag)
        previous = {to_table[j]: r for j, r in (old.points.items() if old else []) if j in to_table}
        for j, name in enumerate(table_names):
            result = previous.pop(j, None)
            if int(vis[i, j]) == 0:
                if result is not None:
                    builder.updates[str(result.get("id"))] = None
                continue
            builder.point(result, name, keypoints[i, j], int(vis[i, j]), parent, f"{tag}-{j}")
    dropped = {k for k, v in builder.updates.items() if v is None}
    for inst in decoded:
        if inst.region not in used:
            dropped |= {str(r.get("id")) for r in inst.points.values()}
            if inst.rect is not None:
                dropped.add(inst.region)
        else:
            dropped |= {str(r.get("id")) for j, r in inst.points.items() if j not in to_table}
    if task is None:
        return {
            "data": {image[0]: image[1]},
            "annotations": [{"result": builder.results([], set())}],
            "predictions": [],
        }
    out = dict(task)
    annotations = list(annotations_of(task))
    chosen = chosen_annotation(task)
    if chosen is None:
        annotations.append({"result": builder.results([], set())})
    else:
        annotation = dict(annotations[chosen])
        annotation["result"] = builder.results(list(annotation.get("result") or []), dropped)
        annotations[chosen] = annotation
    out["completions" if "completions" in task and "annotations" not in task else "annotations"] = (
        annotations
    )
    return out


def config_text(names: list[str], classes: tuple[str, ...], tags: dict[str, str], key: str) -> str:
    labels = "\n".join(f'    <Label value="{n}" model_index="{j}"/>' for j, n in enumerate(names))
    boxes = "\n".join(f'    <Label value="{c}"/>' for c in classes)
    return (
        f'<View>\n  <Image name="{tags["image"]}" value="${key}"/>\n'
        f'  <KeyPointLabels name="{tags["keypoints"]}" toName="{tags["image"]}">\n{labels}\n'
        f'  </KeyPointLabels>\n  <RectangleLabels name="{tags["rectangles"]}" '
        f'toName="{tags["image"]}">\n{boxes}\n  </RectangleLabels>\n</View>\n'
    )
