"""How much memory a single-process evaluation needs, told before the matching allocates.

The estimate comes from the counts alone (images, ground truth, predictions, K, the
(image, category) groups and the parameters): the inputs already read, the candidate pairs
(every pair of a prediction among the top ``maxDets`` of its image and a ground truth of
the same image and category), the matches (an int64 and three flags per evaluated
prediction, area range and threshold) and the accumulation's copies of the TP / FP flags.
Past the memory that is available (or ``max_memory``) the evaluation is refused with
:class:`EvaluationMemoryError`, which points to ``engine="ray"`` and to partials.
"""

from __future__ import annotations

import os

import numpy as np

from posetable.errors import EvaluationError
from posetable.eval._data import EvalInput
from posetable.eval._engine import Params

SAFETY = 1.25  # numpy temporaries on top of the arrays counted


class EvaluationMemoryError(EvaluationError, MemoryError):
    """An evaluation needs more memory than one process has (or than ``max_memory``)."""


def input_bytes(inp: EvalInput) -> int:
    """The bytes held by the evaluation's flat input columns."""
    total = 0
    for columns in (inp.gt, inp.dt):
        for value in vars(columns).values():
            total += int(getattr(value, "nbytes", 0))
    return total


def candidate_pairs(inp: EvalInput, max_det: int) -> int:
    """The number of (prediction, ground truth) pairs the matching considers."""
    n_img = max(inp.num_images, 1)
    if len(inp.gt) == 0 or len(inp.dt) == 0:
        return 0
    g_keys, g_counts = np.unique(inp.gt.category * n_img + inp.gt.image, return_counts=True)
    d_keys, d_counts = np.unique(inp.dt.category * n_img + inp.dt.image, return_counts=True)
    where = np.minimum(np.searchsorted(g_keys, d_keys), g_keys.shape[0] - 1)
    shared = g_keys[where] == d_keys
    return int((np.minimum(d_counts[shared], max_det) * g_counts[where[shared]]).sum())


def needed_bytes(inp: EvalInput, params: Params) -> tuple[int, int]:
    """(bytes held by the inputs, further bytes the matching and accumulation need)."""
    n_a, n_t = params.area_ranges.shape[0], params.oks_thresholds.shape[0]
    max_det = max(params.max_dets) if params.max_dets else 0
    pairs = candidate_pairs(inp, max_det)
    evaluated = len(inp.dt)  # at most: the top maxDets of each image are evaluated
    per_pair = 40 + 3 * n_a * n_t  # indices, OKS, and the greedy's keys per column
    per_evaluated = (11 + 2) * n_a * n_t + 24  # matches, accumulation copies, ranks
    further = pairs * per_pair + evaluated * per_evaluated + n_a * len(inp.gt)
    return input_bytes(inp), int(further * SAFETY)


def available_bytes() -> int | None:
    """Memory the system can give now (``MemAvailable`` on Linux), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def check_memory(inp: EvalInput, params: Params, *, max_memory: int | None) -> None:
    """Refuse an evaluation that cannot fit, before its matching allocates.

    ``max_memory``: the most bytes the whole evaluation may hold (inputs included); None:
    what the matching needs on top of the inputs must fit in the memory available now.

    Raises:
        EvaluationMemoryError: naming the counts, the estimate, the limit and the way out.
    """
    if max_memory is not None and (
        isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer))
    ):
        raise EvaluationError(f"max_memory must be a number of bytes, got {max_memory!r}")
    held, further = needed_bytes(inp, params)
    if max_memory is not None:
        need, limit, what = held + further, int(max_memory), f"max_memory={int(max_memory)}"
    else:
        free = available_bytes()
        if free is None:
            return
        need, limit, what = further, free, "the memory available now"
    if need <= limit:
        return
    raise EvaluationMemoryError(
        f"evaluating {inp.num_images} images, {len(inp.gt)} ground-truth instances and "
        f"{len(inp.dt)} predictions (K={inp.sigmas.shape[0]}) in one process needs about "
        f"{_gb(need)}, more than {what} ({_gb(limit)}). Evaluate it in parts: "
        'pt.evaluate(table, run, engine="ray") maps it over the table\'s Lance fragments '
        '(pip install "posetable[ray]"), or pt.evaluate_partial on disjoint images and '
        "pt.merge_partials"
    )
