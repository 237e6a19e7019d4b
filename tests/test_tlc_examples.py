"""3LC's public keypoint examples run on posetable with only their imports changed.

Each script in ``tests/tlc_examples/`` is 3LC's code (the import rule of the README applied,
data paths pointed at ``tests/data``); these tests run it to the end and check what 3LC
documents: the table's names and rows, 3LC's row layout, and the schema the example gave.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import PosetableWarning

EXAMPLES = Path(__file__).parent / "tlc_examples"


@pytest.fixture
def run_example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``run_example("name", TLC_EXAMPLE_DATA=...)`` -> the script's globals."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    def run(name: str, **env: str | os.PathLike[str]) -> dict[str, Any]:
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        with _quiet():
            return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__tlc_example__")

    return run


class _quiet:
    """posetable's notes (assumed defaults...) are warnings; the examples do not expect them."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", PosetableWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


def _coco(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "annotations.json").read_text())


# -- create-table-from-coco-keypoints ----------------------------------------------------------
def test_create_table_from_coco_keypoints(run_example, real_data) -> None:
    folder = real_data("coco_kpts")
    done = run_example("create_table_from_coco_keypoints", TLC_EXAMPLE_DATA=folder)
    table = done["table"]
    assert isinstance(table, tlc.Table)
    assert (table.project_name, table.dataset_name, table.name) == (
        "3LC Tutorials - COCO128",
        "COCO128",
        "initial-keypoints",
    )
    assert table.url.to_str().endswith("3LC Tutorials - COCO128/COCO128/initial-keypoints")
    assert tlc.Table.from_url(table.url).native.ref == table.native.ref
    coco = _coco(folder)
    assert len(table) == len(coco["images"])
    # rows as 3LC gives them: the keypoints under keypoints_2d in 3LC's layout
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    for row, image in zip(table, coco["images"], strict=True):
        assert set(row) == {"image", "keypoints_2d", "image_id", "weight"}
        assert row["image"] == str(folder.absolute() / "images" / image["file_name"])
        assert row["weight"] == 1.0
        value = row["keypoints_2d"]
        assert (value["x_min"], value["y_min"]) == (0.0, 0.0)
        assert (value["x_max"], value["y_max"]) == (image["width"], image["height"])
        anns = by_image.get(image["id"], [])
        assert len(value["instances"]) == len(anns)
        for instance, ann in zip(value["instances"], anns, strict=True):
            points = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            assert instance["vertices_2d"] == points[:, :2].reshape(-1).tolist()
            visibility = instance["vertices_2d_additional_data"]["visibility"]
            assert visibility == points[:, 2].astype(int).tolist()
            x, y, w, h = ann["bbox"]
            assert instance["bbs_2d"] == [[x, y, x + w, y + h]]
        assert value["instances_additional_data"]["label"] == [0] * len(anns)
        instances = tlc.Keypoints2DInstances.from_row(value)
        assert instances.keypoints.shape == (len(anns), 17, 2)
    assert table[0]["keypoints_2d"]["instances_additional_data"]["label"][0] == 0
    # the decoration arguments are the table's schema; COCO's sigmas come from the file's names
    helper = tlc.KeypointHelper
    assert helper.get_lines_from_table(table) == list(helper.COCO_SKELETON)
    assert helper.get_flip_indices_from_table(table) == list(helper.COCO_FLIP_INDICES)
    assert table.schema.keypoint_names == tuple(helper.COCO_KEYPOINT_NAMES)
    assert np.allclose(
        np.asarray(table.schema.default_pose).reshape(-1), helper.COCO_KEYPOINT_DEFAULT_POSE
    )
    assert list(table.schema.oks_sigmas) == list(pt.COCO_OKS_SIGMAS)


def test_running_the_coco_example_again_renames_and_keeps_the_first(run_example, real_data):
    folder = real_data("coco_kpts")
    first = run_example("create_table_from_coco_keypoints", TLC_EXAMPLE_DATA=folder)["table"]
    second = run_example("create_table_from_coco_keypoints", TLC_EXAMPLE_DATA=folder)["table"]
    assert (first.name, second.name) == ("initial-keypoints", "initial-keypoints_0001")
    assert first.url != second.url and first.native.latest().revision == 1
    names = first.native.store.table_names("3LC Tutorials - COCO128/COCO128")
    assert names == [
        "3LC Tutorials - COCO128/COCO128/initial-keypoints",
        "3LC Tutorials - COCO128/COCO128/initial-keypoints_0001",
    ]


# -- create-table-from-yolo-keypoints, 3lc-ultralytics examples/pose/create_tables.py ---------
def _yolo_labels(folder: Path, split: str) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((folder / "labels" / split).glob("*.txt")):
        out[path.stem] = np.loadtxt(path, ndmin=2)
    return out


def _check_yolo_rows(table: tlc.Table, folder: Path, split: str) -> None:
    labels = _yolo_labels(folder, split)
    assert len(table) == len(list((folder / "images" / split).iterdir()))
    for row in table:
        assert set(row) == {"image", "keypoints_2d", "weight"}
        value = row["keypoints_2d"]
        width, height = value["x_max"], value["y_max"]
        lines = labels.get(Path(row["image"]).stem, np.zeros((0, 56)))
        assert len(value["instances"]) == len(lines)
        for instance, line in zip(value["instances"], lines, strict=True):
            points = line[5:].reshape(17, 3)
            xy = np.asarray(instance["vertices_2d"]).reshape(17, 2)
            assert np.allclose(xy / [width, height], points[:, :2], atol=1e-6)
            visibility = instance["vertices_2d_additional_data"]["visibility"]
            assert visibility == points[:, 2].astype(int).tolist()


def test_create_table_from_yolo_keypoints(run_example, real_data) -> None:
    folder = real_data("coco8_pose_yolo")
    done = run_example("create_table_from_yolo_keypoints", TLC_EXAMPLE_DATA=folder)
    table = done["train_table"]
    assert (table.project_name, table.dataset_name, table.name) == (
        "3LC Tutorials - YOLO Keypoints",
        "YOLO-Keypoints-Dataset",
        "initial-keypoints",
    )
    _check_yolo_rows(table, folder, "train")
    assert table.schema.flip_indices == tuple(tlc.KeypointHelper.COCO_FLIP_INDICES)
    # from_yolo's default if_exists is "reuse": running it again opens the same table
    again = run_example("create_table_from_yolo_keypoints", TLC_EXAMPLE_DATA=folder)
    assert (
        again["train_table"].native.ref
        == table.native.ref
        == ("3LC Tutorials - YOLO Keypoints/YOLO-Keypoints-Dataset/initial-keypoints@1")
    )


def test_ultralytics_examples_pose_create_tables(run_example, real_data) -> None:
    folder = real_data("coco8_pose_yolo")
    done = run_example("ultralytics_create_tables", TLC_EXAMPLE_YAML=folder / "coco8-pose.yaml")
    table = done["train_table"]
    assert table.native.name == "my_pose_estimation_project_name/train/initial"
    _check_yolo_rows(table, folder, "train")


# -- create-custom-keypoints-table -------------------------------------------------------------
#: The keypoint order and skeleton of Animal-Pose's own keypoints.json (the Kaggle copy the
#: notebook downloads), which its FLIP_INDEXES, default pose and 15 EDGE_COLORS are written
#: for; mmpose's copy in tests/data/animalpose has the same 20 points in another order.
KAGGLE_KEYPOINTS = [
    "left_eye", "right_eye", "nose", "left_ear", "right_ear", "left_front_elbow",
    "right_front_elbow", "left_back_elbow", "right_back_elbow", "left_front_knee",
    "right_front_knee", "left_back_knee", "right_back_knee", "left_front_paw",
    "right_front_paw", "left_back_paw", "right_back_paw", "throat", "withers", "tailbase",
]  # fmt: skip
KAGGLE_SKELETON = [
    [0, 1], [0, 2], [1, 2], [0, 3], [1, 4], [2, 17], [18, 19], [5, 9], [6, 10], [7, 11],
    [8, 12], [9, 13], [10, 14], [11, 15], [12, 16],
]  # fmt: skip
MMPOSE_TO_KAGGLE = {
    "L_Eye": "left_eye", "R_Eye": "right_eye", "Nose": "nose", "L_EarBase": "left_ear",
    "R_EarBase": "right_ear", "L_F_Elbow": "left_front_elbow", "R_F_Elbow": "right_front_elbow",
    "L_B_Elbow": "left_back_elbow", "R_B_Elbow": "right_back_elbow",
    "L_F_Knee": "left_front_knee", "R_F_Knee": "right_front_knee",
    "L_B_Knee": "left_back_knee", "R_B_Knee": "right_back_knee", "L_F_Paw": "left_front_paw",
    "R_F_Paw": "right_front_paw", "L_B_Paw": "left_back_paw", "R_B_Paw": "right_back_paw",
    "Throat": "throat", "Withers": "withers", "TailBase": "tailbase",
}  # fmt: skip


def _kaggle_order(source: Path) -> list[int]:
    """Index into mmpose's keypoints of each keypoint in the Kaggle file's order."""
    names = [MMPOSE_TO_KAGGLE[n] for n in _coco(source)["categories"][0]["keypoints"]]
    return [names.index(n) for n in KAGGLE_KEYPOINTS]


def _kaggle_animal_pose(source: Path, root: Path) -> Path:
    """tests/data/animalpose in the layout of the Kaggle file the notebook reads: images as
    ``{id: file}``, keypoints as ``[x, y, 0/1]`` triples in Animal-Pose's own order, boxes
    ``[x0, y0, x1, y1]``, a 0-based skeleton."""
    coco = _coco(source)
    order = _kaggle_order(source)
    (root / "images" / "images").mkdir(parents=True)
    for image in coco["images"]:
        shutil.copy(source / "images" / image["file_name"], root / "images" / "images")
    category = {**coco["categories"][0], "keypoints": KAGGLE_KEYPOINTS, "skeleton": KAGGLE_SKELETON}
    annotations = []
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        triples = np.asarray(ann["keypoints"]).reshape(-1, 3)[order]
        annotations.append(
            {
                "image_id": ann["image_id"],
                "bbox": [x, y, x + w, y + h],
                "keypoints": [[px, py, int(v > 0)] for px, py, v in triples.tolist()],
                "num_keypoints": ann["num_keypoints"],
                "category_id": ann["category_id"],
            }
        )
    kaggle = {
        "images": {str(i["id"]): i["file_name"] for i in coco["images"]},
        "annotations": annotations,
        "categories": [category],
    }
    (root / "keypoints.json").write_text(json.dumps(kaggle))
    return root


def test_create_custom_keypoints_table(run_example, real_data, tmp_path: Path) -> None:
    source = real_data("animalpose")
    root = _kaggle_animal_pose(source, tmp_path / "animal-pose")
    done = run_example("create_custom_keypoints_table", TLC_EXAMPLE_DATA=root)
    table = done["table"]
    assert (table.project_name, table.dataset_name, table.name) == (
        "3LC Tutorials - 2D Keypoints",
        "AnimalPose",
        "initial",
    )
    coco = _coco(source)
    assert len(table) == len(coco["images"])
    for row, ann in zip(table, coco["annotations"], strict=True):
        assert set(row) == {"image", "keypoints_2d", "weight"}
        value = row["keypoints_2d"]
        (instance,) = value["instances"]
        triples = np.asarray(ann["keypoints"]).reshape(-1, 3)[_kaggle_order(source)]
        assert instance["vertices_2d"] == triples[:, :2].reshape(-1).tolist()
        visibility = instance["vertices_2d_additional_data"]["visibility"]
        assert visibility == [2 if v else 0 for v in triples[:, 2]]
        assert value["instances_additional_data"]["label"] == [ann["category_id"]]
    assert list(done["oks_sigmas"]) == [0.07] * 20
    assert list(done["flip_indices"]) == done["FLIP_INDEXES"]
    assert list(done["lines"]) == done["SKELETON"]
    names = [a["internal_name"] for a in done["keypoint_attributes"]]
    assert names == KAGGLE_KEYPOINTS
    assert table.schema.lines == tuple(tuple(pair) for pair in KAGGLE_SKELETON)
    assert table.schema.class_map == {1: "cat"}
    colors = [a["display_color"] for a in done["keypoint_attributes"]]
    assert colors == [tlc.rgb_tuple_to_hex(c) for c in done["KEYPOINT_COLORS"]]
    given = [{k: v for k, v in a.items() if v} for a in done["LINE_ATTRIBUTES"]]
    assert [{k: v for k, v in a.items() if v} for a in done["line_attributes"]] == given


# -- create-fhibe-table, its keypoint part --------------------------------------------------------
#: COCO's 17 keypoints under FHIBE's names (FHIBE has 33, MediaPipe's layout).
COCO_TO_FHIBE = [
    "Nose", "Left eye", "Right eye", "Left ear", "Right ear", "Left shoulder",
    "Right shoulder", "Left elbow", "Right elbow", "Left wrist", "Right wrist", "Left hip",
    "Right hip", "Left knee", "Right knee", "Left ankle", "Right ankle",
]  # fmt: skip


def _fhibe_folder(source: Path, root: Path) -> list[dict[str, Any]]:
    """A folder in FHIBE's layout: one CSV row per person of coco_kpts with keypoints."""
    import pandas as pd

    coco = _coco(source)
    images = {i["id"]: i for i in coco["images"]}
    (root / "fhibe" / "images").mkdir(parents=True)
    rows = []
    for n, ann in enumerate(a for a in coco["annotations"] if a["num_keypoints"] > 0):
        image = images[ann["image_id"]]
        shutil.copy(source / "images" / image["file_name"], root / "fhibe" / "images")
        triples = np.asarray(ann["keypoints"]).reshape(-1, 3)
        keypoints = {
            f"{COCO_TO_FHIBE.index(name)}. {name}": [float(x), float(y), bool(v == 2)]
            for name, (x, y, v) in zip(COCO_TO_FHIBE, triples.tolist(), strict=True)
            if v > 0
        }
        rows.append(
            {
                "filepath": f"images/{image['file_name']}",
                "image_width": image["width"],
                "image_height": image["height"],
                "keypoints": repr(keypoints),
                "person_bbox": repr(list(ann["bbox"])),
                "face_bbox": repr(list(ann["bbox"])),
                "aperture_value": 1.8 + n / 10,
                "lighting": repr(["0. Daylight", "1. Indoor"][: 1 + n % 2]),
                "scene": ["0. Outdoor", "1. Indoor"][n % 2],
                "user_date_captured": f"2024-01-{n + 1:02d}",
                "subject_id": f"subject-{ann['id']}",
                "age": 20 + n,
                "natural_skin_color": ["[255, 224, 189]", "[141, 85, 36]"][n % 2],
                "coco_annotation": ann,
            }
        )
    csv = root / "fhibe" / "data/processed/fhibe_downsampled/fhibe_downsampled.csv"
    csv.parent.mkdir(parents=True)
    pd.DataFrame([{k: v for k, v in r.items() if k != "coco_annotation"} for r in rows]).to_csv(
        csv, index=False
    )
    return rows


def test_create_fhibe_table_keypoint_part(run_example, real_data, tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    source = real_data("coco_kpts")
    rows = _fhibe_folder(source, tmp_path / "fhibe-download")
    done = run_example("create_fhibe_table_keypoints", TLC_EXAMPLE_DATA=tmp_path / "fhibe-download")
    table = done["table"]
    assert (table.project_name, table.dataset_name, table.name) == (
        "3LC Tutorials - FHIBE",
        "FHIBE",
        "initial",
    )
    assert len(table) == len(rows)
    assert table.columns == ["image", "keypoints", *done["COLUMNS_TO_INGEST"]]
    assert table.schema.keypoint_names == tuple(done["KEYPOINTS"])
    assert table.schema.flat_lines == done["SKELETON"]
    for row, given in zip(table, rows, strict=True):
        assert row["image"] == str(tmp_path / "fhibe-download" / "fhibe" / given["filepath"])
        (instance,) = row["keypoints"]["instances"]
        xy = np.asarray(instance["vertices_2d"]).reshape(33, 2)
        visibility = instance["vertices_2d_additional_data"]["visibility"]
        triples = np.asarray(given["coco_annotation"]["keypoints"]).reshape(-1, 3)
        for name, (x, y, v) in zip(COCO_TO_FHIBE, triples.tolist(), strict=True):
            k = done["KEYPOINTS"].index(name)
            if v > 0:  # float32 in the notebook: the values are whole pixels here
                assert xy[k].tolist() == [x, y] and visibility[k] == (2 if v == 2 else 0)
            else:
                assert visibility[k] == 0
        assert row["age"] == given["age"] and row["subject_id"] == given["subject_id"]
        assert isinstance(row["scene"], int) and isinstance(row["lighting"], list)
    schemas = table.metadata["tlc"]["column_schemas"]
    assert schemas["age"]["type"] == "Int32Schema" and schemas["age"]["default_visible"] is False
    assert schemas["scene"]["type"] == "CategoricalLabelSchema"
    assert str(table.url).endswith("3LC Tutorials - FHIBE/FHIBE/initial")


# -- 3lc-ultralytics 2.x: making and reading pose tables -------------------------------------------
def test_ultralytics_pose_table_rows_read_as_its_dataset_reads_them(run_example, real_data) -> None:
    folder = real_data("coco8_pose_yolo")
    code = run_example("ultralytics_pose_rows")
    data_dict = {
        "yaml_file": str(folder / "coco8-pose.yaml"),
        "train": str(folder / "images" / "train"),
        "kpt_shape": [17, 3],
    }
    make = code["get_or_create_pose_table"]
    table = make(
        "train", data_dict, "image", "keypoints_2d", "Pose", "coco8", "initial", code["Settings"]()
    )
    again = make(
        "train", data_dict, "image", "keypoints_2d", "Pose", "coco8", "initial", code["Settings"]()
    )
    assert again.native.ref == table.native.ref == "Pose/coco8/initial@1"
    assert table.description == "Created with 3LC YOLO integration"
    code["check_pose_table"](table, "image", "keypoints_2d")
    with pytest.raises(ValueError, match="is not compatible with YOLO pose"):
        code["check_pose_table"](table, "image", "pose")
    dataset = code["TLCYOLOPoseDataset"](table, data=data_dict)
    labels = _yolo_labels(folder, "train")
    for i, row in enumerate(table.table_rows):
        label = dataset._get_label_from_row(row["image"], row, i)
        lines = labels[Path(row["image"]).stem]
        assert label["shape"] == (row["keypoints_2d"]["y_max"], row["keypoints_2d"]["x_max"])
        assert np.allclose(label["cls"][:, 0], lines[:, 0])
        assert np.allclose(label["bboxes"], lines[:, 1:5], atol=1e-5)
        assert np.allclose(label["keypoints"], lines[:, 5:].reshape(-1, 17, 3), atol=1e-5)
    # an image without instances: the empty branch, K from the dataset's kpt_shape
    empty = tlc.Keypoints2DInstances.create_empty(image_width=64, image_height=48)
    blank = tlc.Table.from_dict(
        {"image": ["blank.jpg"], "keypoints_2d": [empty.to_row()]},
        structure={"image": tlc.ImageUrlSchema(), "keypoints_2d": table.schema},
        table_name="blank",
        dataset_name="coco8",
        project_name="Pose",
    )
    label = dataset._get_label_from_row("blank.jpg", blank[0], 0)
    assert label["keypoints"].shape == (0, 17, 3) and label["shape"] == (48, 64)


def test_ultralytics_pose_validator_rows_round_trip(run_example) -> None:
    torch = pytest.importorskip("torch")
    code = run_example("ultralytics_pose_validator")
    validator = code["TLCPoseValidator"]({"names": {0: "person"}}, [17, 3])
    schema = validator.predicted_pose_schema()["keypoints_2d_predicted"]
    generator = torch.Generator().manual_seed(0)
    kpts = torch.rand((2, 17, 3), generator=generator) * torch.tensor([64.0, 48.0, 1.0])
    scaled = {
        "kpts": kpts,
        "bboxes": torch.tensor([[1.0, 2.0, 30.0, 40.0], [5.0, 6.0, 50.0, 45.0]]),
        "conf": torch.tensor([0.9, 0.4]),
    }
    row = validator._build_annotation(scaled, [0, 0], 48, 64)
    empty = validator._empty_annotation(48, 64)
    table = tlc.Table.from_dict(
        {"image": ["a.jpg", "b.jpg"], "keypoints_2d_predicted": [row, empty]},
        structure={"image": tlc.ImageUrlSchema(), "keypoints_2d_predicted": schema},
        table_name="predictions",
    )
    got = tlc.Keypoints2DInstances.from_row(table[0]["keypoints_2d_predicted"])
    assert np.allclose(got.keypoints, kpts[:, :, :2].numpy(), atol=1e-5)
    assert np.allclose(got.keypoint_confidences, kpts[:, :, 2].numpy(), atol=1e-6)
    assert np.allclose(got.instance_confidences, [0.9, 0.4], atol=1e-6)
    assert len(table[1]["keypoints_2d_predicted"]["instances"]) == 0
