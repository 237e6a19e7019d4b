"""COCO keypoint ground-truth and results JSON -> flat columns, fast and with precise errors.

Both files go first through the C scanner of :mod:`posetable.eval._coco_scan` (one pass
over an mmap, straight into columns); whatever it does not vouch for takes the paths below.
The results file goes through DuckDB's JSON reader, streamed in record batches straight into
numpy columns (no Python object per result); so does a large ground truth (see
:mod:`posetable.eval._gt_fast`), a small one through orjson and ``np.fromiter`` over the few
fields evaluation needs. Numbers are typed in DuckDB's SQL, never cast through text, and a
scan beside DuckDB (:func:`strings_in_arrays`) catches the one thing its ``DOUBLE[]`` would
convert silently (``[1, "2"]``). Whenever the fast path meets something unexpected (a
missing field, a wrong type, a NaN), the file is read again the plain way only to name the
first problem: file, position in the list, annotation id, what was expected and what was
found.
"""

from __future__ import annotations

import array
import contextlib
import gc
import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from posetable._json_text import encoding_error, syntax_error
from posetable.errors import FormatError

logger = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large JSON becomes Python objects.

    Parsing allocates millions of lists and dicts; each allocation burst triggers
    collections that walk every live object, which made reading a 44 MB file take twice
    as long. The objects are acyclic, so nothing is left for the collector to find.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_json(path: PathLike) -> Any:
    """Parse a JSON file with orjson; NaN/Infinity literals are accepted so they can be named.

    Raises:
        FormatError: the file is missing, not UTF-8 (naming the byte), nested deeper than
            the parsers allow, or not valid JSON (naming the line and column).
    """
    target = Path(path)
    try:
        data = target.read_bytes()
    except FileNotFoundError as exc:
        raise FormatError("file not found", path=target) from exc
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc}", path=target) from exc
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problem = encoding_error(target, data)
        if problem is not None:
            raise problem from None
        if "depth limit" in exc.msg:
            raise syntax_error(target, data, exc) from None
        try:  # Python's json writes NaN / Infinity, which orjson rejects: read them to name them
            return json.loads(data.decode("utf-8"))
        except json.JSONDecodeError as plain:
            raise FormatError(
                f"invalid JSON at line {plain.lineno}, column {plain.colno}: {plain.msg}",
                path=target,
                line=plain.lineno,
            ) from exc
        except RecursionError as deep:
            raise syntax_error(target, data, deep) from None


def _where(kind: str, position: int, item: Any) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    return f"{kind}[{position}]" + (f" (id {ident!r})" if ident is not None else "")


def _first_bad(
    items: Sequence[Any],
    key: str,
    check: Callable[[Any], bool],
    kind: str,
    expected: str,
    path: Path,
) -> FormatError:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return FormatError(
                f"{kind}[{i}] must be an object, got {type(item).__name__}", path=path
            )
        if key not in item:
            return FormatError(f"{_where(kind, i, item)}: missing {key!r} ({expected})", path=path)
        if not check(item[key]):
            return FormatError(
                f"{_where(kind, i, item)}: {key!r} must be {expected}, got {item[key]!r}"[:300],
                path=path,
            )
    return FormatError(f"{kind}: {key!r} could not be read ({expected})", path=path)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def _is_id(v: Any) -> bool:
    return (
        (isinstance(v, int) and not isinstance(v, bool))
        or isinstance(v, str)
        or (isinstance(v, float) and float(v).is_integer())
    )


def numbers(
    items: Sequence[Any], key: str, kind: str, path: Path, *, default: Any = None
) -> np.ndarray:
    """A float64 column of one numeric field (``default`` fills a missing field when given).

    A value must be a JSON number: a string (``"0.9"``), ``true``/``false`` or ``null`` is
    an error naming the item and the field, never converted.
    """
    n = len(items)
    missing: np.ndarray | None = None
    try:
        raw = [item[key] for item in items]
    except (KeyError, TypeError):
        if default is None:
            raise _first_bad(items, key, _is_number, kind, "a finite number", path) from None
        try:
            raw = [item.get(key, np.nan) for item in items]
        except AttributeError:
            raise _first_bad(items, key, _is_number, kind, "a finite number", path) from None
        missing = np.fromiter((key not in item for item in items), dtype=bool, count=n)
    if set(map(type, raw)) - {int, float}:
        raise _first_bad(items, key, _is_number, kind, "a finite number", path)
    try:
        values = np.fromiter(raw, dtype=np.float64, count=n)
    except (TypeError, ValueError, OverflowError):
        raise _first_bad(items, key, _is_number, kind, "a finite number", path) from None
    if missing is not None:
        values[missing] = default if np.ndim(default) == 0 else np.asarray(default)[missing]
    if not np.all(np.isfinite(values)):
        raise _first_bad(items, key, _is_number, kind, "a finite number", path)
    return values


def identifiers(items: Sequence[Any], key: str, kind: str, path: Path) -> np.ndarray:
    """An id column: int64 when every id is an integer (or a whole float, which pycocotools
    also takes for the integer), else an object array of ids (string ids).

    ``true``/``false``, ``null``, fractional numbers, lists and objects are errors naming
    the item.
    """
    n = len(items)
    try:
        raw = [item[key] for item in items]
    except (KeyError, TypeError):
        raise _first_bad(items, key, _is_id, kind, "an integer or string id", path) from None
    kinds = set(map(type, raw))
    if kinds <= {int, float}:
        try:
            values = np.fromiter(raw, dtype=np.int64, count=n)
            if float not in kinds or np.array_equal(values, np.asarray(raw, dtype=float)):
                return values
        except (TypeError, ValueError, OverflowError):
            pass
    if not all(_is_id(v) for v in raw):
        raise _first_bad(items, key, _is_id, kind, "an integer or string id", path)
    return np.asarray([int(v) if isinstance(v, float) else v for v in raw], dtype=object)


def point_lists(
    items: Sequence[Any], key: str, width: int, kind: str, path: Path, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(values (N, width), present (N,)) of a list-of-numbers field; a missing field is absent."""
    n = len(items)
    lists = [item.get(key) if isinstance(item, dict) else None for item in items]
    present = np.fromiter((v is not None for v in lists), dtype=bool, count=n)
    out = np.zeros((n, width))
    chosen = [v for v in lists if v is not None]
    if not chosen:
        return out, present
    try:
        lengths = np.fromiter(map(len, chosen), dtype=np.int64, count=len(chosen))
    except TypeError:
        raise _first_bad(items, key, lambda v: isinstance(v, list), kind, what, path) from None
    if np.any(lengths != width):
        i = int(np.flatnonzero(present)[np.flatnonzero(lengths != width)[0]])
        raise FormatError(
            f"{_where(kind, i, items[i])}: {key!r} must hold {what}, "
            f"got {len(lists[i] or ())} values",
            path=path,
        )
    try:  # array('d') takes numbers only: a string such as "12" is an error, not 12.0
        flat = np.frombuffer(array.array("d", itertools.chain.from_iterable(chosen)), np.float64)
    except (TypeError, ValueError, OverflowError):
        flat = None
    if flat is None or not np.all(np.isfinite(flat)):
        for i, v in enumerate(lists):
            if v is not None and not all(_is_number(x) for x in v):
                bad = next(x for x in v if not _is_number(x))
                raise FormatError(
                    f"{_where(kind, i, items[i])}: {key!r} must hold finite numbers, got {bad!r}",
                    path=path,
                )
    out[present] = np.asarray(flat).reshape(-1, width)
    return out, present


# -- ground truth --------------------------------------------------------------------------
@dataclass(frozen=True)
class CocoGroundTruth:
    """A COCO keypoints ground-truth file as columns (only what evaluation needs).

    Attributes:
        path: the file.
        image_ids: (I,) sorted unique image ids.
        category_ids: (C,) sorted unique category ids.
        category_labels: (C,) index of each category in the file's ``categories`` list.
        num_keypoints: K.
        ann_image, ann_category: (G,) image / category positions.
        points: (G, K, 2) x, y (C-contiguous, as the engine takes them).
        visibility: (G, K) int8 v (0, 1 or 2).
        box: (G, 4) ``[x, y, w, h]``.
        area, iscrowd, num_kpts: (G,) float64 (filled as the formats issue says when absent).
        ids: (G,) annotation ids (int64 or object).
        index: (G,) position of the annotation among its image's annotations in the file.
    """

    path: Path
    image_ids: np.ndarray
    category_ids: np.ndarray
    category_labels: np.ndarray
    num_keypoints: int
    ann_image: np.ndarray
    ann_category: np.ndarray
    points: np.ndarray
    visibility: np.ndarray
    box: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    num_kpts: np.ndarray
    ids: np.ndarray
    index: np.ndarray

    @property
    def keypoints(self) -> np.ndarray:
        """(G, K, 3) x, y, v as the file lists them (a new array)."""
        return np.concatenate([self.points, self.visibility[..., None]], axis=2)


def positions(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Position of each id in ``sorted_ids`` (-1 where absent)."""
    if ids.shape[0] == 0:
        return np.zeros(0, np.int64)
    if ids.dtype != object and sorted_ids.dtype != object:
        if sorted_ids.shape[0] == 0:
            return np.full(ids.shape[0], -1, np.int64)
        where = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.shape[0] - 1)
        return np.where(sorted_ids[where] == ids, where, -1).astype(np.int64)
    lookup = {v: i for i, v in enumerate(sorted_ids.tolist())}
    return np.fromiter(
        (lookup.get(v, -1) for v in ids.tolist()), dtype=np.int64, count=ids.shape[0]
    )


def sorted_unique(ids: np.ndarray, what: str, path: Path) -> np.ndarray:
    """Sorted unique ids (pycocotools sorts ``imgIds`` / ``catIds``)."""
    if ids.dtype != object:
        return np.unique(ids)
    kinds = {type(v) for v in ids.tolist()}
    if len(kinds) > 1:
        raise FormatError(
            f"{what} ids mix {sorted(k.__name__ for k in kinds)}; use one type", path=path
        )
    return np.asarray(sorted(set(ids.tolist())), dtype=object)


def known_annotations(ann_img: np.ndarray, ann_cat: np.ndarray, target: Any) -> np.ndarray:
    """Mask of the annotations whose image and category the file lists; the others are
    logged and left out, as pycocotools leaves them out."""
    known = (ann_img >= 0) & (ann_cat >= 0)
    if not known.all():
        logger.warning(
            "%s: %d annotations name an image or category the file does not list; "
            "they are left out, as pycocotools leaves them out",
            target,
            int((~known).sum()),
        )
    return known


def read_ground_truth(path: PathLike) -> CocoGroundTruth:
    """Read a COCO keypoints ground-truth JSON into columns (see :func:`_read_ground_truth`).

    The C scanner of :mod:`posetable.eval._coco_scan` reads it when it can vouch for the
    file; else large files take the DuckDB path of :mod:`posetable.eval._gt_fast`; whatever
    neither can vouch for is read by the plain reader, which also names any problem.
    """
    from posetable.eval._coco_scan import read_ground_truth_scan
    from posetable.eval._gt_fast import read_ground_truth_fast

    target = Path(path)
    with no_gc():
        scanned = read_ground_truth_scan(target)  # None for a missing file too
        if scanned is not None:
            return scanned
        fast = read_ground_truth_fast(target)
        return fast if fast is not None else _read_ground_truth(path)


def _read_ground_truth(path: PathLike) -> CocoGroundTruth:
    """Read a COCO keypoints ground-truth JSON into columns.

    Annotations of images or categories the file does not list are left out, as
    pycocotools leaves them out (logged). Missing ``area`` becomes bbox w*h*0.53, missing
    ``iscrowd`` 0, missing ``num_keypoints`` the count of points with v > 0, a missing
    ``bbox`` the box around the labeled points.
    """
    target = Path(path)
    doc = load_json(target)
    if not isinstance(doc, dict):
        raise FormatError(
            f"a COCO file must be a JSON object, got {type(doc).__name__}", path=target
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise FormatError(f"missing the {key!r} list of a COCO keypoints file", path=target)
    images, anns, cats = doc["images"], doc["annotations"], doc["categories"]
    image_ids = sorted_unique(identifiers(images, "id", "images", target), "image", target)
    cat_raw = identifiers(cats, "id", "categories", target)
    category_ids = sorted_unique(cat_raw, "category", target)
    first_label: dict[Any, int] = {}
    for i, v in enumerate(cat_raw.tolist()):
        first_label.setdefault(v, i)
    category_labels = np.asarray([first_label[v] for v in category_ids.tolist()], dtype=np.int64)
    k = _num_keypoints(cats, anns, target)
    if anns:
        ann_img = positions(identifiers(anns, "image_id", "annotations", target), image_ids)
        ann_cat = positions(identifiers(anns, "category_id", "annotations", target), category_ids)
    else:
        ann_img = ann_cat = np.zeros(0, np.int64)
    known = known_annotations(ann_img, ann_cat, target)
    kept = np.flatnonzero(known)
    anns = [anns[i] for i in kept.tolist()] if not known.all() else anns
    ann_img, ann_cat = ann_img[kept], ann_cat[kept]
    ids = identifiers(anns, "id", "annotations", target) if anns else np.zeros(0, np.int64)
    flat, _ = point_lists(
        anns, "keypoints", 3 * k, "annotations", target, f"3K={3 * k} values (x, y, v)"
    )
    kp = flat.reshape(-1, k, 3)
    vis = kp[..., 2]
    bad = (vis != 0) & (vis != 1) & (vis != 2)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise FormatError(
            f"{_where('annotations', i, anns[i])}: visibility must be 0, 1 or 2, got {vis[i, j]!r} "
            f"at keypoint {j}",
            path=target,
        )
    labeled = vis > 0
    box, has_box = point_lists(anns, "bbox", 4, "annotations", target, "4 values [x, y, w, h]")
    if not has_box.all():
        box[~has_box] = _labeled_box(kp[~has_box, :, :2], labeled[~has_box])
    area = numbers(anns, "area", "annotations", target, default=box[:, 2] * box[:, 3] * 0.53)
    iscrowd = numbers(anns, "iscrowd", "annotations", target, default=0.0)
    num_kpts = numbers(
        anns, "num_keypoints", "annotations", target, default=labeled.sum(axis=1).astype(float)
    )
    order = np.argsort(ann_img, kind="stable")
    index = np.empty(len(anns), np.int64)
    if len(anns):
        from posetable.eval._engine import group_starts

        index[order] = np.arange(len(anns)) - group_starts(ann_img[order])
    out = CocoGroundTruth(
        path=target,
        image_ids=image_ids,
        category_ids=category_ids,
        category_labels=category_labels,
        num_keypoints=k,
        ann_image=ann_img,
        ann_category=ann_cat,
        points=np.ascontiguousarray(kp[..., :2]),
        visibility=vis.astype(np.int8),
        box=box,
        area=area,
        iscrowd=iscrowd,
        num_kpts=num_kpts,
        ids=ids,
        index=index,
    )
    return _pycocotools_duplicates(out)


def _labeled_box(points: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    x = np.where(labeled, points[..., 0], np.inf)
    y = np.where(labeled, points[..., 1], np.inf)
    x1 = np.where(labeled, points[..., 0], -np.inf).max(1)
    y1 = np.where(labeled, points[..., 1], -np.inf).max(1)
    x0, y0 = x.min(1), y.min(1)
    box = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    box[~labeled.any(axis=1)] = 0.0
    return box


def _num_keypoints(cats: list[Any], anns: list[Any], path: Path) -> int:
    names = [c.get("keypoints") for c in cats if isinstance(c, dict) and c.get("keypoints")]
    if names:
        return len(names[0] or ())
    for i, ann in enumerate(anns):
        kps = ann.get("keypoints") if isinstance(ann, dict) else None
        if isinstance(kps, list) and kps:
            if len(kps) % 3:
                raise FormatError(
                    f"{_where('annotations', i, ann)}: 'keypoints' must hold 3K values, "
                    f"got {len(kps)}",
                    path=path,
                )
            return len(kps) // 3
    raise FormatError(
        "no keypoint category and no annotation with keypoints: K is unknown", path=path
    )


def _pycocotools_duplicates(gt: CocoGroundTruth) -> CocoGroundTruth:
    """Reproduce pycocotools on duplicate annotation ids (its ``anns`` dict keeps the last).

    pycocotools lists annotations per image in file order, then loads each by id, so every
    annotation sharing an id is replaced by the LAST one with that id (image and category
    included). Logged, since such a file evaluates other annotations than it shows.
    """
    ids = gt.ids
    if ids.shape[0] < 2:
        return gt
    if ids.dtype != object:
        uniq, inverse = np.unique(ids, return_inverse=True)
        if uniq.shape[0] == ids.shape[0]:
            return gt
        last = np.zeros(uniq.shape[0], np.int64)
        last[inverse] = np.arange(ids.shape[0])  # later positions overwrite earlier ones
        source = last[inverse]
    else:
        seen: dict[Any, int] = {}
        for i, v in enumerate(ids.tolist()):
            seen[v] = i
        if len(seen) == ids.shape[0]:
            return gt
        source = np.asarray([seen[v] for v in ids.tolist()], dtype=np.int64)
    logger.warning(
        "%s: %d annotations share an id with another; evaluating as pycocotools does "
        "(each is replaced by the last annotation with its id)",
        gt.path,
        int((source != np.arange(ids.shape[0])).sum()),
    )
    slots = np.argsort(gt.ann_image, kind="stable")  # pycocotools' order: image, then file order
    src = source[slots]
    return CocoGroundTruth(
        path=gt.path,
        image_ids=gt.image_ids,
        category_ids=gt.category_ids,
        category_labels=gt.category_labels,
        num_keypoints=gt.num_keypoints,
        ann_image=gt.ann_image[src],
        ann_category=gt.ann_category[src],
        points=gt.points[src],
        visibility=gt.visibility[src],
        box=gt.box[src],
        area=gt.area[src],
        iscrowd=gt.iscrowd[src],
        num_kpts=gt.num_kpts[src],
        ids=gt.ids[src],
        index=gt.index[slots],
    )


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CocoResults:
    """A COCO keypoint results file as columns.

    Attributes:
        path: the file.
        image_ids: (D,) image id of each result (int64 or object).
        category_ids: (D,) category id of each result.
        points: (D, K, 2) x, y (C-contiguous, as the engine takes them).
        confidences: (D, K) float32, the third value of each point (a score; not used by
            OKS; kept as a run keeps it), or None when the reader was asked not to keep it.
        score: (D,) float64.
        area: (D,) float64, pycocotools' ``loadRes`` area (bbox w*h when the FIRST result has
            a non-empty bbox, else the extent of all predicted points).
        bbox: (D, 4) ``[x, y, w, h]`` or None when the first result has none.
    """

    path: Path
    image_ids: np.ndarray
    category_ids: np.ndarray
    points: np.ndarray
    confidences: np.ndarray | None
    score: np.ndarray
    area: np.ndarray
    bbox: np.ndarray | None

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def keypoints(self) -> np.ndarray:
        """(D, K, 3) x, y and the third value, as the file lists them (a new array)."""
        if self.confidences is None:
            raise ValueError("these results were read without the points' third values")
        return np.concatenate([self.points, self.confidences[..., None]], axis=2)


# From this size a file's DuckDB read takes its turn (one large read at a time, see
# ``_duck.turn``) and gives DuckDB's memory back when it is done.
RELEASE_BYTES = 16 << 20


def json_integer(name: str) -> str:
    """SQL: a JSON-typed column as BIGINT when it holds a JSON integer literal, else NULL.

    The scalars are read as JSON (DuckDB's canonical text of the value) so that their JSON
    types are checked here: DuckDB would otherwise turn ``"12"`` into 12, 12.7 into 13 and
    ``true`` into 1 without a word. The text of a string starts with a quote, of a real
    has a ``.`` or an exponent, so only a JSON integer matches ``-?[0-9]+``.
    """
    return (
        f"CASE WHEN regexp_full_match({name}::VARCHAR, '-?[0-9]+') "
        f"THEN TRY_CAST({name}::VARCHAR AS BIGINT) END AS {name}"
    )


def json_number(name: str) -> str:
    """SQL: a JSON-typed column as DOUBLE; NULL where it is missing, NaN where it holds
    something other than a JSON number (a string, ``true``, a list: the reader then falls
    back to the plain one, which names it).

    The value is the correctly rounded parse of the number's text, the same double
    Python's ``json`` gives pycocotools.
    """
    return (
        f"CASE WHEN {name} IS NULL THEN NULL "
        f"ELSE COALESCE(TRY_CAST({name}::VARCHAR AS DOUBLE), 'NaN'::DOUBLE) END AS {name}"
    )


_WHITESPACE = np.zeros(256, bool)
_WHITESPACE[[9, 10, 13, 32]] = True
_QUOTE, _COLON, _COMMA, _OPEN = 34, 58, 44, 91


def strings_in_arrays(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether a JSON file may hold a string inside an array (``[1, "2", 3]``).

    DuckDB reads such a string into a ``DOUBLE[]`` column as the number it spells, without
    a word, where pycocotools fails and the plain reader names it; the fast readers call
    this (alongside DuckDB, on the other core) and leave such files to the plain reader.
    A string is an array element when the byte before it (past whitespace) is ``[`` or
    ``,`` and the byte after it is not ``:`` (a key's). Read in chunks (bounded memory);
    True also when a backslash or an odd number of quotes leaves the strings' bounds open.
    """
    buf = bytearray(chunk)
    view = np.frombuffer(buf, np.uint8)
    last = 0  # the last byte that is not whitespace, of the chunks read so far
    opened: int | None = None  # a string open at the chunk's end: the byte before it
    waiting: int | None = None  # a string closed at the chunk's end: the byte before it
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buf):
            data = view[:n]
            first = _solid(buf, range(n))
            if first is None:
                continue  # whitespace only
            if buf.find(b"\\", 0, n) >= 0:
                return True
            if waiting is not None:
                if _element(waiting, first):
                    return True
                waiting = None
            quotes = np.flatnonzero(data == _QUOTE)
            starts = quotes[1::2] if opened is not None else quotes[0::2]
            ends = quotes[0::2] if opened is not None else quotes[1::2]
            before = _neighbours(data, starts, -1, last)
            if opened is not None:
                before = np.concatenate([np.array([opened], np.uint8), before])
            opened = int(before[-1]) if before.size > ends.size else None
            after = _neighbours(data, ends, 1, 0)
            before = before[: ends.size]
            if ends.size and after[-1] == 0:  # the byte after it is in the next chunk
                waiting, before, after = int(before[-1]), before[:-1], after[:-1]
            if np.any(((before == _OPEN) | (before == _COMMA)) & (after != _COLON)):
                return True
            last = _solid(buf, range(n - 1, -1, -1)) or last
    return opened is not None or (waiting is not None and _element(waiting, 0))


def _element(before: int, after: int) -> bool:
    return before in (_OPEN, _COMMA) and after != _COLON


def _solid(buf: bytearray, where: range) -> int | None:
    """The first byte of ``buf`` at the positions ``where`` that is not whitespace."""
    for i in where:
        if not _WHITESPACE[buf[i]]:
            return buf[i]
    return None


def _neighbours(data: np.ndarray, at: np.ndarray, step: int, outside: int) -> np.ndarray:
    """For each position in ``at``, the nearest byte of ``data`` that is not whitespace in
    the direction ``step`` (``outside`` when there is none in ``data``)."""
    index = at + step
    inside = (index >= 0) & (index < data.shape[0])
    out = np.where(inside, data[np.clip(index, 0, data.shape[0] - 1)], outside).astype(np.uint8)
    todo = np.flatnonzero(inside & _WHITESPACE[out])  # the few with whitespace in between
    while todo.size:
        index[todo] += step
        j = index[todo]
        inside = (j >= 0) & (j < data.shape[0])
        out[todo[~inside]] = outside
        todo, j = todo[inside], j[inside]
        out[todo] = data[j]
        todo = todo[_WHITESPACE[out[todo]]]
    return out


def read_json_sql(path: Path, columns: str) -> str:
    """SQL: DuckDB's reader over a JSON array of objects, with the given column types."""
    quoted = str(path).replace("'", "''")
    return f"read_json('{quoted}', format='array', columns={columns})"


def file_size(path: PathLike) -> int:
    """The file's size in bytes (0 when it cannot be read)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def read_results(
    path: PathLike, num_keypoints: int, *, confidences: bool = True, parts: bool = False
) -> CocoResults:
    """Read a COCO keypoint results JSON (a list of ``image_id``, ``category_id``,
    ``keypoints``, ``score``, optional ``bbox``) into columns (``confidences=False``: the
    points' third values are not kept; evaluation does not use them; ``parts``: a large
    file is scanned in pieces on every core at once).

    Raises:
        FormatError: not a list, a missing or non-numeric field (a string ``"0.9"`` score,
            a ``true`` or fractional id: never converted), keypoints of another K, NaN
            values, or a bbox on the first result but not on a later one.
    """
    target = Path(path)
    if not target.is_file():
        raise FormatError("file not found", path=target)
    from posetable.eval._coco_scan import read_results_scan

    scanned = read_results_scan(target, num_keypoints, confidences, parts=parts)
    if scanned is not None:
        return scanned
    fast = _results_duckdb(target, num_keypoints, confidences)
    if fast is not None:
        return fast
    res = _results_plain(target, num_keypoints)
    return res if confidences else replace(res, confidences=None)


_RESULT_COLUMNS = (
    "{'image_id': 'JSON', 'category_id': 'JSON', 'keypoints': 'DOUBLE[]', 'score': 'JSON', "
    "'bbox': 'DOUBLE[]'}"
)


def _results_duckdb(path: Path, k: int, confidences: bool) -> CocoResults | None:
    """DuckDB's reader, streamed in record batches; None when anything is unusual (then
    the plain reader names it)."""
    import duckdb
    import pyarrow as pa

    from posetable.eval._duck import Chunks, batches, connection, release, turn

    query = (
        f"SELECT {json_integer('image_id')}, {json_integer('category_id')}, keypoints, "
        f"{json_number('score')}, bbox FROM {read_json_sql(path, _RESULT_COLUMNS)}"
    )
    chunks = Chunks()
    with_bbox: bool | None = None
    large = file_size(path) >= RELEASE_BYTES
    with turn(large), ThreadPoolExecutor(max_workers=1) as pool:
        strings = pool.submit(strings_in_arrays, path)  # on the other core, meanwhile
        try:
            with connection() as con:
                for batch in batches(con, query, row_bytes=8 * (3 * k + 8)):
                    if with_bbox is None and batch.num_rows:
                        first = batch.column(4)[0]
                        with_bbox = first.is_valid and len(first) > 0
                    part = _result_batch(batch, k, bool(with_bbox), confidences)
                    if part is None:
                        return None
                    chunks.add(**part)
        except (duckdb.Error, pa.ArrowException, RuntimeError, ValueError):
            return None
        finally:
            if large:
                release()  # before the columns are joined: DuckDB's memory is not needed now
        if not chunks.rows or strings.result():
            return None  # an empty list, or "2" in a list: the plain reader answers it
        points = chunks.take("points")  # the largest first: joining holds one column twice
        return _results(
            path,
            chunks.take("image_ids"),
            chunks.take("category_ids"),
            points,
            chunks.take("confidences") if confidences else None,
            chunks.take("score"),
            chunks.take("bbox") if with_bbox else None,
        )


def _result_batch(
    batch: Any, k: int, with_bbox: bool, confidences: bool
) -> dict[str, np.ndarray] | None:
    """The columns of one record batch (see :class:`CocoResults`)."""
    from posetable.eval._duck import list_values, numbers

    n = batch.num_rows
    image_ids = numbers(batch.column(0), np.int64)
    category_ids = numbers(batch.column(1), np.int64)
    score = numbers(batch.column(3), np.float64)
    kp = batch.column(2)
    if image_ids is None or category_ids is None or score is None or kp.null_count:
        return None
    if batch.column(0).null_count or batch.column(1).null_count or batch.column(3).null_count:
        return None
    flat = list_values(kp)
    if flat is None or np.any(flat[0] != 3 * k) or not np.all(np.isfinite(flat[1])):
        return None
    if not np.all(np.isfinite(score)):
        return None
    values = flat[1].reshape(n, k, 3)
    bbox = np.zeros((0, 4))
    if with_bbox:
        boxes = batch.column(4)
        listed = list_values(boxes)
        if boxes.null_count or listed is None or np.any(listed[0] != 4):
            return None
        bbox = listed[1].reshape(n, 4).copy()
        if not np.all(np.isfinite(bbox)):
            return None
    part = {
        "image_ids": image_ids,
        "category_ids": category_ids,
        "points": np.ascontiguousarray(values[..., :2]),
        "score": score,
        "bbox": bbox,
    }
    if confidences:
        part["confidences"] = values[..., 2].astype(np.float32)
    return part


def _results(
    path: Path,
    image_ids: np.ndarray,
    category_ids: np.ndarray,
    points: np.ndarray,
    confidences: np.ndarray | None,
    score: np.ndarray,
    bbox: np.ndarray | None,
) -> CocoResults:
    if bbox is not None:
        area = bbox[:, 2] * bbox[:, 3]
    else:
        from posetable.eval._data import keypoint_extent_area

        area = keypoint_extent_area(points)
    if confidences is not None:
        confidences = np.asarray(confidences, np.float32)  # a copy only where it is float64
    return CocoResults(path, image_ids, category_ids, points, confidences, score, area, bbox)


def _results_plain(path: Path, k: int) -> CocoResults:
    with no_gc():
        return _results_plain_columns(path, k)


def _results_plain_columns(path: Path, k: int) -> CocoResults:
    items = load_json(path)
    if not isinstance(items, list):
        raise FormatError(
            f"a COCO results file must be a JSON list of results, got {type(items).__name__}",
            path=path,
        )
    kind = "results"
    if not items:
        empty = np.zeros(0, np.int64)
        return CocoResults(path, empty, empty, np.zeros((0, k, 2)), np.zeros((0, k), np.float32),
                           np.zeros(0), np.zeros(0), None)  # fmt: skip
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise FormatError(
                f"results[{i}] must be an object, got {type(item).__name__}", path=path
            )
    image_ids = identifiers(items, "image_id", kind, path)
    category_ids = identifiers(items, "category_id", kind, path)
    missing = [i for i, item in enumerate(items) if "keypoints" not in item]
    if missing:
        raise FormatError(f"results[{missing[0]}]: missing 'keypoints'", path=path)
    flat, _ = point_lists(items, "keypoints", 3 * k, kind, path, f"3K={3 * k} values (x, y, score)")
    score = numbers(items, "score", kind, path)
    first = items[0].get("bbox")
    bbox = None
    if first:
        lacking = [i for i, item in enumerate(items) if not item.get("bbox")]
        if lacking:
            raise FormatError(
                f"results[{lacking[0]}]: no 'bbox' while the first result has one (pycocotools "
                "then takes every result's area from its bbox); give every result a bbox or none",
                path=path,
            )
        bbox, _ = point_lists(items, "bbox", 4, kind, path, "4 values [x, y, w, h]")
    values = flat.reshape(-1, k, 3)
    points = np.ascontiguousarray(values[..., :2])
    return _results(path, image_ids, category_ids, points, values[..., 2].copy(), score, bbox)
