"""COCO keypoints import/export on every real COCO-format dataset: lossless, and the contract."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

import posetable as pt
from posetable.errors import PosetableWarning
from tests._formats_support import COCO_DATASETS, edited_copy, json_difference, load

# What each dataset's import reports (one warning listing every assumption), or None.
EXPECTED_NOTES = {
    "coco_kpts": None,
    "coco_wholebody": None,
    "crowdpose": ["5 annotations had no 'area'", "4 annotations have a num_keypoints different"],
    "aic": ["9 annotations had no 'area'", "9 annotations had no 'iscrowd'", "OKS sigmas"],
    "onehand10k": ["4 annotations had no 'num_keypoints'", "uniform 1/K"],
    "horse10": ["uniform 1/K", "no left/right keypoint name pairs"],
    "ap10k": ["flip indices: none given, derived from 7 left/right name pairs"],
}


def import_dataset(folder: Path, store: Path, name: str = "t", **options: object) -> pt.Table:
    """Import a real dataset, expecting exactly the warning its file calls for."""
    images = folder / "images"
    notes = EXPECTED_NOTES[folder.name]
    args = (folder / "annotations.json", images if images.is_dir() else None)
    if notes is None:
        return pt.Table.from_coco(*args, name=name, store=store, **options)
    with pytest.warns(PosetableWarning) as caught:
        table = pt.Table.from_coco(*args, name=name, store=store, **options)
    assert len(caught) == 1, [str(w.message) for w in caught]
    for text in notes:
        assert text in str(caught[0].message)
    return table


@pytest.mark.parametrize("dataset", COCO_DATASETS)
def test_export_gives_back_the_same_json(
    real_data, store: Path, tmp_path: Path, dataset: str
) -> None:
    folder = real_data(dataset)
    table = import_dataset(folder, store)
    out = table.export_coco(tmp_path / "out.json")
    original, written = load(folder / "annotations.json"), load(out)
    assert json_difference(original, written) is None  # values, ids, fields and number types
    assert json.dumps(original) == json.dumps(written)  # key order too


@pytest.mark.parametrize("dataset", COCO_DATASETS)
def test_one_row_per_image_with_the_fields_evaluation_needs(
    real_data, store: Path, dataset: str
) -> None:
    folder = real_data(dataset)
    document = load(folder / "annotations.json")
    table = import_dataset(folder, store)
    assert len(table) == len(document["images"])
    assert table.sql("SELECT image_id FROM t ORDER BY row").column(0).to_pylist() == [
        image["id"] for image in document["images"]
    ]
    assert table.to_arrow(columns=["image_id"]).schema.field("image_id").type == "int64"
    categories = document["categories"]
    assert table.metadata["coco"]["categories"] == categories
    assert table.schema.classes == tuple(c["name"] for c in categories)
    by_image: dict[int, list[dict]] = {}
    for ann in document["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    k = table.schema.num_keypoints
    for row, image in zip(table, document["images"], strict=True):
        assert (row["width"], row["height"]) == (image["width"], image["height"])
        kpts = row["keypoints"]
        anns = by_image.get(image["id"], [])
        assert len(kpts) == len(anns)
        for extra in ("area", "iscrowd", "id", "num_keypoints"):
            assert len(kpts.instance_extras[extra]) == len(anns)
        for i, ann in enumerate(anns):
            values = np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3)
            assert kpts.keypoints[i].tolist() == values[:, :2].tolist()
            assert kpts.keypoint_visibilities[i].tolist() == values[:, 2].astype(int).tolist()
            x, y, w, h = ann["bbox"]
            assert kpts.instance_bbs[i].tolist() == [x, y, x + w, y + h]
            assert categories[kpts.instance_labels[i]]["id"] == ann["category_id"]
            assert kpts.instance_extras["id"][i] == ann["id"]
            if "num_keypoints" in ann:
                assert kpts.instance_extras["num_keypoints"][i] == ann["num_keypoints"]
            if "area" in ann:
                assert kpts.instance_extras["area"][i] == ann["area"]


def test_image_column_is_absolute_under_the_folder_and_the_dashboard_root(
    real_data, store: Path
) -> None:
    folder = real_data("coco_kpts")
    table = pt.Table.from_coco(
        folder / "annotations.json", folder / "images", name="t", store=store
    )
    assert table.metadata["image_roots"] == [str((folder / "images").absolute())]
    for row in table:
        assert Path(row["image"]).is_absolute() and Path(row["image"]).is_file()
        assert row["image"].startswith(table.metadata["image_roots"][0])


def test_without_a_folder_the_image_column_is_the_file_name(real_data, store: Path) -> None:
    folder = real_data("coco_wholebody")
    table = pt.Table.from_coco(folder / "annotations.json", name="t", store=store)
    names = [image["file_name"] for image in load(folder / "annotations.json")["images"]]
    assert [row["image"] for row in table] == names
    assert table.metadata["image_roots"] == []


def test_coco_names_get_pycocotools_sigmas_flips_and_a_0_based_skeleton(
    real_data, store: Path
) -> None:
    table = import_dataset(real_data("coco_kpts"), store)
    assert table.schema.oks_sigmas == pt.COCO_OKS_SIGMAS
    coco = pt.Keypoints2DSchema.coco_person()  # pycocotools' skeleton (pt.COCO_* are 3LC's)
    assert table.schema.flip_indices == coco.flip_indices == tuple(pt.COCO_FLIP_INDICES)
    assert table.schema.lines == coco.lines
    assert table.schema.keypoint_names == tuple(pt.COCO_KEYPOINT_NAMES)


def test_other_layouts_get_uniform_sigmas_and_flips_from_names(real_data, store: Path) -> None:
    table = import_dataset(real_data("ap10k"), store)
    assert table.schema.oks_sigmas == (1 / 17,) * 17
    names = table.schema.keypoint_names
    flips = table.schema.flip_indices
    assert names[flips[names.index("left_eye")]] == "right_eye"
    assert names[flips[names.index("nose")]] == "nose"
    assert len(table.schema.classes) == 54  # 54 animal categories, one 17-point schema
    first = table.metadata["coco"]["categories"][0]
    assert table.schema.lines == tuple((a - 1, b - 1) for a, b in first["skeleton"])


def test_sigmas_and_flip_indices_given_as_arguments_need_no_warning(real_data, store: Path) -> None:
    folder = real_data("horse10")
    sigmas = [0.05 + i / 1000 for i in range(22)]
    flips = list(range(22))
    table = pt.Table.from_coco(
        folder / "annotations.json", folder / "images", name="h", store=store,
        oks_sigmas=sigmas, flip_indices=flips,
    )  # fmt: skip
    assert table.schema.oks_sigmas == tuple(sigmas)
    assert table.schema.flip_indices == tuple(flips)


def test_float_visibilities_are_read_as_ints_and_written_back_as_floats(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("horse10")
    table = import_dataset(folder, store)
    vis = table[0]["keypoints"].keypoint_visibilities
    assert vis.dtype == np.int32 and set(vis.ravel().tolist()) <= {0, 1, 2}
    written = load(table.export_coco(tmp_path / "h.json"))
    assert all(isinstance(v, float) for v in written["annotations"][0]["keypoints"][2::3])


def test_filled_fields_are_marked_derived_and_left_out_on_export(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("aic")
    table = import_dataset(folder, store)
    kpts = table[0]["keypoints"]
    document = load(folder / "annotations.json")
    first = document["annotations"][0]
    w, h = first["bbox"][2:]
    assert kpts.instance_extras["area"][0] == w * h * 0.53
    assert kpts.instance_extras["iscrowd"][0] == 0
    assert kpts.instance_extras["coco_derived"][0] == 1 | 2  # area and iscrowd were filled
    written = load(table.export_coco(tmp_path / "aic.json"))
    assert "area" not in written["annotations"][0] and "iscrowd" not in written["annotations"][0]


def test_missing_num_keypoints_is_the_labeled_count(real_data, store: Path) -> None:
    table = import_dataset(real_data("onehand10k"), store)
    for row in table:
        kpts = row["keypoints"]
        labeled = (kpts.keypoint_visibilities > 0).sum(axis=1)
        assert kpts.instance_extras["num_keypoints"].tolist() == labeled.tolist()
        assert (kpts.instance_extras["coco_derived"] & 4).all()


def test_unmodelled_fields_survive(real_data, store: Path, tmp_path: Path) -> None:
    folder = real_data("coco_wholebody")
    table = pt.Table.from_coco(folder / "annotations.json", name="w", store=store)
    fields = json.loads(table[0]["keypoints"].instance_extras["coco_fields"][0])
    assert len(fields["face_kpts"]) == 68 * 3 and "segmentation" in fields
    written = load(table.export_coco(tmp_path / "w.json"))
    assert (
        written["annotations"][0]["lefthand_kpts"]
        == load(folder / "annotations.json")["annotations"][0]["lefthand_kpts"]
    )


def test_pycocotools_reads_the_export_of_any_table(real_data, store: Path, tmp_path: Path) -> None:
    folder = real_data("coco_kpts")
    source = pt.Table.from_coco(folder / "annotations.json", name="s", store=store)
    rows = [{"image": r["image"], "width": r["width"], "height": r["height"],
             "keypoints": r["keypoints"].copy()} for r in source]  # fmt: skip
    for row in rows:
        row["keypoints"].instance_extras = {}  # no COCO extras: export fills them
    plain = pt.Table.from_rows(rows, name="plain", schema=source.schema, store=store)
    out = plain.export_coco(tmp_path / "plain.json")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert len(coco.getImgIds()) == 4 and len(coco.getAnnIds()) == 14
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert set(ann) >= {
        "id",
        "image_id",
        "category_id",
        "keypoints",
        "num_keypoints",
        "bbox",
        "area",
        "iscrowd",
    }
    skeleton = [[a + 1, b + 1] for a, b in pt.Keypoints2DSchema.coco_person().lines]
    assert coco.loadCats(coco.getCatIds())[0]["skeleton"] == skeleton


def test_edits_are_exported_and_the_rest_stays(real_data, store: Path, tmp_path: Path) -> None:
    folder = real_data("coco_kpts")
    table = pt.Table.from_coco(
        folder / "annotations.json", folder / "images", name="t", store=store
    )
    kpts = table[1]["keypoints"]
    kpts.keypoints[0, 0] = [111.5, 222.0]
    edited = table.with_rows({1: {"keypoints": kpts}})
    sigmas = [0.05] * 17
    edited = edited.with_schema(
        edited.schema.replace(oks_sigmas=sigmas, lines=[(0, 1)], line_colors=None)
    )
    written = load(edited.export_coco(tmp_path / "e.json"))
    original = load(folder / "annotations.json")
    changed = next(
        a for a in written["annotations"] if a["id"] == int(kpts.instance_extras["id"][0])
    )
    assert changed["keypoints"][:2] == [111.5, 222]
    assert written["categories"][0]["skeleton"] == [[1, 2]]
    written["categories"], original["categories"] = [], []
    for ann in written["annotations"] + original["annotations"]:
        if ann["id"] == changed["id"]:
            ann["keypoints"] = None
    assert json_difference(original, written) is None


def test_annotations_outside_the_layout_are_kept_for_export(
    real_data, store: Path, tmp_path: Path
) -> None:
    source = real_data("coco_kpts") / "annotations.json"

    def add_a_box_category(doc: dict) -> None:
        doc["categories"].append({"supercategory": "vehicle", "id": 3, "name": "car"})
        car = {"id": 9, "image_id": 785, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 12}
        doc["annotations"].insert(2, {**car, "iscrowd": 0, "segmentation": []})

    path = edited_copy(source, tmp_path / "mixed.json", add_a_box_category)
    with pytest.warns(PosetableWarning, match="1 annotation of categories outside"):
        table = pt.Table.from_coco(path, name="m", store=store)
    assert sum(len(r["keypoints"]) for r in table) == 14
    assert table.schema.classes == ("person", "car")
    assert json_difference(load(path), load(table.export_coco(tmp_path / "back.json"))) is None


def test_categories_with_different_keypoint_counts_need_a_choice(
    real_data, store: Path, tmp_path: Path
) -> None:
    source = real_data("coco_kpts") / "annotations.json"

    def add_hands(doc: dict) -> None:
        names = [f"h{i}" for i in range(21)]
        doc["categories"].append({"id": 2, "name": "hand", "keypoints": names, "skeleton": []})

    path = edited_copy(source, tmp_path / "two.json", add_hands)
    with pytest.raises(pt.errors.FormatError, match=r"'person'.*'hand'|K=17.*K=21") as caught:
        pt.Table.from_coco(path, name="x", store=store)
    assert "category=" in str(caught.value) and caught.value.path == path
    assert pt.list_tables(store=store) == []
    table = pt.Table.from_coco(path, name="people", store=store, category="person")
    assert table.schema.num_keypoints == 17 and table.schema.classes == ("person", "hand")


def test_a_0_based_skeleton_is_read_as_is_and_written_back(
    real_data, store: Path, tmp_path: Path
) -> None:
    source = real_data("coco_kpts") / "annotations.json"

    def zero_based(doc: dict) -> None:
        doc["categories"][0]["skeleton"] = [[0, 1], [1, 2]]

    path = edited_copy(source, tmp_path / "zero.json", zero_based)
    with pytest.warns(PosetableWarning, match="0-based"):
        table = pt.Table.from_coco(path, name="z", store=store)
    assert table.schema.lines == ((0, 1), (1, 2))
    assert load(table.export_coco(tmp_path / "z-out.json"))["categories"][0]["skeleton"] == [
        [0, 1],
        [1, 2],
    ]


def test_reimport_makes_a_new_revision_only_when_asked(real_data, store: Path) -> None:
    folder = real_data("coco_kpts")
    first = pt.Table.from_coco(folder / "annotations.json", name="t", store=store)
    with pytest.raises(pt.errors.TableExistsError, match=r"table 't' already exists.*K=17"):
        pt.Table.from_coco(folder / "annotations.json", name="t", store=store)
    assert pt.Table.open("t", store=store).revision == first.revision
    second = pt.Table.from_coco(
        folder / "annotations.json", name="t", store=store, if_exists="new_revision"
    )
    assert second.revision > first.revision and second.operation == "import_coco"


@pytest.mark.parametrize(
    "document",
    [
        {"images": [], "annotations": [], "categories": [{"id": 1, "name": "p", "keypoints": ["a"]}]},  # noqa: E501
        {"images": [{"id": 3, "file_name": "x.jpg", "width": 10, "height": 20}],
         "categories": [{"id": 1, "name": "p", "keypoints": ["a", "b"]}]},
    ],
    ids=["no images", "no annotations key"],
)  # fmt: skip
def test_files_without_images_or_annotations(store: Path, tmp_path: Path, document: dict) -> None:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(document))
    with pytest.warns(PosetableWarning, match="uniform 1/K"):
        table = pt.Table.from_coco(path, name="small", store=store)
    assert len(table) == len(document["images"])
    assert json_difference(document, load(table.export_coco(tmp_path / "out.json"))) is None


def test_keys_that_appear_only_late_in_the_file(real_data, store: Path, tmp_path: Path) -> None:
    def late_keys(doc: dict) -> None:
        template = doc["annotations"][0]
        for n in range(260):  # more distinct late keys than the typed decoder looks for
            ann = {**template, "id": 10_000 + n, f"note_{n}": [n, {"x": n / 3}]}
            doc["annotations"].append(ann)

    path = edited_copy(
        real_data("coco_kpts") / "annotations.json", tmp_path / "late.json", late_keys
    )
    table = pt.Table.from_coco(path, name="late", store=store)
    assert sum(len(r["keypoints"]) for r in table) == 14 + 260
    assert json_difference(load(path), load(table.export_coco(tmp_path / "out.json"))) is None


def test_an_instance_added_after_import_gets_a_new_id_at_the_end(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("coco_kpts")
    table = pt.Table.from_coco(folder / "annotations.json", name="t", store=store)
    kpts = table[0]["keypoints"]
    extras = {"area": 100.0, "iscrowd": 0, "id": -1, "num_keypoints": 1, "coco_derived": 0,
              "coco_order": -1, "coco_fields": ""}  # fmt: skip
    points = np.zeros((17, 3))
    points[0] = [5, 6, 2]
    kpts.add_instance(points, bbox=[1, 2, 11, 22], label=0, instance_extras=extras)
    written = load(table.with_rows({0: {"keypoints": kpts}}).export_coco(tmp_path / "added.json"))
    added = written["annotations"][-1]
    original = load(folder / "annotations.json")
    assert added["id"] == max(a["id"] for a in original["annotations"]) + 1
    assert added["image_id"] == 785 and added["bbox"] == [1, 2, 10, 20]
    assert added["keypoints"][:3] == [5, 6, 2] and added["area"] == 100
    assert written["annotations"][:-1] == original["annotations"]


def test_null_values_come_back_as_null(real_data, store: Path, tmp_path: Path) -> None:
    def nulls(doc: dict) -> None:
        ann = doc["annotations"][2]
        for key in ("area", "iscrowd", "num_keypoints", "id"):
            ann[key] = None
        doc["images"][1]["width"] = None

    folder = real_data("coco_kpts")
    path = edited_copy(folder / "annotations.json", tmp_path / "nulls.json", nulls)
    with pytest.warns(PosetableWarning, match="read from the image headers"):
        table = pt.Table.from_coco(path, folder / "images", name="n", store=store)
    assert table[1]["width"] == 500  # 000000040083.jpg, from its header
    kpts = table[1]["keypoints"]
    assert kpts.instance_extras["iscrowd"][1] == 0 and kpts.instance_extras["area"][1] > 0
    assert json_difference(load(path), load(table.export_coco(tmp_path / "out.json"))) is None


def many_persons(doc: dict, copies: int = 300) -> None:
    """Repeat the annotations (new ids) so the keypoints take the bulk integer parser."""
    base = list(doc["annotations"])
    for n in range(1, copies):
        doc["annotations"] += [
            {**a, "id": a["id"] * 1000 + n, "keypoints": list(a["keypoints"])} for a in base
        ]


def test_large_integer_files_take_the_bulk_path_and_stay_exact(
    real_data, store: Path, tmp_path: Path
) -> None:
    from posetable.formats import _json

    path = edited_copy(
        real_data("coco_kpts") / "annotations.json",
        tmp_path / "big.json",
        many_persons,
        indent=None,
    )
    keypoints_text = sum(len(json.dumps(a["keypoints"])) for a in load(path)["annotations"])
    assert keypoints_text > _json._CSV_BYTES  # the bulk parser's threshold
    table = pt.Table.from_coco(path, name="big", store=store)
    assert sum(len(r["keypoints"]) for r in table) == 14 * 300
    assert json_difference(load(path), load(table.export_coco(tmp_path / "out.json"))) is None

    def break_one(doc: dict) -> None:
        many_persons(doc)
        doc["annotations"][2000]["keypoints"][3 * 4 + 2] = 7

    bad = edited_copy(real_data("coco_kpts") / "annotations.json", tmp_path / "bad.json", break_one)
    with pytest.raises(
        pt.errors.FormatError, match=r"annotations\[2000\]\): visibility .* found 7"
    ):
        pt.Table.from_coco(bad, name="bad", store=store)


def test_top_level_values_are_in_the_metadata(real_data, store: Path) -> None:
    folder = real_data("coco_kpts")
    table = pt.Table.from_coco(folder / "annotations.json", name="t", store=store)
    document = load(folder / "annotations.json")
    assert table.metadata["coco"]["info"] == document["info"]
    assert table.metadata["coco"]["licenses"] == document["licenses"]


def test_a_schema_without_sigmas_keeps_the_coco_sigmas_of_a_person_file(real_data, store) -> None:
    folder = real_data("coco_kpts")
    plain = pt.Keypoints2DSchema.coco_person().replace(oks_sigmas=None)
    with pytest.warns(pt.errors.PosetableWarning, match="COCO person sigmas"):
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="c", store=store, schema=plain
        )
    assert table.schema.sigmas.tolist() == list(pt.COCO_OKS_SIGMAS)
    tuned = pt.Table.from_coco(
        folder / "annotations.json",
        folder / "images",
        name="t",
        store=store,
        schema=plain,
        oks_sigmas=[0.05] * 17,
    )
    assert tuned.schema.sigmas.tolist() == [0.05] * 17  # an explicit argument is not ignored
