"""What every rule reads: the flat ground truth, the schema and the source's raw extras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from posetable.diagnose._flat import GroundTruth
from posetable.schema import Keypoints2DSchema


@dataclass(frozen=True)
class Context:
    """The input of the rules.

    Attributes:
        gt: every instance as flat arrays.
        schema: the table's schema.
        source_lines: skeleton lines as the source file wrote them (0-based, possibly out
            of range), when they differ from what the schema could hold; else None.
        source_flips: flip indices as the source file wrote them (possibly invalid), or None.
    """

    gt: GroundTruth
    schema: Keypoints2DSchema
    source_lines: list[tuple[int, int]] | None = None
    source_flips: list[Any] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The keypoint names."""
        return self.schema.keypoint_names

    @property
    def sigmas(self) -> np.ndarray:
        """(K,) the table's OKS sigmas (1/K when it has none, as every metric uses)."""
        return np.asarray(self.schema.sigmas, np.float64)
