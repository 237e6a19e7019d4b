"""Types of the C scanner (``_jsonscan.c``); see ``posetable.eval._coco_scan``."""

from typing import Any

class Column:
    """A column read by the scanner: bytes to read with ``numpy.frombuffer``."""

def ground_truth(data: Any, drop: bool = ..., /) -> dict[str, Column] | None: ...
def results(data: Any, drop: bool = ..., /) -> dict[str, Column] | None: ...
def parse_number(text: Any, /) -> float | None: ...
