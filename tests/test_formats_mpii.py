"""MPII reader (the official ``.mat`` and mmpose's JSON) and writer (mmpose's JSON).

The real file is mmpose's ``tests/data/mpii/test_mpii.json`` with its 5 images. No small real
``.mat`` exists publicly, so the ``.mat`` tests write the official ``RELEASE`` layout with
scipy from that file's values (and the quirks of the real file: ``is_visible`` as numbers,
as text and empty; a test person with only ``scale`` and ``objpos``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path


def _json() -> Path:
    return data_path("mpii") / "test_mpii.json"


def _people() -> list[dict]:
    return json.loads(_json().read_text())


def test_each_person_is_an_instance_of_its_image_with_16_joints(store: Path) -> None:
    table = pt.Table.from_mpii(_json(), name="mpii", store=store)
    people = _people()
    assert len(table) == len(people)  # one person per image in this file
    assert table.schema.num_keypoints == 16
    assert table.schema.keypoint_names[0] == "right_ankle"
    assert table.schema.keypoint_names[15] == "left_wrist"
    for row, person in zip(table, people, strict=True):
        assert row["image"] == str(data_path("mpii") / person["image"])
        instances = row["keypoints"]
        np.testing.assert_array_equal(instances.keypoints[0], np.asarray(person["joints"]))
        expected = np.where(np.asarray(person["joints_vis"]) > 0, 2, 0)
        np.testing.assert_array_equal(instances.keypoint_visibilities[0], expected)
        assert instances.instance_extras["scale"][0] == person["scale"]
        assert list(instances.instance_extras["center"][0]) == person["center"]
    sizes = {(r["width"], r["height"]) for r in table}
    assert sizes == {(1280, 720), (854, 480)}  # from the JPEG headers


def test_mpii_has_no_sigmas_unless_given_and_check_says_how_to_get_them(store: Path) -> None:
    table = pt.Table.from_mpii(_json(), name="mpii", store=store)
    assert not table.schema.oks_sigmas_given  # MPII publishes none (mmpose's: COCO's, moved)
    assert table.schema.oks_sigmas == (1 / 16,) * 16
    assert table.schema.oks_sigmas_source == "uniform 1/K"
    found = [f for f in pt.check(table).to_pylist() if f["rule"] == "sigmas_missing"]
    assert len(found) == 1 and "pt.estimate_sigmas(table_a, table_b)" in found[0]["message"]
    sigmas = [0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.1, 0.05, 0.05, 0.05, 0.062, 0.072,
              0.079, 0.079, 0.072, 0.062]  # fmt: skip
    given = pt.Table.from_mpii(_json(), name="given", store=store, oks_sigmas=sigmas)
    assert given.schema.oks_sigmas == tuple(sigmas) and given.schema.oks_sigmas_source == "user"
    assert given.info.arguments["oks_sigmas"] == sigmas
    assert not [f for f in pt.check(given).to_pylist() if f["rule"] == "sigmas_missing"]
    with pytest.raises(pt.errors.SchemaError, match="16"):
        pt.Table.from_mpii(_json(), name="bad", store=store, oks_sigmas=sigmas[:15])
    assert pt.list_tables(store=store) == ["given", "mpii"]


def test_the_json_comes_back_byte_for_byte(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_mpii(_json(), name="mpii", store=store)
    out = table.export_mpii(tmp_path / "out.json")
    assert out.read_bytes() == _json().read_bytes()


def test_people_of_one_image_share_its_row_in_first_appearance_order(
    store: Path, tmp_path: Path
) -> None:
    people = _people()
    doubled = [people[1], people[0], {**people[0], "scale": 1.5}, people[2]]
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(doubled, indent=4) + "\n")
    table = pt.Table.from_mpii(path, name="m", store=store, image_folder=data_path("mpii"))
    assert [Path(r["image"]).name for r in table] == [
        people[1]["image"],
        people[0]["image"],
        people[2]["image"],
    ]
    assert table[1]["keypoints"].instance_extras["scale"].tolist() == [people[0]["scale"], 1.5]
    assert table.export_mpii(tmp_path / "out.json").read_bytes() == path.read_bytes()


def test_missing_images_need_a_folder_or_a_size(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "mpii.json"
    path.write_bytes(_json().read_bytes())
    with pytest.raises(FileNotFoundError, match=r"5 of 5 images do not exist.*image_size"):
        pt.Table.from_mpii(path, name="m", store=store)
    assert pt.list_tables(store=store) == []
    with pytest.warns(pt.errors.PosetableWarning, match="5 of 5 images are not at hand"):
        table = pt.Table.from_mpii(path, name="m", store=store, image_size=(640, 480))
    assert {(r["width"], r["height"]) for r in table} == {(640, 480)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p[2].update(joints=p[2]["joints"][:-1]), r"record 2 .*'joints' must hold 32"),
        (lambda p: p[1]["joints_vis"].__setitem__(3, 2), r"record 1 .*joints_vis must be 0 or 1"),
        (lambda p: p[0].pop("image"), r"record 0 has no 'image'"),
    ],
)
def test_a_malformed_json_names_the_record(
    change, message: str, store: Path, tmp_path: Path
) -> None:
    people = _people()
    change(people)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(people))
    with pytest.raises(pt.errors.FormatError, match=message):
        pt.Table.from_mpii(path, name="m", store=store, image_folder=data_path("mpii"))
    assert pt.list_tables(store=store) == []


def test_export_refuses_mat_and_other_keypoint_layouts(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_mpii(_json(), name="mpii", store=store)
    with pytest.raises(pt.errors.UnsupportedError, match=r"writing MPII's \.mat is not supported"):
        table.export_mpii(tmp_path / "out.mat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        coco = pt.Table.from_coco(
            data_path("coco_kpts") / "annotations.json", name="c", store=store
        )
    with pytest.raises(pt.errors.UnsupportedError, match=r"MPII's 16 joints.*K=17"):
        coco.export_mpii(tmp_path / "out.json")
    assert not list(tmp_path.glob("out.*"))


def test_mpii_to_coco_to_mpii_gives_the_labels_back(store: Path, tmp_path: Path) -> None:
    table = pt.Table.from_mpii(_json(), name="mpii", store=store)
    coco_file = table.export_coco(tmp_path / "coco.json")
    with pytest.warns(pt.errors.PosetableWarning, match="uniform 1/K"):  # COCO has no sigmas
        coco = pt.Table.from_coco(coco_file, data_path("mpii"), name="coco", store=store)
    assert coco.schema.keypoint_names == table.schema.keypoint_names
    back = json.loads(coco.export_mpii(tmp_path / "back.json").read_text())
    people = _people()
    assert [p["joints"] for p in back] == [p["joints"] for p in people]
    assert [p["joints_vis"] for p in back] == [p["joints_vis"] for p in people]
    assert [p["image"] for p in back] == [p["image"] for p in people]


def test_cli_imports_and_exports_mpii(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "mpii", str(_json()), "--name", "m", "--store", str(store)]) == 0
    assert "5 images, 5 instances, K=16 -> m@1" in capsys.readouterr().out
    assert main(["export", "mpii", "m", str(tmp_path / "o.json"), "--store", str(store)]) == 0
    assert (tmp_path / "o.json").read_bytes() == _json().read_bytes()


# -- the official .mat layout -----------------------------------------------------------------
def _structs(records: list[dict]) -> np.ndarray:
    """A 1xN MATLAB struct array (scipy writes a structured array of objects as one)."""
    keys = list(records[0])
    out = np.zeros((1, len(records)), dtype=[(k, object) for k in keys])
    for i, record in enumerate(records):
        for key in keys:
            out[0, i][key] = record[key]
    return out


def _visibility(person: int, joint: int) -> object:
    """Three ways the real file writes is_visible: numbers, text, and empty."""
    if person == 0:
        return float(joint % 2)  # 0 -> occluded (v=1), 1 -> visible
    if person == 1:
        return str(joint % 2)
    if person == 2 and joint < 3:
        return np.zeros((0, 0))
    return 1.0


def _write_release(path: Path) -> list[dict]:
    scipy_io = pytest.importorskip("scipy.io")
    people = _people()
    annolist, single = [], []
    for p, person in enumerate(people):
        joints = np.asarray(person["joints"])
        points = [
            {"id": float(j), "x": joints[j, 0], "y": joints[j, 1], "is_visible": _visibility(p, j)}
            for j in range(16)
            if person["joints_vis"][j]
        ]
        head = joints[[8, 9]]
        rect = {
            "x1": head[:, 0].min(),
            "y1": head[:, 1].min(),
            "x2": head[:, 0].max(),
            "y2": head[:, 1].max(),
            "annopoints": {"point": _structs(points)},
            "scale": person["scale"],
            "objpos": {"x": person["center"][0], "y": person["center"][1]},
        }
        annolist.append(
            {
                "image": {"name": person["image"]},
                "annorect": _structs([rect]),
                "frame_sec": float(10 + p),
                "vididx": float(p + 1),
            }
        )
        single.append(np.array([[1.0]]))
    test_rect = {"scale": 3.25, "objpos": {"x": 100.0, "y": 200.0}}  # a test person: no points
    annolist.append(
        {
            "image": {"name": people[0]["image"]},
            "annorect": _structs([test_rect]),
            "frame_sec": np.zeros((0, 0)),
            "vididx": np.zeros((0, 0)),
        }
    )
    single.append(np.zeros((0, 0)))
    cells = np.empty((len(single), 1), dtype=object)
    cells[:, 0] = single
    acts = [{"act_name": "running", "cat_name": "sports", "act_id": float(i)} for i in range(6)]
    release = {
        "annolist": _structs(annolist),
        "img_train": np.array([[1.0] * 5 + [0.0]]),
        "single_person": cells,
        "act": _structs(acts).T,
        "video_list": np.array([[f"video{i}" for i in range(6)]], dtype=object),
        "version": "12",
    }
    scipy_io.savemat(str(path), {"RELEASE": release})
    return people


@pytest.fixture
def release(tmp_path: Path) -> Path:
    path = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    _write_release(path)
    return path


@pytest.mark.integration
def test_the_official_mat_layout_reads_joints_boxes_and_visibility(
    release: Path, store: Path
) -> None:
    people = _people()
    empty = sum(people[2]["joints_vis"][:3])
    with pytest.warns(pt.errors.PosetableWarning, match=f"{empty} labeled joints have an empty"):
        table = pt.Table.from_mpii(release, name="mat", store=store, image_folder=data_path("mpii"))
    assert len(table) == 6
    for p, person in enumerate(people):
        row = table[p]
        instances = row["keypoints"]
        on = np.asarray(person["joints_vis"]) > 0  # unlisted joints: x = y = 0
        np.testing.assert_array_equal(instances.keypoints[0][on], np.asarray(person["joints"])[on])
        shown = [_visibility(p, j) for j in range(16)]
        labeled = person["joints_vis"]
        expected = [
            0 if not on else 1 if isinstance(v, (float, str)) and v in (0.0, "0") else 2
            for v, on in zip(shown, labeled, strict=True)
        ]
        assert instances.keypoint_visibilities[0].tolist() == expected
        extras = instances.instance_extras
        assert extras["scale"][0] == person["scale"]
        assert list(extras["objpos"][0]) == person["center"]
        joints = np.asarray(person["joints"])
        assert list(extras["head_box"][0]) == [
            joints[[8, 9], 0].min(),
            joints[[8, 9], 1].min(),
            joints[[8, 9], 0].max(),
            joints[[8, 9], 1].max(),
        ]
        assert bool(extras["single_person"][0]) is True
        assert (row["img_train"], row["vididx"], row["frame_sec"]) == (1, p + 1, 10 + p)
        assert (row["act_name"], row["act_cat"], row["act_id"]) == ("running", "sports", p)
    test_person = table[5]["keypoints"]
    assert test_person.keypoint_visibilities.tolist() == [[0] * 16]
    assert test_person.instance_extras["scale"].tolist() == [3.25]
    assert table[5]["img_train"] == 0 and table[5]["vididx"] == -1


@pytest.mark.integration
def test_the_mat_exports_as_mmpose_json(release: Path, store: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        table = pt.Table.from_mpii(release, name="mat", store=store, image_folder=data_path("mpii"))
    with pytest.warns(pt.errors.PosetableWarning) as caught:
        out = table.export_mpii(tmp_path / "out.json")
    said = " ".join(str(w.message) for w in caught)
    assert "written as joints_vis 1" in said and "1 person without labeled joints" in said
    written, people = json.loads(out.read_text()), _people()
    assert len(written) == len(people)
    for mine, theirs in zip(written, people, strict=True):
        assert mine.keys() == theirs.keys()
        assert mine["joints_vis"] == theirs["joints_vis"]
        on = np.asarray(theirs["joints_vis"]) > 0  # the .mat lists no unlabeled joint
        assert np.asarray(mine["joints"])[on].tolist() == np.asarray(theirs["joints"])[on].tolist()
        assert [mine[k] for k in ("image", "scale", "center")] == [
            theirs[k] for k in ("image", "scale", "center")
        ]


@pytest.mark.integration
def test_a_mat_without_release_names_what_it_has(store: Path, tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    path = tmp_path / "other.mat"
    scipy_io.savemat(str(path), {"joints": np.zeros((3, 14, 2))})
    with pytest.raises(
        pt.errors.FormatError, match=r"other.mat: expected the MPII 'RELEASE'.*joints"
    ):
        pt.Table.from_mpii(path, name="m", store=store)


@pytest.mark.integration
def test_a_mat_point_with_a_joint_id_outside_mpii_s_is_named(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.mat"
    _write_release(path)
    scipy_io = pytest.importorskip("scipy.io")
    mat = scipy_io.loadmat(str(path))
    point = mat["RELEASE"]["annolist"][0, 0][0, 1]["annorect"][0, 0]["annopoints"][0, 0]["point"]
    point[0, 0]["id"] = np.array([[16.0]])
    scipy_io.savemat(str(path), {"RELEASE": mat["RELEASE"]})
    with pytest.raises(pt.errors.FormatError, match=r"annolist\(2\)\.annorect\(1\).*id.*0\.\.15"):
        pt.Table.from_mpii(path, name="m", store=store, image_folder=data_path("mpii"))
    assert pt.list_tables(store=store) == []
