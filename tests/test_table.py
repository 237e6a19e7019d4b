"""Table: writing and reading real tables, exports, SQL, edits, bad rows."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posetable as pt
from posetable.errors import ConflictError, RowError, RowIndexError, SchemaError
from posetable.instances import object_array
from tests._core_tables import COCO_FOLDERS, coco_rows, coco_table, files_under, read_coco, versions
from tests.test_instances import row_values

KI = pt.Keypoints2DInstances


def same_row(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["image"] == want["image"]
    assert got["width"] == want["width"] and got["height"] == want["height"]
    assert got["keypoints"].to_row() == KI.from_row(want["keypoints"]).to_row()


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


# -- write and read back ---------------------------------------------------------------------
@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_real_tables_read_back_exactly(real_data, store: Path, folder: str) -> None:
    schema, rows = coco_rows(real_data(folder))
    table = pt.Table.from_rows(rows, name=folder, schema=schema, store=store)
    assert len(table) == len(rows)
    assert table.schema == schema
    assert table.columns == ["image", "width", "height", "keypoints"]
    reopened = pt.Table.open(folder, store=store)
    for i, row in enumerate(rows):
        same_row(reopened[i], row)
    for got, row in zip(reopened.rows(range(len(rows))), rows, strict=True):
        same_row(got, row)
    for got, row in zip(reopened, rows, strict=True):
        same_row(got, row)
    assert [len(r["keypoints"]) for r in reopened] == [len(r["keypoints"]) for r in rows]


def test_rows_keep_the_order_asked_and_repeats(coco: pt.Table) -> None:
    images = [r["image"] for r in coco]
    picked = coco.rows([3, 0, 3, -1])
    assert [r["image"] for r in picked] == [images[3], images[0], images[3], images[3]]
    assert coco.take([2, 1], columns=["image"]).column("image").to_pylist() == [
        images[2],
        images[1],
    ]
    assert coco[-4]["image"] == images[0]


def test_row_out_of_range_is_an_index_error_naming_the_table(coco: pt.Table) -> None:
    with pytest.raises(RowIndexError, match=r"row 4 is out of range for table coco@1 of 4 rows"):
        coco[4]
    with pytest.raises(IndexError):
        coco[-5]
    with pytest.raises(TypeError, match="row index must be an int"):
        coco["0"]  # type: ignore[index]
    with pytest.raises(RowError, match="row positions must be integers"):
        coco.rows([0.5])


def test_predictions_and_several_categories_read_back(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("ap10k"))
    labels = [r["keypoints"].instance_labels.tolist() for r in rows]
    assert len({x for ls in labels for x in ls}) == 2  # two species, one shared schema
    table = pt.Table.from_rows(rows, name="ap10k", schema=schema, store=store)
    assert [r["keypoints"].instance_labels.tolist() for r in table] == labels
    predictions = []
    for row in rows:
        gt = row["keypoints"]
        pred = KI.create_empty(
            image_width=row["width"],
            image_height=row["height"],
            include_keypoint_confidences=True,
            include_instance_confidences=True,
        )
        for i in range(len(gt)):
            pred.add_instance(
                gt.keypoints[i] + 0.5,
                confidence=np.linspace(0, 1, gt.num_keypoints),
                instance_confidence=0.25 * (i + 1),
            )
        predictions.append({**row, "keypoints": pred})
    table = pt.Table.from_rows(predictions, name="ap10k-pred", schema=schema, store=store)
    for got, want in zip(table, predictions, strict=True):
        item = got["keypoints"]
        assert item.keypoint_visibilities is None
        assert item.keypoint_confidences.dtype == np.float32
        assert item.to_row() == want["keypoints"].to_row()


def test_a_single_row_and_a_batch_decode_the_same(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("coco_wholebody"))
    rows = rows * 5  # past the few-rows path of table[i]
    table = pt.Table.from_rows(rows, name="wb", schema=schema, store=store)
    batch = table.rows(range(len(table)))
    for i, got in enumerate(batch):
        single = table[i]["keypoints"]
        assert single.to_row() == got["keypoints"].to_row()
        for name, values in got["keypoints"].instance_extras.items():
            assert single.instance_extras[name].dtype == values.dtype


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row_values(), min_size=1, max_size=12), st.data())
def test_any_rows_round_trip_through_a_table(
    values: list[dict[str, Any]], data: st.DataObject
) -> None:
    k = len(next((v["instances"][0]["vertices_2d"] for v in values if v["instances"]), [0, 0])) // 2
    values = [
        v for v in values if not v["instances"] or len(v["instances"][0]["vertices_2d"]) == 2 * k
    ]
    keys = {tuple(sorted(v["instances_additional_data"])) for v in values}
    values = [v for v in values if tuple(sorted(v["instances_additional_data"])) == max(keys)]
    rows = [
        {"image": f"{i}.jpg", "width": int(v["x_max"]), "height": int(v["y_max"]), "keypoints": v}
        for i, v in enumerate(values)
    ]
    with tempfile.TemporaryDirectory() as store:
        table = pt.Table.from_rows(
            rows,
            name="h",
            schema=pt.Keypoints2DSchema(k, classes=[str(c) for c in range(6)]),
            store=store,
        )
        expected = [KI.from_row(v).to_row() for v in values]
        assert [r["keypoints"].to_row() for r in table.rows(range(len(table)))] == expected
        i = data.draw(st.integers(0, len(values) - 1))
        assert table[i]["keypoints"].to_row() == expected[i]


def test_an_empty_table_and_empty_rows(store: Path) -> None:
    schema = pt.Keypoints2DSchema(5)
    empty = pt.Table.from_rows([], name="empty", schema=schema, store=store)
    assert len(empty) == 0 and list(empty) == [] and empty.rows([]) == []
    assert empty.to_arrow().num_rows == 0
    bare = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 3, "height": 2}], name="bare", schema=schema, store=store
    )
    item = bare[0]["keypoints"]
    assert (
        len(item) == 0
        and item.num_keypoints == 5
        and (item.image_width, item.image_height) == (3.0, 2.0)
    )


def test_rows_stream_from_a_generator_in_batches(store: Path) -> None:
    produced = []

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(9000):
            produced.append(i)
            kp = KI.create_empty(image_width=10, image_height=10)
            kp.add_instance([[i % 10, 1, 2]])
            yield {
                "image": f"{i}.jpg",
                "width": 10,
                "height": 10,
                "keypoints": kp,
                "split": "train" if i % 3 else "val",
            }

    table = pt.Table.from_rows(rows(), name="stream", schema=pt.Keypoints2DSchema(1), store=store)
    assert len(table) == 9000 == len(produced)
    assert table[8999]["image"] == "8999.jpg" and table[8999]["split"] == "train"
    assert table[4097]["keypoints"].keypoints.tolist() == [[[7.0, 1.0]]]
    assert len(table.dataset.get_fragments()) >= 1


def test_user_columns_are_stored_and_read(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("coco_kpts"))
    for i, row in enumerate(rows):
        row.update(split="val" if i % 2 else "train", weight=0.5 * i, tags=["a", str(i)])
    table = pt.Table.from_rows(rows, name="user", schema=schema, store=store)
    assert table.columns == ["image", "width", "height", "keypoints", "split", "weight", "tags"]
    assert [r["split"] for r in table] == ["train", "val", "train", "val"]
    assert table[3]["weight"] == 1.5 and table[3]["tags"] == ["a", "3"]


def test_table_writer_appends_rows_and_commits_once(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("crowdpose"))
    writer = pt.TableWriter("writer", schema=schema, store=store, batch_rows=1)
    writer.add_row(rows[0])
    assert pt.list_tables(store=store) == []  # nothing visible before finalize
    writer.add_batch({key: [row[key] for row in rows[1:]] for key in rows[0]})
    table = writer.finalize()
    assert len(table) == len(rows) and table.revision == 1
    for got, want in zip(table, rows, strict=True):
        same_row(got, want)
    with (
        pytest.raises(RowError, match="row 1: missing 'height'"),
        pt.TableWriter("broken", schema=schema, store=store) as broken,
    ):
        broken.add_row(rows[0])
        broken.add_row({"image": "x.jpg", "width": 3})
    assert pt.list_tables(store=store) == ["writer"]


# -- Arrow, pandas, Parquet, SQL -----------------------------------------------------------
def test_to_arrow_and_parquet_keep_the_schema_in_metadata(coco: pt.Table, tmp_path: Path) -> None:
    data = coco.to_arrow()
    assert data.column_names == ["image", "width", "height", "keypoints"]
    record = orjson.loads(data.schema.metadata[b"posetable"])
    assert pt.Keypoints2DSchema.from_dict(record["schema"]) == coco.schema
    assert record["table"] == {"name": "coco", "revision": 1, "parent": None}
    path = coco.to_parquet(tmp_path / "out" / "coco.parquet")
    meta = pq.read_schema(path).metadata
    assert pt.Keypoints2DSchema.from_dict(orjson.loads(meta[b"posetable"])["schema"]) == coco.schema
    back = pq.read_table(path)
    assert back.column("image").to_pylist() == [r["image"] for r in coco]
    via_duckdb = duckdb.sql(
        f"SELECT count(*) AS n, sum(len(keypoints.instances)) AS k FROM '{path}'"
    ).fetchall()
    assert via_duckdb == [(4, 14)]


def test_from_arrow_round_trips_a_table(coco: pt.Table, store: Path) -> None:
    copy = pt.Table.from_arrow(coco.to_arrow(), name="copy", schema=coco.schema, store=store)
    for got, want in zip(copy, coco, strict=True):
        assert got["image"] == want["image"]
        assert got["keypoints"].to_row() == want["keypoints"].to_row()
    reader = pa.RecordBatchReader.from_batches(
        coco.to_arrow().schema, coco.to_arrow().to_batches(max_chunksize=1)
    )
    streamed = pt.Table.from_arrow(reader, name="streamed", schema=coco.schema, store=store)
    assert [r["image"] for r in streamed] == [r["image"] for r in coco]


def test_to_pandas(coco: pt.Table) -> None:
    frame = coco.to_pandas()
    assert list(frame.columns) == ["image", "width", "height", "keypoints"] and len(frame) == 4


def test_sql_sees_rows_in_order_with_their_position(coco: pt.Table) -> None:
    counts = coco.sql(
        "SELECT row, image, len(keypoints.instances) AS n FROM t ORDER BY row"
    ).to_pylist()
    assert [c["row"] for c in counts] == [0, 1, 2, 3]
    assert [c["n"] for c in counts] == [len(r["keypoints"]) for r in coco]
    assert [c["image"] for c in counts] == [r["image"] for r in coco]
    edited = coco.with_rows({0: {"image": "first.jpg"}})
    first = edited.sql("SELECT image FROM t WHERE row = 0").to_pylist()
    assert first == [{"image": "first.jpg"}]
    with pytest.raises(pt.errors.PosetableError, match="SQL failed on table coco@2"):
        edited.sql("SELECT nope FROM t")


# -- edits -----------------------------------------------------------------------------------
def test_edit_makes_a_new_revision_and_never_changes_the_source(coco: pt.Table) -> None:
    before = [r["keypoints"].to_row() for r in coco]
    kp = coco[1]["keypoints"]
    kp.keypoints[0, 0] = [1.0, 2.0]
    edited = coco.with_rows({1: {"keypoints": kp}})
    assert (edited.revision, edited.parent) == (2, 1)
    assert edited[1]["keypoints"].keypoints[0, 0].tolist() == [1.0, 2.0]
    assert [r["keypoints"].to_row() for r in coco] == before  # the Table object
    old = pt.Table.open("coco@1", store=coco.store)
    assert [r["keypoints"].to_row() for r in old] == before  # and the stored revision
    assert [r["image"] for r in edited] == [r["image"] for r in coco]
    assert edited[2]["keypoints"].to_row() == before[2]


def test_with_rows_keeps_the_keys_left_out_and_accepts_row_values(coco: pt.Table) -> None:
    value = coco[0]["keypoints"].to_row()
    value["instances"] = value["instances"][:0]
    value["instances_additional_data"] = {k: [] for k in value["instances_additional_data"]}
    edited = coco.with_rows({0: {"keypoints": value}, 3: {"width": 1000}})
    assert len(edited[0]["keypoints"]) == 0 and edited[0]["width"] == coco[0]["width"]
    assert edited[3]["width"] == 1000 and edited[3]["image"] == coco[3]["image"]


def test_table_i_means_the_same_image_across_revisions(coco: pt.Table) -> None:
    images = [r["image"] for r in coco]
    edited = coco.with_rows({0: {"width": 1}}).with_rows({2: {"width": 2}})
    assert [r["image"] for r in edited] == images
    assert [edited[i]["image"] for i in range(4)] == images
    deleted = edited.delete_rows([1])
    assert [r["image"] for r in deleted] == [images[0], images[2], images[3]]
    assert deleted[1]["width"] == 2 and deleted[0]["width"] == 1
    assert [r["image"] for r in pt.Table.open("coco@3", store=coco.store)] == images
    np.testing.assert_array_equal(deleted.sample_ids(), coco.sample_ids()[[0, 2, 3]])


def test_a_few_row_edit_does_not_rewrite_the_table(store: Path) -> None:
    rows = [
        {
            "image": f"{i}.jpg",
            "width": 640,
            "height": 480,
            "keypoints": KI(
                np.full((2, 17, 2), float(i)), keypoint_visibilities=np.full((2, 17), 2)
            ),
        }
        for i in range(20000)
    ]
    table = pt.Table.from_rows(
        rows, name="big", schema=pt.Keypoints2DSchema.coco_person(), store=store
    )
    before = files_under(table.store.table_uri("big"))
    edited = table.with_rows({5: {"width": 1}, 19000: {"width": 2}})
    after = files_under(table.store.table_uri("big"))
    assert all(after[path] == size for path, size in before.items())  # nothing rewritten
    added = sum(size for path, size in after.items() if path not in before)
    assert added < sum(before.values()) / 20
    assert edited[19000]["width"] == 2 and edited[19001]["width"] == 640


def test_delete_rows_and_add_column(coco: pt.Table) -> None:
    images = [r["image"] for r in coco]
    fewer = coco.delete_rows([0, 2])
    assert [r["image"] for r in fewer] == [images[1], images[3]]
    tagged = fewer.add_column("split", ["a", "b"])
    assert [r["split"] for r in tagged] == ["a", "b"] and tagged.columns[-1] == "split"
    weighted = tagged.add_column("weight", np.array([0.5, 1.5]))
    assert weighted[1]["weight"] == 1.5 and weighted.parent == tagged.revision
    with pytest.raises(RowError, match=r"needs 2 values \(one per row\), got 3"):
        weighted.add_column("bad", [1, 2, 3])
    with pytest.raises(RowError, match="already exists or is reserved"):
        weighted.add_column("split", ["x", "y"])
    with pytest.raises(RowError, match="at least one row"):
        weighted.delete_rows([])


def test_add_column_after_an_edit_lines_up_with_row_order(coco: pt.Table) -> None:
    edited = coco.with_rows({0: {"width": 7}})  # row 0 now lives in a later fragment
    tagged = edited.add_column("n", [10, 11, 12, 13])
    assert [(r["n"], r["image"]) for r in tagged] == list(
        zip([10, 11, 12, 13], [r["image"] for r in coco], strict=True)
    )


# -- bad rows and failed writes -----------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"image": "a.jpg", "height": 4}, r"row 1: missing 'width'"),
        ({"image": "a.jpg", "width": 4}, r"row 1: missing 'height'"),
        (
            {"image": "a.jpg", "width": 0, "height": 4},
            r"row 1: width must be a positive integer, got 0",
        ),
        (
            {"image": "a.jpg", "width": 4.5, "height": 4},
            r"width must be a positive integer, got 4.5",
        ),
        ({"image": "", "width": 4, "height": 4}, r"row 1: 'image' must be a non-empty path"),
        ({"image": 3, "width": 4, "height": 4}, r"row 1: 'image' must be a non-empty path"),
        (
            {"image": "a.jpg", "width": 4, "height": 4, "keypoints": KI(np.zeros((1, 3, 2)))},
            r"row 1: keypoints must have shape \(N, K=2, 2\), got \(1, 3, 2\)",
        ),
        (
            {"image": "a.jpg", "width": 4, "height": 4, "keypoints": {"x_max": 1}},
            r"row 1: a keypoints row value needs an 'instances' list",
        ),
        (
            {
                "image": "a.jpg",
                "width": 4,
                "height": 4,
                "keypoints": KI(np.zeros((1, 2, 2)), instance_labels=[3]),
            },
            r"row 1, instance 0: instance label must be in \[0, 0\]",
        ),
        ({"image": "a.jpg", "width": 4, "height": 4, "sample_id": 3}, "reserved"),
        ("not a row", "row 1: a row must be a dict"),
    ],
)
def test_bad_rows_raise_row_error_and_write_nothing(store: Path, row: Any, message: str) -> None:
    good = {"image": "ok.jpg", "width": 4, "height": 4}
    with pytest.raises(RowError, match=message):
        pt.Table.from_rows([good, row], name="bad", schema=pt.Keypoints2DSchema(2), store=store)
    assert pt.list_tables(store=store) == []
    assert not (Path(store) / "tables" / "bad.lance").exists()


def test_a_bad_row_in_a_later_batch_leaves_no_revision(store: Path) -> None:
    def rows(bad_at: int) -> Iterator[dict[str, Any]]:
        for i in range(6000):
            yield {"image": f"{i}.jpg", "width": 4, "height": 0 if i == bad_at else 4}

    schema = pt.Keypoints2DSchema(1)
    with pytest.raises(RowError, match="row 5000: height must be a positive integer, got 0"):
        pt.Table.from_rows(rows(5000), name="late", schema=schema, store=store)
    assert pt.list_tables(store=store) == []
    table = pt.Table.from_rows(rows(-1), name="late", schema=schema, store=store)
    state = versions(table.store.table_uri("late"))
    with pytest.raises(RowError, match="row 4500"):
        pt.Table.from_rows(
            rows(4500), name="late", schema=schema, store=store, if_exists="new_revision"
        )
    assert versions(table.store.table_uri("late")) == state
    assert pt.Table.open("late", store=store).revision == 1


def test_a_failed_edit_writes_nothing(coco: pt.Table) -> None:
    uri = coco.store.table_uri("coco")
    state, files = versions(uri), files_under(uri)
    bad = coco[2]["keypoints"]
    bad.keypoints[0, 0, 0] = np.nan  # the objects are mutable; the edit checks again
    with pytest.raises(
        RowError, match=r"row 2, instance 0: keypoints must be finite, got \[nan, 111.0\]"
    ):
        coco.with_rows({1: {"width": 5}, 2: {"keypoints": bad}})
    with pytest.raises(RowError, match="row 3"):
        coco.with_rows({3: {"height": -1}})
    with pytest.raises(RowIndexError, match="row 9 is out of range"):
        coco.with_rows({9: {"width": 5}})
    with pytest.raises(RowError, match="with_rows needs at least one row"):
        coco.with_rows({})
    with pytest.raises(SchemaError, match="keep K=17"):
        coco.with_schema(pt.Keypoints2DSchema(3))
    assert versions(uri) == state and files_under(uri) == files
    assert pt.Table.open("coco", store=coco.store).revision == 1


def test_from_arrow_checks_columns_and_values(coco: pt.Table, store: Path) -> None:
    data = coco.to_arrow()
    with pytest.raises(RowError, match=r"missing \['height'\]"):
        pt.Table.from_arrow(
            data.drop_columns(["height"]), name="x", schema=coco.schema, store=store
        )
    with pytest.raises(RowError, match="K=3 points, got 17"):
        pt.Table.from_arrow(data, name="x", schema=pt.Keypoints2DSchema(3), store=store)
    widths = data.column("width").to_pylist()
    widths[2] = 0
    with pytest.raises(RowError, match="row 2: width must be a positive integer, got 0"):
        pt.Table.from_arrow(
            data.set_column(1, "width", pa.array(widths, pa.int32())),
            name="x",
            schema=coco.schema,
            store=store,
        )
    rows = data.to_pylist()
    rows[1]["keypoints"]["instances_additional_data"]["label"][0] = 4
    with pytest.raises(
        RowError, match=r"row 1, instance 0: instance label must be in \[0, 0\], got 4"
    ):
        pt.Table.from_arrow(
            pa.Table.from_pylist(rows, schema=data.schema),
            name="x",
            schema=coco.schema,
            store=store,
        )
    rows = data.to_pylist()
    rows[3]["keypoints"]["instances"][2]["vertices_2d_additional_data"]["visibility"][5] = 3
    with pytest.raises(
        RowError,
        match=r"row 3, instance 2: keypoint_visibilities must be 0, 1 or 2, got 3 at keypoint 5",
    ):
        pt.Table.from_arrow(
            pa.Table.from_pylist(rows, schema=data.schema),
            name="x",
            schema=coco.schema,
            store=store,
        )
    rows = data.to_pylist()
    rows[2]["keypoints"]["instances"][1]["vertices_2d"][3] = float("inf")
    with pytest.raises(
        RowError,
        match=r"row 2, instance 1: keypoints must be finite, got \[\d+.0, inf\] at keypoint 1",
    ):
        pt.Table.from_arrow(
            pa.Table.from_pylist(rows, schema=data.schema),
            name="x",
            schema=coco.schema,
            store=store,
        )
    assert "x" not in pt.list_tables(store=store)


def test_editing_a_row_of_an_old_revision_that_changed_since_is_a_conflict(
    coco: pt.Table,
) -> None:
    coco.with_rows({0: {"width": 1}})
    with pytest.raises(ConflictError, match=r"based on revision 1, but revision 2 \(edit_rows\)"):
        coco.with_rows({0: {"width": 2}})


def test_unknown_and_mistyped_columns_name_the_row(coco: pt.Table, store: Path) -> None:
    with pytest.raises(RowError, match=r"row 2: columns \['split'\] are not columns of this table"):
        coco.with_rows({2: {"split": "val"}})
    rows = [{"image": f"{i}.jpg", "width": 4, "height": 4, "weight": 1.5} for i in range(3)]
    rows[2]["weight"] = "heavy"
    with pytest.raises(
        RowError, match=r"row 2 \(got .heavy.\): column .weight. must hold double values"
    ):
        pt.Table.from_rows(rows, name="typed", schema=pt.Keypoints2DSchema(1), store=store)


def test_table_writer_spellings_and_a_second_revision(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("aic"))
    writer = pt.TableWriter(name="aic", schema=schema, store=store)
    writer.append(rows[0])
    writer.extend(iter(rows[1:]))
    assert len(writer) == len(rows)
    first = writer.close()
    assert writer.table is first and writer.finalize() is first
    again = pt.TableWriter("aic", schema=schema, store=store, if_exists="new_revision")
    again.add_rows(rows[:1])
    second = again.finalize()
    assert (second.revision, second.parent, len(second)) == (2, 1, 1)
    with pytest.raises(pt.errors.TableExistsError, match="already exists"):
        pt.TableWriter("aic", schema=schema, store=store)
    stale = pt.TableWriter("aic", schema=schema, store=store, if_exists="new_revision")
    stale.add_row(rows[0])
    pt.Table.from_rows(  # someone else commits first
        rows, name="aic", schema=schema, store=store, if_exists="new_revision"
    )
    with pytest.raises(ConflictError, match="changed while writing"):
        stale.finalize()
    assert pt.Table.open("aic", store=store).revision == 3


def test_list_valued_instance_fields_come_back_as_given(real_data, store: Path) -> None:
    data = read_coco(real_data("coco_wholebody"))
    schema, rows = coco_rows(real_data("coco_wholebody"))
    by_image: dict[int, list[dict[str, Any]]] = {}
    for annotation in data["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for image, row in zip(data["images"], rows, strict=True):
        anns = by_image.get(image["id"], [])
        kp = row["keypoints"]
        for field in ("segmentation", "face_kpts", "lefthand_box", "face_valid"):
            kp.instance_extras[field] = object_array([a[field] for a in anns])
    table = pt.Table.from_rows(rows, name="wb", schema=schema, store=store)
    for image, got in zip(data["images"], table.rows(range(len(table))), strict=True):
        anns = by_image.get(image["id"], [])
        extras = got["keypoints"].instance_extras
        assert extras["segmentation"].tolist() == [a["segmentation"] for a in anns]
        assert extras["face_kpts"].tolist() == [a["face_kpts"] for a in anns]
        assert extras["face_valid"].tolist() == [a["face_valid"] for a in anns]
    assert table[1]["keypoints"].instance_extras["lefthand_box"].tolist() == [
        a["lefthand_box"] for a in by_image[data["images"][1]["id"]]
    ]


def test_mutated_instances_are_checked_again_when_written(coco: pt.Table) -> None:
    kp = coco[3]["keypoints"]
    kp.instance_extras["area"] = kp.instance_extras["area"][:2]
    with pytest.raises(
        RowError,
        match=r"row 3: instance_extras\['area'\] must have one value per instance \(N=5\), got 2",
    ):
        coco.with_rows({3: {"keypoints": kp}})
    kp = coco[3]["keypoints"]
    kp.keypoints = kp.keypoints[:, :5]
    with pytest.raises(
        RowError, match=r"row 3: keypoints must have shape \(N, K=17, 2\), got \(5, 5, 2\)"
    ):
        coco.with_rows({3: {"keypoints": kp}})
