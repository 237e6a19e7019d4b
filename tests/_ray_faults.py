"""A Ray worker that dies inside an evaluation task: a ``worker_process_setup_hook``.

``ray.init(runtime_env={"worker_process_setup_hook": "tests._ray_faults.install", ...})``
runs :func:`install` in every worker; it wraps the Ray engine's task function, which then
reads the control folder named by ``POSETABLE_TEST_FAULTS`` on each call: no ``mode`` file,
the task runs as it is; ``mode`` = ``once``, the first task to create ``died`` (across all
workers) kills its own process with ``os._exit`` before evaluating and every later attempt
runs as it is; ``always``, every attempt dies.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any


def install() -> None:
    """Wrap ``posetable.eval._ray.evaluate_batch`` in this worker process."""
    from posetable.eval import _ray

    original = _ray.evaluate_batch
    control = Path(os.environ["POSETABLE_TEST_FAULTS"])

    @functools.wraps(original)
    def maybe_die(*args: Any, **kwargs: Any) -> Any:
        mode_file = control / "mode"
        mode = mode_file.read_text().strip() if mode_file.exists() else ""
        if mode == "always":
            os._exit(1)
        if mode == "once":
            try:
                fd = os.open(control / "died", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return original(*args, **kwargs)
            os.close(fd)
            os._exit(1)  # the worker dies mid-evaluation, on the first attempt
        return original(*args, **kwargs)

    _ray.evaluate_batch = maybe_die
