"""Partial evaluations gathered across ``torch.distributed`` ranks (validation in DDP).

Each rank evaluates its own images with :func:`posetable.evaluate_partial` and calls
:func:`gather_partials`; the partials' bytes travel with ``all_gather_object`` (or
``gather_object`` to one rank) and are merged with :func:`posetable.merge_partials`, so
every rank (or the destination rank) gets the result of evaluating all images at once,
bit for bit. Needs ``torch`` (extra ``posetable[torch]``) and an initialised process group.
"""

from __future__ import annotations

from typing import Any

from posetable.errors import EvaluationError, missing_extra
from posetable.eval.partial import Partial, merge_partials
from posetable.eval.result import EvaluationResult

__all__ = ["gather_partials"]


def gather_partials(
    partial: Partial,
    *,
    group: Any = None,
    dst: int | None = None,
    allow_missing: bool = False,
) -> EvaluationResult | None:
    """Merge this rank's partial with every other rank's.

    Args:
        partial: this rank's :class:`~posetable.Partial` (an empty one when the rank
            had no image).
        group: the ``torch.distributed`` process group (default: the world).
        dst: None: every rank gets the merged result (``all_gather_object``); a rank
            number: only that rank does (``gather_object``; the others get None), which
            keeps the other ranks' memory free of the other partials.
        allow_missing: as for :func:`~posetable.merge_partials`.

    Returns:
        The merged :class:`~posetable.EvaluationResult` (None on ranks other than ``dst``).

    Raises:
        EvaluationError: torch.distributed is not initialised.
        PartialMismatchError, PartialCoverageError: as :func:`~posetable.merge_partials`,
            on every rank that merges.

    Example:
        ``result = gather_partials(pt.evaluate_partial(table, preds, rows=my_rows))``
    """
    try:
        import torch.distributed as dist
    except ImportError as exc:
        raise missing_extra("torch", "torch") from exc
    if not dist.is_available() or not dist.is_initialized():
        raise EvaluationError(
            "gather_partials needs an initialised torch.distributed process group "
            "(torch.distributed.init_process_group(...)) on every rank"
        )
    data = partial.to_bytes()
    size = dist.get_world_size(group)
    if dst is None:
        gathered: list[Any] = [None] * size
        dist.all_gather_object(gathered, data, group=group)
        return merge_partials(gathered, allow_missing=allow_missing)
    received: list[Any] | None = [None] * size if dist.get_rank() == dst else None
    dist.gather_object(data, received, dst=dst, group=group)
    if received is None:
        return None
    return merge_partials(received, allow_missing=allow_missing)
