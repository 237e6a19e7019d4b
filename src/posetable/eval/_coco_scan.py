"""COCO keypoint files read by the C scanner (``posetable.eval._jsonscan``) into columns.

The fastest path from a file: one pass over an mmap of it, no Python object per
annotation, the two files of an evaluation scanned at once (the scan holds no GIL), and
the pages already scanned given back as it goes. The scanner only keeps what it can vouch
for; whenever it returns None (invalid JSON, a string id, a null or a string where a number
belongs, keypoints of another length, a visibility outside 0/1/2, a NaN...) the readers of
:mod:`posetable.eval._io` read the file and name the problem. Its columns are assembled
exactly as those readers assemble theirs (the same defaults, the same duplicate handling),
so either path gives the same arrays.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from posetable.eval._gt_fast import _assemble, _Header
from posetable.eval._io import CocoGroundTruth, CocoResults, _results

try:
    from posetable.eval import _jsonscan
except ImportError:  # built without a C compiler: the Python readers read every file
    _jsonscan = None  # type: ignore[assignment]

AVAILABLE = _jsonscan is not None  # False: the readers of _io read every file (tests set it)


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap | None]:
    """A read-only mmap of the file (None when it is empty)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield None
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def _scan(scanner: Callable[[Any, bool], dict[str, Any] | None], path: Path) -> Any:
    try:
        with _mapped(path) as mapped:
            return None if mapped is None else scanner(mapped, True)
    except (OSError, ValueError):
        return None


#: a results file is scanned in parts from this size on, one part per core (up to PARTS)
PART_BYTES = 4 << 20
PARTS = 4
# where one element of a results list ends and the next begins; a guess that the scan of
# the part before it checks (a "}, {" inside a string is not a boundary, and is refused)
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _scan_results_in_parts(path: Path, parts: int) -> dict[str, Any] | None:
    """The results scanned in ``parts`` pieces at once (the scan holds no GIL), split where
    one element ends and the next begins; each piece's scan checks that its end is such a
    place, and where one is not, the file is scanned whole. The columns are the whole
    scan's, joined in order."""
    try:
        with _mapped(path) as mapped:
            if mapped is None:
                return None
            size = len(mapped)
            bounds = [0]
            for i in range(1, parts):
                found = _BOUNDARY.search(mapped, max(bounds[-1] + 1, size * i // parts))
                if found is None:
                    break
                bounds.append(found.end() - 1)  # the next element's "{"
            bounds.append(-1)
            if len(bounds) == 2:
                return _jsonscan.results(mapped, True)
            spans = list(itertools.pairwise(bounds))
            with ThreadPoolExecutor(max_workers=len(spans)) as pool:
                scanned = list(pool.map(lambda span: _jsonscan.results(mapped, True, *span), spans))
            if any(part is None for part in scanned):  # a piece's end was no boundary
                return _jsonscan.results(mapped, True)
    except (OSError, ValueError):
        return None
    # each column grown in place by the later pieces' bytes, theirs let go: no second copy
    pieces = [part for part in scanned if part is not None]
    return {name: _jsonscan.join([part[name] for part in pieces]) for name in pieces[0]}


class _Columns:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def ints(self, name: str) -> np.ndarray:
        return np.frombuffer(self.raw[name], np.int64)

    def reals(self, name: str) -> np.ndarray:
        return np.frombuffer(self.raw[name], np.float64)


def read_ground_truth_scan(path: Path) -> CocoGroundTruth | None:
    """The ground truth through the scanner, or None when the Python reader must read it."""
    if not AVAILABLE:
        return None
    raw = _scan(_jsonscan.ground_truth, path)
    if raw is None:
        return None
    cols = _Columns(raw)
    cat_raw = cols.ints("category_ids")
    named = cols.ints("category_keypoints")
    named = named[named > 0]
    kp_count = cols.ints("kp_count")
    if named.size:
        k = int(named[0])  # the first category that names its keypoints, as pycocotools
    else:
        listed = kp_count[kp_count > 0]
        if not listed.size or listed[0] % 3:
            return None  # no K, or a bad first list: the Python reader names it
        k = int(listed[0]) // 3
    n = kp_count.shape[0]
    if n == 0 or np.any(kp_count != 3 * k):
        return None
    points = cols.reals("xy").reshape(n, k, 2)
    third = cols.reals("v").reshape(n, k)
    if np.any((third != 0) & (third != 1) & (third != 2)):
        return None
    box_count = cols.ints("box_count")
    has_box = box_count >= 0
    if np.any(box_count[has_box] != 4):
        return None
    box = np.zeros((n, 4))
    box[has_box] = cols.reals("box").reshape(-1, 4)
    present = np.frombuffer(raw["present"], np.uint8)
    missing = np.stack([(present & bit) == 0 for bit in (1, 2, 4)], axis=1)
    header = _Header(np.unique(cols.ints("image_ids")), cat_raw, np.unique(cat_raw), k)
    return _assemble(
        path,
        header,
        k,
        points,
        ids=cols.ints("ids"),
        images=cols.ints("image"),
        categories=cols.ints("category"),
        vis=third.astype(np.int8),
        box=box,
        has_box=has_box,
        area=cols.reals("area"),
        iscrowd=cols.reals("iscrowd"),
        num_kpts=cols.reals("num_keypoints"),
        missing=missing,
    )


def read_results_scan(
    path: Path, k: int, confidences: bool, *, parts: bool = False
) -> CocoResults | None:
    """The results through the scanner, or None when the Python reader must read them.
    ``parts``: a large file is scanned in pieces on every core (one reader alone; where
    two files are read at once, each has a core already)."""
    if not AVAILABLE or k <= 0:
        return None
    cores = min(_cores(), PARTS) if parts else 1
    if cores > 1 and path.stat().st_size >= PART_BYTES:
        raw = _scan_results_in_parts(path, cores)
    else:
        raw = _scan(_jsonscan.results, path)
    if raw is None:
        return None
    cols = _Columns(raw)
    kp_count = cols.ints("kp_count")
    n = kp_count.shape[0]
    if n == 0 or np.any(kp_count != 3 * k):
        return None
    # the scanner refuses a results list with a number that is not finite
    points = cols.reals("xy").reshape(n, k, 2)
    third = np.frombuffer(raw["third"], np.float32).reshape(n, k)
    score = cols.reals("score")
    box_count = cols.ints("box_count")
    bbox = None
    if box_count[0] > 0:  # pycocotools: the first result's bbox decides every area
        if np.any(box_count != 4):
            return None
        bbox = cols.reals("box").reshape(n, 4)
    return _results(
        path,
        cols.ints("image_ids"),
        cols.ints("category_ids"),
        points,
        third if confidences else None,
        score,
        bbox,
    )
