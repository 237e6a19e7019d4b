"""3LC's runs on a posetable store: ``tlc.init``, ``tlc.Run``, the active run, run status.

A 3LC run is the folder ``<store>/runs/<project>/<run>/`` holding ``run.json`` (name,
project, description, parameters, status, attributes, created, metrics infos and the
collections) and ``metrics/*.parquet`` (the tables :class:`~posetable.tlc.MetricsTableWriter`
writes). It is not itself a native run (no ``manifest.json``): each collected
(stream, epoch) is a native :class:`posetable.Run` named
``"<project>/<run>/<stream>-epoch-0003"`` (or ``"<stream>-final"``) inside that folder, so
``pt.list_runs`` and the dashboard see it with posetable's metrics. ``run.json`` is rewritten
atomically on every change (read, change, replace), so two ``Run`` objects of one folder
never lose each other's updates in one process, and a crash leaves the last record.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from posetable.errors import NotFoundError, RevisionError, RunError, UnsupportedError
from posetable.store import Store, check_name, resolve_store
from posetable.tlc._names import DEFAULT_PROJECT
from posetable.tlc._url import Url
from posetable.tlc.core.builtins.constants.column_names import (
    RUN_STATUS,
    RUN_STATUS_CANCELLED,
    RUN_STATUS_COLLECTING,
    RUN_STATUS_COMPLETED,
    RUN_STATUS_EMPTY,
    RUN_STATUS_PAUSED,
    RUN_STATUS_POST_PROCESSING,
    RUN_STATUS_RUNNING,
)

if TYPE_CHECKING:
    import pyarrow as pa

    import posetable as pt

RUN_RECORD = "run.json"
RUN_RECORD_FORMAT = 1
METRICS_FOLDER = "metrics"
IF_EXISTS = ("reuse", "overwrite", "rename", "raise")
_STATUSES = {
    RUN_STATUS_EMPTY: "empty",
    RUN_STATUS_RUNNING: "running",
    RUN_STATUS_COLLECTING: "collecting",
    RUN_STATUS_POST_PROCESSING: "post processing",
    RUN_STATUS_COMPLETED: "completed",
    RUN_STATUS_PAUSED: "paused",
    RUN_STATUS_CANCELLED: "cancelled",
}
_STREAM = re.compile(r"[^A-Za-z0-9_.\- ]+")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _json_value(value: Any, what: str) -> Any:
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError as exc:
        raise UnsupportedError(f"{what} must be JSON values, got {value!r}: {exc}") from None


def _part(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnsupportedError(f"{argument} must be a non-empty string, got {value!r}")
    if "/" in value or "\\" in value:
        raise UnsupportedError(f"{argument} may not hold '/' or '\\', got {value!r}")
    try:
        check_name(value, "run")
    except RevisionError as exc:
        raise UnsupportedError(f"{argument}={value!r} cannot name a run: {exc}") from None
    return value


def stream_name(value: str) -> str:
    """A stream name usable in a native run name: the last part of a table name, cleaned.

    Example:
        >>> stream_name("3LC Tutorials/COCO/val:2017")
        'val_2017'
    """
    last = str(value).rstrip("/").split("/")[-1]
    cleaned = _STREAM.sub("_", last).strip(" .") or "stream"
    return cleaned


class Run:
    """A 3LC run: its record in ``<store>/runs/<project>/<run>/run.json`` and its collections.

    Made by :func:`init` (or opened with :meth:`from_url` / :meth:`from_names`); each
    collected (stream, epoch) is a native :class:`posetable.Run` added with
    :meth:`add_collection`.

    Example:
        >>> import tempfile, posetable.tlc as tlc
        >>> run = tlc.init("my-project", "first", root_url=tempfile.mkdtemp())
        >>> run.native_name, run.status == tlc.RUN_STATUS_EMPTY
        ('my-project/first', True)
        >>> run.update_attribute(tlc.RUN_STATUS, tlc.RUN_STATUS_COMPLETED)
        >>> tlc.Run.from_url(run.url).status == tlc.RUN_STATUS_COMPLETED
        True
    """

    def __init__(self, store: Store, project_name: str, name: str) -> None:
        self._store = store
        self._project = project_name
        self._name = name
        if not self._record_path.is_file():
            raise NotFoundError(
                f"no 3LC run {project_name}/{name} in store {store.root} (no {self._record_path})"
            )

    # -- where -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The run's name."""
        return self._name

    @property
    def project_name(self) -> str:
        """The run's project."""
        return self._project

    @property
    def store(self) -> Store:
        """The native store the run lives in."""
        return self._store

    @property
    def native_name(self) -> str:
        """``"project/run"``: the prefix of the names of this run's native runs."""
        return f"{self._project}/{self._name}"

    @property
    def path(self) -> Path:
        """The run's folder."""
        return self._store.runs_dir / self._project / self._name

    @property
    def url(self) -> Url:
        """The run's folder as a :class:`~posetable.tlc.Url`."""
        return Url(self.path)

    @property
    def bulk_data_url(self) -> Url:
        """Where the run's metrics tables live (``<run>/metrics``)."""
        return Url(self.path / METRICS_FOLDER)

    @property
    def _record_path(self) -> Path:
        return self.path / RUN_RECORD

    # -- the record --------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            record: dict[str, Any] = orjson.loads(self._record_path.read_bytes())
        except FileNotFoundError:
            raise NotFoundError(
                f"3LC run {self.native_name}: {self._record_path} is gone"
            ) from None
        return record

    def _change(self, change: Any) -> None:
        record = self._read()
        change(record)
        record["last_modified"] = _now()
        _write_record(self._record_path, record)

    @property
    def record(self) -> dict[str, Any]:
        """A copy of ``run.json``."""
        return self._read()

    @property
    def description(self) -> str:
        """The run's description."""
        return str(self._read().get("description") or "")

    @description.setter
    def description(self, value: str) -> None:
        self.set_description(value)

    def set_description(self, description: str) -> None:
        """Set the run's description."""
        if not isinstance(description, str):
            raise UnsupportedError(f"description must be a string, got {description!r}")
        self._change(lambda r: r.__setitem__("description", description))

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameters (hyperparameters...)."""
        return dict(self._read().get("parameters") or {})

    def set_parameters(self, parameters: Mapping[str, Any]) -> None:
        """Set the run's parameters (replacing the ones before)."""
        if not isinstance(parameters, Mapping):
            raise UnsupportedError(f"parameters must be a dict, got {parameters!r}")
        value = _json_value(dict(parameters), "parameters")
        self._change(lambda r: r.__setitem__("parameters", value))

    @property
    def constants(self) -> dict[str, Any]:
        """3LC's ``run.constants``: parameters, inputs and outputs."""
        record = self._read()
        return {
            "parameters": dict(record.get("parameters") or {}),
            "inputs": list(record.get("inputs") or []),
            "outputs": list(record.get("outputs") or []),
        }

    @property
    def attributes(self) -> dict[str, Any]:
        """Attributes set with :meth:`update_attribute` other than status and description."""
        return dict(self._read().get("attributes") or {})

    @property
    def created(self) -> str:
        """When the run was made (ISO 8601, UTC)."""
        return str(self._read()["created"])

    @property
    def status(self) -> float:
        """The run's status, one of ``tlc.RUN_STATUS_*`` (3LC's float values)."""
        return float(self._read()["status"])

    @property
    def status_name(self) -> str:
        """The status in words (``"completed"``...)."""
        return _STATUSES.get(self.status, str(self.status))

    def update_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; ``tlc.RUN_STATUS`` sets the status, ``"description"`` it.

        Example: ``run.update_attribute(tlc.RUN_STATUS, tlc.RUN_STATUS_COMPLETED)``.
        """
        if not isinstance(key, str) or not key:
            raise UnsupportedError(f"an attribute key must be a non-empty string, got {key!r}")
        if key == RUN_STATUS:
            self._set_status(value)
        elif key == "description":
            self.set_description(value)
        elif key == "parameters":
            self.set_parameters(value)
        else:
            stored = _json_value(value, f"attribute {key!r}")
            self._change(lambda r: r.setdefault("attributes", {}).__setitem__(key, stored))

    def _set_status(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UnsupportedError(f"{RUN_STATUS} must be one of {_choices()}, got {value!r}")
        if float(value) not in _STATUSES:
            raise UnsupportedError(f"{RUN_STATUS} must be one of {_choices()}, got {value!r}")
        self._change(lambda r: r.__setitem__("status", float(value)))

    def set_status_running(self) -> None:
        """Status: running."""
        self._set_status(RUN_STATUS_RUNNING)

    def set_status_collecting(self) -> None:
        """Status: collecting."""
        self._set_status(RUN_STATUS_COLLECTING)

    def set_status_post_processing(self) -> None:
        """Status: post processing."""
        self._set_status(RUN_STATUS_POST_PROCESSING)

    def set_status_completed(self) -> None:
        """Status: completed."""
        self._set_status(RUN_STATUS_COMPLETED)

    def set_status_empty(self) -> None:
        """Status: empty."""
        self._set_status(RUN_STATUS_EMPTY)

    def set_status_paused(self) -> None:
        """Status: paused."""
        self._set_status(RUN_STATUS_PAUSED)

    def set_status_cancelled(self) -> None:
        """Status: cancelled."""
        self._set_status(RUN_STATUS_CANCELLED)

    # -- inputs, outputs -----------------------------------------------------------------------
    def add_input_table(self, input_table: Any) -> None:
        """Record a table the run read (a ``tlc.Table``, a native table or a url)."""
        native = getattr(input_table, "native", input_table)
        if hasattr(native, "ref"):
            entry: dict[str, Any] = {"input_table_url": str(getattr(input_table, "url", ""))}
            entry["table"] = native.ref
        else:
            entry = {"input_table_url": str(Url(input_table))}

        def add(record: dict[str, Any]) -> None:
            inputs = record.setdefault("inputs", [])
            if entry not in inputs:
                inputs.append(entry)

        self._change(add)

    def add_input_value(self, input_value: Mapping[str, Any]) -> None:
        """Add a value to the run's inputs."""
        value = _json_value(dict(input_value), "input_value")
        self._change(lambda r: r.setdefault("inputs", []).append(value))

    def add_output_value(self, output_value: Mapping[str, Any]) -> None:
        """Add a value to the run's outputs (aggregate metrics of an epoch...)."""
        value = _json_value(dict(output_value), "output_value")
        self._change(lambda r: r.setdefault("outputs", []).append(value))

    # -- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The metrics infos added with :meth:`update_metrics`, in order."""
        return list(self._read().get("metrics") or [])

    def update_metrics(self, metric_infos: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Add metrics infos (what ``MetricsTableWriter.get_written_metrics_infos`` returns).

        Infos already in the run (same ``url``) are not added again.
        """
        infos = [dict(i) for i in metric_infos or []]
        for info in infos:
            if not isinstance(info.get("url"), str):
                raise UnsupportedError(f"a metrics info needs a 'url' string, got {info!r}")
            if not (self.path / info["url"]).is_file():
                raise NotFoundError(
                    f"3LC run {self.native_name}: metrics table {info['url']!r} does not exist "
                    f"under {self.path}; finalize the MetricsTableWriter first"
                )
        stored = _json_value(infos, "metric_infos")

        def add(record: dict[str, Any]) -> None:
            have = record.setdefault("metrics", [])
            urls = {m["url"] for m in have}
            have.extend(m for m in stored if m["url"] not in urls)

        self._change(add)

    @property
    def metrics_tables(self) -> list[pa.Table]:
        """The run's metrics tables (Arrow, each with its ``example_id`` column)."""
        import pyarrow.parquet as pq

        return [pq.read_table(self.path / info["url"]) for info in self.metrics]

    def add_metrics(
        self,
        metrics: Mapping[str, Any],
        column_schemas: Mapping[str, Any] | None = None,
        foreign_table_url: Any = None,
        foreign_table_display_name: str = "",
        constants: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Write columns of metrics (one list per column) as a metrics table of this run."""
        from posetable.tlc._metrics_writer import MetricsTableWriter

        writer = MetricsTableWriter(
            run_url=self.url,
            foreign_table_url=foreign_table_url or "",
            foreign_table_display_name=foreign_table_display_name,
            column_schemas=dict(column_schemas or {}),
        )
        columns = dict(metrics)
        if foreign_table_url and "example_id" not in columns and columns:
            rows = len(next(iter(columns.values())))
            columns["example_id"] = list(range(rows))
        writer.add_batch(columns)
        writer.finalize()
        infos = writer.get_written_metrics_infos()
        self.update_metrics(infos)
        if constants:
            self.add_output_value(dict(constants))
        return infos

    # -- collections (native runs) --------------------------------------------------------------
    def collection_name(self, stream: str, epoch: int | None = None) -> str:
        """The native run name of a collection: ``project/run/<stream>-epoch-0003``.

        ``epoch=None`` (or -1) names a collection outside training: ``<stream>-final``.
        ``stream`` is ``"train"``, ``"val"`` or a table name (its last part is used).
        """
        stream = stream_name(stream)
        if epoch is None or epoch == -1:
            return f"{self.native_name}/{stream}-final"
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise UnsupportedError(f"epoch must be an int >= 0, -1 or None, got {epoch!r}")
        return f"{self.native_name}/{stream}-epoch-{epoch:04d}"

    def unique_collection_name(self, stream: str, epoch: int | None = None) -> str:
        """:meth:`collection_name`, or it with ``_0001``... when a run has that name already."""
        name = self.collection_name(stream, epoch)
        if not (self._store.runs_dir / name).exists():
            return name
        for number in range(1, 100000):
            candidate = f"{name}_{number:04d}"
            if not (self._store.runs_dir / candidate).exists():
                return candidate
        raise RunError(f"no free run name next to {name!r}")  # pragma: no cover

    def add_collection(self, native_run: pt.Run) -> None:
        """Record a native run (one collected stream and epoch) in this run, in order."""
        name = getattr(native_run, "name", None)
        if not isinstance(name, str):
            raise UnsupportedError(
                f"add_collection takes a posetable.Run, got {type(native_run).__name__}"
            )
        if not name.startswith(self.native_name + "/"):
            raise RunError(
                f"native run {name!r} is not inside 3LC run {self.native_name!r}: name it "
                f"with run.collection_name(stream, epoch)"
            )
        if getattr(native_run, "_store", self._store).root != self._store.root:
            raise RunError(f"native run {name!r} is in another store than {self._store.root}")
        info = dict(getattr(native_run, "model_info", {}) or {})
        entry = {"name": name, "stream": info.get("stream"), "epoch": info.get("epoch")}

        def add(record: dict[str, Any]) -> None:
            have = record.setdefault("collections", [])
            if all(c["name"] != name for c in have):
                have.append(entry)

        self._change(add)

    @property
    def collections(self) -> list[str]:
        """Names of this run's native runs (collected streams and epochs), in order."""
        return [c["name"] for c in self._read().get("collections") or []]

    def collection_runs(self) -> list[pt.Run]:
        """This run's native runs, opened."""
        from posetable.runs import Run as NativeRun

        return [NativeRun.open(name, store=self._store) for name in self.collections]

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def from_url(url: Url | str | os.PathLike[str]) -> Run:
        """Open the run at ``url`` (``run.url``: ``<store>/runs/<project>/<run>``)."""
        store, project, name = _parse_run_url(url)
        return Run(store, project, name)

    @staticmethod
    def from_names(
        run_name: str | None = None,
        project_name: str | None = None,
        root_url: Url | str | None = None,
    ) -> Run:
        """Open a run by its names (3LC's ``Run.from_names``)."""
        store = _store_of(root_url)
        project = _part(project_name or DEFAULT_PROJECT, "project_name")
        name = _part(run_name, "run_name")
        return Run(store, project, name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"Run(url={self.url.to_str()!r}, status={self.status_name!r})"


def _choices() -> str:
    return ", ".join(f"{v} ({k})" for v, k in ((v, n) for v, n in _STATUSES.items()))


def _write_record(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    os.replace(temporary, path)


def _store_of(root_url: Url | str | os.PathLike[str] | None) -> Store:
    return resolve_store(None if root_url is None else Url(root_url).to_absolute().to_str())


def _parse_run_url(url: Url | str | os.PathLike[str]) -> tuple[Store, str, str]:
    parts = Path(Url(url).to_absolute().to_str().rstrip("/")).parts
    if "runs" in parts:
        at = len(parts) - 1 - parts[::-1].index("runs")
        rest = parts[at + 1 :]
        if len(rest) == 2:
            return Store(Path(*parts[:at])), rest[0], rest[1]
    raise NotFoundError(
        f"url {str(url)!r} does not name a 3LC run: expected <store>/runs/<project>/<run>"
    )


def _generated_name() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"run-{stamp}-{uuid.uuid4().hex[:6]}"


_ACTIVE: list[Run] = []


def init(
    project_name: str | None = None,
    run_name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    if_exists: str = "rename",
    *,
    root_url: Url | str | None = None,
    run_url: Url | str | None = None,
) -> Run:
    """Make a 3LC run (or reuse one) and make it the active run (3LC's ``tlc.init``).

    The run is the folder ``<store>/runs/<project>/<run>/`` of the store ``root_url`` (the
    native default store, ``$POSETABLE_HOME``, when None); ``run_url`` names that folder
    directly. ``if_exists``: ``"rename"`` (a free name ``<run>_0001``...), ``"reuse"`` (open
    it; description and parameters given are set), ``"overwrite"`` (delete the old run and
    its collections) or ``"raise"``.

    Example:
        >>> import tempfile, posetable.tlc as tlc
        >>> root = tempfile.mkdtemp()
        >>> first = tlc.init("GEOMETRY", "Pose collect", root_url=root)
        >>> again = tlc.init("GEOMETRY", "Pose collect", root_url=root)
        >>> again.name, tlc.active_run() == again
        ('Pose collect_0001', True)
    """
    if if_exists not in IF_EXISTS:
        raise UnsupportedError(f"if_exists must be one of {list(IF_EXISTS)}, got {if_exists!r}")
    if description is not None and not isinstance(description, str):
        raise UnsupportedError(f"description must be a string, got {description!r}")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise UnsupportedError(f"parameters must be a dict, got {parameters!r}")
    params = _json_value(dict(parameters or {}), "parameters")
    if run_url is not None:
        store, project, name = _parse_run_url(run_url)
        _part(project, "project of run_url")
        _part(name, "run name of run_url")
    else:
        store = _store_of(root_url)
        project = _part(project_name or DEFAULT_PROJECT, "project_name")
        name = _part(run_name or _generated_name(), "run_name")
    folder = store.runs_dir / project / name
    if folder.exists():
        if if_exists == "raise":
            raise RunError(
                f"3LC run {project}/{name} already exists in {store.root}; pass "
                "if_exists='rename', 'reuse' or 'overwrite'"
            )
        if if_exists == "reuse" and (folder / RUN_RECORD).is_file():
            run = Run(store, project, name)
            if description is not None:
                run.set_description(description)
            if parameters is not None:
                run.set_parameters(params)
            return _activate(run)
        if if_exists == "overwrite":
            shutil.rmtree(folder)
        elif if_exists == "rename":
            base = name
            for number in range(1, 100000):
                name = f"{base}_{number:04d}"
                if not (store.runs_dir / project / name).exists():
                    break
        elif (folder / RUN_RECORD).is_file() is False and any(folder.iterdir()):
            raise RunError(f"{folder} exists and is not a 3LC run; choose another run name")
    stamp = _now()
    record = {
        "format_version": RUN_RECORD_FORMAT,
        "type": "tlc-run",
        "name": name,
        "project": project,
        "description": description or "",
        "parameters": params,
        "status": RUN_STATUS_EMPTY,
        "attributes": {},
        "created": stamp,
        "last_modified": stamp,
        "inputs": [],
        "outputs": [],
        "metrics": [],
        "collections": [],
    }
    _write_record(store.runs_dir / project / name / RUN_RECORD, record)
    return _activate(Run(store, project, name))


def _activate(run: Run) -> Run:
    _ACTIVE[:] = [run]
    return run


def active_run() -> Run | None:
    """The run made by the last :func:`init` (None after :func:`close` or before any)."""
    return _ACTIVE[0] if _ACTIVE else None


def close() -> None:
    """End the session: a run still empty, running or collecting is marked completed.

    Example:
        >>> import tempfile, posetable.tlc as tlc
        >>> run = tlc.init(root_url=tempfile.mkdtemp())
        >>> tlc.close()
        >>> tlc.active_run() is None, run.status == tlc.RUN_STATUS_COMPLETED
        (True, True)
    """
    run = active_run()
    _ACTIVE.clear()
    open_statuses = (RUN_STATUS_EMPTY, RUN_STATUS_RUNNING, RUN_STATUS_COLLECTING)
    if run is not None and run._record_path.is_file() and run.status in open_statuses:
        run.set_status_completed()


def run_of(run_url: Url | str | os.PathLike[str] | None, what: str) -> Run:
    """The run at ``run_url``, or the active run when None (else a typed error)."""
    if run_url is None or run_url == "":
        run = active_run()
        if run is None:
            raise RunError(f"{what}: no run_url given and no active run; call tlc.init() first")
        return run
    return Run.from_url(run_url)
