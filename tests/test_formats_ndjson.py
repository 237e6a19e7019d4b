"""Ultralytics NDJSON pose datasets: reading, writing back, bad input, Ultralytics' converter."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path

NDJSON = data_path("ndjson") / "coco8-pose.ndjson"
YOLO = data_path("coco8_pose_yolo") / "coco8-pose.yaml"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def _with(table: pt.Table, row: int, **changes: Any) -> pt.Table:
    """The table with row ``row``'s instances changed as given (the rest as they are)."""
    inst = table[row]["keypoints"]
    fields = {
        "keypoints": inst.keypoints,
        "keypoint_visibilities": inst.keypoint_visibilities,
        "instance_bbs": inst.instance_bbs,
        "instance_labels": inst.instance_labels,
        "instance_extras": inst.instance_extras,
    }
    fields.update(changes)
    return table.with_rows({row: {"keypoints": pt.Keypoints2DInstances(**fields)}})


def _quiet(call: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return call()


def test_records_become_rows_with_the_points_of_the_same_yolo_labels(store: Path) -> None:
    table = pt.Table.from_ndjson(NDJSON, name="n", store=store)
    assert len(table) == 4
    assert table.schema.keypoint_names[:3] == ("nose", "left_eye", "right_eye")
    assert table.schema.flip_indices[:3] == (0, 2, 1)
    assert tuple(table.schema.oks_sigmas) == tuple(pt.KeypointHelper.COCO_OKS_SIGMAS)
    splits = table.to_arrow(columns=["split"]).column("split").to_pylist()
    assert splits == ["train", "train", "val", "val"]
    yolo = {
        split: _quiet(lambda s=split: pt.Table.from_yolo(YOLO, split=s, name=s, store=store))
        for split in ("train", "val")
    }
    rows = [r for split in ("train", "val") for r in yolo[split]]
    for ours, theirs in zip(table, rows, strict=True):
        assert ours["image"] == theirs["image"]
        assert (ours["width"], ours["height"]) == (theirs["width"], theirs["height"])
        a, b = ours["keypoints"], theirs["keypoints"]
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.keypoint_visibilities, b.keypoint_visibilities)
        np.testing.assert_array_equal(a.instance_bbs, b.instance_bbs)


def test_an_edited_row_gets_a_new_record_and_the_others_come_back_as_written(
    store: Path, tmp_path: Path
) -> None:
    table = pt.Table.from_ndjson(NDJSON, name="n", store=store)
    row = table[2]["keypoints"]
    kp = row.keypoints.copy()
    kp[0, 0, 0] += 4.0
    edited = _with(table, 2, keypoints=kp)
    out = edited.export_ndjson(tmp_path / "out.ndjson")
    original = NDJSON.read_text().splitlines()
    written = out.read_text().splitlines()
    assert written[1:3] == original[1:3] and written[4:] == original[4:]
    before, after = json.loads(original[3]), json.loads(written[3])
    old_pose, new_pose = before["annotations"]["pose"][0], after["annotations"]["pose"][0]
    assert new_pose[5] == kp[0, 0, 0] / before["width"]
    assert new_pose[:5] == old_pose[:5] and new_pose[6:] == old_pose[6:]  # the file's numbers
    dataset = json.loads(written[0])
    assert (tmp_path / dataset["path"]).resolve() == data_path("coco8_pose_yolo").resolve()
    again = pt.Table.from_ndjson(out, name="again", store=store)
    np.testing.assert_allclose(again[2]["keypoints"].keypoints, kp, rtol=1e-12)


def test_a_table_from_another_format_gets_new_records_and_a_dataset_line(
    coco_table: pt.Table, store: Path, tmp_path: Path
) -> None:
    out = coco_table.export_ndjson(tmp_path / "coco.ndjson", split="val")
    records = _lines(out)
    assert records[0]["task"] == "pose" and records[0]["kpt_shape"] == [17, 3]
    assert records[0]["class_names"] == {"0": "person"}
    assert records[0]["kpt_names"]["0"][0] == "nose"
    assert {r["split"] for r in records[1:]} == {"val"}
    back = pt.Table.from_ndjson(
        out, name="back", store=store, image_folder=data_path("coco_kpts") / "images"
    )
    for a, b in zip(coco_table, back, strict=True):
        assert Path(b["image"]).name == Path(a["image"]).name
        ia, ib = a["keypoints"], b["keypoints"]
        np.testing.assert_array_equal(ib.keypoint_visibilities, ia.keypoint_visibilities)
        np.testing.assert_allclose(ib.keypoints, ia.keypoints, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ib.instance_bbs, ia.instance_bbs, rtol=1e-12, atol=1e-9)


def test_a_two_value_layout_refuses_visibility_one(store: Path, tmp_path: Path) -> None:
    records = _lines(NDJSON)
    records[0]["kpt_shape"] = [17, 2]
    for r in records[1:]:
        r["annotations"]["pose"] = [
            p[:5] + [v for j in range(17) for v in p[5 + 3 * j : 7 + 3 * j]]
            for p in r["annotations"]["pose"]
        ]
    path = _write(tmp_path / "two.ndjson", records)
    table = pt.Table.from_ndjson(path, name="two", store=store)
    vis = table[0]["keypoints"].keypoint_visibilities
    assert set(np.unique(vis)) <= {0, 2}
    out = table.export_ndjson(tmp_path / "again.ndjson")
    assert _lines(out)[1:] == records[1:]
    instances = table[0]["keypoints"]
    vis = instances.keypoint_visibilities.copy()
    vis[0, 0] = 1
    edited = _with(table, 0, keypoint_visibilities=vis)
    with pytest.raises(
        pt.errors.UnsupportedError, match=r"visibility 1, which kpt_shape \[17, 2\]"
    ):
        edited.export_ndjson(tmp_path / "no.ndjson")


def test_a_missing_kpt_shape_is_inferred_as_ultralytics_does(store: Path, tmp_path: Path) -> None:
    records = _lines(NDJSON)
    del records[0]["kpt_shape"], records[0]["kpt_names"], records[0]["flip_idx"]
    path = _write(tmp_path / "inferred.ndjson", records)
    with pytest.warns(pt.errors.PosetableWarning, match=r"no kpt_shape.*\[17, 3\], inferred"):
        table = pt.Table.from_ndjson(path, name="n", store=store)
    assert table.schema.num_keypoints == 17


def _pose(line: int, instance: int = 0) -> Any:
    return lambda r: r[line]["annotations"]["pose"][instance]


BAD_RECORDS = [
    pytest.param(
        lambda r: r[0].__setitem__("task", "detect"),
        r":1: the dataset's task is 'detect'",
        id="detect",
    ),
    pytest.param(
        lambda r: _pose(2)(r).pop(), r":3: pose annotation 0 must hold 56 numbers", id="short"
    ),
    pytest.param(
        lambda r: _pose(3)(r).__setitem__(0, 1.5),
        r":4: pose annotation class 1.5 is not a class id",
        id="class",
    ),
    pytest.param(
        lambda r: _pose(1)(r).__setitem__(7, 5),
        r":2: keypoint 0 visibility must be 0, 1 or 2, found 5",
        id="visibility",
    ),
    pytest.param(
        lambda r: _pose(1)(r).__setitem__(6, "x"),
        r":2: pose annotation 0 must hold numbers only",
        id="text",
    ),
    pytest.param(
        lambda r: r[4].__setitem__("width", -3),
        r":5: 'width' must be a positive whole number",
        id="width",
    ),
    pytest.param(
        lambda r: r[4].pop("split"), r":5: 'split' must be train, val or test", id="split"
    ),
    pytest.param(
        lambda r: r[0].__setitem__("kpt_shape", [17, 4]),
        r":1: 'kpt_shape' must be \[K, 2\] or \[K, 3\]",
        id="kpt-shape",
    ),
    pytest.param(lambda r: r[0].__setitem__("flip_idx", [0, 1]), r":1: 'flip_idx'", id="flip-idx"),
]


@pytest.mark.parametrize(("edit", "match"), BAD_RECORDS)
def test_bad_records_are_errors_naming_the_line(
    edit: Any, match: str, store: Path, tmp_path: Path
) -> None:
    records = _lines(NDJSON)
    edit(records)
    path = _write(tmp_path / "bad.ndjson", records)
    with pytest.raises((pt.errors.FormatError, pt.errors.UnsupportedError), match=match):
        pt.Table.from_ndjson(path, name="n", store=store)
    assert pt.list_tables(store=store) == []


def test_a_line_that_is_not_json_is_named(store: Path, tmp_path: Path) -> None:
    text = NDJSON.read_text().splitlines()
    text[2] = text[2][:40]
    path = tmp_path / "cut.ndjson"
    path.write_text("\n".join(text))
    with pytest.raises(pt.errors.FormatError, match=r"cut.ndjson:3: not valid JSON"):
        pt.Table.from_ndjson(path, name="n", store=store)


def test_cli_imports_and_exports_ndjson(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "ndjson", str(NDJSON), "--name", "n", "--store", str(store)]) == 0
    assert "4 images, 12 instances, K=17 -> n@1" in capsys.readouterr().out
    out = tmp_path / "out.ndjson"
    args = ["export", "ndjson", "n", str(out), "--image-mode", "symlink", "--store", str(store)]
    assert main(args) == 0
    assert out.read_text().splitlines()[1:] == NDJSON.read_text().splitlines()[1:]
    assert (tmp_path / "images" / "val" / "000000196141.jpg").is_symlink()
    assert _lines(out)[0]["path"] == "."


# -- Ultralytics' own converter ---------------------------------------------------------------
def _ultralytics_labels(
    ndjson: Path, out: Path
) -> tuple[Path, dict[int, tuple[str, list[list[float]]]]]:
    """Ultralytics' conversion: its data.yaml, and per record (named by its line number:
    the converter renames the files) the split folder and the label values."""
    converter = pytest.importorskip("ultralytics.data.converter")
    data_yaml = asyncio.run(converter.convert_ndjson_to_yolo(ndjson, output_path=out))
    labels = {}
    for path in sorted((data_yaml.parent / "labels").rglob("*.txt")):
        labels[int(path.stem)] = (
            path.parent.name,
            [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line],
        )
    return data_yaml, labels


@pytest.mark.integration
def test_ultralytics_converts_the_fixture_to_the_yolo_labels_it_came_from(tmp_path: Path) -> None:
    _, labels = _ultralytics_labels(NDJSON, tmp_path / "converted")
    records = _lines(NDJSON)[1:]
    for index, record in enumerate(records, 1):
        stem = Path(record["file"]).stem
        source = data_path("coco8_pose_yolo") / "labels" / record["split"] / f"{stem}.txt"
        expected = [[float(v) for v in line.split()] for line in source.read_text().splitlines()]
        assert labels[index] == (record["split"], expected)


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::posetable.errors.PosetableWarning")
def test_ultralytics_reads_our_export_as_posetable_exports_yolo(
    coco_table: pt.Table, store: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ultralytics")
    out = coco_table.export_ndjson(tmp_path / "export" / "coco.ndjson", image_mode="copy")
    data_yaml, labels = _ultralytics_labels(out, tmp_path / "converted")
    coco_table.export_yolo(tmp_path / "yolo", image_mode="none")
    ours = {}
    for path in sorted((tmp_path / "yolo" / "labels").rglob("*.txt")):
        ours[path.stem] = [
            [float(v) for v in line.split()] for line in path.read_text().splitlines()
        ]
    records = _lines(out)[1:]
    assert len(labels) == len(records) == len(coco_table)
    for index, record in enumerate(records, 1):
        theirs = np.array(labels[index][1] or np.zeros((0, 56)))
        mine = np.array(ours.get(Path(record["file"]).stem) or np.zeros((0, 56)))
        np.testing.assert_allclose(theirs, mine, atol=5e-7)  # YOLO labels have 6 decimals
    splits = {split for split, _ in labels.values()}  # no val split: Ultralytics makes one
    found = sum(
        len(r["keypoints"].keypoints)
        for split in splits
        for r in pt.Table.from_yolo(data_yaml, split=split, name=split, store=store)
    )
    assert found == sum(len(v) for v in ours.values())
