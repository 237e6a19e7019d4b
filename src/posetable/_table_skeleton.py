"""Skeleton operations as ``Table`` methods: thin entries to :mod:`posetable.skeleton`.

A mixin of :class:`posetable.table.Table`; each operation writes one new revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from posetable.store import StoreLike

if TYPE_CHECKING:
    from posetable.schema import Keypoints2DSchema
    from posetable.table import Table


class TableSkeleton:
    """The skeleton operations of :class:`~posetable.table.Table`."""

    # -- skeleton operations (posetable/skeleton.py) -------------------------------------------
    def add_keypoints(
        self,
        names: Sequence[str],
        *,
        sigmas: Sequence[float] | np.ndarray | None = None,
        flip_pairs: Sequence[tuple[str, str]] | None = None,
        lines: Sequence[tuple[str | int, str | int]] | None = None,
        default_points: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> Table:
        """A new revision with new keypoints (v = 0 everywhere).

        See :func:`posetable.skeleton.add_keypoints`.
        """
        from posetable.skeleton import add_keypoints

        return add_keypoints(
            cast("Table", self),
            names,
            sigmas=sigmas,
            flip_pairs=flip_pairs,
            lines=lines,
            default_points=default_points,
        )

    def remove_keypoints(self, names: Sequence[str | int]) -> Table:
        """A new revision without some keypoints.

        See :func:`posetable.skeleton.remove_keypoints`.
        """
        from posetable.skeleton import remove_keypoints

        return remove_keypoints(cast("Table", self), names)

    def rename_keypoints(self, mapping: Mapping[str, str], *, derive_flips: bool = False) -> Table:
        """A new revision with keypoints renamed ``{old: new}``.

        See :func:`posetable.skeleton.rename_keypoints`.
        """
        from posetable.skeleton import rename_keypoints

        return rename_keypoints(cast("Table", self), mapping, derive_flips=derive_flips)

    def reorder_keypoints(self, order: Sequence[str | int]) -> Table:
        """A new revision with the keypoints in another order.

        See :func:`posetable.skeleton.reorder_keypoints`.
        """
        from posetable.skeleton import reorder_keypoints

        return reorder_keypoints(cast("Table", self), order)

    def map_keypoints(
        self,
        target_schema: Keypoints2DSchema | str,
        mapping: Mapping[str, str | None] | str,
        *,
        name: str | None = None,
        store: StoreLike = None,
    ) -> Table:
        """This table in another keypoint layout (a new revision, or a new table ``name``).

        See :func:`posetable.skeleton.map_keypoints`.
        """
        from posetable.skeleton import map_keypoints

        return map_keypoints(cast("Table", self), target_schema, mapping, name=name, store=store)
