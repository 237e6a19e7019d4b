"""Helpers shared by the Label Studio, CVAT and Ultralytics NDJSON formats.

Each of these formats keeps, per row, the record it was read from (a row column named
``<format>_source``), so export gives back what the file had: a value that the table still
holds unchanged is written back exactly as the file wrote it (:func:`reuse`), everything
the table does not model (ids, other shapes, fields of the tool) is copied from the record.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_sizes, missing_files
from posetable.formats._notes import Notes, first_few


def reuse(
    original: np.ndarray, forward: np.ndarray, current: np.ndarray, fresh: np.ndarray
) -> np.ndarray:
    """The file's own values where they still give the table's values, else fresh ones.

    ``forward`` is what the import computed from ``original`` (pixels from percent or
    normalised values); where it equals ``current`` (the table now), ``original`` is
    written back bit for bit, so an import followed by an export changes no number.

    Example:
        >>> import numpy as np
        >>> original = np.array([33.3, 50.0])
        >>> forward = original * 7 / 100  # pixels the import computed
        >>> current = np.array([forward[0], 4.0])  # the second point was moved
        >>> reuse(original, forward, current, current * 100 / 7).tolist()
        [33.3, 57.142857142857146]
    """
    same = (forward == current) & ~np.isnan(original)
    return np.where(same, original, fresh)


def fill_sizes(
    images: Sequence[str],
    widths: np.ndarray,
    heights: np.ndarray,
    image_size: tuple[int, int] | None,
    notes: Notes,
    what: Sequence[str],
) -> None:
    """Fill sizes the file did not give (0) from the image headers, else ``image_size``.

    ``what`` names each row for messages (``"task 12"``, ``"line 7"``). Raises
    :class:`MissingFileError` naming the rows when neither is available.
    """
    lacking = np.flatnonzero((widths <= 0) | (heights <= 0))
    if lacking.size == 0:
        return
    names = [images[i] for i in lacking.tolist()]
    gone = missing_files(names)
    here = np.setdiff1d(np.arange(len(names)), gone)
    if here.size:
        w, h = image_sizes([names[i] for i in here.tolist()])
        widths[lacking[here]], heights[lacking[here]] = w, h
        notes.add(f"{here.size} rows give no image size: read from their image headers")
    if gone.size:
        rows = lacking[gone]
        if image_size is None:
            raise MissingFileError(
                f"{gone.size} rows give no image size and their image is not at hand: "
                f"{first_few(what[i] for i in rows.tolist())}; pass image_size=(width, height)"
            )
        widths[rows], heights[rows] = int(image_size[0]), int(image_size[1])
        notes.add(
            f"{gone.size} rows give no image size and their image is not at hand: their size "
            f"is the image_size given, {int(image_size[0])}x{int(image_size[1])}"
        )


def name_map(old: Sequence[str], new: Sequence[str]) -> dict[int, int]:
    """Which keypoint of ``new`` each keypoint of ``old`` became: the same name, else (a
    rename) the same position when its old name is gone and the new name there is new.

    Example:
        >>> name_map(["nose", "eye", "ear"], ["snout", "ear", "eye"])
        {1: 2, 2: 1, 0: 0}
    """
    index = {n: j for j, n in enumerate(new)}
    out = {j: index[n] for j, n in enumerate(old) if n in index}
    gone, fresh = set(old) - set(new), set(new) - set(old)
    for j, n in enumerate(old):
        if n in gone and j < len(new) and new[j] in fresh:
            out[j] = j
    return out
