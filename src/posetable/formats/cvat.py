"""CVAT for images 1.1 XML with skeletons, read and written (our own reader: stdlib expat).

* **Keypoints**: a ``<label>`` of ``<type>skeleton</type>`` in ``<meta>`` names its points
  through the labels whose ``<parent>`` it is (in that order) and its edges in ``<svg>``
  (``<line data-node-from data-node-to>``). Each ``<skeleton label=...>`` of an image is an
  instance; its ``<points label="<point>" points="x,y">`` give the keypoints: ``outside="1"``
  -> v=0 (x, y kept as written), ``occluded="1"`` -> v=1, else v=2. A point the skeleton
  does not hold (CVAT always writes all of them) is v=0 at (0, 0), with a note; a point
  label the skeleton does not have, or one given twice, is a :class:`FormatError` naming
  the line. ``label=`` picks the skeleton when there are several, or names a plain
  ``points`` label whose shapes (one instance each, all with the same number of points,
  visibility from ``occluded``) are read instead.
* **Rows**: one per ``<image>``, in file order; ``image`` the ``name`` under
  ``image_folder`` (default: the XML's ``images/`` folder when there is one, else its
  folder), ``width``/``height`` as given, row column ``cvat_source`` (the image element as
  the file wrote it). Skeletons carry no box: boxes are derived from the labeled points.
* **Metadata** ``metadata["cvat"]``: the file up to the first image (``<meta>``) and after
  the last, and the skeleton read. Export writes each row whose keypoints are unchanged
  back byte for byte, and rebuilds the others from the table, keeping every other shape
  and attribute of the image.
* CVAT for video (``<track>``) is refused with a message naming the line.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pyarrow as pa

from posetable._arrow import derive_boxes, keypoints_column
from posetable.errors import UnsupportedError
from posetable.formats._cvat_xml import Spec, decode, instance_arrays
from posetable.formats._images import unique_names
from posetable.formats._imported import Exported, Imported, as_path, rows_table
from posetable.formats._labeling_common import name_map
from posetable.formats._notes import Notes, count_text, first_few
from posetable.schema import Keypoints2DSchema

__all__ = ["SOURCE_COLUMN", "read_cvat", "write_cvat"]

SOURCE_COLUMN = "cvat_source"
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def _image_root(source: Path, image_folder: str | os.PathLike[str] | None) -> Path:
    if image_folder is not None:
        return as_path(image_folder)
    images = source.parent / "images"
    return images if images.is_dir() else source.parent


def read_cvat(
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    image_folder: str | os.PathLike[str] | None = None,
) -> Imported:
    """Read a CVAT for images 1.1 XML file into posetable's row layout.

    See the module docstring for what becomes rows, instances and visibility.

    Args:
        path: the ``annotations.xml``.
        label: the skeleton label to read (needed when the file has several), or a
            points label whose shapes are read as keypoints.
        image_folder: the folder the ``<image name=...>`` paths are under.

    Raises:
        FormatError: malformed XML or a skeleton that does not match ``<meta>`` (the
            message names the line).
        UnsupportedError: CVAT for video tracks.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_cvat(data_path("cvat") / "datumaro" / "train.xml")
        >>> imported.data.num_rows, imported.schema.keypoint_names, imported.schema.lines
        (2, ('1', '2', '3', '4'), ((2, 1), (0, 3)))
    """
    from posetable.formats._json import read_bytes

    source = as_path(path)
    raw = read_bytes(source, "CVAT XML file")
    decoded, spec = decode(raw, source, label=label)
    notes = Notes(source)
    keypoints, vis, missing = instance_arrays(decoded, spec)
    k = keypoints.shape[1]
    names = list(spec.names) or [str(j) for j in range(k)]
    if spec.mode == "points":
        spec = Spec(spec.label, "points", tuple(names))
        notes.add(
            f"plain points shapes of label {spec.label!r} read as keypoints named "
            f"{first_few(names)} (K={k}); their visibility is the shape's occluded flag"
        )
    if missing:
        notes.add(
            f"{count_text(missing, 'skeleton point')} not written in the file: read as "
            "v=0 at (0, 0)"
        )
    if decoded.other_shapes:
        shapes = [f"{n} x{c}" for n, c in sorted(decoded.other_shapes.items())]
        notes.add(f"other shapes are kept for export, not read: {first_few(shapes)}")
    widths = np.array([int(a["width"]) for a in decoded.attrs], np.int64)
    heights = np.array([int(a["height"]) for a in decoded.attrs], np.int64)
    root = _image_root(source, image_folder)
    images = [os.path.normpath(os.path.join(root, a["name"])) for a in decoded.attrs]
    column = keypoints_column(
        np.asarray(decoded.counts, np.int64),
        keypoints,
        widths=widths,
        heights=heights,
        visibilities=vis,
        num_keypoints=k,
    )
    sources = [raw[a:b].decode("utf-8") for a, b in decoded.spans]
    data = rows_table(
        images, widths, heights, column, {SOURCE_COLUMN: pa.array(sources, pa.large_string())}
    )
    schema = Keypoints2DSchema(k, keypoint_names=names, lines=spec.lines, classes=(spec.label,))
    meta = {
        "cvat": {
            "prefix": raw[: decoded.prefix_end].decode("utf-8"),
            "suffix": raw[decoded.suffix_start :].decode("utf-8"),
            "spec": spec.to_dict(),
            "image_root": str(root),
        },
        "image_roots": [str(root)],
    }
    arguments = {"path": str(source), "label": spec.label, "images": len(images)}
    return Imported(data, schema, meta, notes, "import_cvat", arguments)


# -- writing ----------------------------------------------------------------------------------
def _number(value: float) -> str:
    """CVAT writes two decimals; a value that two decimals would change keeps its digits.

    Example:
        >>> _number(54.47), _number(1.0), _number(71.39999999999999)
        ('54.47', '1.00', '71.39999999999999')
    """
    text = f"{value:.2f}"
    return text if float(text) == value else repr(float(value))


def _svg(spec: Spec) -> str:
    k = len(spec.names)
    xy = [
        (
            50 + 40 * math.cos(2 * math.pi * j / max(k, 1)),
            50 + 40 * math.sin(2 * math.pi * j / max(k, 1)),
        )
        for j in range(k)
    ]
    parts = [
        f'<line x1="{xy[a][0]:.2f}" y1="{xy[a][1]:.2f}" x2="{xy[b][0]:.2f}" y2="{xy[b][1]:.2f}" '
        f'stroke="black" data-type="edge" data-node-from="{a + 1}" stroke-width="0.5" '
        f'data-node-to="{b + 1}"></line>'
        for a, b in spec.lines
    ]
    parts += [
        f'<circle r="1.5" stroke="black" fill="#b3b3b3" cx="{x:.2f}" cy="{y:.2f}" '
        f'stroke-width="0.1" data-type="element node" data-element-id="{j + 1}" '
        f'data-node-id="{j + 1}" data-label-name="{escape(name, {chr(34): "&quot;"})}"></circle>'
        for j, ((x, y), name) in enumerate(zip(xy, spec.names, strict=True))
    ]
    return "".join(parts)


def _label_elements(spec: Spec, indent: str) -> str:
    inner, deeper = indent + "  ", indent + "  "
    if spec.mode == "points":
        return (
            f"{indent}<label>\n{inner}<name>{escape(spec.label)}</name>\n{inner}<type>points"
            f"</type>\n{inner}<attributes>\n{inner}</attributes>\n{indent}</label>\n"
        )
    out = (
        f"{indent}<label>\n{inner}<name>{escape(spec.label)}</name>\n{inner}<type>skeleton</type>\n"
        f"{inner}<attributes>\n{inner}</attributes>\n{inner}<svg>{escape(_svg(spec))}</svg>\n"
        f"{indent}</label>\n"
    )
    for name in spec.names:
        out += (
            f"{indent}<label>\n{deeper}<name>{escape(name)}</name>\n{deeper}<type>points</type>\n"
            f"{deeper}<attributes>\n{deeper}</attributes>\n{deeper}<parent>{escape(spec.label)}"
            f"</parent>\n{indent}</label>\n"
        )
    return out


def _fresh_prefix(spec: Spec, name: str, size: int) -> str:
    return (
        f"{_DECLARATION}<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n"
        f"      <name>{escape(name)}</name>\n      <size>{size}</size>\n"
        f"      <mode>annotation</mode>\n      <labels>\n"
        f"{_label_elements(spec, '        ')}      </labels>\n    </task>\n  </meta>"
    )


def _relabelled_prefix(prefix: str, old: Spec, new: Spec) -> str:
    """The file's ``<meta>`` with the skeleton read replaced by the table's."""
    head, _, rest = prefix.partition("<annotations")
    root = ET.fromstring("<annotations" + rest + "</annotations>")
    labels = next(iter(root.iter("labels")), None)
    if labels is None:
        return prefix
    kids = list(labels)
    ours = [
        c
        for c in kids
        if (c.findtext("name") or "").strip() == old.label
        or (c.findtext("parent") or "").strip() == old.label
    ]
    at = kids.index(ours[0]) if ours else len(kids)
    for c in ours:
        labels.remove(c)
    fresh = ET.fromstring("<x>" + _label_elements(new, "        ") + "</x>")
    for n, element in enumerate(fresh):
        labels.insert(at + n, element)
    ET.indent(labels, space="  ", level=3)
    text = ET.tostring(root, encoding="unicode")
    return head + text[: -len("</annotations>")]


def _check_exportable(table: Exported, flat: Any, spec: Spec, notes: Notes) -> None:
    used = np.unique(flat.labels)
    if len(used) > 1:
        names = [table.schema.classes[int(i)] for i in used if int(i) < len(table.schema.classes)]
        raise UnsupportedError(
            f"{table.ref}: CVAT export writes one skeleton label; the instances use "
            f"{len(used)} classes ({first_few(names)}): export each class on its own"
        )
    if spec.mode == "points":
        vis = flat.visibilities
        mixed = (vis.min(axis=1, initial=2) != vis.max(axis=1, initial=0)) | (vis == 0).any(axis=1)
        if mixed.any():
            raise UnsupportedError(
                f"{table.ref}: {int(mixed.sum())} instances mix visibilities or have unlabeled "
                f"points; a CVAT points shape of {spec.label!r} has one occluded flag for all "
                "its points"
            )
    derived = derive_boxes(flat.keypoints, flat.visibilities > 0)
    differ = ~np.isclose(derived, flat.boxes, rtol=0, atol=1e-9).all(axis=1)
    if differ.any():
        boxes = count_text(int(differ.sum()), "instance box", "instance boxes")
        notes.add(
            f"CVAT skeletons carry no box: {boxes} that differ from their points' extent are "
            "not written"
        )


def _point_attrs(
    name: str, x: float, y: float, v: int, old: ET.Element | None
) -> tuple[dict[str, str], list[ET.Element]]:
    attrs = dict(old.attrib) if old is not None else {"label": name, "source": "manual"}
    attrs["label"] = name
    was_outside = old is not None and old.get("outside") == "1"
    attrs["occluded"] = (
        old.get("occluded", "0")
        if (v == 0 and was_outside and old is not None)
        else ("1" if v == 1 else "0")
    )
    attrs["outside"] = "1" if v == 0 else "0"
    text = f"{_number(x)},{_number(y)}"
    if old is not None:
        try:
            ox, oy = (float(s) for s in (old.get("points") or "").split(","))
            if (ox, oy) == (x, y):
                text = old.get("points") or text
        except ValueError:
            pass
    attrs["points"] = text
    return attrs, list(old) if old is not None else []


def _rebuilt(
    source: str | None,
    row: int,
    name: str,
    size: tuple[int, int],
    points: np.ndarray,
    vis: np.ndarray,
    spec: Spec,
    old_names: tuple[str, ...],
) -> str:
    """One ``<image>`` element with the table's instances (the source's other shapes kept;
    ``old_names`` are the points as the source names them)."""
    gap = "\n  "
    if source is not None:
        stripped = source.lstrip()
        gap = source[: len(source) - len(stripped)]
        element = ET.fromstring(stripped)
    else:
        element = ET.Element("image", {"id": str(row), "name": name})
    element.set("width", str(size[0]))
    element.set("height", str(size[1]))
    tag = "skeleton" if spec.mode == "skeleton" else "points"
    kids = list(element)
    old = [c for c in kids if c.tag == tag and c.get("label") == spec.label]
    at = kids.index(old[0]) if old else len(kids)
    for c in old:
        element.remove(c)
    for i in range(points.shape[0]):
        previous = old[i] if i < len(old) else None
        if spec.mode == "points":
            attrs = (
                dict(previous.attrib)
                if previous is not None
                else {"label": spec.label, "source": "manual"}
            )
            attrs["occluded"] = "1" if int(vis[i, 0]) == 1 else "0"
            attrs["points"] = ";".join(f"{_number(x)},{_number(y)}" for x, y in points[i].tolist())
            shape = ET.Element("points", attrs)
            shape.extend(list(previous) if previous is not None else [])
        else:
            attrs = (
                dict(previous.attrib)
                if previous is not None
                else {"label": spec.label, "source": "manual", "z_order": "0"}
            )
            shape = ET.Element("skeleton", attrs)
            points_of = [p for p in (previous if previous is not None else []) if p.tag == "points"]
            found = {p.get("label"): p for p in points_of}
            moved = name_map(list(old_names), list(spec.names))
            by_name = {
                spec.names[moved[j]]: found[name]
                for j, name in enumerate(old_names)
                if j in moved and name in found
            }
            for j, point_name in enumerate(spec.names):
                x, y = points[i, j].tolist()
                p_attrs, children = _point_attrs(
                    point_name, x, y, int(vis[i, j]), by_name.get(point_name)
                )
                child = ET.SubElement(shape, "points", p_attrs)
                child.extend(children)
            shape.extend(c for c in (previous if previous is not None else []) if c.tag != "points")
        element.insert(at + i, shape)
    ET.indent(element, space="  ", level=1)
    return gap + ET.tostring(element, encoding="unicode")


def _decode_sources(
    sources: list[str | None], spec: Spec
) -> tuple[list[int], list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Per row, the instance count (-1 without a source), the image size, and the instances
    the import would read from each source (the same pass as the import)."""
    kept = [s for s in sources if s is not None]
    raw = ("<annotations>" + "".join(kept) + "</annotations>").encode("utf-8")
    decoded, _ = decode(raw, Path("cvat_source"), spec=spec)
    kp, vis, _ = instance_arrays(decoded, spec)
    counts: list[int] = []
    sizes: list[tuple[int, int]] = []
    found = iter(zip(decoded.counts, decoded.attrs, strict=True))
    for s in sources:
        if s is None:
            counts.append(-1)
            sizes.append((0, 0))
        else:
            count, attrs = next(found)
            counts.append(count)
            sizes.append((int(attrs["width"]), int(attrs["height"])))
    return counts, sizes, kp, vis


def write_cvat(table: Exported, path: str | os.PathLike[str]) -> Path:
    """Write a CVAT for images 1.1 XML file with the table's keypoints as skeletons.

    Rows read from CVAT whose keypoints are unchanged are written back byte for byte;
    other rows are rebuilt (keeping the image's other shapes and attributes), and tables
    from other formats get a new ``<meta>`` with one skeleton label named after the class.

    Args:
        table: the revision to write.
        path: the XML file.

    Raises:
        UnsupportedError: instances of several classes (one skeleton label is written), or
            points a plain ``points`` shape cannot hold.

    Returns:
        The file written.
    """
    out = as_path(path)
    meta = dict(table.metadata.get("cvat") or {})
    schema = table.schema
    names = tuple(schema.keypoint_names)
    old = Spec.from_dict(meta["spec"]) if meta.get("spec") else None
    label = old.label if old is not None else (schema.classes[0] if schema.classes else "skeleton")
    mode = old.mode if old is not None else "skeleton"
    spec = Spec(label, mode, names, tuple((int(a), int(b)) for a, b in schema.lines))
    notes = Notes(f"export of {table.ref} to {out}")
    flat = table.flat()
    _check_exportable(table, flat, spec, notes)
    m = table.data.num_rows
    sources = table.column(SOURCE_COLUMN) or [None] * m
    images = [str(i) for i in (table.column("image") or [])]
    root = meta.get("image_root")
    fallback = unique_names([os.path.basename(i) for i in images])
    rel = [
        os.path.relpath(i, root)
        if root and os.path.abspath(i).startswith(str(root) + os.sep)
        else f
        for i, f in zip(images, fallback, strict=True)
    ]
    same_spec = old is not None and old == spec
    if old is not None and meta.get("prefix"):
        prefix = (
            str(meta["prefix"]) if same_spec else _relabelled_prefix(str(meta["prefix"]), old, spec)
        )
        suffix = str(meta.get("suffix") or "\n</annotations>\n")
    else:
        prefix, suffix = _fresh_prefix(spec, table.ref.split("@")[0], m), "\n</annotations>\n"
    decoded_counts: list[int] = [-1] * m
    sizes: list[tuple[int, int]] = [(0, 0)] * m
    src_kp = src_vis = np.zeros((0, len(names), 2))
    if old is not None and any(s is not None for s in sources):
        decoded_counts, sizes, src_kp, src_vis = _decode_sources(list(sources), old)
    src_offsets = np.concatenate([[0], np.cumsum([max(c, 0) for c in decoded_counts])]).astype(
        np.int64
    )
    offsets = flat.offsets
    widths, heights = flat.widths.astype(np.int64), flat.heights.astype(np.int64)
    parts = [prefix]
    for r in range(m):
        a, b = int(offsets[r]), int(offsets[r + 1])
        kp, vis = flat.keypoints[a:b], flat.visibilities[a:b]
        source = sources[r]
        if source is not None and same_spec and decoded_counts[r] == b - a:
            s = int(src_offsets[r])
            same = np.array_equal(src_kp[s : s + b - a], kp) and np.array_equal(
                src_vis[s : s + b - a], vis
            )
            if same and sizes[r] == (int(widths[r]), int(heights[r])):
                parts.append(source)
                continue
        size = (int(widths[r]), int(heights[r]))
        old_names = old.names if old is not None else spec.names
        parts.append(_rebuilt(source, r, rel[r], size, kp, vis, spec, old_names))
    parts.append(suffix)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    notes.emit(stacklevel=3)
    return out
