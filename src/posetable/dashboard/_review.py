"""The review queue's state: which rows a reviewer has been through, and what they decided.

Stepping through a sorted or filtered set, a reviewer accepts a prediction, fixes or edits a
row (each a new revision of the table), or rejects / skips it: reviewed without a change,
which writes no revision. So that the queue moves on and a later session knows what was
done, every decision is a mark ``{sample_id, row, revision, status, time}`` appended to
``<store>/reviews/<table>.jsonl`` (one JSON line each; the latest mark of a sample wins).
Marks are kept by the sample's stable id, so they follow the row through later revisions.

Statuses: ``accepted`` (a prediction taken), ``edited`` (saved edits), ``fixed`` (a
one-click fix), ``rejected`` (looked at; the labels stay as they are), ``skipped`` (left
for later), ``cleared`` (the mark taken back).

Example:
    >>> import tempfile
    >>> from posetable.sample import sample_table
    >>> table = sample_table(store=tempfile.mkdtemp())
    >>> log = ReviewLog(table.store)
    >>> _ = log.mark(table, 2, "rejected")
    >>> log.marks(table)[2]["status"], log.counts(table)
    ('rejected', {'rejected': 1})
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import orjson

from posetable.errors import FormatError, RowError
from posetable.store import Store
from posetable.table import Table

STATUSES = ("accepted", "edited", "fixed", "rejected", "skipped", "cleared")
REVIEWED = ("accepted", "edited", "fixed", "rejected")  # decided: the queue moves past them
_LOCK = threading.Lock()


class ReviewLog:
    """The review marks of a store's tables (one JSON-lines file per table)."""

    def __init__(self, store: Store) -> None:
        self.folder = store.root / "reviews"

    def path(self, name: str) -> Path:
        """The marks file of a table name (its name quoted into one file name)."""
        return self.folder / f"{quote(name, safe='')}.jsonl"

    def mark(self, table: Table, row: int, status: str, *, note: str | None = None) -> dict:
        """Append one mark for ``row`` of ``table``; returns it."""
        if status not in STATUSES:
            raise RowError(f"status must be one of {', '.join(STATUSES)}, got {status!r}"[:200])
        n = len(table)
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < n:
            raise RowError(
                f"row {row!r} does not exist: table {table.ref} has {n} rows (0..{n - 1})"[:200]
            )
        record: dict[str, Any] = {
            "sample_id": int(table.sample_ids()[row]),
            "row": row,
            "revision": table.revision,
            "status": status,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if note:
            record["note"] = str(note)[:300]
        line = orjson.dumps(record) + b"\n"
        with _LOCK:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path(table.name).open("ab") as out:
                out.write(line)
        return record

    def _latest(self, name: str) -> dict[int, dict[str, Any]]:
        """The latest mark of each sample id (cleared ones left out)."""
        path = self.path(name)
        if not path.is_file():
            return {}
        latest: dict[int, dict[str, Any]] = {}
        with path.open("rb") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                    latest[int(record["sample_id"])] = record
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise FormatError(
                        f"not a review mark: {line[:80]!r} ({exc})", path=path, line=number
                    ) from None
        return {k: v for k, v in latest.items() if v.get("status") != "cleared"}

    def marks(self, table: Table) -> dict[int, dict[str, Any]]:
        """Row (of ``table``) -> its latest mark, for the samples this revision holds."""
        latest = self._latest(table.name)
        if not latest:
            return {}
        ids = table.sample_ids()
        marked = np.fromiter(latest, dtype=np.int64, count=len(latest))
        rows = np.flatnonzero(np.isin(ids, marked))
        return {int(r): latest[int(ids[r])] for r in rows}

    def counts(self, table: Table) -> dict[str, int]:
        """How many rows of ``table`` carry each status."""
        out: dict[str, int] = {}
        for record in self.marks(table).values():
            out[record["status"]] = out.get(record["status"], 0) + 1
        return out
