"""One Lance dataset handle per thread.

pylance's dataset objects are not safe to share across threads: a read while another thread
reads the same handle fails with ``RuntimeError: Already mutably borrowed`` (seen under the
dashboard's thread pool). :class:`PerThreadDataset` opens the same dataset version once per
thread that asks, and hands the thread that made it the handle it already had.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from posetable._lazy import LazyModule

if TYPE_CHECKING:
    import lance
    from lance.dataset import LanceDataset
else:
    lance = LazyModule("lance")


class PerThreadDataset:
    """The dataset at ``uri`` and ``version`` (latest when None), one handle per thread.

    Example:
        >>> import lance, pyarrow as pa, tempfile, threading
        >>> uri = tempfile.mkdtemp() + "/d.lance"
        >>> handles = PerThreadDataset.of(lance.write_dataset(pa.table({"a": [1, 2]}), uri))
        >>> seen = []
        >>> t = threading.Thread(target=lambda: seen.append(handles.get().count_rows()))
        >>> t.start(); t.join()
        >>> seen, handles.get().count_rows(), handles.version
        ([2], 2, 1)
    """

    def __init__(self, uri: str | Path, version: int, *, first: LanceDataset | None = None) -> None:
        self.uri = str(uri)
        self.version = int(version)
        self._local = threading.local()
        if first is not None:
            self._local.handle = first

    @classmethod
    def of(cls, dataset: LanceDataset) -> PerThreadDataset:
        """Wrap an open dataset: this thread keeps it, others open their own."""
        return cls(dataset.uri, int(dataset.version), first=dataset)

    def get(self) -> LanceDataset:
        """The calling thread's handle (opened on its first call)."""
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = lance.dataset(self.uri, version=self.version)
            self._local.handle = handle
        return handle
