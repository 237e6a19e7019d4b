"""Hostile and odd inputs (issue 15, item 4): each a typed error naming where, or a defined result.

Every case here once crashed with a raw exception, imported silently, looped or blew up;
a failed import writes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import posetable as pt
from posetable.errors import (
    EvaluationError,
    FormatError,
    PosetableWarning,
    RowError,
    RowIndexError,
    RunError,
    SchemaError,
)
from posetable.eval import COCOeval, read_coco_results
from tests._coco_reference import fill_for_pycocotools, perturbed_results, write_json
from tests._formats_support import edited_copy
from tests._predictions import noisy_predictions
from tests.test_formats_yolo import copy_dataset

NAN, INF = float("nan"), float("inf")
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def coco(real_data) -> dict[str, Any]:
    return json.loads((real_data("coco_kpts") / "annotations.json").read_text())


@pytest.fixture
def gt_path(real_data) -> Path:
    return real_data("coco_kpts") / "annotations.json"


@pytest.fixture
def yolo(real_data, tmp_path: Path) -> Path:
    return copy_dataset(real_data("coco8_pose_yolo"), tmp_path / "coco8")


@pytest.fixture
def run(coco_table: pt.Table) -> pt.Run:
    return pt.Run.from_predictions(coco_table, noisy_predictions(coco_table, seed=7), name="m")


def _write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


def _big_ground_truth(coco: dict[str, Any], copies: int = 80) -> dict[str, Any]:
    """The real file repeated under new ids until it passes 1 MB (the DuckDB reader's size)."""
    out = copy.deepcopy(coco)
    out["images"], out["annotations"] = [], []
    next_id = 1
    for r in range(copies):
        for image in coco["images"]:
            out["images"].append({**image, "id": image["id"] * 100 + r})
        for ann in coco["annotations"]:
            out["annotations"].append({**ann, "image_id": ann["image_id"] * 100 + r, "id": next_id})
            next_id += 1
    return out


def _results_for(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "keypoints": [v + 1.5 for v in a["keypoints"]],
            "score": 0.5 + (i % 50) / 100,
        }
        for i, a in enumerate(doc["annotations"])
    ]


# -- 1. non-UTF-8 JSON -----------------------------------------------------------------------
def test_non_utf8_coco_annotations_are_a_format_error_naming_byte_and_line(
    gt_path: Path, store: Path, tmp_path: Path
) -> None:
    raw = gt_path.read_bytes()
    at = raw.index(b'"file_name": "') + len(b'"file_name": "')
    path = _write(
        tmp_path / "latin1.json", raw[:at] + b"\xe9" + raw[at:]
    )  # was msgspec.DecodeError
    with pytest.raises(
        FormatError, match=rf"byte {at} \(line \d+, column \d+\) is 0xe9, not UTF-8"
    ):
        pt.Table.from_coco(path, name="bad", store=store)
    assert pt.list_tables(store=store) == []


def test_non_utf8_in_a_field_posetable_does_not_model_is_refused_too(
    coco: dict[str, Any], store: Path, tmp_path: Path
) -> None:
    coco["annotations"][3]["note"] = "XX"
    text = json.dumps(coco, indent=1).encode()
    path = _write(tmp_path / "note.json", text.replace(b'"XX"', b'"\xff\xfe"', 1))
    with pytest.raises(FormatError, match="not UTF-8") as caught:
        pt.Table.from_coco(path, name="bad", store=store)
    assert caught.value.path == path and caught.value.line is not None
    assert pt.list_tables(store=store) == []


def test_utf16_json_is_refused_on_every_reader(gt_path: Path, store: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "utf16.json", gt_path.read_text().encode("utf-16"))
    for call in (
        lambda: pt.Table.from_coco(path, name="bad", store=store),
        lambda: pt.evaluate_coco(path, path),
        lambda: pt.evaluate_coco(gt_path, path),
    ):
        with pytest.raises(FormatError, match="UTF-16 or UTF-32"):
            call()


@pytest.mark.parametrize("big", [False, True], ids=["plain reader", "DuckDB reader"])
def test_non_utf8_ground_truth_and_results_are_format_errors(
    coco: dict[str, Any], gt_path: Path, tmp_path: Path, big: bool
) -> None:
    doc = _big_ground_truth(coco) if big else coco
    doc["images"][0]["file_name"] = "XX"
    gt = _write(tmp_path / "gt.json", json.dumps(doc).encode().replace(b'"XX"', b'"\xff"', 1))
    results = json.dumps([*_results_for(coco), {"note": "XX"}]).encode()
    bad_results = _write(tmp_path / "r.json", results.replace(b'"XX"', b'"\xc3("', 1))
    with pytest.raises(FormatError, match="not UTF-8") as caught:
        pt.evaluate_coco(gt, bad_results)
    assert caught.value.path == gt
    with pytest.raises(FormatError, match="not UTF-8") as caught:
        pt.evaluate_coco(gt_path, bad_results)
    assert caught.value.path == bad_results


# -- 2. deeply nested JSON -------------------------------------------------------------------
def _nested_in_categories(coco: dict[str, Any]) -> bytes:
    return json.dumps(coco).encode().replace(b'"categories": ', b'"categories": ' + DEEP + b", "
                                             b'"x": ', 1)  # fmt: skip


def _nested_in_an_annotation(coco: dict[str, Any]) -> bytes:
    coco["annotations"][2]["segmentation"] = "DEEP"
    return json.dumps(coco).encode().replace(b'"DEEP"', DEEP, 1)


@pytest.mark.parametrize(
    "make",
    [lambda coco: DEEP, _nested_in_categories, _nested_in_an_annotation],
    ids=["whole file", "categories", "an annotation field"],
)
def test_deeply_nested_coco_is_a_format_error_not_a_recursion_error(
    coco: dict[str, Any], store: Path, tmp_path: Path, make: Callable[[dict[str, Any]], bytes]
) -> None:
    path = _write(tmp_path / "deep.json", make(coco))
    with pytest.raises(FormatError, match="nested too deeply") as caught:
        pt.Table.from_coco(path, name="deep", store=store)
    assert caught.value.path == path
    assert pt.list_tables(store=store) == []


def test_deeply_nested_ground_truth_and_results_are_format_errors(
    coco: dict[str, Any], gt_path: Path, tmp_path: Path
) -> None:
    deep_gt = _write(tmp_path / "gt.json", _nested_in_an_annotation(copy.deepcopy(coco)))
    results = _results_for(coco)
    results[1]["keypoints"] = "DEEP"  # a field the DuckDB reader reads: it declines the file
    deep_results = _write(
        tmp_path / "r.json", json.dumps(results).encode().replace(b'"DEEP"', DEEP)
    )
    good_results = write_json(tmp_path / "good.json", _results_for(coco))
    for gt, res, culprit in (
        (deep_gt, good_results, deep_gt),
        (gt_path, deep_results, deep_results),
        (gt_path, _write(tmp_path / "all.json", DEEP), tmp_path / "all.json"),
        (_write(tmp_path / "all_gt.json", DEEP), good_results, tmp_path / "all_gt.json"),
    ):
        with pytest.raises(FormatError, match="nested too deeply") as caught:
            pt.evaluate_coco(gt, res)
        assert caught.value.path == culprit


def test_the_duckdb_readers_do_not_parse_deep_fields_they_do_not_read(
    coco: dict[str, Any], tmp_path: Path
) -> None:
    """A defined result: DuckDB never recurses and reads only evaluation's fields, so deep
    nesting in another field (a segmentation, an extra key of a result) changes nothing."""
    doc = _big_ground_truth(coco)
    results = _results_for(doc)
    plain_gt, plain_results = (
        write_json(tmp_path / "a.json", doc),
        write_json(tmp_path / "b.json", results),
    )
    expected = pt.evaluate_coco(plain_gt, plain_results).stats
    deep_gt = _write(tmp_path / "gt.json", _nested_in_an_annotation(copy.deepcopy(doc)))
    results[1]["extra"] = "DEEP"
    deep_results = _write(
        tmp_path / "r.json", json.dumps(results).encode().replace(b'"DEEP"', DEEP)
    )
    np.testing.assert_array_equal(pt.evaluate_coco(deep_gt, deep_results).stats, expected)


def test_a_deeply_nested_results_list_given_to_the_shim_is_a_format_error(gt_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(2000):
        deep = [deep]
    evaluator = COCOeval(str(gt_path), [{"image_id": 785, "keypoints": deep}], "keypoints")
    with pytest.raises(FormatError, match="cocoDt cannot be read"):
        evaluator.evaluate()


# -- 3. YAML aliases and class names ---------------------------------------------------------
BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


def test_a_yaml_alias_bomb_is_refused_naming_file_and_line(yolo: Path, store: Path) -> None:
    path = yolo / "coco8-pose.yaml"
    path.write_text(BOMB + path.read_text())
    with pytest.raises(FormatError, match=r"aliases are not allowed in a data.yaml, found \*a"):
        pt.Table.from_yolo(path, name="bomb", store=store)
    with pytest.raises(FormatError) as caught:
        pt.Table.from_yolo(path, name="bomb", store=store)
    assert caught.value.path == path and caught.value.line == 2  # the first *a
    assert pt.list_tables(store=store) == []


def test_any_alias_is_refused_even_a_small_one(yolo: Path, store: Path) -> None:
    path = yolo / "coco8-pose.yaml"
    text = path.read_text().replace("flip_idx: [", "flip_idx: &flip [") + "extra: *flip\n"
    path.write_text(text)
    with pytest.raises(FormatError, match=r"found \*flip"):
        pt.Table.from_yolo(path, name="x", store=store)


def test_deeply_nested_yaml_is_a_format_error(yolo: Path, store: Path) -> None:
    path = yolo / "coco8-pose.yaml"
    path.write_text("[" * 20_000 + "]" * 20_000)
    with pytest.raises(FormatError, match="nested too deeply"):
        pt.Table.from_yolo(path, name="x", store=store)


def test_exported_data_yaml_has_no_aliases_and_reads_back(real_data, store: Path, tmp_path: Path):
    folder = real_data("ap10k")  # its schema repeats equal lists, which PyYAML would alias
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="ap", store=store
        )
    data_yaml = table.export_yolo(tmp_path / "out")
    text = data_yaml.read_text()
    assert "&id" not in text and "*id" not in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        back = pt.Table.from_yolo(data_yaml, name="back", store=store)
    assert back.schema.keypoint_names == table.schema.keypoint_names


@pytest.mark.parametrize(
    ("names", "classes"),
    [
        ({0: 5}, ("5",)),
        ([True, 2.5], ("True", "2.5")),
        ({"0": "person", 1: "dog"}, ("person", "dog")),
    ],
    ids=["number", "boolean and float", "string key"],
)
def test_scalar_class_names_become_text_as_ultralytics_makes_them(
    yolo: Path, store: Path, names: Any, classes: tuple[str, ...]
) -> None:
    path = yolo / "coco8-pose.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["names"] = names
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    table = pt.Table.from_yolo(path, name="x", store=store)
    assert table.schema.classes == classes


@pytest.mark.parametrize(
    ("names", "found"),
    [
        ({0: None}, "found null"),
        (["person", ["a", "b"]], "found a list"),
        ({0: {"a": 1}}, "found a dict"),
    ],
    ids=["null", "list", "mapping"],
)
def test_class_names_that_are_not_scalars_are_refused_with_the_line(
    yolo: Path, store: Path, names: Any, found: str
) -> None:
    path = yolo / "coco8-pose.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["names"] = names
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.raises(FormatError, match=rf"must be named by a string, {found}") as caught:
        pt.Table.from_yolo(path, name="x", store=store)
    names_line = next(
        i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith("names:")
    )
    assert caught.value.line == names_line
    assert pt.list_tables(store=store) == []


# -- 4. list files, symlinks, loops ----------------------------------------------------------
def _use_split(yolo: Path, entry: Any) -> Path:
    path = yolo / "coco8-pose.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["train"] = entry
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "entry", ["../../outside/x.jpg", "/etc/x.jpg", "images/../../x.jpg"], ids=str
)
def test_a_list_file_entry_outside_the_dataset_is_refused_with_the_line(
    yolo: Path, store: Path, entry: str
) -> None:
    listed = yolo / "train.txt"
    listed.write_text(f"./images/train/000000000785.jpg\n\n{entry}\n")
    path = _use_split(yolo, "train.txt")
    with pytest.raises(FormatError, match="outside the dataset root") as caught:
        pt.Table.from_yolo(path, name="x", store=store)
    assert caught.value.path == listed and caught.value.line == 3
    assert pt.list_tables(store=store) == []


def test_the_same_image_listed_41_times_is_imported_once_with_a_warning(
    yolo: Path, store: Path
) -> None:
    os.symlink(".", yolo / "images" / "train" / "again")
    spellings = [f"./images/train/{'again/' * i}000000000785.jpg" for i in range(40)]
    (yolo / "train.txt").write_text("\n".join([*spellings, "images/train/000000000785.jpg"]))
    path = _use_split(yolo, "train.txt")
    with pytest.warns(PosetableWarning, match="39 image paths reach a file already listed"):
        table = pt.Table.from_yolo(path, name="x", store=store)
    assert [row["image"] for row in table] == [str(yolo / "images/train/000000000785.jpg")]


def test_a_symlink_loop_in_a_split_folder_ends_and_lists_each_image_once(
    yolo: Path, store: Path
) -> None:
    train = yolo / "images" / "train"
    os.symlink("..", train / "up")  # a loop: images/train/up/train/up/...
    os.symlink(".", train / "self")
    path = _use_split(yolo, "images/train")
    with pytest.warns(PosetableWarning, match="2 symlinked folders"):
        table = pt.Table.from_yolo(path, name="x", store=store)
    assert sorted(row["image"] for row in table) == sorted(str(p) for p in train.glob("*.jpg"))


def test_a_glob_with_double_star_does_not_follow_a_loop(yolo: Path, store: Path) -> None:
    os.symlink("..", yolo / "images" / "train" / "up")
    path = _use_split(yolo, "images/**/*.jpg")
    with pytest.warns(PosetableWarning, match="symlinked folder"):
        table = pt.Table.from_yolo(path, name="x", store=store)
    assert len(table) == 4  # 2 train + 2 val images, each once


def test_a_folder_linked_twice_is_read_once(yolo: Path, store: Path) -> None:
    os.symlink(yolo / "images" / "train", yolo / "images" / "train_link")
    path = _use_split(yolo, ["images/train", "images/train_link"])
    with pytest.warns(PosetableWarning, match="symlinked folder"):
        table = pt.Table.from_yolo(path, name="x", store=store)
    assert len(table) == 2


def test_a_label_file_that_is_a_device_is_refused_not_read(yolo: Path, store: Path) -> None:
    label = yolo / "labels" / "train" / "000000000785.txt"
    label.unlink()
    os.symlink("/dev/null", label)  # was read as an empty label (/dev/zero: forever)
    with pytest.raises(FormatError, match="not a regular file") as caught:
        pt.Table.from_yolo(yolo / "coco8-pose.yaml", name="x", store=store)
    assert caught.value.path == str(label)


# -- 5. COCO file_name outside the image folder ----------------------------------------------
@pytest.mark.parametrize(
    ("file_name", "with_folder"),
    [("../../etc/passwd", True), ("/etc/passwd", True), ("../x.jpg", False)],
    ids=["climbs out", "absolute elsewhere", "climbs out, no folder"],
)
def test_a_file_name_outside_the_image_folder_is_refused_naming_the_image_id(
    real_data, store: Path, tmp_path: Path, file_name: str, with_folder: bool
) -> None:
    folder = real_data("coco_kpts")

    def edit(doc: dict[str, Any]) -> None:
        doc["images"][1]["file_name"] = file_name

    path = edited_copy(folder / "annotations.json", tmp_path / "a.json", edit)
    images = folder / "images" if with_folder else None
    with pytest.raises(FormatError, match=r"image id 40083 \(images\[1\]\): 'file_name'") as caught:
        pt.Table.from_coco(path, images, name="x", store=store)
    assert "outside" in str(caught.value) or "climbs out" in str(caught.value)
    assert caught.value.line is not None
    assert pt.list_tables(store=store) == []


def test_file_names_inside_the_folder_are_kept_and_absolute_ones_without_a_folder_as_written(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("coco_kpts")
    inside = str(folder / "images" / "000000000785.jpg")

    def edit(doc: dict[str, Any]) -> None:
        doc["images"][0]["file_name"] = inside
        doc["images"][1]["file_name"] = "sub/../000000040083.jpg"

    path = edited_copy(folder / "annotations.json", tmp_path / "a.json", edit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(path, folder / "images", name="x", store=store)
        bare = pt.Table.from_coco(path, name="y", store=store)
    assert table[0]["image"] == inside
    assert table[1]["image"] == str(folder / "images" / "000000040083.jpg")
    assert bare[0]["image"] == inside  # nothing resolved without a folder


# -- 6. inverted boxes -----------------------------------------------------------------------
@pytest.mark.parametrize("index", [2, 3], ids=["negative width", "negative height"])
def test_a_coco_bbox_with_negative_size_is_refused_naming_annotation_and_values(
    real_data, store: Path, tmp_path: Path, index: int
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["annotations"][3]["bbox"][index] = -5

    path = edited_copy(real_data("coco_kpts") / "annotations.json", tmp_path / "a.json", edit)
    with pytest.raises(FormatError, match=r"annotation id 1202706 .*width >= 0 and height >= 0"):
        pt.Table.from_coco(path, name="x", store=store)
    assert pt.list_tables(store=store) == []


def test_a_yolo_box_with_negative_width_within_the_tolerance_is_refused(
    yolo: Path, store: Path
) -> None:
    label = yolo / "labels" / "train" / "000000040083.txt"
    lines = label.read_text().splitlines()
    values = lines[1].split()
    values[3] = "-0.005"  # inside Ultralytics' -0.01 tolerance, but x2 < x1
    lines[1] = " ".join(values)
    label.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match=r"column 4 \(box width\) must be >= 0") as caught:
        pt.Table.from_yolo(yolo / "coco8-pose.yaml", name="x", store=store)
    assert caught.value.path == str(label) and caught.value.line == 2


def test_the_table_refuses_an_inverted_box_on_every_write(coco_table: pt.Table, store: Path):
    kp = pt.Keypoints2DInstances.create_empty(num_keypoints=17)
    kp.add_instance(np.ones((17, 3)), bbox=[10, 10, 5, 20])
    row = {"image": "a.jpg", "width": 64, "height": 64, "keypoints": kp}
    with pytest.raises(RowError, match=r"row 0, instance 0: instance_bbs .* x2 >= x1"):
        pt.Table.from_rows([row], name="r", schema=pt.Keypoints2DSchema.coco_person(), store=store)
    with pytest.raises(RowError, match=r"x2 >= x1 and y2 >= y1, got \[10.0, 10.0, 5.0, 20.0\]"):
        coco_table.with_rows({0: {"keypoints": kp}})
    assert len(coco_table.revisions()) == 1


def test_negative_result_boxes_are_refused_for_a_table_but_evaluated_as_pycocotools_does(
    coco: dict[str, Any], coco_table: pt.Table, gt_path: Path, tmp_path: Path
) -> None:
    from tests._coco_reference import pycocotools_eval

    results = perturbed_results(coco, seed=2, with_bbox=True)
    results[4]["bbox"][2] = -3.0
    path = write_json(tmp_path / "r.json", results)
    with pytest.raises(FormatError, match=r"results\[4\]: 'bbox' .* width >= 0"):
        read_coco_results(path, coco_table)
    reference = pycocotools_eval(coco, results, np.asarray(pt.COCO_OKS_SIGMAS), tmp_path)
    np.testing.assert_array_equal(pt.evaluate_coco(gt_path, path).stats, reference.stats)


# -- 7. results with string scores or ids ----------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score", "0.9", r"'score' must be a finite number, got '0.9'"),
        ("score", True, r"'score' must be a finite number, got True"),
        ("score", None, r"'score' must be a finite number, got None"),
        ("image_id", "IMAGE", r"'image_id' is the string '\d+', but the ground truth's image ids"),
        ("image_id", 40083.5, r"'image_id' must be an integer or string id, got 40083.5"),
        ("image_id", True, r"'image_id' must be an integer or string id, got True"),
        ("category_id", "1", r"'category_id' is the string '1', but the ground truth's category"),
        ("category_id", 1.5, r"'category_id' must be an integer or string id, got 1.5"),
    ],
    ids=lambda v: repr(v)[:12],
)
def test_results_with_mistyped_fields_name_the_result_on_every_reader(
    coco: dict[str, Any],
    coco_table: pt.Table,
    gt_path: Path,
    tmp_path: Path,
    field: str,
    value: Any,
    message: str,
) -> None:
    results = _results_for(coco)
    results[2][field] = str(results[2]["image_id"]) if value == "IMAGE" else value
    path = write_json(tmp_path / "r.json", results)  # DuckDB had read "0.9" as 0.9, "12" as 12
    for call in (
        lambda: pt.evaluate_coco(gt_path, path),
        lambda: pt.evaluate(coco_table, path),
        lambda: read_coco_results(path, coco_table),
        lambda: pt.Run.from_coco_results(coco_table, path, name="r"),
    ):
        with pytest.raises(FormatError, match=r"results\[2\]: " + message) as caught:
            call()
        assert caught.value.path == path


def test_whole_float_ids_are_taken_as_pycocotools_takes_them(
    coco: dict[str, Any], gt_path: Path, tmp_path: Path
) -> None:
    results = _results_for(coco)
    as_ints = pt.evaluate_coco(gt_path, write_json(tmp_path / "a.json", results)).stats
    for r in results:
        r["image_id"], r["category_id"] = float(r["image_id"]), float(r["category_id"])
    floats = pt.evaluate_coco(gt_path, write_json(tmp_path / "b.json", results)).stats
    np.testing.assert_array_equal(floats, as_ints)


def test_a_string_image_id_in_a_large_ground_truth_is_left_out_as_pycocotools_does(
    coco: dict[str, Any], tmp_path: Path
) -> None:
    from tests._coco_reference import pycocotools_eval

    doc = _big_ground_truth(coco)
    results = _results_for(doc)
    doc["annotations"][5]["image_id"] = str(doc["annotations"][5]["image_id"])  # DuckDB: -> int
    gt = write_json(tmp_path / "gt.json", doc)
    assert gt.stat().st_size > 1 << 20  # the DuckDB reader's size
    reference = pycocotools_eval(doc, results, np.asarray(pt.COCO_OKS_SIGMAS), tmp_path)
    r = write_json(tmp_path / "r.json", results)
    np.testing.assert_array_equal(pt.evaluate_coco(gt, r).stats, reference.stats)


def test_a_string_area_in_a_large_ground_truth_is_a_format_error(
    coco: dict[str, Any], tmp_path: Path
) -> None:
    doc = _big_ground_truth(coco)
    doc["annotations"][7]["area"] = "1000"  # pycocotools: TypeError comparing str and float
    gt = write_json(tmp_path / "gt.json", doc)
    r = write_json(tmp_path / "r.json", _results_for(coco))
    with pytest.raises(FormatError, match=r"annotations\[7\] \(id 8\): 'area' must be a finite"):
        pt.evaluate_coco(gt, r)


# -- 8. row arguments ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rows",
    [[-1], [4], [0, 1.0], [True], ["0"], 3, "01"],
    ids=["-1", "4", "a float", "a bool", "a string", "not a list", "a string list"],
)
def test_accept_rows_outside_the_table_are_row_index_errors(
    coco_table: pt.Table, run: pt.Run, rows: Any
) -> None:
    for accept in (pt.accept_predictions, pt.accept_predictions_plan):
        with pytest.raises(RowIndexError, match=r"rows(\[\d\])? must be a .*row number") as caught:
            accept(coco_table, run, rows=rows)
        assert isinstance(caught.value, IndexError)
        if isinstance(rows, list):
            assert "[0, 3] (table coco@1 has 4 rows)" in str(caught.value)
    assert len(coco_table.revisions()) == 1


def test_run_row_arguments_are_row_index_errors(coco_table: pt.Table, run: pt.Run) -> None:
    created = pt.Run.create(coco_table, name="n")
    prediction = noisy_predictions(coco_table)[0]
    assert prediction is not None
    bad: Any
    for bad in (-1, 4, 1.0, True):
        with pytest.raises(RowIndexError, match=r"row_index must be a row number in \[0, 3\]"):
            created.add_predictions(bad, prediction)
        with pytest.raises(RowIndexError, match=r"row must be a row number in \[0, 3\]"):
            run.predictions(bad)
    assert run.predictions(0) is not None


@pytest.mark.parametrize("top", [-1, 2.5, True, "3"])
def test_label_errors_top_must_be_a_count(coco_table: pt.Table, run: pt.Run, top: Any) -> None:
    with pytest.raises(RunError, match="top must be None or a whole number >= 0"):
        pt.find_label_errors(coco_table, run, top=top)


# -- 9. NaN and inf from API parameters ------------------------------------------------------
def _parameter_calls(table: pt.Table, run: pt.Run, yolo_yaml: Path, store: Path) -> dict:
    k = table.schema.num_keypoints
    return {
        "keypoint_confidence_threshold (accept)": lambda v: pt.accept_predictions(
            table, run, keypoint_confidence_threshold=v
        ),
        "instance_confidence_threshold (accept)": lambda v: pt.accept_predictions_plan(
            table, run, instance_confidence_threshold=v
        ),
        "keypoint_confidence_threshold (label errors)": lambda v: pt.find_label_errors(
            table, run, keypoint_confidence_threshold=v
        ),
        "instance_confidence_threshold (label errors)": lambda v: pt.find_label_errors(
            table, run, instance_confidence_threshold=v
        ),
        "instance_confidence_threshold (run.evaluate)": lambda v: run.evaluate(
            instance_confidence_threshold=v
        ),
        "keypoint_confidence_threshold (run.evaluate)": lambda v: run.evaluate(
            keypoint_confidence_threshold=v
        ),
        "oks_sigmas (evaluate)": lambda v: pt.evaluate(table, run, sigmas=[v] * k),
        "oks_sigmas (edit_oks_sigmas)": lambda v: pt.KeypointHelper.edit_oks_sigmas(
            table, [0.05] * (k - 1) + [v]
        ),
        "oks_sigmas (schema)": lambda v: pt.Keypoints2DSchema(3, oks_sigmas=[0.1, v, 0.1]),
        "tolerance (from_yolo)": lambda v: pt.Table.from_yolo(
            yolo_yaml, name="y", store=store, tolerance=v
        ),
    }


CALLS = [
    "keypoint_confidence_threshold (accept)",
    "instance_confidence_threshold (accept)",
    "keypoint_confidence_threshold (label errors)",
    "instance_confidence_threshold (label errors)",
    "instance_confidence_threshold (run.evaluate)",
    "keypoint_confidence_threshold (run.evaluate)",
    "oks_sigmas (evaluate)",
    "oks_sigmas (edit_oks_sigmas)",
    "oks_sigmas (schema)",
    "tolerance (from_yolo)",
]


@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("call", CALLS)
def test_nan_and_inf_parameters_are_refused_naming_the_argument(
    coco_table: pt.Table, run: pt.Run, yolo: Path, store: Path, call: str, value: float
) -> None:
    calls = _parameter_calls(coco_table, run, yolo / "coco8-pose.yaml", store)
    argument = call.split(" ")[0]
    with pytest.raises((RunError, SchemaError, FormatError)) as caught:
        calls[call](value)
    text = str(caught.value)
    assert re.search(rf"{argument} must be .*got .*(nan|inf)", text), text
    assert len(coco_table.revisions()) == 1


# -- 10. COCOeval parameters against pycocotools ---------------------------------------------
@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real COCO excerpt (filled for pycocotools) and results with many predictions per
    image, so that maxDets and the recall sampling matter."""
    from tests._data import data_path

    tmp = tmp_path_factory.mktemp("crowded")
    doc = json.loads((data_path("coco_kpts") / "annotations.json").read_text())
    rng = np.random.default_rng(0)
    results = perturbed_results(doc, seed=3)
    extra = []
    for r in results:
        for _ in range(8):
            noisy = np.asarray(r["keypoints"]) + rng.normal(0, 4, len(r["keypoints"]))
            extra.append({**r, "keypoints": noisy.round(2).tolist(), "score": rng.uniform()})
    gt = write_json(tmp / "gt.json", fill_for_pycocotools(doc))
    return gt, write_json(tmp / "r.json", results + extra)


def _shim_and_reference(paths: tuple[Path, Path], changes: dict[str, Any]) -> tuple[Any, Any]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as Reference

    gt, res = paths
    out = []
    for make in (
        lambda: Reference(COCO(str(gt)), COCO(str(gt)).loadRes(str(res)), "keypoints"),
        lambda: COCOeval(str(gt), str(res), "keypoints"),
    ):
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = make()
            for key, value in changes.items():
                setattr(evaluator.params, key, copy.deepcopy(value))
            try:
                evaluator.evaluate()
                evaluator.accumulate()
                evaluator.summarize()
                out.append(evaluator)
            except Exception as exc:
                out.append(exc)
    return out[0], out[1]


SAME_AS_PYCOCOTOOLS: dict[str, dict[str, Any]] = {
    "iouThrs unsorted": {"iouThrs": np.array([0.75, 0.5, 0.95])},
    "iouThrs duplicated": {"iouThrs": np.array([0.5, 0.5, 0.75])},
    "iouThrs above 1": {"iouThrs": np.array([0.5, 1.5])},
    "iouThrs below 0": {"iouThrs": np.array([-0.1, 0.5])},
    "recThrs unsorted": {"recThrs": np.array([0.5, 0.0, 1.0, 0.1])},
    "recThrs empty": {"recThrs": np.array([])},
    "maxDets unsorted": {"maxDets": [20, 5]},
    "maxDets of three": {"maxDets": [1, 20, 3]},
    "maxDets without 20 (-1)": {"maxDets": [1, 10, 100]},
    "maxDets 0": {"maxDets": [0]},
    "areaRng lo > hi (-1)": {"areaRng": [[1e10, 0], [32**2, 96**2], [96**2, 1e10]]},
    "areaRng negative": {"areaRng": [[-5, 1e10], [32**2, 96**2], [96**2, 1e10]]},
    "areaRng two with two labels": {
        "areaRng": [[0, 1e10], [32**2, 96**2]],
        "areaRngLbl": ["all", "medium"],
    },
    "imgIds not in the ground truth (-1)": {"imgIds": [999999]},
    "imgIds partly unknown": {"imgIds": [785, 40083, 999999]},
    "imgIds empty (-1)": {"imgIds": []},
    "catIds empty (-1)": {"catIds": []},
    "catIds unknown (-1)": {"catIds": [99]},
    "catIds duplicated": {"catIds": [1, 1]},
}


@pytest.mark.parametrize("case", SAME_AS_PYCOCOTOOLS)
def test_shim_gives_pycocotools_answer_for_odd_params(crowded: tuple[Path, Path], case: str):
    reference, ours = _shim_and_reference(crowded, SAME_AS_PYCOCOTOOLS[case])
    assert not isinstance(reference, Exception), reference
    assert not isinstance(ours, Exception), ours
    np.testing.assert_array_equal(ours.stats, reference.stats)
    for key in ("precision", "recall", "scores"):
        np.testing.assert_array_equal(ours.eval[key], reference.eval[key])
    assert ours.params.maxDets == reference.params.maxDets
    assert list(ours.params.imgIds) == list(reference.params.imgIds)
    assert list(ours.params.catIds) == list(reference.params.catIds)


def test_shim_fills_image_and_category_ids_as_pycocotools_does(crowded: tuple[Path, Path]):
    from pycocotools.coco import COCO

    gt, res = crowded
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt))
    for source in (str(gt), coco):
        evaluator = COCOeval(source, str(res), "keypoints")
        assert evaluator.params.imgIds == sorted(coco.getImgIds())
        assert evaluator.params.catIds == sorted(coco.getCatIds())
    half = {"imgIds": sorted(coco.getImgIds())[:2]}  # slicing the filled list, as scripts do
    reference, ours = _shim_and_reference(crowded, half)
    np.testing.assert_array_equal(ours.stats, reference.stats)


CRASHES_IN_PYCOCOTOOLS: dict[str, tuple[dict[str, Any], str]] = {
    "iouThrs empty": ({"iouThrs": np.array([])}, "params.iouThrs is empty"),
    "maxDets empty": ({"maxDets": []}, "params.maxDets must be a non-empty list"),
    "maxDets fractional": ({"maxDets": [2.5]}, r"params.maxDets\[0\] must be a whole number"),
    "areaRng not pairs": ({"areaRng": [[0, 1e10, 5]]}, "params.areaRng must be"),
    "more areaRngLbl than areaRng": (
        {"areaRng": [[0, 1e10], [32**2, 96**2]]},
        "params.areaRngLbl names 3 area ranges but params.areaRng has 2",
    ),
}


@pytest.mark.parametrize("case", CRASHES_IN_PYCOCOTOOLS)
def test_shim_raises_our_error_where_pycocotools_crashes(crowded: tuple[Path, Path], case: str):
    changes, message = CRASHES_IN_PYCOCOTOOLS[case]
    reference, ours = _shim_and_reference(crowded, changes)
    assert isinstance(reference, Exception) and not isinstance(reference, EvaluationError)
    assert isinstance(ours, EvaluationError) and isinstance(ours, ValueError)
    assert re.search(message, str(ours)), str(ours)


ANSWERED_BY_ACCIDENT: dict[str, tuple[dict[str, Any], str]] = {
    "iouThrs NaN": (
        {"iouThrs": np.array([np.nan, 0.5])},
        r"params.iouThrs must be finite, got nan",
    ),
    "recThrs NaN": ({"recThrs": np.array([0.0, np.nan])}, r"params.recThrs must be finite"),
    "recThrs inf": (
        {"recThrs": np.array([0.0, np.inf])},
        r"params.recThrs must be finite, got inf",
    ),
    "areaRng NaN": (
        {"areaRng": [[0, np.nan], [32**2, 96**2], [96**2, 1e10]]},
        r"params.areaRng must be finite, got nan in areaRng\[0\]",
    ),
    "areaRng inf": (
        {"areaRng": [[0, np.inf], [32**2, 96**2], [96**2, 1e10]]},
        r"params.areaRng must be finite, got inf",
    ),
    "maxDets negative (slices from the end)": (
        {"maxDets": [-1]},
        r"params.maxDets\[0\] must be a whole number >= 0, got -1",
    ),
    "useCats 0 (0 everywhere)": ({"useCats": 0}, r"params.useCats=0 is not supported"),
}


@pytest.mark.parametrize("case", ANSWERED_BY_ACCIDENT)
def test_shim_refuses_what_pycocotools_answers_by_accident(crowded: tuple[Path, Path], case: str):
    changes, message = ANSWERED_BY_ACCIDENT[case]
    reference, ours = _shim_and_reference(crowded, changes)
    assert not isinstance(reference, Exception)  # pycocotools gives some numbers
    assert isinstance(ours, EvaluationError), ours
    assert re.search(message, str(ours)), str(ours)
