"""Per-row columns the grid sorts and filters on, computed once per table revision or run.

A :class:`TableIndex` holds the row order (``row`` <-> stable ``sample_id``) of one table
revision and derives per-row counts (instances, labeled and visible keypoints) on demand,
reading only the nested fields it needs from Lance. A :class:`RunIndex` holds one run's
per-sample metrics, predictions and per-instance metrics keyed by ``sample_id``, so they join
to any revision of the table that still has those samples.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posetable._arrow import KEYPOINTS_COLUMN, instances_from_arrow
from posetable._commit import Touch
from posetable._lance_local import PerThreadDataset
from posetable._rows import SAMPLE_ID
from posetable._run_columns import rows_for_samples
from posetable._run_index import INDEX_FOLDER, sorted_lance_copy
from posetable._run_suspects import SUSPECT_THRESHOLDS, find_and_keep, suspects_path
from posetable.dashboard._background import background
from posetable.dashboard._check_process import check_in_process
from posetable.dashboard._findings_files import FilesFindings
from posetable.dashboard._kept_findings import KeptFindings, NarrowFindings
from posetable.dashboard._reevaluate import changed_since, evaluate_rows
from posetable.dashboard._suspects import (
    KeptSuspects,
    remember,
    suspects_of,
    with_sample_ids,
)
from posetable.diagnose._findings import Findings
from posetable.diagnose._found import SEVERITIES
from posetable.diagnose.check import check_findings, check_rows
from posetable.errors import PosetableError, RunError
from posetable.eval.result import STAT_NAMES
from posetable.instances import Keypoints2DInstances
from posetable.label_errors import label_errors_of_rows
from posetable.store import read_operation_record
from posetable.table import Table

logger = logging.getLogger(__name__)
#: up to this many rows pt.check runs when first needed; beyond, in the background
EAGER_CHECK_ROWS = 20_000
#: up to this many rows a run is evaluated again in full on an edited revision; beyond, only
#: the edited rows are (when only rows changed), and the summary in the background
EAGER_EVALUATE_ROWS = 20_000
#: rows of a run's per-sample metrics read for the grid's first page (the rest when needed)
_FIRST_ROWS = 4096
#: up to this size pages show label-error suspects unasked; beyond, they are found in the
#: background when a run is opened (or read from the run, which keeps its defaults)
EAGER_SUSPECTS_ROWS = 20_000
DERIVED_COLUMNS = {
    "num_instances": "instances in the row",
    "num_labeled": "keypoints with visibility 1 or 2",
    "num_visible": "keypoints with visibility 2",
}
LIST_PREFIX = "vis."  # vis.left_wrist: the visibilities of that keypoint over a row's instances
CLASSES_COLUMN = "classes"
CHECK_COLUMN = "check_rules"  # the rules of pt.check's findings on a row (each rule once)
SUSPECT_COLUMNS = {
    "suspect_score": "highest label-error suspicion score of the row",
    "suspects": "number of label-error suspects in the row",
    "suspect_kinds": "kinds of label-error suspects in the row",
}
# (instance score, keypoint confidence) below which find_label_errors ignores predictions. The
# dashboard's defaults are lower than the library's 0.5: a confident-enough prediction of a
# mirrored person often scores under 0.5 (the sample's planted swap scores 0.42).
SuspectThresholds = tuple[float, float]
DEFAULT_SUSPECT_THRESHOLDS: SuspectThresholds = SUSPECT_THRESHOLDS
_SCALAR_KINDS = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_boolean,
    pa.types.is_temporal,
    pa.types.is_decimal,
)


def is_scalar(arrow_type: pa.DataType) -> bool:
    """True for the column types the grid can sort and filter on."""
    return any(check(arrow_type) for check in _SCALAR_KINDS)


def _list_lengths(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(
        pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False), np.int64
    )


def _per_row_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum consecutive runs of ``values`` of the given lengths (vectorised)."""
    ends = np.cumsum(counts)
    total = np.concatenate([[0], np.cumsum(values)])
    return total[ends] - total[ends - counts]


def _rules_of_rows(findings: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, rule code) of each rule a row has findings of, once, rows ascending and each
    row's rules in the check's order (the order of their first findings: most severe, then
    the rule's rank, which its code follows). One flag per (row, severity, rule) cell, not
    a sort of every finding: at a million images, 9M findings, ~40 MB instead of ~500."""
    n_rules, n_severities = len(findings.rule_names), len(SEVERITIES)
    row = findings.row
    keep = np.flatnonzero(row >= 0)
    cells = np.zeros((n_rows, n_severities * n_rules), bool)
    key = findings.severity[keep].astype(np.int16) * n_rules + findings.rule[keep]
    cells[row[keep], key] = True
    del keep, key
    seen = np.zeros((n_rows, n_rules), bool)  # a rule's findings at several severities: once
    for s in range(n_severities):
        block = cells[:, s * n_rules : (s + 1) * n_rules]
        block &= ~seen
        seen |= block
    del seen
    at_row, cell = np.nonzero(cells)  # row-major: rows ascending, then severity and rule
    return at_row, cell % n_rules


#: rows decoded at a time by the scan behind the counts and list columns of a revision
SCAN_ROWS = 1 << 15


@dataclass(frozen=True)
class _Scanned:
    """A revision's instance labels and visibilities, in row order.

    Attributes:
        counts: (R,) instances of each row.
        labels: (I,) int64 class of each instance.
        visibility: (I, K) each instance's visibilities (int8 when every value fits, else
            int64; 0 where an instance has none, as predictions-only rows)."""

    counts: np.ndarray
    labels: np.ndarray
    visibility: np.ndarray


def _scan_labels_and_visibilities(table: Table, k: int) -> _Scanned:
    """Read ``table``'s instance labels and visibilities :data:`SCAN_ROWS` rows at a time,
    in row order (Lance decoding two batches ahead, not its default sixteen)."""
    counts, labels, matrices = [], [], []
    # the whole keypoints column (a later revision's rows are taken, which takes no field)
    for batch in table.iter_batches(batch_rows=SCAN_ROWS, columns=[KEYPOINTS_COLUMN], read_ahead=2):
        keypoints = batch.column(0)
        instances = pc.struct_field(keypoints, "instances")
        label_list = pc.struct_field(
            pc.struct_field(keypoints, "instances_additional_data"), "label"
        )
        row_counts = _list_lengths(instances)
        if not np.array_equal(_list_lengths(label_list), row_counts):
            raise PosetableError(
                f"{table.ref}: a row's instance labels and instances differ in number"
            )
        counts.append(row_counts)
        labels.append(
            np.asarray(pc.list_flatten(label_list).to_numpy(zero_copy_only=False), np.int64)
        )
        matrices.append(_visibility_matrix(instances, k))
        del batch, keypoints, label_list, instances
    if not counts:
        z = np.zeros(0, np.int64)
        return _Scanned(z, z, np.zeros((0, k), np.int8))
    fits = all(m.dtype == np.int8 for m in matrices)
    visibility = np.concatenate([m if fits else m.astype(np.int64) for m in matrices])
    return _Scanned(np.concatenate(counts), np.concatenate(labels), visibility)


def _visibility_matrix(instances: pa.Array, k: int) -> np.ndarray:
    """(I, K) the visibilities of a batch's instances (int8 when they fit, else int64),
    0 past the end of an instance's own (predictions-only rows have none)."""
    flat = pc.list_flatten(instances)
    point_data = pc.struct_field(flat, "vertices_2d_additional_data")
    visibility = pc.struct_field(point_data, "visibility")
    lengths = _list_lengths(visibility)
    values = np.asarray(pc.list_flatten(visibility).to_numpy(zero_copy_only=False), np.int64)
    if len(lengths) and (lengths == k).all():
        matrix = values.reshape(len(lengths), k)
    else:  # some instance without K visibilities: padded with 0 (vectorised)
        matrix = np.zeros((len(lengths), k), np.int64)
        kept = np.minimum(lengths, k)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        inst = np.repeat(np.arange(len(lengths)), kept)
        point = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
        matrix[inst, point] = values[starts[inst] + point]
    small = not matrix.size or (matrix.min() >= -128 and matrix.max() <= 127)
    return matrix.astype(np.int8) if small else matrix


class TableIndex:
    """Row order and derived per-row columns of one table revision (computed on demand).

    ``pt.check`` of the revision runs once: when first needed for a table of up to
    ``EAGER_CHECK_ROWS`` rows, in a background thread beyond (pages show the per-row rules'
    findings of their own rows meanwhile, and say the check is running). ``previous``
    gives the parent revision's index when it is at hand: after an edit of some rows, the
    per-row rules then check only those rows again.
    """

    def __init__(
        self,
        table: Table,
        previous: Callable[[], TableIndex | None] | None = None,
        *,
        checks_dir: Path | None = None,
    ) -> None:
        self.table = table
        self._checks_dir = checks_dir
        self.sample_ids = np.asarray(table.sample_ids(), dtype=np.int64)
        self._sorted = np.argsort(self.sample_ids, kind="stable")
        self._derived: dict[str, np.ndarray] = {}
        self._lists: dict[str, pa.Array] = {}
        self._findings: NarrowFindings | None = None
        self._check_process: dict[str, Any] | None = None
        self._check_rules: pa.Array | None = None
        self._check_started = False
        self._check_done = threading.Event()
        self._check_error: str | None = None
        self._filters_ready = threading.Event()  # the widgets' columns made in the background
        self._start_lock = threading.Lock()
        self._previous = previous
        self.incremental: bool | None = None  # whether the check reused the parent's findings
        self._lock = threading.Lock()
        schema = table.dataset.schema
        self.scalar_columns = {
            f.name: f.type for f in schema if f.name != SAMPLE_ID and is_scalar(f.type)
        }

    def __len__(self) -> int:
        return len(self.sample_ids)

    def rows_of(self, sample_ids: np.ndarray) -> np.ndarray:
        """The rows of some sample ids in this revision (-1 where a sample is gone)."""
        ids = np.asarray(sample_ids, dtype=np.int64)
        if len(self.sample_ids) == 0:
            return np.full(len(ids), -1, np.int64)
        where = np.searchsorted(self.sample_ids[self._sorted], ids)
        clipped = np.minimum(where, len(self._sorted) - 1)
        found = self.sample_ids[self._sorted][clipped] == ids
        return np.where(found, self._sorted[clipped], -1).astype(np.int64)

    def _in_row_order(self, physical_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.sample_ids), dtype=values.dtype)
        out[self.rows_of(physical_ids)] = values
        return out

    def derived(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        """Derived per-row columns (row order), computing what is not cached yet."""
        wanted = [n for n in names if n in DERIVED_COLUMNS]
        with self._lock:
            if "num_instances" in wanted and "num_instances" not in self._derived:
                data = self.table.dataset.to_table(
                    columns=[SAMPLE_ID, f"{KEYPOINTS_COLUMN}.instances_additional_data.label"]
                )
                counts = _list_lengths(data.column(1))
                self._derived["num_instances"] = self._in_row_order(
                    data.column(0).to_numpy(), counts
                )
            if {"num_labeled", "num_visible"} & set(wanted) and "num_labeled" not in self._derived:
                self._scan_instances()
        return {n: self._derived[n] for n in wanted}

    def list_column_names(self) -> dict[str, str]:
        """The list columns the filter's ``has`` reads: ``classes`` and ``vis.<keypoint>``."""
        names = {
            CLASSES_COLUMN: "class names of the row's instances (classes has 'person')",
            CHECK_COLUMN: "rules of the row's check findings (check_rules has 'left_right_swap')",
        }
        for name in self.table.schema.keypoint_names:
            names[f"{LIST_PREFIX}{name}"] = (
                f"visibilities of {name} over the row's instances (vis.{name} has 1)"
            )
        return names

    def list_columns(self, names: Iterable[str]) -> dict[str, pa.Array]:
        """List columns in row order, computed once per revision (see list_column_names)."""
        wanted = [n for n in names if n in self.list_column_names()]
        out: dict[str, pa.Array] = {}
        if CHECK_COLUMN in wanted:
            out[CHECK_COLUMN] = self.check_rules()
        with self._lock:
            if any(n != CHECK_COLUMN for n in wanted) and not self._lists:
                self._scan_instances()
        out.update({n: self._lists[n] for n in wanted if n != CHECK_COLUMN})
        return {n: out[n] for n in wanted}

    def check_state(self) -> dict[str, Any]:
        """Where the check of this revision stands: ``state`` is ``not started``,
        ``checking``, ``done`` or ``failed`` (with ``error``)."""
        if self._check_done.is_set():
            state = "failed" if self._check_error else "done"
        else:
            state = "checking" if self._check_started else "not started"
        return {
            "state": state,
            "error": self._check_error,
            "incremental": self.incremental,
            "filters_ready": self._filters_ready.is_set(),
            "process": self._check_process,
        }

    def start_check(self) -> None:
        """Start the check once: now for a small table, in the background for a large one."""
        with self._start_lock:  # not self._lock: the background work holds that one
            if self._check_started:
                return
            self._check_started = True
        if len(self) <= EAGER_CHECK_ROWS:
            self._run_check()
        else:
            background("check", self._run_check)
            background("prepare", self._prepare_filters)

    def _prepare_filters(self) -> None:
        """The per-row columns the filter widgets read (derived counts, classes, keypoint
        visibilities, check rules), made after the check of a large revision so that the
        widgets' first answer does not pay for them."""
        try:
            self.derived(list(DERIVED_COLUMNS))
            self.list_columns(list(self.list_column_names()))
        except Exception:  # a page that needs them computes them again and shows the error
            logger.exception("preparing the filter columns of %s failed", self.table.ref)
        finally:
            self._filters_ready.set()

    def _run_check(self) -> None:
        try:
            parent, changed = self._incremental_base()
            self.incremental = parent is not None
            if self._checks_dir is not None and len(self) > EAGER_CHECK_ROWS:
                self._check_apart(parent, changed)
                return
            previous = None if parent is None else parent.full()
            found = check_findings(self.table, previous=previous, changed_rows=changed)
            self._findings = KeptFindings(found)  # narrow: a large check's findings are many
            del found
        except Exception as exc:  # the grid keeps working; the check's state says why
            logger.exception("checking %s failed", self.table.ref)
            self._check_error = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            self._check_done.set()

    def _check_apart(self, parent: NarrowFindings | None, changed: np.ndarray | None) -> None:
        """The check of a large revision in a child process (``_check_process``): the
        server holds the findings' mapped files, not the check's memory, and pages are not
        slowed by it. From the parent's findings when they are in files too."""
        assert self._checks_dir is not None
        if not isinstance(parent, FilesFindings):
            parent, changed = None, None
            self.incremental = False
        checked = check_in_process(
            self.table, self._checks_dir, previous=parent, changed_rows=changed
        )
        self._findings = checked.findings
        self._check_process = {
            "kept": checked.kept,
            "peak_rss_mb": checked.peak_rss_mb,
            "seconds": round(checked.seconds, 2),
        }

    def _incremental_base(
        self,
    ) -> tuple[NarrowFindings | None, np.ndarray | None]:
        """The parent's findings and the rows edited since, when this revision only changed
        rows of its parent (same schema, same rows) and the parent's index is at hand with
        its check done."""
        parent = self._previous() if self._previous is not None else None
        if parent is None or self.table.parent != parent.table.revision:
            return None, None
        record = read_operation_record(self.table.dataset, self.table.revision)
        touch = Touch.from_json(record.get("touched"))
        if touch.kind != "rows" or parent.table.schema.to_json() != self.table.schema.to_json():
            return None, None
        if not np.array_equal(parent.sample_ids, self.sample_ids):
            return None, None
        if len(parent) <= EAGER_CHECK_ROWS:
            parent.start_check()  # a small parent checks now, in this thread
        # a large parent's check runs on the background thread this runs on: waiting for one
        # not done would wait for good, so this revision is then checked whole
        if not parent._check_done.is_set() or parent._findings is None:
            return None, None
        changed = self.rows_of(np.fromiter(touch.sample_ids, np.int64, len(touch.sample_ids)))
        return parent._findings, np.unique(changed[changed >= 0])

    def findings(self) -> NarrowFindings:
        """``pt.check`` of this revision with every rule (waits for a running check), kept
        narrow (``take`` gives the ``Findings`` of some of them)."""
        self.start_check()
        self._check_done.wait()
        if self._findings is None:
            raise PosetableError(f"checking {self.table.ref} failed: {self._check_error}")
        return self._findings

    def row_findings(self, rows: np.ndarray) -> tuple[Findings, bool]:
        """The findings on some rows and whether they are complete: the check's when it is
        done, else those of the per-row rules, found now for these rows alone (the
        table-wide rules, bone-length statistics, wait for the check)."""
        if len(self) <= EAGER_CHECK_ROWS:
            self.start_check()  # a small revision's: now, complete below
        rows = np.unique(np.asarray(rows, np.int64))
        if self._check_done.is_set() and self._findings is not None:
            found = self._findings
            return found.take(np.flatnonzero(np.isin(found.row, rows))), True
        own = check_rows(self.table, rows)
        # a large revision's check starts once these rows' own are found: the page is not
        # slowed by the background work it starts (one interpreter runs both)
        self.start_check()
        return own, False

    def check_rules(self) -> pa.Array:
        """(rows,) list<string>: the rules the row has findings of (each once, in the
        check's order: most severe first), row order, as ``has`` reads them
        (``check_rules has 'duplicate_instance'``). Once per rule, not per finding: ``has``
        and the widgets' rows-with-a-rule counts read the same, and a large synthetic
        table's nine findings an image would be a list of millions of strings."""
        findings = self.findings()
        with self._lock:
            if self._check_rules is None:
                row, code = _rules_of_rows(findings, len(self))
                counts = np.bincount(row, minlength=len(self))
                offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
                names = pa.array(list(findings.rule_names), pa.string())
                rules = names.take(pa.array(code, pa.int64()))
                self._check_rules = pa.ListArray.from_arrays(pa.array(offsets), rules)
            return self._check_rules

    def _scan_instances(self) -> None:
        """The per-row counts (``num_instances``, ``num_labeled``, ``num_visible``) and the
        list columns (``classes``, ``vis.<keypoint>``) from one scan of the revision,
        :data:`SCAN_ROWS` rows at a time: each batch's instances are decoded, their labels
        and visibilities kept (one byte a point where they fit) and the rest let go. Read
        whole, a million images' instances took 3.5 GB at the peak; this holds ~100 MB."""
        schema = self.table.schema
        scanned = _scan_labels_and_visibilities(self.table, schema.num_keypoints)
        counts, matrix = scanned.counts, scanned.visibility
        row_starts = np.concatenate([[0], np.cumsum(counts)])
        labeled = (matrix > 0).sum(axis=1, dtype=np.int64)
        visible = (matrix == 2).sum(axis=1, dtype=np.int64)
        self._derived["num_instances"] = counts.astype(np.int64)
        self._derived["num_labeled"] = _per_row_sums(labeled, counts)
        self._derived["num_visible"] = _per_row_sums(visible, counts)
        offsets = pa.array(row_starts.astype(np.int32))
        codes, inverse = np.unique(scanned.labels, return_inverse=True)
        names = [
            schema.classes[v] if 0 <= v < len(schema.classes) else str(v) for v in codes.tolist()
        ]
        label_names = pa.array(names, pa.string()).take(pa.array(inverse.ravel(), pa.int64()))
        lists: dict[str, pa.Array] = {
            CLASSES_COLUMN: pa.ListArray.from_arrays(offsets, label_names)
        }
        # visibilities are small codes: int8 lists when they fit (``has`` compares the
        # values, not their type)
        kind = pa.int8() if matrix.dtype == np.int8 else pa.int64()
        for j, name in enumerate(schema.keypoint_names):
            lists[f"{LIST_PREFIX}{name}"] = pa.ListArray.from_arrays(
                offsets, pa.array(np.ascontiguousarray(matrix[:, j]), kind)
            )
        self._lists = lists

    def cached_derived(self) -> dict[str, np.ndarray]:
        """The derived columns computed so far (row order); never waits for a computation
        (one copy of the dict under the GIL: each entry is set whole)."""
        return dict(self._derived)


class RunIndex:
    """One run's predictions and metrics, keyed by stable ``sample_id``.

    Per-sample metrics stay in memory (one small row per image). Predictions and
    per-instance metrics are copied once into Lance datasets sorted by ``sample_id`` under
    ``cache_dir`` (streamed, so memory stays flat), then a page reads only its rows by
    position: a 100,000-image run costs a few MB of server memory, not its whole Parquet.
    """

    def __init__(self, run: Any, cache_dir: Path, table: Table | None = None) -> None:
        self.run = run
        self.name: str = run.name
        self._run_sample_ids = self._sample_ids_of_run_rows(run, table)
        manifest = run.manifest
        stamp = hashlib.sha256(
            f"{run.name}|{manifest.get('created')}|{run.path}".encode()
        ).hexdigest()[:16]
        record = run.file("predictions.parquet")
        folder = record.parent / INDEX_FOLDER  # kept with the run (made by its materialize)
        if not folder.is_dir() and not os.access(record.parent, os.W_OK):
            folder = Path(cache_dir) / f"{run.name}-{stamp}"
        predictions, self._prediction_ids = sorted_lance_copy(
            record, folder / "predictions.lance", self._run_sample_ids
        )
        # served from many threads: one Lance handle per thread
        self._predictions = PerThreadDataset.of(predictions)
        # the per-instance copy only when an image view first asks (its sample ids are one
        # per instance: reading them is a tenth of a second for a million images' run)
        self._index_folder = folder
        self._per_instance_at: tuple[PerThreadDataset, np.ndarray] | None = None
        self._per_instance_lock = threading.Lock()
        # the per-sample metrics are read when first needed (a sort, a filter, a page past
        # the first rows): a million images' file takes a few tenths of a second to read
        self._per_sample_path = run.file("per_sample.parquet")
        schema = pq.read_schema(self._per_sample_path)
        self.metric_names = [n for n in schema.names if n not in ("row", "image_id")]
        self.metric_schema = pa.schema(
            [*(schema.field(n) for n in self.metric_names), pa.field(SAMPLE_ID, pa.int64())]
        )
        self._loaded: tuple[pa.Table, np.ndarray, np.ndarray] | None = None
        self._metrics_lock = threading.Lock()
        self._suspects: dict[SuspectThresholds, pa.Table] = {}
        self._suspect_rows: dict[SuspectThresholds, KeptSuspects] = {}
        self._lock = threading.Lock()
        #: where this dashboard keeps the suspects it finds (the run keeps its defaults)
        self.cache_folder = Path(cache_dir) / f"{run.name}-{stamp}"
        self._pending: dict[SuspectThresholds, Future[None]] = {}
        self._start_lock = threading.Lock()

    def start_suspects(self, thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS) -> None:
        """Find the suspects at ``thresholds`` in the background (once), for a large run."""
        with self._start_lock:  # not self._lock: a running search holds that one
            if thresholds in self._pending or thresholds in self._suspects:
                return
            self._pending[thresholds] = background(
                "suspects", partial(self._compute_suspects, thresholds)
            )

    def computing(self, thresholds: SuspectThresholds) -> bool:
        """Whether the suspects at ``thresholds`` are being found in the background."""
        pending = self._pending.get(thresholds)
        return pending is not None and not pending.done()

    @staticmethod
    def _sample_ids_of_run_rows(run: Any, table: Table | None) -> np.ndarray:
        """Sample id of every row of the run's table revision (its rows index metrics);
        ``table``: that revision already open (its ids are read once per Table object)."""
        try:
            if table is None or table.ref != run.table_ref:
                table = run.table()
            return np.asarray(table.sample_ids(), dtype=np.int64)
        except PosetableError:  # the run's revision is gone: use the predictions' own ids
            rows = int(run.manifest["table"]["rows"])
            ids = np.arange(rows, dtype=np.int64)
            known = pq.read_table(run.file("predictions.parquet"), columns=["row", SAMPLE_ID])
            ids[known.column("row").to_numpy()] = known.column(SAMPLE_ID).to_numpy()
            return ids

    def predictions(
        self, sample_ids: Sequence[int] | np.ndarray
    ) -> list[Keypoints2DInstances | None]:
        """Predicted instances of some samples (None where the run has none)."""
        ids = np.asarray(sample_ids, dtype=np.int64)
        found, positions = _locate(self._prediction_ids, ids)
        out: list[Keypoints2DInstances | None] = [None] * len(ids)
        if not found.any():
            return out
        picked = positions[found]
        order = np.argsort(picked, kind="stable")
        data = self._predictions.get().take(picked[order].tolist(), columns=[KEYPOINTS_COLUMN])
        decoded = instances_from_arrow(data.column(KEYPOINTS_COLUMN))
        slots = np.flatnonzero(found)[order]
        for slot, item in zip(slots, decoded, strict=True):
            out[int(slot)] = item
        return out

    def predictions_arrow(self, sample_ids: np.ndarray) -> pa.Table:
        """The run's entries (``sample_id``, ``keypoints``) of some samples (those it has)."""
        ids = np.asarray(sample_ids, dtype=np.int64)
        found, positions = _locate(self._prediction_ids, ids)
        picked = np.sort(positions[found])
        return self._predictions.get().take(picked.tolist(), columns=[SAMPLE_ID, KEYPOINTS_COLUMN])

    def per_instance(self, sample_id: int) -> pa.Table:
        """The per-instance metrics of one sample (GT and predictions)."""
        handle, instance_ids = self._per_instance_copy()
        lo = int(np.searchsorted(instance_ids, sample_id, side="left"))
        hi = int(np.searchsorted(instance_ids, sample_id, side="right"))
        per_instance = handle.get()
        columns = [n for n in per_instance.schema.names if n != SAMPLE_ID]
        if hi == lo:
            return per_instance.schema.empty_table().select(columns)
        return per_instance.take(list(range(lo, hi)), columns=columns)

    def _per_instance_copy(self) -> tuple[PerThreadDataset, np.ndarray]:
        """The Lance copy of the per-instance metrics sorted by sample id, and those ids."""
        with self._per_instance_lock:
            if self._per_instance_at is None:
                data, ids = sorted_lance_copy(
                    self.run.file("per_instance.parquet"),
                    self._index_folder / "per_instance.lance",
                    self._run_sample_ids,
                )
                self._per_instance_at = (PerThreadDataset.of(data), ids)
            return self._per_instance_at

    def _metrics_loaded(self) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """(metrics with ``sample_id``, their order by sample id, the sorted ids)."""
        with self._metrics_lock:
            if self._loaded is None:
                per_sample = pq.read_table(self._per_sample_path)
                self._loaded = self._keyed(per_sample)
            return self._loaded

    def _keyed(self, per_sample: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        ids = self._run_sample_ids[per_sample.column("row").to_numpy()]
        metrics = per_sample.select(self.metric_names).append_column(
            SAMPLE_ID, pa.array(ids, pa.int64())
        )
        order = np.argsort(ids, kind="stable")
        return metrics, order, ids[order]

    @property
    def metrics(self) -> pa.Table:
        """Per-sample metrics (the run's rows) with ``sample_id``."""
        return self._metrics_loaded()[0]

    @property
    def _metric_order(self) -> np.ndarray:
        return self._metrics_loaded()[1]

    @property
    def _metric_ids(self) -> np.ndarray:
        return self._metrics_loaded()[2]

    def metrics_of(self, sample_ids: np.ndarray) -> dict[str, list[Any]]:
        """Per-sample metric values of some samples (None where the run has none)."""
        ids = np.asarray(sample_ids, dtype=np.int64)
        loaded = self._loaded or self._first_rows(ids)
        metrics, order, sorted_ids = loaded
        found, positions = _locate(sorted_ids, ids)
        take = pa.array(order[positions[found]] if found.any() else [], pa.int64())
        out: dict[str, list[Any]] = {}
        for name in self.metric_names:
            values = iter(metrics.column(name).take(take).to_pylist())
            out[name] = [next(values) if ok else None for ok in found]
        return out

    def _first_rows(self, ids: np.ndarray) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """The metrics of the file's first rows when they hold every one of ``ids`` (the
        grid's first page, read without the rest of the file), else all of them."""
        batches = pq.ParquetFile(self._per_sample_path).iter_batches(batch_size=_FIRST_ROWS)
        first = next(batches, None)
        if first is not None:
            part = self._keyed(pa.Table.from_batches([first]))
            if bool(np.isin(ids, part[2]).all()):
                return part
        return self._metrics_loaded()

    def suspect_rows(
        self,
        *,
        compute: bool = True,
        thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
        sample_id: int | None = None,
    ) -> pa.Table | None:
        """The label-error suspects (``sample_id`` added), of one sample when ``sample_id``
        is given; None when unavailable or not computed.

        ``compute=False`` answers only from the cache: finding suspects scans the whole run,
        so pages that merely show them do not pay for it on large tables. ``thresholds``:
        (instance score, keypoint confidence) as :func:`posetable.find_label_errors` takes.
        """
        if compute:
            self._compute_suspects(thresholds)
        kept = self._suspect_rows.get(thresholds)
        return None if kept is None else kept.rows(sample_id)

    def suspects(
        self, *, compute: bool = True, thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS
    ) -> pa.Table | None:
        """Per-sample suspects: ``suspect_score`` (max), ``suspects`` (count), ``suspect_kinds``."""
        if compute:
            self._compute_suspects(thresholds)
        return self._suspects.get(thresholds)

    def _compute_suspects(self, thresholds: SuspectThresholds) -> None:
        with self._lock:
            if thresholds in self._suspects:
                return
            kept = self._kept_by_run(thresholds)
            # the run's own defaults: found a chunk of rows at a time and kept beside the
            # run (as its materialize keeps them), so no server finds them again
            if (
                kept is None
                and thresholds == SUSPECT_THRESHOLDS
                and find_and_keep(self.run, self.run.table()) is not None
            ):
                kept = self._kept_by_run(thresholds)
            if kept is None:
                found = suspects_of(self.run.table(), self.run, thresholds, self.cache_folder)
                rows = with_sample_ids(found, self._run_sample_ids)
                kept = KeptSuspects(rows, self.cache_folder, thresholds)
            remember(self._suspect_rows, thresholds, kept)
            remember(self._suspects, thresholds, kept.per_sample)
        kept.write_by_sample()  # after the summary is at hand: the sort waits for that only

    def _kept_by_run(self, thresholds: SuspectThresholds) -> KeptSuspects | None:
        """The suspects the run keeps (made by ``Run.materialize``; None when it has none at
        these thresholds, or its file cannot be read), never read whole."""
        path = suspects_path(self.run.path, thresholds)
        if not path.is_file():
            return None
        try:
            return KeptSuspects.from_file(path, self._run_sample_ids, self.cache_folder, thresholds)
        except (OSError, pa.ArrowException, KeyError):  # damaged or foreign: found again
            logger.warning("ignoring unreadable suspects file %s", path)
            return None


def _locate(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, position in ``sorted_ids``) of each id."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), bool), np.zeros(len(ids), np.int64)
    where = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[where] == ids, where.astype(np.int64)


class RunView:
    """One run's metrics and label-error suspects against one table revision.

    On the run's own revision these are what the run stored. On any other revision of the
    table (after accepting predictions or saving an edit) the run's predictions are
    evaluated again against that revision's ground truth, once (``pt.evaluate`` with the
    revision's sigmas), so badges, sorting and filtering never show numbers of ground truth
    the page no longer shows. Predictions are the run's, matched to rows by sample id.
    """

    def __init__(self, index: RunIndex, table: Table) -> None:
        self.index = index
        self.run = index.run
        self.name = index.name
        self.table = table
        self.own = (table.name, table.revision) == (self.run.table_name, self.run.table_revision)
        self.evaluated_on: str = self.run.table_ref if self.own else table.ref
        self._suspects: dict[SuspectThresholds, pa.Table] = {}
        self._suspect_rows: dict[SuspectThresholds, KeptSuspects] = {}
        self._lock = threading.Lock()
        self._pending: dict[SuspectThresholds, Future[None]] = {}
        self._start_lock = threading.Lock()
        self._summary_lock = threading.Lock()
        self._changed: np.ndarray | None = None  # samples edited since the run's revision
        self._summary_job: Future[None] | None = None
        if self.own:
            self._summary: dict[str, float | None] = dict(self.run.metrics)
            self.metric_names = index.metric_names
            return
        sample_ids = np.asarray(table.sample_ids(), dtype=np.int64)
        changed = changed_since(table, self.run) if len(table) > EAGER_EVALUATE_ROWS else None
        if changed is not None:
            self._evaluate_changed(sample_ids, changed)
        else:
            self._evaluate_all(sample_ids)

    @property
    def metrics(self) -> pa.Table:
        """Per-sample metrics against this revision, with ``sample_id``."""
        return self.index.metrics if self.own else self._metrics

    @metrics.setter
    def metrics(self, value: pa.Table) -> None:
        self._metrics = value

    @property
    def metric_schema(self) -> pa.Schema:
        """The types of ``metrics`` (without reading a large run's metrics)."""
        return self.index.metric_schema if self.own else self._metrics.schema

    def _evaluate_all(self, sample_ids: np.ndarray) -> None:
        """Evaluate the run on this revision (every metric of every row, and the summary)."""
        result = self._evaluate()
        self._summary = {name: float(getattr(result, name)) for name in STAT_NAMES}
        per_sample = result.per_sample
        self.metric_names = [n for n in per_sample.column_names if n not in ("row", "image_id")]
        ids = sample_ids[per_sample.column("row").to_numpy()]
        self.metrics = per_sample.select(self.metric_names).append_column(
            SAMPLE_ID, pa.array(ids, pa.int64())
        )
        self._metric_order = np.argsort(ids, kind="stable")
        self._metric_ids = ids[self._metric_order]
        self._carry_sample_columns(ids)
        per_instance = result.per_instance
        instance_ids = sample_ids[per_instance.column("row").to_numpy()]
        order = np.argsort(instance_ids, kind="stable")
        self._per_instance = per_instance.take(pa.array(order, pa.int64()))
        self._per_instance_ids = instance_ids[order]

    def _evaluate_changed(self, sample_ids: np.ndarray, changed: np.ndarray) -> None:
        """Per-sample and per-instance metrics: the run's own for the rows unchanged since
        its revision, the changed rows evaluated alone (the same values: see
        :mod:`posetable.dashboard._reevaluate`); the summary in the background."""
        index = self.index
        rows = np.flatnonzero(np.isin(sample_ids, changed))
        per_sample, per_instance = evaluate_rows(
            self.table, rows, index.predictions(sample_ids[rows])
        )
        names = [n for n in per_sample.column_names if n not in ("row", "image_id")]
        n = len(sample_ids)
        _, positions = _locate(index._metric_ids, sample_ids)
        carried = index.metrics.take(pa.array(index._metric_order[positions], pa.int64()))
        pick = np.arange(n)
        pick[rows] = n + np.arange(len(rows))  # the changed rows from the new evaluation
        columns: dict[str, Any] = {}
        for name in names:
            old = carried.column(name).combine_chunks()
            new = per_sample.column(name).combine_chunks().cast(old.type)
            columns[name] = pa.concat_arrays([old, new]).take(pa.array(pick, pa.int64()))
        columns[SAMPLE_ID] = pa.array(sample_ids, pa.int64())
        for name in index.metric_names:  # the run's own columns (losses...) by sample id
            if name not in columns:
                columns[name] = carried.column(name)
        self.metrics = pa.table(columns)
        self.metric_names = [c for c in self.metrics.column_names if c != SAMPLE_ID]
        self._metric_order = np.arange(n)[np.argsort(sample_ids, kind="stable")]
        self._metric_ids = sample_ids[self._metric_order]
        instance_ids = sample_ids[per_instance.column("row").to_numpy()]
        order = np.argsort(instance_ids, kind="stable")
        self._per_instance = per_instance.take(pa.array(order, pa.int64()))
        self._per_instance_ids = instance_ids[order]
        self._changed = np.asarray(changed, np.int64)
        self._summary = {name: None for name in STAT_NAMES}  # found when first asked

    def _changed_suspects(self, thresholds: SuspectThresholds) -> pa.Table:
        """The suspects of this revision: the run's own for the rows unchanged since its
        revision, found again for the changed rows (each suspect depends on its row alone),
        in ``find_label_errors``' order (score, highest first, then row)."""
        own = self.index.suspect_rows(thresholds=thresholds)
        if own is None:  # pragma: no cover - the run's revision always has suspects
            raise RunError(f"no suspects of run {self.name!r} on its own revision")
        changed = np.asarray(self._changed, np.int64)
        rows = np.flatnonzero(np.isin(np.asarray(self.table.sample_ids()), changed))
        fresh = label_errors_of_rows(
            self.table,
            self.run,
            rows,
            predictions=self.index.predictions_arrow(changed),
            instance_confidence_threshold=thresholds[0],
            keypoint_confidence_threshold=thresholds[1],
        )
        mask = pc.invert(pc.is_in(own.column(SAMPLE_ID), value_set=pa.array(changed)))
        kept = own.filter(mask).drop_columns([SAMPLE_ID])
        joined = pa.concat_tables([kept, fresh.cast(kept.schema)])
        order = np.lexsort((joined.column("row").to_numpy(), -joined.column("score").to_numpy()))
        return joined.take(pa.array(order, pa.int64()))

    def _summarize(self) -> None:
        result = self._evaluate()
        self._summary = {name: float(getattr(result, name)) for name in STAT_NAMES}

    @property
    def summary(self) -> dict[str, float | None]:
        """The run's stats on this revision; on an edited large revision, None values until
        the background evaluation (started by the first ask) is done."""
        if self._changed is not None and self._summary_job is None:
            with self._summary_lock:  # not self._lock: suspects are found holding that one
                if self._summary_job is None:
                    self._summary_job = background("evaluate", self._summarize)
        return self._summary

    @property
    def summary_state(self) -> str:
        """``re-evaluating`` while the summary of this revision is computed, else ``done``."""
        self.summary  # noqa: B018 - asking starts it
        job = self._summary_job
        return "re-evaluating" if job is not None and not job.done() else "done"

    def start_suspects(self, thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS) -> None:
        """Find the suspects at ``thresholds`` in the background (once), for a large
        revision: the grid and image pages start it, so they are at hand for the sort."""
        if len(self.table) <= EAGER_SUSPECTS_ROWS:
            return
        if self.own:
            self.index.start_suspects(thresholds)
            return
        with self._start_lock:  # not self._lock: a running search holds that one
            if thresholds in self._pending or thresholds in self._suspects:
                return
            self._pending[thresholds] = background(
                "suspects", partial(self._compute_suspects, thresholds)
            )

    def computing(self, thresholds: SuspectThresholds) -> bool:
        """Whether the suspects at ``thresholds`` are being found in the background."""
        if self.own:
            return self.index.computing(thresholds)
        pending = self._pending.get(thresholds)
        return pending is not None and not pending.done()

    def _carry_sample_columns(self, ids: np.ndarray) -> None:
        """The run's own per-sample columns (losses, embeddings) kept by sample id."""
        own = [n for n in self.index.metric_names if n not in self.metric_names]
        if not own:
            return
        found, positions = _locate(self.index._metric_ids, ids)
        take = self.index._metric_order[positions]
        for name in own:
            values = self.index.metrics.column(name).take(pa.array(take, pa.int64()))
            values = pc.if_else(pa.array(found), values, pa.nulls(len(ids), values.type))
            self.metrics = self.metrics.append_column(name, values)
        self.metric_names = [*self.metric_names, *own]

    def _evaluate(self) -> Any:
        from posetable.eval import evaluate
        from posetable.runs import Run

        sigmas = self.table.schema.sigmas
        # the run opened for this evaluation alone: a Run keeps the columns it reads (its
        # flat predictions: ~700 MB for a million images), which the dashboard's own Run
        # object would then hold for as long as the server runs
        run = Run.open(self.run.name, store=self.table.store)
        try:  # the table descends from the run's revision: the run's own flat columns
            return evaluate(self.table, run, sigmas=sigmas)
        except RunError:  # an older or unrelated revision: match predictions by sample id
            data = run.predictions_arrow()
            rows = rows_for_samples(
                data.column(SAMPLE_ID).to_numpy(), np.asarray(self.table.sample_ids())
            )
            keep = rows >= 0
            predictions = pa.table(
                {
                    "row": pa.array(rows[keep], pa.int64()),
                    KEYPOINTS_COLUMN: data.column(KEYPOINTS_COLUMN).filter(pa.array(keep)),
                }
            )
            return evaluate(self.table, predictions, sigmas=sigmas)

    def predictions(
        self, sample_ids: Sequence[int] | np.ndarray
    ) -> list[Keypoints2DInstances | None]:
        """Predicted instances of some samples (None where the run has none)."""
        return self.index.predictions(sample_ids)

    def metrics_of(self, sample_ids: np.ndarray) -> dict[str, list[Any]]:
        """Per-sample metric values against this revision (None where there are none)."""
        if self.own:
            return self.index.metrics_of(sample_ids)
        found, positions = _locate(self._metric_ids, np.asarray(sample_ids, dtype=np.int64))
        take = pa.array(self._metric_order[positions[found]] if found.any() else [], pa.int64())
        out: dict[str, list[Any]] = {}
        for name in self.metric_names:
            values = iter(self.metrics.column(name).take(take).to_pylist())
            out[name] = [next(values) if ok else None for ok in found]
        return out

    def per_instance(self, sample_id: int) -> pa.Table:
        """The per-instance metrics of one sample against this revision."""
        if self.own or (self._changed is not None and sample_id not in set(self._changed)):
            return self.index.per_instance(sample_id)
        lo = int(np.searchsorted(self._per_instance_ids, sample_id, side="left"))
        hi = int(np.searchsorted(self._per_instance_ids, sample_id, side="right"))
        return self._per_instance.slice(lo, hi - lo)

    def suspect_rows(
        self,
        *,
        compute: bool = True,
        thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS,
        sample_id: int | None = None,
    ) -> pa.Table | None:
        """Label-error suspects of this revision (``sample_id`` added); see RunIndex."""
        if self.own:
            return self.index.suspect_rows(
                compute=compute, thresholds=thresholds, sample_id=sample_id
            )
        if compute:
            self._compute_suspects(thresholds)
        kept = self._suspect_rows.get(thresholds)
        return None if kept is None else kept.rows(sample_id)

    def suspects(
        self, *, compute: bool = True, thresholds: SuspectThresholds = DEFAULT_SUSPECT_THRESHOLDS
    ) -> pa.Table | None:
        """Per-sample suspects of this revision: score (max), count, kinds."""
        if self.own:
            return self.index.suspects(compute=compute, thresholds=thresholds)
        if compute:
            self._compute_suspects(thresholds)
        return self._suspects.get(thresholds)

    def _compute_suspects(self, thresholds: SuspectThresholds) -> None:
        with self._lock:
            if thresholds in self._suspects:
                return
            folder = self.index.cache_folder / f"on-{self.table.name}@{self.table.revision}"
            try:
                if self._changed is not None:
                    found = self._changed_suspects(thresholds)
                else:
                    found = suspects_of(self.table, self.run, thresholds, folder)
            except RunError:  # a revision older than the run's: no suspects to show
                return
            rows = with_sample_ids(found, self.table.sample_ids())
            kept = KeptSuspects(rows, folder, thresholds)
            remember(self._suspect_rows, thresholds, kept)
            remember(self._suspects, thresholds, kept.per_sample)
