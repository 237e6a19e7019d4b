"""Decoding one Label Studio task into keypoint instances (see :mod:`..label_studio`).

The import and the export both use :func:`read_task`: the import to build the table, the
export to find, for each instance of the table, the results it came from (by the
rectangle's id) so that their ids, fields and unchanged numbers are written back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posetable.errors import FormatError
from posetable.formats._notes import first_few

KEYPOINT = "keypointlabels"
RECTANGLES = ("rectanglelabels", "rectangle")


@dataclass
class Instance:
    """One instance of a task: a rectangle and its keypoints, or the unparented keypoints.

    Attributes:
        region: the rectangle's result id, ``""`` for the keypoints without a parent.
        rect: the rectangle's result (None for the unparented group).
        points: keypoint index -> its ``keypointlabels`` result.
    """

    region: str
    rect: dict[str, Any] | None
    points: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """What a labeling config says: keypoint names, rectangle labels, the image key."""

    keypoint_names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    image_key: str | None = None
    text: str | None = None


def read_config(config: str | Path) -> Config:
    """Parse a Label Studio labeling config (XML text or a file).

    ``<KeyPointLabels>`` labels give the keypoint names (ordered by ``model_index`` when
    every label has one, as Label Studio's converters do), ``<RectangleLabels>`` the
    classes, ``<Image value="$key">`` the task data key.

    Example:
        >>> read_config('<View><Image name="img" value="$photo"/><KeyPointLabels name="kp" '
        ...             'toName="img"><Label value="b" model_index="1"/><Label value="a" '
        ...             'model_index="0"/></KeyPointLabels></View>').keypoint_names
        ('a', 'b')
    """
    text = str(config)
    where: Path | None = None
    if not text.lstrip().startswith("<"):
        where = Path(text)
        text = where.read_text(encoding="utf-8")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FormatError(
            f"the labeling config is not valid XML: {exc}", path=where, line=exc.position[0]
        ) from None
    names: list[str] = []
    for tag in root.iter("KeyPointLabels"):
        labels = [lab for lab in tag.iter("Label") if lab.get("value") is not None]
        if labels and all(lab.get("model_index", "").isdigit() for lab in labels):
            labels.sort(key=lambda lab: int(lab.get("model_index", "0")))
        names += [str(lab.get("value")) for lab in labels]
    classes = [
        str(lab.get("value"))
        for tag in root.iter("RectangleLabels")
        for lab in tag.iter("Label")
        if lab.get("value") is not None
    ]
    image = next(iter(root.iter("Image")), None)
    value = image.get("value", "") if image is not None else ""
    key = value[1:] if value.startswith("$") else None
    return Config(tuple(dict.fromkeys(names)), tuple(dict.fromkeys(classes)), key, text)


def chosen_annotation(task: dict[str, Any]) -> int | None:
    """The annotation read: the first one not cancelled (None when there is none)."""
    annotations = task.get("annotations", task.get("completions")) or []
    for i, annotation in enumerate(annotations):
        if isinstance(annotation, dict) and not annotation.get("was_cancelled"):
            return i
    return None


def annotations_of(task: dict[str, Any]) -> list[Any]:
    """The task's annotations (``completions`` in old exports)."""
    found = task.get("annotations", task.get("completions"))
    return found if isinstance(found, list) else []


def label_of(result: dict[str, Any], task_id: Any, path: Path) -> str:
    """The keypoint label of a ``keypointlabels`` result."""
    labels = (result.get("value") or {}).get("keypointlabels")
    if not isinstance(labels, list) or not labels or not isinstance(labels[0], str):
        raise FormatError(
            f"task {task_id}: keypoint {result.get('id')!r} has no label "
            f"(value.keypointlabels is {labels!r})",
            path=path,
        )
    return labels[0]


def read_task(
    task: dict[str, Any], task_id: Any, index: dict[str, int], path: Path, *, grow: bool = False
) -> list[Instance]:
    """The instances of a task's chosen annotation.

    Every rectangle is an instance (its keypoints attach through ``parentID`` or a
    ``relation`` result); the keypoints without a parent form one more instance. With
    ``grow``, a keypoint name not in ``index`` is added to it (names as they first appear).
    """
    chosen = chosen_annotation(task)
    if chosen is None:
        return []
    results = annotations_of(task)[chosen].get("result") or []
    if not isinstance(results, list):
        raise FormatError(f"task {task_id}: 'result' must be a list", path=path)
    rects: dict[str, Instance] = {}
    points: list[dict[str, Any]] = []
    links: dict[str, list[str]] = {}
    for result in results:
        if not isinstance(result, dict):
            continue
        kind = result.get("type")
        if kind in RECTANGLES and result.get("id") is not None:
            rid = str(result["id"])
            rects[rid] = Instance(rid, result)
        elif kind == KEYPOINT:
            points.append(result)
        elif kind == "relation":
            a, b = str(result.get("from_id")), str(result.get("to_id"))
            links.setdefault(a, []).append(b)
            links.setdefault(b, []).append(a)
    loose = Instance("", None)
    for result in points:
        pid = result.get("parentID")
        if pid is not None and str(pid) not in rects:
            raise FormatError(
                f"task {task_id}: keypoint {result.get('id')!r} has parentID {pid!r}, which is "
                f"not a rectangle of the annotation (rectangles: {first_few(rects) or 'none'})",
                path=path,
            )
        if pid is None:
            linked = [r for r in links.get(str(result.get("id")), []) if r in rects]
            pid = linked[0] if linked else None
        owner = rects[str(pid)] if pid is not None else loose
        name = label_of(result, task_id, path)
        j = index.get(name)
        if j is None and grow:
            j = index[name] = len(index)
        if j is None:
            raise FormatError(
                f"task {task_id}: keypoint {result.get('id')!r} is labeled {name!r}, which is "
                f"not one of the keypoint names ({first_few(index, 8)})",
                path=path,
            )
        if j in owner.points:
            who = f"rectangle {owner.region!r}" if owner.region else "no parent rectangle"
            raise FormatError(
                f"task {task_id}: two {name!r} keypoints with {who} (results "
                f"{owner.points[j].get('id')!r} and {result.get('id')!r}); give each "
                "instance its own rectangle",
                path=path,
            )
        owner.points[j] = result
    found = list(rects.values())
    if loose.points:
        found.append(loose)
    return found
