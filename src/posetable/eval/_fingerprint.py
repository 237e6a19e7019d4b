"""The fingerprint of a ground truth: every evaluated field of every instance, and its axes.

Each field is hashed on its own (blake2b), so feeding the instances in batches (rows in
order) gives the digest of feeding them at once: the Ray engine streams a table through
it, ``evaluate_partial`` feeds the whole ground truth. Two partials agree on it exactly
when they were made from the same ground truth, whatever images each one covers.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import orjson

from posetable.eval._data import EvalInput, GroundTruthColumns

_GT_FIELDS = ("image", "category", "keypoints", "labeled", "box", "area", "ignore", "crowd",
              "id_zero", "index")  # fmt: skip
_GT_DTYPES = {"keypoints": np.float64, "box": np.float64, "area": np.float64}


class GroundTruthHasher:
    """The fingerprint of a ground truth, fed in pieces (rows in order) or at once.

    Each evaluated field is hashed on its own, so feeding the rows in batches gives the
    digest of feeding them at once (the Ray engine streams the table through it).
    """

    def __init__(self) -> None:
        self._fields = {name: hashlib.blake2b(digest_size=16) for name in _GT_FIELDS}
        self._count = 0

    def update(self, gt: GroundTruthColumns) -> None:
        """Add the next instances (in the ground truth's order)."""
        for name in _GT_FIELDS:
            kind = _GT_DTYPES.get(name, bool if name in _BOOL_FIELDS else np.int64)
            values = np.ascontiguousarray(getattr(gt, name), dtype=kind)
            self._fields[name].update(values.tobytes())
        self._count += len(gt)

    def hexdigest(
        self, image_ids: np.ndarray, rows: np.ndarray, category_ids: np.ndarray,
        category_labels: np.ndarray, num_keypoints: int,
    ) -> str:  # fmt: skip
        """The fingerprint, with the full ground truth's image and category axes."""
        total = hashlib.blake2b(digest_size=20)
        total.update(b"posetable ground truth v1")
        total.update(struct.pack("<qqq", self._count, num_keypoints, image_ids.shape[0]))
        for value in (image_ids, rows, category_ids, category_labels):
            total.update(_id_bytes(value))
        for name in _GT_FIELDS:
            total.update(self._fields[name].digest())
        return total.hexdigest()


_BOOL_FIELDS = {"labeled", "ignore", "crowd", "id_zero"}


def _id_bytes(values: np.ndarray) -> bytes:
    if values.dtype == object:
        return orjson.dumps(values.tolist())
    return b"i" + np.ascontiguousarray(values, np.int64).tobytes()


def ground_truth_fingerprint(inp: EvalInput) -> str:
    """The fingerprint of ``inp``'s ground truth (every image), as a hex string."""
    hasher = GroundTruthHasher()
    hasher.update(inp.gt)
    return hasher.hexdigest(
        inp.image_ids, inp.rows, inp.category_ids, inp.category_labels, int(inp.sigmas.shape[0])
    )
