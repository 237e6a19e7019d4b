"""Reading CVAT for images 1.1 XML in one expat pass (see :mod:`posetable.formats.cvat`).

One streaming pass over the bytes: the ``<meta>`` labels become a small tree (they say
which points a skeleton has), every ``<image>`` becomes a row with the byte span of its
element (kept as the row's source), and the points of the skeletons read are gathered into
flat lists, each with its line for messages. Export runs the same pass over the sources it
kept, so a row whose points are unchanged is recognised exactly as the import read it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

import numpy as np

from posetable.errors import FormatError, UnsupportedError
from posetable.formats._notes import first_few

_ATTR = re.compile(r'([\w:-]+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Spec:
    """What is read as keypoints: a skeleton label and its points, or a points label.

    Attributes:
        label: the CVAT label name.
        mode: ``"skeleton"`` or ``"points"`` (plain points shapes, one instance each).
        names: the keypoint names (the skeleton's sublabels, in the order of ``<meta>``).
        lines: pairs of keypoint indices (the skeleton's edges).
    """

    label: str
    mode: str
    names: tuple[str, ...]
    lines: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the table metadata)."""
        return {
            "label": self.label,
            "mode": self.mode,
            "names": list(self.names),
            "lines": [list(p) for p in self.lines],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        """The spec a metadata dict describes."""
        return cls(
            str(data["label"]),
            str(data["mode"]),
            tuple(str(n) for n in data["names"]),
            tuple((int(a), int(b)) for a, b in data.get("lines") or []),
        )


def _svg_lines(svg: str, names: list[str]) -> list[tuple[int, int]]:
    """The skeleton's edges from its ``<svg>``: ``<line data-node-from data-node-to>``
    between ``<circle data-node-id data-label-name>`` nodes."""
    nodes: dict[str, int] = {}
    index = {n: j for j, n in enumerate(names)}
    circles = re.findall(r"<circle\b([^>]*)>", svg)
    for order, attrs in enumerate(circles):
        found = dict(_ATTR.findall(attrs))
        node = found.get("data-node-id", str(order + 1))
        name = found.get("data-label-name")
        if name in index:
            nodes[node] = index[name]
        elif order < len(names):
            nodes[node] = order
    lines = []
    for attrs in re.findall(r"<line\b([^>]*)>", svg):
        found = dict(_ATTR.findall(attrs))
        a, b = found.get("data-node-from"), found.get("data-node-to")
        if a in nodes and b in nodes:
            lines.append((nodes[a], nodes[b]))
    return lines


def spec_from_labels(
    labels: ET.Element | None, label: str | None, path: Path, line: int | None
) -> Spec:
    """The spec of ``label`` (default: the only skeleton label)."""
    found = [] if labels is None else labels.findall("label")
    info = []
    for item in found:
        info.append(
            (
                (item.findtext("name") or "").strip(),
                (item.findtext("type") or "").strip(),
                (item.findtext("parent") or "").strip(),
                item.findtext("svg") or "",
            )
        )
    skeletons = [n for n, t, p, _ in info if t == "skeleton"]
    if label is None:
        if len(skeletons) == 1:
            label = skeletons[0]
        elif skeletons:
            raise FormatError(
                f"the file has {len(skeletons)} skeleton labels ({first_few(skeletons)}); "
                "pass label= to choose one",
                path=path,
                line=line,
            )
        else:
            points = [n for n, t, p, _ in info if t == "points" and not p]
            raise FormatError(
                "the file declares no skeleton label in <meta><labels>; pass label= naming a "
                f"points label ({first_few(points) or 'none declared'}) to read its points "
                "shapes as keypoints",
                path=path,
                line=line,
            )
    entry = next((x for x in info if x[0] == label), None)
    if entry is None:
        raise FormatError(
            f"no label {label!r} in <meta><labels> (labels: {first_few(n for n, *_ in info)})",
            path=path,
            line=line,
        )
    if entry[1] == "skeleton":
        names = [n for n, _, p, _ in info if p == label]
        if not names:
            raise FormatError(
                f"skeleton label {label!r} has no points labels (<parent>{label}</parent>)",
                path=path,
                line=line,
            )
        return Spec(label, "skeleton", tuple(names), tuple(_svg_lines(entry[3], names)))
    return Spec(label, "points", ())


@dataclass
class Decoded:
    """The rows and keypoints one pass found.

    Attributes:
        attrs: each image's attributes.
        lines: each image's line.
        spans: each image's source span ``(start, end)`` in bytes, gap before it included.
        counts: instances per image.
        skeletons: how many skeleton instances were read.
        point_instance, point_index, point_xy, point_visibility: one entry per skeleton
            point read (``point_xy`` two): its instance, keypoint index, x, y, visibility.
        plain_points: per instance of a points label, the list of (x, y) and occluded.
        prefix_end: where the first image's source starts.
        suffix_start: where the last image element ends.
        labels: the ``<labels>`` element of ``<meta>`` (None without meta).
        labels_line: its line.
        other_shapes: how many shapes of other labels the images hold, by label.
    """

    attrs: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    skeletons: int = 0
    point_instance: list[int] = field(default_factory=list)
    point_index: list[int] = field(default_factory=list)
    point_xy: list[float] = field(default_factory=list)
    point_visibility: list[int] = field(default_factory=list)
    plain_points: list[tuple[list[tuple[float, float]], int]] = field(default_factory=list)
    prefix_end: int = 0
    suffix_start: int = 0
    labels: ET.Element | None = None
    labels_line: int | None = None
    other_shapes: dict[str, int] = field(default_factory=dict)


def _flag(value: str | None, name: str, path: Path, line: int) -> int:
    if value in (None, "", "0", "false", "False"):
        return 0
    if value in ("1", "true", "True"):
        return 1
    raise FormatError(f"{name} must be 0 or 1, found {value!r}", path=path, line=line)


def _xy(text: str | None, path: Path, line: int) -> list[tuple[float, float]]:
    out = []
    for pair in (text or "").split(";"):
        parts = pair.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            out.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise FormatError(
                f'points must be "x,y" pairs separated by ";", found {text!r}'[:200],
                path=path,
                line=line,
            ) from None
    return out


class _Pass:
    """One expat pass; see :func:`decode`."""

    def __init__(self, raw: bytes, path: Path, spec: Spec | None, label: str | None) -> None:
        self.raw, self.path, self.spec, self.label = raw, path, spec, label
        self.out = Decoded()
        self.depth = 0
        self.meta: ET.TreeBuilder | None = None
        self.image: int | None = None
        self.skeleton: set[str] | None = None
        self.skeleton_line = 0
        self.last_end = 0
        self.index: dict[str, int] = {}
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chars
        self.parser = parser

    def run(self) -> Decoded:
        try:
            self.parser.Parse(self.raw, True)
        except expat.ExpatError as exc:
            raise FormatError(
                f"not well-formed XML: {expat.ErrorString(exc.code)} at column {exc.offset + 1}",
                path=self.path,
                line=exc.lineno,
            ) from None
        if self.out.attrs:
            self.out.suffix_start = self.out.spans[-1][1]
        else:
            self.out.prefix_end = self.out.suffix_start = self.last_end
        return self.out

    def _line(self) -> int:
        return int(self.parser.CurrentLineNumber)

    def _end_byte(self) -> int:
        return self.raw.index(b">", self.parser.CurrentByteIndex) + 1

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        if depth == 1:
            if name != "annotations":
                raise FormatError(
                    f"the root element must be <annotations> (CVAT for images 1.1), found <{name}>",
                    path=self.path,
                    line=self._line(),
                )
            return
        if self.meta is not None:
            self.meta.start(name, attrs)
            if name == "labels" and self.out.labels_line is None:
                self.out.labels_line = self._line()
            return
        if depth == 2:
            if name == "meta":
                self.meta = ET.TreeBuilder()
                self.meta.start(name, attrs)
            elif name == "image":
                self._start_image(attrs)
            elif name == "track":
                raise UnsupportedError(
                    f"{self.path}:{self._line()}: <track> elements are CVAT for video 1.1; "
                    "posetable reads CVAT for images 1.1 (export the task in that format)"
                )
            return
        if self.image is None:
            return
        spec = self.spec
        if spec is None:
            raise FormatError(
                "an <image> comes before <meta><labels>: cannot tell which points a skeleton has",
                path=self.path,
                line=self._line(),
            )
        label = attrs.get("label", "")
        if depth == 3:
            if name == "skeleton" and spec.mode == "skeleton" and label == spec.label:
                self.skeleton = set()
                self.index = {n: j for j, n in enumerate(spec.names)}
                self.skeleton_line = self._line()
            elif name == "points" and spec.mode == "points" and label == spec.label:
                line = self._line()
                occluded = _flag(attrs.get("occluded"), "occluded", self.path, line)
                self.out.plain_points.append((_xy(attrs.get("points"), self.path, line), occluded))
                self.out.counts[-1] += 1
            elif name not in ("attribute",):
                key = f"{name} {label!r}"
                self.out.other_shapes[key] = self.out.other_shapes.get(key, 0) + 1
        elif depth == 4 and self.skeleton is not None and name == "points":
            self._point(label, attrs)

    def _start_image(self, attrs: dict[str, str]) -> None:
        line = self._line()
        for key in ("width", "height"):
            value = attrs.get(key)
            if value is None or not value.strip().isdigit() or int(value) <= 0:
                raise FormatError(
                    f"<image> needs a positive whole {key} in pixels, found {value!r}",
                    path=self.path,
                    line=line,
                )
        if "name" not in attrs:
            raise FormatError("<image> needs a name (the image's path)", path=self.path, line=line)
        if not self.out.attrs:
            self.out.prefix_end = self.last_end
        self.image = self.parser.CurrentByteIndex
        self.out.attrs.append(dict(attrs))
        self.out.lines.append(line)
        self.out.counts.append(0)

    def _point(self, label: str, attrs: dict[str, str]) -> None:
        assert self.spec is not None and self.skeleton is not None
        line = self._line()
        j = self.index.get(label)
        if j is None:
            raise FormatError(
                f"skeleton {self.spec.label!r} has no point {label!r} (its points: "
                f"{first_few(self.spec.names, 8)})",
                path=self.path,
                line=line,
            )
        if label in self.skeleton:
            raise FormatError(
                f"skeleton {self.spec.label!r} holds point {label!r} twice (the skeleton starts "
                f"on line {self.skeleton_line})",
                path=self.path,
                line=line,
            )
        xy = _xy(attrs.get("points"), self.path, line)
        if len(xy) != 1:
            raise FormatError(
                f"skeleton point {label!r} must hold one x,y pair, found {len(xy)}",
                path=self.path,
                line=line,
            )
        outside = _flag(attrs.get("outside"), "outside", self.path, line)
        occluded = _flag(attrs.get("occluded"), "occluded", self.path, line)
        self.skeleton.add(label)
        out = self.out
        out.point_instance.append(out.skeletons)
        out.point_index.append(j)
        out.point_xy += xy[0]
        out.point_visibility.append(0 if outside else (1 if occluded else 2))

    def end(self, name: str) -> None:
        depth = self.depth
        self.depth -= 1
        if self.meta is not None:
            self.meta.end(name)
            if depth == 2:
                meta = self.meta.close()
                self.meta = None
                self.out.labels = next(iter(meta.iter("labels")), None)
                if self.spec is None:
                    self.spec = spec_from_labels(
                        self.out.labels, self.label, self.path, self.out.labels_line
                    )
                self.last_end = self._end_byte()
            return
        if depth == 2:
            end = self._end_byte()
            if name == "image" and self.image is not None:
                self.out.spans.append((self.last_end, end))
                self.image = None
            self.last_end = end
        elif depth == 3 and self.skeleton is not None and name == "skeleton":
            self.out.skeletons += 1
            self.out.counts[-1] += 1
            self.skeleton = None

    def chars(self, data: str) -> None:
        if self.meta is not None:
            self.meta.data(data)


def decode(
    raw: bytes, path: Path, *, spec: Spec | None = None, label: str | None = None
) -> tuple[Decoded, Spec]:
    """Read CVAT XML bytes: rows, spans and the keypoints of ``spec`` (default: from
    ``<meta>``, the skeleton ``label`` or the only skeleton label)."""
    reader = _Pass(raw, path, spec, label)
    decoded = reader.run()
    if reader.spec is None:
        raise FormatError("no <meta><labels>: cannot tell which points a skeleton has", path=path)
    return decoded, reader.spec


def instance_arrays(decoded: Decoded, spec: Spec) -> tuple[np.ndarray, np.ndarray, int]:
    """(T, K, 2) keypoints and (T, K) visibility of the instances, and how many skeleton
    points were missing (read as v=0 at 0, 0)."""
    if spec.mode == "points":
        sizes = {len(p) for p, _ in decoded.plain_points}
        if len(sizes) > 1:
            raise UnsupportedError(
                f"the points shapes of label {spec.label!r} hold different numbers of points "
                f"({sorted(sizes)}); keypoint instances need one count"
            )
        k = sizes.pop() if sizes else len(spec.names)
        t = len(decoded.plain_points)
        kp = np.array([p for p, _ in decoded.plain_points], dtype=np.float64).reshape(t, k, 2)
        occluded = np.array([o for _, o in decoded.plain_points], dtype=np.int32)
        vis = np.repeat(np.where(occluded == 1, 1, 2)[:, None], k, axis=1).astype(np.int32)
        return kp, vis, 0
    k, t = len(spec.names), decoded.skeletons
    kp = np.zeros((t, k, 2))
    vis = np.zeros((t, k), np.int32)
    inst = np.asarray(decoded.point_instance, np.int64)
    index = np.asarray(decoded.point_index, np.int64)
    kp[inst, index] = np.asarray(decoded.point_xy, np.float64).reshape(-1, 2)
    vis[inst, index] = decoded.point_visibility
    return kp, vis, t * k - len(inst)
