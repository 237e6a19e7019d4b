"""COCO-WholeBody's part fields as one K=133 keypoint set (``merge_parts=True``), and Halpe-136.

The real files: mmpose's COCO-WholeBody excerpt (``coco_wholebody``) and Halpe excerpt
(``halpe/test_halpe.json``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.formats._coco_parts import WHOLEBODY_PARTS
from tests._data import data_path

PARTS = ["keypoints"] + [field for field, _ in WHOLEBODY_PARTS]


def _wholebody() -> Path:
    return data_path("coco_wholebody") / "annotations.json"


def _merged(store: Path, name: str = "wb") -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return pt.Table.from_coco(_wholebody(), name=name, store=store, merge_parts=True)


def _people(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    ids = {c["id"] for c in data["categories"] if c.get("keypoints") is not None}
    return [a for a in data["annotations"] if a["category_id"] in ids]


def test_merge_parts_reads_the_parts_after_the_body_in_the_official_order(store: Path) -> None:
    table = _merged(store)
    assert table.schema.num_keypoints == 17 + 6 + 68 + 21 + 21
    names = table.schema.keypoint_names
    category = json.loads(_wholebody().read_text())["categories"][0]
    assert names[:17] == tuple(category["keypoints"])
    assert (
        names[17] == "left_big_toe" and names[23] == "face-0" and names[-1] == "right_pinky_finger4"
    )
    people = {a["id"]: a for a in _people(_wholebody())}
    seen = 0
    for row in table:
        instances = row["keypoints"]
        for t, ident in enumerate(instances.instance_extras["id"]):
            ann = people[int(ident)]
            flat = np.concatenate([np.asarray(ann[f], float).reshape(-1, 3) for f in PARTS])
            np.testing.assert_array_equal(instances.keypoints[t], flat[:, :2])
            given = flat[:, 2]
            vis = instances.keypoint_visibilities[t]
            np.testing.assert_array_equal(vis > 0, given > 0)  # scores in (0, 2) are visible
            exact = np.isin(given, (0, 1, 2))
            np.testing.assert_array_equal(vis[exact], given[exact])
            for part in ("face", "lefthand", "righthand"):
                assert instances.instance_extras[f"{part}_valid"][t] == ann[f"{part}_valid"]
                assert list(instances.instance_extras[f"{part}_box"][t]) == ann[f"{part}_box"]
            assert instances.instance_extras["foot_valid"][t] == ann["foot_valid"]
            seen += 1
    assert seen == len(people) == 14


def test_merged_sigmas_are_coco_wholebody_s_with_coco_s_for_the_body(store: Path) -> None:
    table = _merged(store)
    sigmas = np.asarray(table.schema.oks_sigmas)
    np.testing.assert_allclose(sigmas[:17], pt.KeypointHelper.COCO_OKS_SIGMAS)
    assert len(sigmas) == 133 and (sigmas > 0).all()
    flip = table.schema.flip_indices
    assert all(flip[flip[i]] == i for i in range(133))
    names = table.schema.keypoint_names
    assert names[flip[names.index("left_big_toe")]] == "right_big_toe"


def test_merged_table_exports_the_file_it_came_from(store: Path, tmp_path: Path) -> None:
    out = _merged(store).export_coco(tmp_path / "out.json")
    assert orjson.dumps(json.loads(out.read_text())) == orjson.dumps(
        json.loads(_wholebody().read_text())
    )  # same values, number types and key order


def test_hand_scores_in_place_of_visibility_are_named_and_written_back(
    store: Path, tmp_path: Path
) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match=r"42 points in 'righthand_kpts' carry"):
        table = pt.Table.from_coco(_wholebody(), name="wb", store=store, merge_parts=True)
    written = _people(table.export_coco(tmp_path / "out.json"))
    original = _people(_wholebody())
    assert [a["righthand_kpts"] for a in written] == [a["righthand_kpts"] for a in original]


def test_an_edited_hand_point_goes_back_into_its_part_field(store: Path, tmp_path: Path) -> None:
    table = _merged(store)
    names = table.schema.keypoint_names
    j = names.index("left_hand_root")
    row = next(r for r in range(len(table)) if len(table[r]["keypoints"].keypoints))
    instances = table[row]["keypoints"]
    points = instances.keypoints.copy()
    vis = instances.keypoint_visibilities.copy()
    points[0, j] = (12.5, 34.0)
    vis[0, j] = 2
    changed = pt.Keypoints2DInstances(
        keypoints=points,
        keypoint_visibilities=vis,
        instance_bbs=instances.instance_bbs,
        instance_labels=instances.instance_labels,
        instance_extras=instances.instance_extras,
    )
    edited = table.with_rows({row: {"keypoints": changed}})
    written = {a["id"]: a for a in _people(edited.export_coco(tmp_path / "out.json"))}
    ann = written[int(instances.instance_extras["id"][0])]
    start = names.index("left_hand_root") - 17 - 6 - 68
    assert ann["lefthand_kpts"][3 * start : 3 * start + 3] == [12.5, 34, 2]
    assert len(ann["keypoints"]) == 51 and len(ann["lefthand_kpts"]) == 63


def test_without_merge_parts_the_parts_stay_extra_fields(store: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        table = pt.Table.from_coco(_wholebody(), name="wb", store=store)
    assert table.schema.num_keypoints == 17
    extras = next(r["keypoints"] for r in table if len(r["keypoints"].keypoints)).instance_extras
    assert "face_kpts" in json.loads(extras["coco_fields"][0]) and "face_valid" not in extras


def test_merge_parts_on_a_file_without_parts_is_an_error_and_writes_nothing(store: Path) -> None:
    coco = data_path("coco_kpts") / "annotations.json"
    with pytest.raises(pt.errors.FormatError, match=r"annotations.json:\d+: .*no 'foot_kpts'"):
        pt.Table.from_coco(coco, name="c", store=store, merge_parts=True)
    assert pt.list_tables(store=store) == []


def test_merge_parts_needs_coco_s_17_body_keypoints(store: Path) -> None:
    crowd = data_path("crowdpose") / "annotations.json"
    with pytest.raises(pt.errors.FormatError, match=r"no keypoint category has those 17 names"):
        pt.Table.from_coco(crowd, name="c", store=store, merge_parts=True)


def test_a_part_of_the_wrong_length_names_the_annotation_and_line(
    store: Path, tmp_path: Path
) -> None:
    text = _wholebody().read_text()
    data = json.loads(text)
    data["annotations"][2]["face_kpts"] = data["annotations"][2]["face_kpts"][:-3]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data, indent=1))
    ident = data["annotations"][2]["id"]
    expected = rf"broken.json:\d+: annotation id {ident} .*'face_kpts' must hold 3 x 68 = 204.*201"
    with pytest.raises(pt.errors.FormatError, match=expected):
        pt.Table.from_coco(broken, name="c", store=store, merge_parts=True)
    assert pt.list_tables(store=store) == []


def test_halpe_file_imports_with_its_136_names_and_round_trips(store: Path, tmp_path: Path) -> None:
    path = data_path("halpe") / "test_halpe.json"
    with pytest.warns(pt.errors.PosetableWarning, match=r"lists no keypoint names.*136 points"):
        table = pt.Table.from_coco(path, name="halpe", store=store)
    schema = table.schema
    assert schema.num_keypoints == 136
    assert schema.keypoint_names[17:20] == ("head", "neck", "hip")
    flip = schema.flip_indices
    assert len(schema.lines) > 0 and all(flip[j] == i for i, j in enumerate(flip))
    first = np.asarray(_people(path)[0]["keypoints"], float).reshape(-1, 3)
    np.testing.assert_array_equal(table[0]["keypoints"].keypoints[0], first[:, :2])
    out = table.export_coco(tmp_path / "out.json")
    assert orjson.dumps(json.loads(out.read_text())) == orjson.dumps(json.loads(path.read_text()))
    assert json.loads(out.read_text())["categories"][0]["keypoints"] == []  # as the file had it
