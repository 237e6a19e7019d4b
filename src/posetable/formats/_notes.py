"""What an import assumed or filled, reported as ONE warning per call.

An importer collects notes while it reads and emits them together, once, after the data
was checked: a caller sees one :class:`~posetable.errors.PosetableWarning` listing every
assumption (sigmas, derived flip indices, filled fields with counts...), and nothing when
the file needed none. A failed import emits no warning: its error says what went wrong.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

from posetable.errors import PosetableWarning

logger = logging.getLogger("posetable.formats")

# Inputs at least this large show a progress bar when ``progress`` is left to None.
PROGRESS_THRESHOLD = 20_000


class Notes:
    """Collects notes about one import; :meth:`emit` warns once with all of them.

    Example:
        >>> import warnings
        >>> notes = Notes("data.json")
        >>> notes.add("3 annotations lack 'area'")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     notes.emit()
        >>> str(caught[0].message)
        "data.json: 3 annotations lack 'area'"
    """

    def __init__(self, source: object) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, text: str) -> None:
        """Record one note (a sentence with the counts involved)."""
        self.items.append(text)

    def __bool__(self) -> bool:
        return bool(self.items)

    def emit(self, *, stacklevel: int = 3) -> None:
        """Warn once with every note (nothing when there is none)."""
        if not self.items:
            return
        if len(self.items) == 1:
            text = f"{self.source}: {self.items[0]}"
        else:
            text = f"{self.source}:\n" + "\n".join(f"- {item}" for item in self.items)
        logger.info("%s", text)
        warnings.warn(text, PosetableWarning, stacklevel=stacklevel)


def count_text(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 annotation"`` / ``"3 annotations"``.

    Example:
        >>> count_text(1, "annotation"), count_text(2, "box", "boxes")
        ('1 annotation', '2 boxes')
    """
    word = noun if count == 1 else (plural or noun + "s")
    return f"{count:,} {word}"


def number_text(value: object) -> str:
    """A number as a person writes it: ``3``, ``5.5`` (not ``np.float64(3.0)``).

    Example:
        >>> import numpy as np
        >>> number_text(np.float64(3.0)), number_text(5.5), number_text(np.nan)
        ('3', '5.5', 'nan')
    """
    number = float(value)  # type: ignore[arg-type]
    if number.is_integer():
        return str(int(number))
    return repr(number)


def first_few(values: Iterable[Any], limit: int = 5) -> str:
    """The first few values, comma-separated, with how many more there are.

    Example:
        >>> first_few([1, 2, 3, 4, 5, 6, 7], limit=3)
        '1, 2, 3 (and 4 more)'
    """
    items = list(values)
    text = ", ".join(str(v) for v in items[:limit])
    if len(items) > limit:
        text += f" (and {len(items) - limit} more)"
    return text


def show_progress(progress: bool | None, size: int) -> bool:
    """Whether to draw a progress bar: as asked, or for large inputs when None."""
    return bool(progress) if progress is not None else size >= PROGRESS_THRESHOLD


@contextmanager
def stages(names: list[str], *, enabled: bool, description: str) -> Iterator[Any]:
    """A tqdm bar over the named stages of one import or export.

    Yields a function ``step(name)`` that marks the start of the next stage.
    """
    bar = tqdm(total=len(names), desc=description, disable=not enabled, unit="stage", leave=False)

    started = [False]

    def step(name: str) -> None:
        if started[0]:
            bar.update(1)
        started[0] = True
        bar.set_postfix_str(name, refresh=False)

    try:
        yield step
    finally:
        bar.update(len(names) - bar.n)
        bar.close()
