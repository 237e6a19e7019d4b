"""Modules imported on first use, so that opening a table and evaluating it stay light.

``import lance`` costs ~85 MB resident (it imports ``pyarrow.dataset``, which imports
pandas) and ``import pyarrow`` ~30 MB. A table whose revision has a flat snapshot
(``_flat_snapshot``) is opened and evaluated with numpy alone, so the modules on that path
name these libraries through a :class:`LazyModule` and import them only when a line that
needs them runs. Type checkers see the real modules::

    if TYPE_CHECKING:
        import pyarrow as pa
    else:
        pa = LazyModule("pyarrow")

The proxy is never put in ``sys.modules``: every other importer gets the real module.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` and imports it on the first attribute read.

    Example:
        >>> json = LazyModule("json")
        >>> json.dumps([1])
        '[1]'
    """

    def __init__(self, name: str) -> None:
        self._lazy_name = name
        self._lazy_module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._lazy_module is None:
            self._lazy_module = importlib.import_module(self._lazy_name)
        return self._lazy_module

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_lazy_"):  # not set yet: mid-construction or a copy
            raise AttributeError(attribute)
        value = getattr(self._load(), attribute)
        setattr(self, attribute, value)  # later reads skip __getattr__
        return value

    def __repr__(self) -> str:
        state = "imported" if self._lazy_module is not None else "not imported yet"
        return f"<lazy module {self._lazy_name!r} ({state})>"
