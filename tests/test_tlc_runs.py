"""3LC's run API on posetable: ``tlc.init``, ``tlc.Run``, ``tlc.MetricsTableWriter``.

A 3LC run is ``<store>/runs/<project>/<run>/run.json`` plus ``metrics/*.parquet``; each
collection (and each metrics table holding keypoint predictions) is a native run inside it.
The last test runs 3lc-ultralytics' ``examples/pose/collect.py`` as written.
"""

from __future__ import annotations

import doctest
import importlib
import json
import runpy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import NotFoundError, RowError, RunError, UnsupportedError

DATA = Path(__file__).parent / "data" / "coco8_pose_yolo"


@pytest.fixture(autouse=True)
def _no_active_run():
    yield
    tlc.close()


@pytest.fixture
def table(store: Path) -> tlc.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tlc.Table.from_yolo(
            DATA / "coco8-pose.yaml",
            split="val",
            task="pose",
            project_name="Geometry",
            dataset_name="default-dataset",
            table_name="COCO Keypoints",
            root_url=store,
        )


def _schema() -> tlc.Schema:
    """3lc-ultralytics' ``points_and_lines_2d_schema`` (examples/pose/pose_helpers.py)."""
    listed = {"size0": tlc.DimensionNumericValue()}
    values = {
        "xys": tlc.Schema(value=tlc.Float32Value(), **listed),
        "lines": tlc.Schema(value=tlc.Int32Value(), **listed),
        "xys_additional_data": tlc.Schema(
            values={"conf": tlc.Schema(value=tlc.Float32Value(), **listed)}
        ),
    }
    return tlc.Schema(
        values={
            "instances": tlc.Schema(values=values, **listed),
            **{
                k: tlc.Schema(value=tlc.Float32Value())
                for k in ("x_min", "x_max", "y_min", "y_max")
            },
        }
    )


def _pose_row(instances: pt.Keypoints2DInstances, *, shift: float = 0.0) -> dict[str, Any]:
    """A row as the example's ``format_yolo_kpts`` writes it, from (shifted) ground truth."""
    return {
        "instances": [
            {
                "xys": (points + shift).reshape(-1).tolist(),
                "lines": [0, 1],
                "xys_additional_data": {"conf": [1.0] * len(points)},
            }
            for points in instances.keypoints
        ],
        "x_min": 0.0,
        "x_max": float(instances.image_width),
        "y_min": 0.0,
        "y_max": float(instances.image_height),
    }


# -- tlc.init and tlc.Run ------------------------------------------------------------------------
def test_status_constants_have_3lc_values() -> None:
    assert tlc.RUN_STATUS == "status"
    got = [
        tlc.RUN_STATUS_COMPLETED,
        tlc.RUN_STATUS_EMPTY,
        tlc.RUN_STATUS_RUNNING,
        tlc.RUN_STATUS_COLLECTING,
        tlc.RUN_STATUS_POST_PROCESSING,
        tlc.RUN_STATUS_PAUSED,
        tlc.RUN_STATUS_CANCELLED,
    ]
    assert got == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert (tlc.EXAMPLE_ID, tlc.FOREIGN_TABLE_ID, tlc.EPOCH) == (
        "example_id",
        "input_table_id",
        "epoch",
    )


def test_init_defaults_to_the_default_store_project_and_a_fresh_name(tmp_path: Path) -> None:
    run = tlc.init()
    home = tmp_path / "default-store"
    assert run.store.root == home and run.project_name == "default-project"
    assert run.path == home / "runs" / "default-project" / run.name
    assert (run.path / "run.json").is_file() and tlc.active_run() == run
    assert run.status == tlc.RUN_STATUS_EMPTY and run.collections == []
    other = tlc.init()
    assert other.name != run.name and tlc.active_run() == other
    assert pt.list_runs() == []  # a 3LC run is not itself a native run


def test_record_holds_description_parameters_status_and_attributes(store: Path) -> None:
    run = tlc.init("P", "R", description="first", parameters={"lr": 0.1}, root_url=store)
    run.update_attribute(tlc.RUN_STATUS, tlc.RUN_STATUS_RUNNING)
    run.update_attribute("notes", {"seen": [1, 2]})
    run.set_parameters({"lr": 0.2, "epochs": np.int64(3)})
    again = tlc.Run.from_url(run.url)
    assert again == run and again.description == "first"
    assert again.parameters == {"lr": 0.2, "epochs": 3}
    assert again.status == tlc.RUN_STATUS_RUNNING and again.status_name == "running"
    assert again.attributes == {"notes": {"seen": [1, 2]}}
    record = json.loads((run.path / "run.json").read_text())
    assert (record["project"], record["name"]) == ("P", "R")
    assert tlc.Run.from_names("R", "P", root_url=store) == run
    run.set_status_completed()
    assert tlc.Run.from_url(str(run.url)).status == tlc.RUN_STATUS_COMPLETED
    with pytest.raises(UnsupportedError, match=r"status must be one of .* got 9"):
        run.update_attribute(tlc.RUN_STATUS, 9)


@pytest.mark.parametrize(
    ("if_exists", "name", "kept"),
    [("rename", "R_0001", True), ("reuse", "R", True), ("overwrite", "R", False)],
)
def test_if_exists(store: Path, if_exists: str, name: str, kept: bool) -> None:
    first = tlc.init("P", "R", parameters={"a": 1}, root_url=store)
    first.update_attribute("mark", 1)
    second = tlc.init("P", "R", if_exists=if_exists, root_url=store)
    assert second.name == name
    assert ("mark" in tlc.Run.from_names("R", "P", root_url=store).attributes) is kept


def test_bad_init_settings_are_refused_before_anything_is_written(store: Path) -> None:
    tlc.init("P", "R", root_url=store)
    with pytest.raises(RunError, match="already exists"):
        tlc.init("P", "R", if_exists="raise", root_url=store)
    with pytest.raises(UnsupportedError, match=r"if_exists must be one of .* got 'keep'"):
        tlc.init("P", "S", if_exists="keep", root_url=store)
    with pytest.raises(UnsupportedError, match="run_name may not hold '/'"):
        tlc.init("P", "a/b", root_url=store)
    assert sorted(p.name for p in (store / "runs" / "P").iterdir()) == ["R"]
    with pytest.raises(NotFoundError, match="does not name a 3LC run"):
        tlc.Run.from_url(store / "tables")
    with pytest.raises(NotFoundError, match="no 3LC run P/nope"):
        tlc.Run.from_names("nope", "P", root_url=store)


def test_run_url_names_the_folder(store: Path) -> None:
    run = tlc.init(run_url=store / "runs" / "Proj" / "Named")
    assert (run.project_name, run.name, run.store.root) == ("Proj", "Named", store)


def test_collections_are_native_runs_inside_the_run(table: tlc.Table) -> None:
    run = tlc.init("P", "R", root_url=table.native.store.root)
    gt = []
    for row in table.native.iter_rows():
        item = row["keypoints"].copy()
        item.instance_confidences = np.ones(len(item))
        item.keypoint_confidences = np.ones(item.keypoints.shape[:2])
        gt.append(item)
    for epoch in (0, 1):
        native = pt.Run.from_predictions(
            table.native,
            gt,
            name=run.collection_name("val", epoch),
            model_info={"tlc_run": run.native_name, "stream": "val", "epoch": epoch},
        )
        run.add_collection(native)
        run.add_collection(native)  # recorded once
    final = run.collection_name("Geometry/default-dataset/COCO Keypoints")
    assert final == "P/R/COCO Keypoints-final"
    assert run.collection_name("val", -1) == run.collection_name("val") == "P/R/val-final"
    assert run.collections == ["P/R/val-epoch-0000", "P/R/val-epoch-0001"]
    assert pt.list_runs(store=run.store) == run.collections
    assert [r.metrics["ap"] for r in run.collection_runs()] == [1.0, 1.0]
    assert run.unique_collection_name("val", 0) == "P/R/val-epoch-0000_0001"
    outside = pt.Run.from_predictions(table.native, gt, name="elsewhere")
    with pytest.raises(RunError, match="not inside 3LC run 'P/R'"):
        run.add_collection(outside)
    with pytest.raises(UnsupportedError, match="epoch must be"):
        run.collection_name("val", -3)


# -- MetricsTableWriter --------------------------------------------------------------------------
def test_pose_predictions_land_as_a_metrics_table_and_a_native_run(table: tlc.Table) -> None:
    run = tlc.init("GEOMETRY", "Pose collect", root_url=table.native.store.root)
    writer = tlc.MetricsTableWriter(
        run.url, table.url, column_schemas={"pose_predicted": _schema()}
    )
    rows = list(table.native.iter_rows())
    for i, row in enumerate(rows):
        writer.add_row(
            {"pose_predicted": _pose_row(row["keypoints"], shift=40.0 * i), "example_id": i}
        )
    written = writer.finalize()
    infos = writer.get_written_metrics_infos()
    run.update_metrics(infos)
    run.update_attribute(tlc.RUN_STATUS, tlc.RUN_STATUS_COMPLETED)

    (info,) = tlc.Run.from_url(run.url).metrics
    path = run.path / info["url"]
    assert info["row_count"] == len(table) == written.num_rows and path.parent.name == "metrics"
    stored = pq.read_table(path)
    assert stored["example_id"].to_pylist() == list(range(len(table)))
    xys_type = stored.schema.field("pose_predicted").type.field("instances").type.value_type
    assert str(xys_type.field("xys").type) == "list<element: float>"
    meta = json.loads(stored.schema.metadata[b"posetable"])
    assert meta["foreign_table"] == table.native.ref == info["foreign_table"]
    # the same predictions as a native run, evaluated with the table's sigmas
    native = pt.Run.open(info["native_run"], store=run.store)
    assert (
        run.collections
        == [info["native_run"]]
        == ["GEOMETRY/Pose collect/COCO Keypoints_0000-final"]
    )
    predictions = native.all_predictions()
    for i, (pred, row) in enumerate(zip(predictions, rows, strict=True)):
        expected = row["keypoints"].keypoints + 40.0 * i
        assert pred is not None and np.allclose(pred.keypoints, expected, atol=1e-3)
    again = pt.evaluate(table.native, predictions)
    assert native.metrics["ap"] == pytest.approx(again.ap)
    assert native.metrics["ap"] < 1.0 and native.per_sample.num_rows == len(table)
    oks = native.per_sample.column("mean_oks").to_pylist()
    assert oks[0] == pytest.approx(1.0)
    assert native.per_sample.column("fp_50").to_pylist()[1] > 0  # row 1 was shifted by 40 px


def test_plain_metrics_columns_are_inferred_and_join_on_example_id(table: tlc.Table) -> None:
    run = tlc.init(root_url=table.native.store.root)
    writer = tlc.MetricsTableWriter(foreign_table_url=table.url)  # the active run
    writer.add_batch({"loss": np.array([0.5, 0.25]), "example_id": [1, 0], "tag": ["b", "a"]})
    writer.finalize()
    run.update_metrics(writer.get_written_metrics_infos())
    (metrics,) = run.metrics_tables
    joined = dict(zip(metrics["example_id"].to_pylist(), metrics["loss"].to_pylist(), strict=True))
    assert joined == {0: 0.25, 1: 0.5}
    assert run.collections == []  # no keypoint predictions, no native run


def test_bad_metrics_rows_write_nothing(table: tlc.Table) -> None:
    run = tlc.init(root_url=table.native.store.root)
    gt = next(table.native.iter_rows())["keypoints"]
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"loss": 1.0, "example_id": len(table)}, RowError, r"example_id=2 is not a row"),
        ({"loss": 1.0}, RowError, "need an 'example_id' column"),
    ]
    bad = _pose_row(gt)
    bad["instances"][0]["xys"] = bad["instances"][0]["xys"][:-2]
    cases.append(({"pose": bad, "example_id": 0}, RunError, r"2\*K=34 values .* got 32"))
    for row, error, message in cases:
        writer = tlc.MetricsTableWriter(run.url, table.url)
        writer.add_row(row)
        with pytest.raises(error, match=message):
            writer.finalize()
    assert not (run.path / "metrics").exists() and run.collections == []
    with pytest.raises(RowError, match="same length"):
        tlc.MetricsTableWriter(run.url).add_batch({"a": [1, 2], "b": [1]})
    with pytest.raises(RunError, match="no active run"):
        tlc.close()
        tlc.MetricsTableWriter()
    with pytest.raises(UnsupportedError, match=r"must be a tlc\.Schema"):
        tlc.MetricsTableWriter(run.url, column_schemas={"a": 3})  # type: ignore[dict-item]


@pytest.mark.parametrize("name", ["posetable.tlc._run", "posetable.tlc._metrics_writer"])
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0 and result.attempted > 0


# -- 3lc-ultralytics examples/pose/collect.py --------------------------------------------------
@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_3lc_ultralytics_pose_collect_example_runs(
    table: tlc.Table, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests._integration_tables import installed_or_skip

    installed_or_skip("ultralytics")
    installed_or_skip("posetable.tlc_ultralytics")
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("POSETABLE_HOME", str(table.native.store.root))
    monkeypatch.chdir(tmp_path)
    tlc.register_url_alias("TEST_DATA", table.native.store.root)
    try:
        runpy.run_module("tests.tlc_examples.ultralytics_pose_collect", run_name="__tlc_example__")
    finally:
        tlc.unregister_url_alias("TEST_DATA")
    run = tlc.Run.from_names("Pose collect", "GEOMETRY")
    assert run.status == tlc.RUN_STATUS_COMPLETED
    (info,) = run.metrics
    stored = pq.read_table(run.path / info["url"])
    assert stored["example_id"].to_pylist() == list(range(len(table)))
    native = pt.Run.open(info["native_run"])
    assert native.table_ref == table.native.ref and native.per_sample.num_rows == len(table)
    assert native.sigmas.tolist() == table.native.schema.sigmas.tolist()
