"""``posetable.tlc``: 3LC's Table, TableWriter, names, ``if_exists``, ``Url`` and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import (
    NotFoundError,
    RowError,
    SchemaError,
    TableExistsError,
    UnsupportedError,
    UnsupportedNameError,
)


def _kp(n: int = 1, width: int = 64, height: int = 48) -> dict[str, Any]:
    value = tlc.Keypoints2DInstances.create_empty(image_width=width, image_height=height)
    for i in range(n):
        value.add_instance(keypoints=[[1 + i, 2], [3, 4 + i]], label=0)
    return value.to_row()


def _dict_table(root: Path, **options: Any) -> tlc.Table:
    data = options.pop("data", {"image": ["a.jpg", "b.jpg"], "kp": [_kp(1), _kp(2)]})
    return tlc.Table.from_dict(
        data,
        structure={"image": tlc.ImageUrlSchema(), "kp": tlc.Keypoints2DSchema(num_keypoints=2)},
        root_url=root,
        **options,
    )


def _versions(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("_versions/*"))


# -- the same classes ----------------------------------------------------------------------------
def test_the_shared_classes_are_posetables_own() -> None:
    from posetable.tlc.core import Keypoints2DInstances, Table
    from posetable.tlc.core.builtins.schemas import Keypoints2DSchema
    from posetable.tlc.core.data_formats import Keypoints2DInstances as FromDataFormats
    from posetable.tlc.core.helpers import KeypointHelper

    assert tlc.Keypoints2DInstances is Keypoints2DInstances is FromDataFormats
    assert tlc.Keypoints2DInstances is pt.Keypoints2DInstances
    assert tlc.Keypoints2DSchema is Keypoints2DSchema is pt.Keypoints2DSchema
    assert tlc.KeypointHelper is KeypointHelper is pt.KeypointHelper
    assert tlc.MapElement is pt.MapElement and tlc.Table is Table


def test_a_3lc_name_posetable_lacks_says_so_and_is_an_attribute_error() -> None:
    with pytest.raises(UnsupportedNameError, match="bounding-box list columns"):
        tlc.BoundingBoxListSchema  # noqa: B018
    assert not hasattr(tlc, "SegmentationSchema")
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        tlc.NoSuchThing  # noqa: B018


# -- names --------------------------------------------------------------------------------------
def test_project_dataset_and_table_with_spaces_are_nested_names(store: Path) -> None:
    table = _dict_table(store, table_name="My Table", dataset_name="COCO 2017", project_name="P x")
    assert table.native.name == "P x/COCO 2017/My Table"
    assert (table.project_name, table.dataset_name, table.name) == ("P x", "COCO 2017", "My Table")
    assert (store / "tables" / "P x" / "COCO 2017" / "My Table.lance").is_dir()
    assert table.url.to_str() == str(store / "tables" / "P x" / "COCO 2017" / "My Table")
    assert table.url.exists() and table.url.name == "My Table"


def test_the_same_table_name_in_two_datasets_is_two_tables(store: Path) -> None:
    one = _dict_table(store, table_name="initial", dataset_name="A")
    two = _dict_table(
        store,
        table_name="initial",
        dataset_name="B",
        data={"image": ["c.jpg"], "kp": [_kp(3)]},
    )
    assert one.url != two.url and (len(one), len(two)) == (2, 1)
    assert pt.list_tables(store=store) == [
        "default-project/A/initial",
        "default-project/B/initial",
    ]


def test_names_default_as_in_3lc(store: Path) -> None:
    table = _dict_table(store)
    assert table.native.name == "default-project/default-dataset/table"


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("project_name", "a/b", "project_name may not hold '/'"),
        ("dataset_name", ".hidden", "may not start with '.'"),
        ("table_name", "x@2", "may not hold '@'"),
        ("table_name", 7, "table_name must be a string"),
    ],
)
def test_bad_names_are_refused_naming_the_argument(
    store: Path, argument: str, value: Any, message: str
) -> None:
    with pytest.raises(UnsupportedError, match=message):
        _dict_table(store, **{argument: value})
    assert pt.list_tables(store=store) == []


def test_from_url_and_from_names_open_the_table(store: Path) -> None:
    table = _dict_table(store, table_name="t", dataset_name="d", project_name="p")
    forms = [
        table.url,
        table.url.to_str(),
        table.url.to_str() + ".lance",
        f"{store}/projects/p/datasets/d/tables/t",  # 3LC's form, root <store>/projects
        f"{store}/p/datasets/d/tables/t",
    ]
    for form in forms:
        assert tlc.Table.from_url(form).native.ref == "p/d/t@1", form
    assert tlc.Table.from_names("t", "d", "p", root_url=store).native.ref == "p/d/t@1"
    with pytest.raises(NotFoundError, match="no table named 'p/d/nope'"):
        tlc.Table.from_names("nope", "d", "p", root_url=store)
    with pytest.raises(NotFoundError, match="does not name a table"):
        tlc.Table.from_url(store / "somewhere")


# -- if_exists ----------------------------------------------------------------------------------
def test_if_exists_reuse_opens_the_existing_table_as_it_is(store: Path) -> None:
    first = _dict_table(store)
    again = _dict_table(store, data={"image": ["z.jpg"], "kp": [_kp(1)]})  # default "reuse"
    assert again.native.ref == first.native.ref and len(again) == 2


def test_if_exists_raise_names_the_table_and_writes_nothing(store: Path) -> None:
    _dict_table(store, table_name="initial", dataset_name="Animals")
    state = _versions(store)
    with pytest.raises(TableExistsError) as caught:
        _dict_table(store, table_name="initial", dataset_name="Animals", if_exists="raise")
    text = str(caught.value)
    assert "table 'initial' of dataset 'Animals' in project 'default-project'" in text
    assert "K=2, 2 rows" in text and "if_exists='rename'" in text
    assert _versions(store) == state


def test_if_exists_rename_makes_the_next_free_name(store: Path) -> None:
    names = [_dict_table(store, if_exists="rename").name for _ in range(3)]
    assert names == ["table", "table_0001", "table_0002"]


def test_if_exists_overwrite_makes_the_next_revision_and_keeps_the_old(store: Path) -> None:
    first = _dict_table(store)
    second = _dict_table(store, data={"image": ["z.jpg"], "kp": [_kp(1)]}, if_exists="overwrite")
    assert (second.native.ref, second.native.parent, len(second)) == (
        "default-project/default-dataset/table@2",
        1,
        1,
    )
    assert len(first) == 2 and first.latest().revision == 2


@pytest.mark.parametrize("value", ["error", "new_revision", None, "REUSE"])
def test_an_unknown_if_exists_lists_3lcs_choices(store: Path, value: Any) -> None:
    with pytest.raises(UnsupportedError, match=r"if_exists must be one of \['raise', 'reuse'"):
        _dict_table(store, if_exists=value)


# -- rows --------------------------------------------------------------------------------------
def test_rows_read_back_in_3lcs_layout(store: Path) -> None:
    table = _dict_table(store)
    row = table[1]
    assert set(row) == {"image", "kp", "weight"} == set(table.columns)
    assert row["kp"]["x_max"] == 64.0 and row["kp"]["y_max"] == 48.0
    assert row["kp"]["instances_additional_data"]["label"] == [0, 0]
    assert row["kp"]["instances"][1]["vertices_2d"] == [2.0, 2.0, 3.0, 5.0]
    assert tlc.Keypoints2DInstances.from_row(row["kp"]).keypoints.shape == (2, 2, 2)
    assert [r["image"] for r in table.table_rows] == ["a.jpg", "b.jpg"]
    assert table.get_column("weight").to_pylist() == [1.0, 1.0]
    assert table.get_column("kp").type.field("instances") is not None
    assert set(table.row_schema.values) == {"image", "kp", "weight"}
    assert table.native[1]["width"] == 64  # posetable's own columns are there, not shown


def test_a_posetable_table_opened_through_tlc_keeps_its_names(coco_table: pt.Table) -> None:
    view = tlc.Table.from_native(coco_table)
    assert view.name == "coco" and view.keypoints_column == "keypoints"
    assert view[0]["keypoints"]["instances_additional_data"]["label"]
    assert tlc.Table.from_url(view.url).native.ref == coco_table.ref


def test_an_image_size_comes_from_the_file_when_the_keypoints_lack_it(
    real_data, store: Path
) -> None:
    image = real_data("coco_kpts") / "images" / "000000000785.jpg"
    bare = tlc.Keypoints2DInstances.create_empty(num_keypoints=2)
    table = _dict_table(store, data={"image": [str(image)], "kp": [bare.to_row()]})
    assert (table[0]["kp"]["x_max"], table[0]["kp"]["y_max"]) == (640.0, 425.0)


def test_url_aliases_are_expanded_when_written(store: Path) -> None:
    tlc.register_url_alias("MY_IMAGES", "/data/people")
    try:
        relative = tlc.Url("/data/people/a.jpg").to_relative()
        assert relative.to_str() == "<MY_IMAGES>/a.jpg"
        table = _dict_table(store, data={"image": [relative.to_str()], "kp": [_kp(1)]})
        assert table[0]["image"] == "/data/people/a.jpg"
    finally:
        tlc.unregister_url_alias("MY_IMAGES")
    with pytest.raises(UnsupportedError, match="alias <MY_IMAGES>, which is not registered"):
        tlc.Url("<MY_IMAGES>/a.jpg").to_absolute()


def test_user_columns_follow_their_schemas(store: Path) -> None:
    table = tlc.Table.from_dict(
        {"image": ["a.jpg", "b.jpg"], "kp": [_kp(), _kp()], "age": [30, None],
         "scene": [1, 0], "tags": [[0, 1], []], "note": ["x", "y"]},
        structure={
            "image": tlc.ImageUrlSchema(),
            "kp": tlc.Keypoints2DSchema(num_keypoints=2),
            "age": tlc.Int32Schema(default_visible=False),
            "scene": tlc.CategoricalLabelSchema(classes=["day", "night"]),
            "tags": tlc.CategoricalLabelListSchema(classes=["a", "b"]),
        },
        root_url=store,
        add_weight_column=False,
    )  # fmt: skip
    assert [r["age"] for r in table] == [30, None]
    assert [r["tags"] for r in table] == [[0, 1], []] and table.columns[-1] == "note"
    assert table.metadata["tlc"]["column_schemas"]["scene"]["value_map"]["1"] == {
        "internal_name": "night"
    }


# -- bad input: our errors, naming the argument and the value; nothing written --------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task": "detect"}, r"task='detect' is not supported; .*task='pose'"),
        ({"task": "segment"}, r"task='segment' is not supported"),
        ({"task": "pose", "structure": {"a": 1}}, r"structure=\{'a': 1\} is not supported"),
        ({"task": "pose", "segmentation_format": "masks"}, "segmentation_format='masks'"),
        ({"task": "pose", "keep_crowd_annotations": False}, "keep_crowd_annotations=False"),
        ({"task": "pose", "extra_columns": {"x": 1}}, "extra_columns="),
        ({"task": "pose", "if_exists": "error"}, r"if_exists must be one of \['raise'"),
    ],
)
def test_unsupported_from_coco_arguments_raise_before_anything_is_read(
    real_data, store: Path, options: dict[str, Any], message: str
) -> None:
    folder = real_data("coco_kpts")
    with pytest.raises(UnsupportedError, match=message):
        tlc.Table.from_coco(
            folder / "annotations.json", folder / "images", root_url=store, **options
        )
    assert pt.list_tables(store=store) == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"lines": [0, 17]}, SchemaError, r"K=17 keypoints.*lines"),
        ({"points": [0.5] * 10}, SchemaError, "default_pose must have shape"),
        ({"oks_sigmas": [0.1] * 16}, SchemaError, "17"),
        ({"point_attributes": ["a"] * 3}, SchemaError, "point_attributes must have 17 entries"),
        ({"per_instance_schemas": {"nope": tlc.Int32Schema()}}, UnsupportedError, "'nope'"),
    ],
)
def test_pose_arguments_that_do_not_fit_write_nothing(
    real_data, store: Path, options: dict[str, Any], error: type, message: str
) -> None:
    folder = real_data("coco_kpts")
    with pytest.raises(error, match=message):
        tlc.Table.from_coco(
            folder / "annotations.json", folder / "images", root_url=store, task="pose", **options
        )
    assert pt.list_tables(store=store) == []
    assert not (store / "tables").exists() or _versions(store) == []


def test_from_coco_keeps_cocos_own_sigmas_and_per_instance_fields(real_data, store: Path) -> None:
    folder = real_data("coco_kpts")
    table = tlc.Table.from_coco(
        folder / "annotations.json",
        folder / "images",
        task="pose",
        root_url=store,
        per_instance_schemas={"area": tlc.Float32Schema(), "id": tlc.Int32Schema()},
    )
    assert list(table.schema.oks_sigmas) == list(pt.COCO_OKS_SIGMAS)
    extra = table[0]["keypoints_2d"]["instances_additional_data"]
    assert {"area", "id", "iscrowd"} <= set(extra)


def test_from_coco_without_image_folder_reads_images_beside_the_file(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("coco_kpts")
    with pytest.raises(pt.errors.PosetableError, match=r"000000000785\.jpg"):
        tlc.Table.from_coco(folder / "annotations.json", task="pose", root_url=store)
    assert pt.list_tables(store=store) == []


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        ({"image": tlc.ImageUrlSchema()}, "exactly one column a Keypoints2DSchema"),
        (
            {
                "kp": tlc.Keypoints2DSchema(num_keypoints=2),
                "k2": tlc.Keypoints2DSchema(num_keypoints=2),
            },
            "exactly one column a Keypoints2DSchema",
        ),
        (
            {
                "kp": tlc.Keypoints2DSchema(num_keypoints=2),
                "boxes": tlc.Schema(values={"x": tlc.Schema()}),
            },
            "column 'boxes': a composite Schema",
        ),
        (
            {"kp": tlc.Keypoints2DSchema(num_keypoints=2), "label": int},
            r"structure\['label'\] is a type",
        ),
        ([tlc.Keypoints2DSchema(num_keypoints=2)], "structure must be a dict"),
    ],
)
def test_unsupported_structures_are_refused_naming_the_column(
    store: Path, structure: Any, message: str
) -> None:
    data = {"image": ["a.jpg"], "kp": [_kp()], "k2": [_kp()], "boxes": [1], "label": [0]}
    with pytest.raises(UnsupportedError, match=message):
        tlc.Table.from_dict(data, structure=structure, root_url=store)
    assert pt.list_tables(store=store) == []


def test_a_column_named_like_posetables_own_is_refused(store: Path) -> None:
    with pytest.raises(UnsupportedError, match="column 'width' is reserved by posetable"):
        _dict_table(store, data={"image": ["a.jpg"], "kp": [_kp()], "width": [3]})


def test_a_bad_value_names_row_and_column_and_writes_nothing(store: Path) -> None:
    data = {"image": ["a.jpg", "b.jpg"], "kp": [_kp(), _kp()], "age": [3, "old"]}
    with pytest.raises(RowError, match="row 1: column 'age' holds numbers, got 'old'"):
        tlc.Table.from_dict(
            data,
            structure={"kp": tlc.Keypoints2DSchema(num_keypoints=2), "age": tlc.Int32Schema()},
            root_url=store,
        )
    assert pt.list_tables(store=store) == []


def test_from_yolo_refuses_other_tasks_and_honours_override_split_path(
    real_data, store: Path
) -> None:
    folder = real_data("coco8_pose_yolo")
    with pytest.raises(UnsupportedError, match="task='detect' is not supported"):
        tlc.Table.from_yolo(folder / "coco8-pose.yaml", root_url=store)
    table = tlc.Table.from_yolo(
        folder / "coco8-pose.yaml",
        split="train",
        override_split_path=[folder / "images" / "val"],
        task="pose",
        root_url=store,
        lines=tlc.KeypointHelper.COCO_SKELETON,
    )
    val = sorted(p.name for p in (folder / "images" / "val").iterdir())
    assert sorted(Path(r["image"]).name for r in table) == val
    assert table.schema.flat_lines == list(tlc.KeypointHelper.COCO_SKELETON)


def test_from_yolo_datasets_dir_is_put_before_a_relative_path(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("coco8_pose_yolo")
    spec = (folder / "coco8-pose.yaml").read_text()
    (tmp_path / "data.yaml").write_text(f"path: {folder.name}\n{spec}")
    table = tlc.Table.from_yolo(
        tmp_path / "data.yaml", split="val", datasets_dir=folder.parent, task="pose", root_url=store
    )
    assert len(table) == 2 and all(Path(r["image"]).is_file() for r in table)


def test_from_yolo_url_reads_image_folders(real_data, store: Path) -> None:
    folder = real_data("coco8_pose_yolo")
    with pytest.raises(UnsupportedError, match="kpt_shape=None is not supported"):
        tlc.Table.from_yolo_url(folder / "images" / "train", task="pose", root_url=store)
    table = tlc.Table.from_yolo_url(
        [folder / "images" / "train", folder / "images" / "val"],
        categories=["person"],
        task="pose",
        kpt_shape=(17, 3),
        root_url=store,
    )
    assert len(table) == 4 and table.schema.class_map == {0: "person"}


# -- TableWriter --------------------------------------------------------------------------------
def _writer(store: Path, **options: Any) -> tlc.TableWriter:
    return tlc.TableWriter(
        column_schemas={
            "image": tlc.ImageUrlSchema(),
            "kp": tlc.Keypoints2DSchema(num_keypoints=2),
        },
        root_url=store,
        **options,
    )


def test_table_writer_rows_and_batches_and_its_rename_default(store: Path) -> None:
    writer = _writer(store, table_name="w")
    writer.add_row({"image": "a.jpg", "kp": _kp(1)})
    writer.add_batch({"image": ["b.jpg", "c.jpg"], "kp": [_kp(2), _kp(0)]})
    table = writer.finalize()
    assert writer.finalize() is table and writer.get_finalized_table() is table
    assert [len(r["kp"]["instances"]) for r in table] == [1, 2, 0]
    second = _writer(store, table_name="w")
    second.add_row({"image": "d.jpg", "kp": _kp(1)})
    assert second.finalize().name == "w_0001"


def test_table_writer_refuses_what_it_cannot_write(store: Path) -> None:
    with pytest.raises(UnsupportedError, match="column_schemas=None is not supported"):
        tlc.TableWriter(table_name="x", root_url=store)
    with pytest.raises(UnsupportedError, match=r"if_exists must be one of \['raise', 'rename'"):
        _writer(store, if_exists="reuse")
    with pytest.raises(UnsupportedError, match="bulk_data_url"):
        _writer(store, bulk_data_url="s3://bucket")
    with _writer(store, table_name="x") as writer:
        writer.add_row({"image": "a.jpg", "kp": _kp(1)})
        with pytest.raises(RowError, match=r"row 1: columns \['extra'\] are not columns"):
            writer.add_row({"image": "b.jpg", "kp": _kp(1), "extra": 1})
    assert [r["image"] for r in writer.finalize()] == ["a.jpg"]  # the bad row alone was refused


def test_an_exception_inside_the_writer_leaves_nothing(store: Path) -> None:
    with pytest.raises(KeyError), _writer(store, table_name="x") as writer:
        writer.add_row({"image": "a.jpg", "kp": _kp(1)})
        raise KeyError("stop")
    assert pt.list_tables(store=store) == []


# -- the helpers read a 3LC table -----------------------------------------------------------------
def test_keypoint_helper_getters_read_a_tlc_table(store: Path) -> None:
    schema = tlc.Keypoints2DSchema(num_keypoints=2, oks_sigmas=[0.1, 0.2], lines=[0, 1])
    table = tlc.Table.from_dict(
        {"image": ["a.jpg"], "kp": [_kp()]},
        structure={"image": tlc.ImageUrlSchema(), "kp": schema},
        root_url=store,
    )
    assert list(tlc.KeypointHelper.get_oks_sigmas_from_table(table)) == [0.1, 0.2]
    assert tlc.KeypointHelper.get_lines_from_table(table) == [0, 1]


@pytest.mark.parametrize(
    "name",
    [
        "posetable.split",
        "posetable.tlc",
        "posetable.tlc.core",
        "posetable.tlc._pose",
        "posetable.tlc._schemas",
        "posetable.tlc._table",
        "posetable.tlc._url",
        "posetable.tlc._writer",
        "posetable.tlc.core.builtins.constants.column_names",
        "posetable.tlc_tools.split",
    ],
)
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0 and result.attempted > 0
