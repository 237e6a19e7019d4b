"""A revision's check findings kept in files: written once, read back memory-mapped.

The dashboard checks a large revision in a process of its own (``_check_process``), which
writes its :class:`~posetable.diagnose._findings.Findings` here: each integer column as a
``.npy`` file in the narrowest type that holds it, the values as float64, and every message
(and, for a YOLO source, every label file) in an uncompressed Arrow IPC file of
:data:`~posetable.diagnose._findings.MESSAGE_CHUNK` findings a batch. :class:`FilesFindings`
maps them back: the server holds the pages it reads (the rule, severity and row columns for
the filter and the counts, a page's messages), not the check's own memory, and a revision's
findings outlive the server that found them (a revision never changes).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from posetable.sample import sample_table
    >>> from posetable.diagnose.check import check_findings
    >>> found = check_findings(sample_table(store=tempfile.mkdtemp()))
    >>> folder = write_findings(found, Path(tempfile.mkdtemp()) / "found")
    >>> kept = FilesFindings(folder)
    >>> kept.full().to_table().equals(found.to_table())
    True
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from posetable.dashboard._kept_findings import NarrowFindings
from posetable.diagnose._findings import MESSAGE_CHUNK, Findings, narrowest
from posetable.diagnose._found import Found

#: the columns kept as ``.npy`` files (integers narrowed, ``value`` float64)
COLUMNS = ("rule", "severity", "row", "instance", "keypoint", "value", "line", "annotation_id")
_TEXT = "messages.arrow"
_META = "findings.json"
FORMAT = 1


def write_findings(found: Findings, folder: Path) -> Path:
    """Write ``found`` to ``folder`` (made whole under a temporary name, then renamed into
    place; when another process put it there first, theirs is kept). Returns ``folder``."""
    folder = Path(folder)
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.mkdir(parents=True)
    try:
        for name in COLUMNS:
            np.save(temporary / f"{name}.npy", narrowest(np.asarray(getattr(found, name))))
        _write_text(found, temporary / _TEXT)
        meta = {
            "format": FORMAT,
            "count": len(found),
            "chunk": MESSAGE_CHUNK,
            "rule_names": list(found.rule_names),
            "file": found.file,
            "split": found.split,
            "files": found.files is not None,
        }
        (temporary / _META).write_text(json.dumps(meta))
        try:
            temporary.rename(folder)
        except OSError:
            if not (folder / _META).is_file():
                raise
            shutil.rmtree(temporary, ignore_errors=True)  # another process wrote it first
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder


def _write_text(found: Findings, path: Path) -> None:
    """Every message (and label file, when the findings have them), MESSAGE_CHUNK a batch."""
    fields = [("message", pa.string())]
    if found.files is not None:
        fields.append(("file", pa.string()))
    schema = pa.schema(fields)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for start, messages in zip(
            range(0, len(found), MESSAGE_CHUNK), found.message_chunks(), strict=True
        ):
            columns = [messages]
            if found.files is not None:
                chunk = found.files[start : start + MESSAGE_CHUNK]
                columns.append(pa.array(chunk.tolist(), pa.string()))
            writer.write_batch(pa.record_batch(columns, schema=schema))


def is_written(folder: Path) -> bool:
    """Whether ``folder`` holds findings written whole by :func:`write_findings`."""
    meta = Path(folder) / _META
    if not meta.is_file():
        return False
    try:
        return bool(json.loads(meta.read_text()).get("format") == FORMAT)
    except (OSError, ValueError):
        return False


class FilesFindings(NarrowFindings):
    """The findings of a folder :func:`write_findings` wrote, memory-mapped: ``rule``,
    ``severity``, ``row`` (narrow arrays), ``take(at)`` -> the :class:`Findings` at ``at``
    (their messages read from the file when asked for), ``full()`` -> all of them.
    The interface of :class:`~posetable.dashboard._kept_findings.KeptFindings`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        meta: dict[str, Any] = json.loads((self.folder / _META).read_text())
        self.rule_names = tuple(meta["rule_names"])
        self._length = int(meta["count"])
        self._chunk = int(meta["chunk"])
        self._file: str | None = meta["file"]
        self._split: str | None = meta["split"]
        self._has_files = bool(meta["files"])
        self._columns = {
            name: np.load(self.folder / f"{name}.npy", mmap_mode="r" if self._length else None)
            for name in COLUMNS
        }
        self._text = pa.ipc.open_file(pa.memory_map(str(self.folder / _TEXT)))
        self._writer = Found("", "info", _NO_INTS, _NO_INTS, np.zeros(0), self._messages_at)

    def __len__(self) -> int:
        return self._length

    def _narrow(self, name: str) -> np.ndarray:
        return self._columns[name]

    @property
    def nbytes(self) -> int:
        """Bytes of the mapped columns (what reading all of them would hold)."""
        return sum(int(c.nbytes) for c in self._columns.values())

    def take(self, at: np.ndarray) -> Findings:
        """The findings at positions ``at`` (their order kept)."""
        at = np.asarray(at, np.int64)
        c = {
            name: np.asarray(self._columns[name][at], np.float64 if name == "value" else np.int64)
            for name in COLUMNS
        }
        return Findings(
            rule_names=self.rule_names,
            parts=(self._writer,),
            part=np.zeros(at.shape[0], np.int64),
            position=at,
            files=self._text_at(at, "file") if self._has_files else None,
            file=self._file,
            split=self._split,
            **c,
        )

    def _messages_at(self, at: np.ndarray) -> list[str]:
        return list(self._text_at(np.asarray(at, np.int64), "message"))

    def _text_at(self, at: np.ndarray, column: str) -> np.ndarray:
        """(len(at),) object array: the ``column`` text of the findings at ``at``, read from
        the batches they are in (mapped: nothing else is read)."""
        out = np.empty(at.shape[0], dtype=object)
        batch_of = at // self._chunk
        for b in np.unique(batch_of).tolist():
            where = np.flatnonzero(batch_of == b)
            batch = self._text.get_batch(int(b)).column(column)
            picked = batch.take(pa.array(at[where] - b * self._chunk, pa.int64()))
            out[where] = np.asarray(picked.to_pylist(), dtype=object)
        return out


_NO_INTS = np.zeros(0, np.int64)
