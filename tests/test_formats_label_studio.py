"""Label Studio JSON exports with KeyPointLabels: reading, writing back, bad input, tools."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path

SLEAP = data_path("label_studio") / "sleap_io" / "multi_animal_from_dlc.json"
SDK = data_path("label_studio") / "sdk_yolo_keypoints"
SDK_COCO = data_path("label_studio") / "sdk_coco"


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _quiet(call: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return call()


def _results(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in task["annotations"][0]["result"] if "id" in r}


def test_keypoints_attach_to_rectangles_through_relations_and_the_rest_form_one_instance(
    store: Path,
) -> None:
    with pytest.warns(pt.errors.PosetableWarning) as caught:
        table = pt.Table.from_label_studio(SLEAP, name="ls", store=store)
    text = str(caught[0].message)
    assert "order they first appear" in text and "without a parent rectangle" in text
    tasks = _load(SLEAP)
    names = table.schema.keypoint_names
    assert names[:2] == ("moth_nose", "nest") and "pup_tailbase" in names
    assert table.schema.classes == ("pup1", "pup2")
    row = table[0]
    assert (row["width"], row["height"]) == (1280, 720)
    instances = row["keypoints"]
    assert list(instances.instance_extras["region_id"]) == ["ev6yz1X3RZ", "Rht5adycte", ""]
    results = _results(tasks[0])
    snout = results["m9sSyh84t1"]["value"]  # pup_snout, related to rectangle ev6yz1X3RZ
    j = names.index("pup_snout")
    assert instances.keypoints[0, j].tolist() == [snout["x"] * 1280 / 100, snout["y"] * 720 / 100]
    # pup2 (Rht5adycte) has no tailbase: v=0; the moth points have no parent rectangle
    assert instances.keypoint_visibilities[1, names.index("pup_tailbase")] == 0
    assert instances.keypoint_visibilities[2, names.index("moth_nose")] == 2
    box = results["ev6yz1X3RZ"]["value"]
    assert instances.instance_bbs[0].tolist() == [
        box["x"] * 1280 / 100,
        box["y"] * 720 / 100,
        (box["x"] + box["width"]) * 1280 / 100,
        (box["y"] + box["height"]) * 720 / 100,
    ]
    assert [instances.instance_labels[i] for i in range(2)] == [0, 1]


def test_parent_ids_and_the_label_config_order_the_keypoints(store: Path) -> None:
    table = pt.Table.from_label_studio(
        SDK / "data_keypoints.json",
        name="ls",
        store=store,
        label_config=SDK / "label_config_keypoints.xml",
    )
    assert table.schema.keypoint_names[:3] == ("nose", "left_eye", "right_eye")
    assert table.schema.num_keypoints == 17 and table.schema.classes == ("person",)
    instances = table[0]["keypoints"]
    assert instances.keypoint_visibilities[0].tolist() == [2, 2, 2] + [0] * 14
    nose = _results(_load(SDK / "data_keypoints.json")[0])["YuLAREYKpq"]["value"]
    assert instances.keypoints[0, 0].tolist() == [nose["x"] * 216 / 100, nose["y"] * 174 / 100]


def test_a_rectangle_without_keypoints_and_keypoints_without_one_are_two_instances(
    store: Path,
) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match="1 task has keypoints without a parent"):
        table = pt.Table.from_label_studio(
            SDK_COCO / "data.json",
            name="ls",
            store=store,
            label_config=SDK_COCO / "label_config.xml",
        )
    instances = table[0]["keypoints"]
    assert list(instances.instance_extras["region_id"]) == ["G1wj68-AlF", ""]
    assert instances.keypoint_visibilities.tolist() == [[0, 0], [2, 2]]


def test_export_writes_edits_into_the_tasks_and_keeps_everything_else(
    store: Path, tmp_path: Path
) -> None:
    table = _quiet(lambda: pt.Table.from_label_studio(SLEAP, name="ls", store=store))
    names = table.schema.keypoint_names
    row = table[0]["keypoints"]
    kp, vis = row.keypoints.copy(), row.keypoint_visibilities.copy()
    j = names.index("pup_neck")
    kp[0, j, 0] += 10.0  # move one point of pup1 to the right
    vis[0, names.index("pup_body")] = 1  # mark one labeled but not visible
    keep = [0, 2]  # delete pup2 (Rht5adycte) and its points
    extras = {"region_id": row.instance_extras["region_id"][keep]}
    edited = table.with_rows({0: {"keypoints": pt.Keypoints2DInstances(
        keypoints=kp[keep], keypoint_visibilities=vis[keep], instance_bbs=row.instance_bbs[keep],
        instance_labels=row.instance_labels[keep], instance_extras=extras)}})  # fmt: skip
    out = edited.export_label_studio(tmp_path / "out.json")
    original, written = _load(SLEAP), _load(out)
    assert written[1] == original[1]  # an untouched task comes back as it was
    before, after = _results(original[0]), _results(written[0])
    moved = after["u53ig21o7N"]["value"]  # pup_neck of pup1
    assert moved["x"] == kp[0, j, 0] * 100 / 1280
    assert moved["y"] == before["u53ig21o7N"]["value"]["y"]  # unchanged: the file's own float
    assert after["MevxE5HAXM"]["value"]["hidden"] is True
    for gone in ("Rht5adycte", "YKrxOrl5it", "Dx0t6ezFHp", "ZkoTfFi6-Y"):
        assert gone not in after
    relations = [r for r in written[0]["annotations"][0]["result"] if r["type"] == "relation"]
    assert all(r["to_id"] != "Rht5adycte" for r in relations) and len(relations) == 4
    assert {k: v for k, v in original[0].items() if k != "annotations"} == {
        k: v for k, v in written[0].items() if k != "annotations"
    }
    again = _quiet(
        lambda: pt.Table.from_label_studio(out, name="again", store=store, keypoint_names=names)
    )
    back = again[0]["keypoints"]
    np.testing.assert_array_equal(back.keypoint_visibilities, vis[keep])
    labeled = vis[keep] > 0
    np.testing.assert_allclose(back.keypoints[labeled], kp[keep][labeled], rtol=1e-12)


def test_a_new_instance_gets_a_rectangle_and_points_with_its_parent_id(
    store: Path, tmp_path: Path
) -> None:
    table = pt.Table.from_label_studio(
        SDK / "data_keypoints.json", name="ls", store=store,
        label_config=SDK / "label_config_keypoints.xml")  # fmt: skip
    row = table[0]["keypoints"]
    kp = np.concatenate([row.keypoints, row.keypoints + 5.0])
    vis = np.concatenate([row.keypoint_visibilities, row.keypoint_visibilities])
    boxes = np.concatenate([row.instance_bbs, row.instance_bbs + 5.0])
    # a region id that names no rectangle of the task is a new instance
    extras = {"region_id": np.array([row.instance_extras["region_id"][0], "new"], dtype=object)}
    edited = table.with_rows({0: {"keypoints": pt.Keypoints2DInstances(
        keypoints=kp, keypoint_visibilities=vis, instance_bbs=boxes,
        instance_labels=np.zeros(2, np.int32), instance_extras=extras)}})  # fmt: skip
    out = edited.export_label_studio(tmp_path / "out.json", label_config=tmp_path / "config.xml")
    results = _load(out)[0]["annotations"][0]["result"]
    new = [r for r in results if str(r.get("id", "")).startswith("posetable-")]
    rect = [r for r in new if r["type"] == "rectanglelabels"]
    points = [r for r in new if r["type"] == "keypointlabels"]
    assert len(rect) == 1 and rect[0]["value"]["rectanglelabels"] == ["person"]
    assert len(points) == 3 and {p["parentID"] for p in points} == {rect[0]["id"]}
    assert [p["value"]["keypointlabels"][0] for p in points] == ["nose", "left_eye", "right_eye"]
    assert len({r["id"] for r in results if "id" in r}) == len([r for r in results if "id" in r])
    config = (tmp_path / "config.xml").read_text()
    assert '<Label value="nose" model_index="0"/>' in config
    again = pt.Table.from_label_studio(
        out, name="again", store=store, label_config=tmp_path / "config.xml"
    )
    np.testing.assert_allclose(again[0]["keypoints"].keypoints[1, :3], kp[1, :3], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::posetable.errors.PosetableWarning")
def test_coco_to_label_studio_to_coco_gives_the_labels_back(
    coco_table: pt.Table, store: Path, tmp_path: Path
) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match="no skeleton: the table's 19 lines"):
        out = coco_table.export_label_studio(tmp_path / "ls.json", label_config=tmp_path / "c.xml")
    back = pt.Table.from_label_studio(
        out, name="back", store=store, label_config=tmp_path / "c.xml"
    )
    assert back.schema.keypoint_names == coco_table.schema.keypoint_names
    for a, b in zip(coco_table, back, strict=True):
        ia, ib = a["keypoints"], b["keypoints"]
        assert (b["width"], b["height"], b["image"]) == (a["width"], a["height"], a["image"])
        labeled = ia.keypoint_visibilities > 0
        np.testing.assert_array_equal(ib.keypoint_visibilities, ia.keypoint_visibilities)
        np.testing.assert_allclose(ib.keypoints[labeled], ia.keypoints[labeled], rtol=1e-12)
        np.testing.assert_allclose(ib.instance_bbs, ia.instance_bbs, rtol=1e-12)


BAD_TASKS = [
    pytest.param(
        lambda r: r[9].__setitem__("parentID", "nope"),
        r"task 10526: keypoint 'm9sSyh84t1' has parentID 'nope'",
        id="parent-id-of-no-rectangle",
    ),
    pytest.param(
        lambda r: r[10]["value"].__setitem__("keypointlabels", ["pup_snout"]),
        r"task 10526: two 'pup_snout' keypoints with rectangle 'ev6yz1X3RZ'",
        id="one-name-twice-in-an-instance",
    ),
    pytest.param(
        lambda r: r[1]["value"].__setitem__("keypointlabels", ["moth_nose"]),
        r"two 'moth_nose' keypoints with no parent rectangle",
        id="one-name-twice-unparented",
    ),
    pytest.param(
        lambda r: r[2]["value"].pop("x"),
        r"keypoint 'M2TQbW0iAJ' needs numbers value.x and value.y",
        id="no-x",
    ),
    pytest.param(
        lambda r: r[2]["value"].__setitem__("keypointlabels", []),
        r"keypoint 'M2TQbW0iAJ' has no label",
        id="no-label",
    ),
]


@pytest.mark.parametrize(("edit", "match"), BAD_TASKS)
def test_bad_tasks_are_errors_naming_task_and_result(
    edit: Any, match: str, store: Path, tmp_path: Path
) -> None:
    tasks = _load(SLEAP)
    edit(tasks[0]["annotations"][0]["result"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(pt.errors.FormatError, match=match):
        _quiet(lambda: pt.Table.from_label_studio(path, name="ls", store=store))
    assert pt.list_tables(store=store) == []


def test_a_label_that_is_not_a_keypoint_name_is_an_error(store: Path) -> None:
    with pytest.raises(pt.errors.FormatError, match=r"labeled 'moth_nose', which is not one of"):
        pt.Table.from_label_studio(SLEAP, name="ls", store=store, keypoint_names=["pup_snout"])


def test_files_that_are_not_label_studio_exports_name_the_line(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"data": {"image": "a.jpg"},\n  "annotations": [}\n]')
    with pytest.raises(pt.errors.FormatError, match=r"broken.json:3: not valid JSON"):
        pt.Table.from_label_studio(path, name="ls", store=store)
    path.write_text('"just text"')
    with pytest.raises(pt.errors.FormatError, match=r"a list of tasks"):
        pt.Table.from_label_studio(path, name="ls", store=store)


def test_a_task_without_results_needs_an_image_size(store: Path, tmp_path: Path) -> None:
    tasks = _load(SDK / "data_keypoints.json")
    tasks.append({"id": 99, "data": {"image": "/data/upload/18/none.jpg"}, "annotations": []})
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    config = SDK / "label_config_keypoints.xml"
    with pytest.raises(FileNotFoundError, match=r"task 99.*image_size"):
        pt.Table.from_label_studio(path, name="ls", store=store, label_config=config)
    with pytest.warns(pt.errors.PosetableWarning, match="the image_size given, 320x240"):
        table = pt.Table.from_label_studio(
            path, name="ls", store=store, label_config=config, image_size=(320, 240)
        )
    assert (table[1]["width"], len(table[1]["keypoints"].keypoints)) == (320, 0)


def test_images_are_found_by_base_name_under_an_image_folder(store: Path, tmp_path: Path) -> None:
    shutil.copy(data_path("coco_kpts") / "images" / "000000000785.jpg", tmp_path / "image1.jpg")
    table = pt.Table.from_label_studio(
        SDK / "data_keypoints.json", name="ls", store=store, image_folder=tmp_path,
        label_config=SDK / "label_config_keypoints.xml")  # fmt: skip
    assert table[0]["image"] == str(tmp_path / "image1.jpg")


def test_cli_imports_and_exports_label_studio(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(SDK / "label_config_keypoints.xml")
    args = ["import", "label-studio", str(SDK / "data_keypoints.json"), "--name", "ls"]
    args += ["--label-config", config, "--store", str(store)]
    assert main(args) == 0
    assert "1 images, 1 instances, K=17 -> ls@1" in capsys.readouterr().out
    out = tmp_path / "out.json"
    assert main(["export", "label-studio", "ls", str(out), "--store", str(store)]) == 0
    assert _load(out) == _load(SDK / "data_keypoints.json")
    assert main(["import", "label-studio", str(SLEAP), "--name", "s", "--store", str(store)]) == 0
    assert "note: " in capsys.readouterr().err


# -- sleap-io, the SLEAP team's Label Studio reader and writer ---------------------------------
@pytest.mark.integration
def test_sleap_io_reads_the_same_points_from_the_fixture(store: Path) -> None:
    labelstudio = pytest.importorskip("sleap_io.io.labelstudio")
    sio = pytest.importorskip("sleap_io")
    table = _quiet(lambda: pt.Table.from_label_studio(SLEAP, name="ls", store=store))
    names = list(table.schema.keypoint_names)
    tasks = _load(SLEAP)
    for task in tasks:  # sleap-io finds the frame in meta.video, which this export lacks
        task["meta"]["video"] = {"filename": task["data"]["image"], "frame_idx": 0, "shape": None}
    labels = labelstudio.parse_tasks(tasks, sio.Skeleton(names))
    for frame, row in zip(labels.labeled_frames, table, strict=True):
        ours = row["keypoints"]
        theirs = np.stack([inst.numpy() for inst in frame.instances])
        assert theirs.shape == ours.keypoints.shape
        mine = np.where((ours.keypoint_visibilities > 0)[..., None], ours.keypoints, np.nan)
        np.testing.assert_array_equal(theirs, mine)


@pytest.mark.integration
def test_label_studio_files_that_sleap_io_writes_are_read(store: Path, tmp_path: Path) -> None:
    sio = pytest.importorskip("sleap_io")
    csv = data_path("dlc") / "multi_mouse/labeled-data/m3v1mp4short/CollectedData_dlc_team.csv"
    labels = sio.load_dlc(str(csv))
    path = tmp_path / "from_sleap_io.json"
    sio.save_labelstudio(labels, str(path))
    names = list(labels.skeletons[0].node_names)
    table = pt.Table.from_label_studio(path, name="ls", store=store, keypoint_names=names)
    again = sio.load_labelstudio(str(path), skeleton=labels.skeletons[0])
    assert len(table) == len(again.labeled_frames) == 5
    for frame, row in zip(again.labeled_frames, table, strict=True):
        ours = row["keypoints"]
        theirs = np.stack([inst.numpy() for inst in frame.instances])
        mine = np.where((ours.keypoint_visibilities > 0)[..., None], ours.keypoints, np.nan)
        np.testing.assert_array_equal(theirs, mine)
        assert row["image"].endswith(".png")


def test_renamed_keypoints_keep_their_result_ids(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_label_studio(
        SDK / "data_keypoints.json",
        name="ls",
        store=store,
        label_config=SDK / "label_config_keypoints.xml",
    )
    out = table.rename_keypoints({"nose": "snout"}).export_label_studio(tmp_path / "out.json")
    results = _results(_load(out)[0])
    assert results["YuLAREYKpq"]["value"]["keypointlabels"] == ["snout"]
    original = _results(_load(SDK / "data_keypoints.json")[0])["YuLAREYKpq"]["value"]
    assert (results["YuLAREYKpq"]["value"]["x"], results["YuLAREYKpq"]["value"]["y"]) == (
        original["x"],
        original["y"],
    )
