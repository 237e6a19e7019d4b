"""3LC's keypoint classes on posetable: signatures, constants, the seed snippet, 3LC examples.

The expected signatures are 3LC 2.22's, copied here as data from the ``.pyi`` stubs of the
``3lc`` wheel (``tlc/core/helpers/keypoint_helper.pyi``, ``tlc/core/data_formats/
keypoints.pyi``, ``tlc/core/builtins/schemas/geometries.pyi``, ``tlc/core/schema.pyi``).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
import posetable.tlc as tlc
from posetable.errors import InstancesError, NotFoundError, SchemaError, UnsupportedError
from posetable.tlc import data_types, helpers
from tests._core_tables import coco_rows, files_under

REQUIRED = inspect.Parameter.empty
POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
KW = inspect.Parameter.KEYWORD_ONLY
LABEL = ("label_column_name", POS, "keypoints_2d")  # 3LC's tlc.KEYPOINTS_2D
GETTER = [("table", POS, REQUIRED), LABEL]

# name -> [(parameter, kind, default)], in 3LC's order ("self"/"cls" left out).
TLC_SIGNATURES: dict[str, list[tuple[str, Any, Any]]] = {
    "KeypointHelper.get_keypoint_shape_from_table": GETTER,
    "KeypointHelper.get_points_from_table": GETTER,
    "KeypointHelper.get_keypoint_attributes_from_table": GETTER,
    "KeypointHelper.get_lines_from_table": GETTER,
    "KeypointHelper.get_line_attributes_from_table": GETTER,
    "KeypointHelper.get_triangles_from_table": GETTER,
    "KeypointHelper.get_triangle_attributes_from_table": GETTER,
    "KeypointHelper.get_oks_sigmas_from_table": GETTER,
    "KeypointHelper.get_flip_indices_from_table": GETTER,
    "KeypointHelper.flatten_points": [("points", POS, REQUIRED)],
    "KeypointHelper.flatten_lines": [("lines", POS, REQUIRED)],
    "KeypointHelper.flatten_triangles": [("triangles", POS, REQUIRED)],
    "KeypointHelper.parse_keypoints_with_visibility": [("keypoints", POS, REQUIRED)],
    "KeypointHelper.parse_bbox": [("bbox", POS, REQUIRED), ("format", POS, "xyxy")],
    "KeypointHelper.parse_per_keypoint_channel": [
        ("num_keypoints", POS, REQUIRED),
        ("visibility", POS, None),
        ("confidence", POS, None),
        ("derived_visibility", POS, None),
    ],
    "KeypointHelper.edit_oks_sigmas": [
        ("table", POS, REQUIRED),
        ("oks_sigmas", POS, None),
        LABEL,
        ("table_name", POS, "edited_oks_sigmas"),
        ("table_url", KW, None),
    ],
    "KeypointHelper.edit_default_keypoints": [
        ("table", POS, REQUIRED),
        ("keypoints", POS, REQUIRED),
        LABEL,
        ("table_name", POS, "edited_default_keypoints"),
        ("table_url", KW, None),
    ],
    "KeypointHelper.edit_default_lines": [
        ("table", POS, REQUIRED),
        ("lines", POS, REQUIRED),
        LABEL,
        ("table_name", POS, "edited_default_lines"),
        ("table_url", KW, None),
    ],
    "Keypoints2DInstances.create_empty": [
        ("image_width", POS, None),
        ("image_height", POS, None),
        ("x_min", POS, 0.0),
        ("y_min", POS, 0.0),
        ("x_max", POS, None),
        ("y_max", POS, None),
        ("include_keypoint_confidences", POS, False),
        ("include_keypoint_visibilities", POS, False),
        ("include_instance_confidences", POS, False),
        ("include_instance_labels", POS, True),
        ("include_instance_bbs", POS, True),
        ("per_keypoint_extras_keys", POS, None),
        ("instance_extras_keys", POS, None),
    ],
    "Keypoints2DInstances.add_instance": [
        ("keypoints", POS, REQUIRED),
        ("bbox", POS, None),
        ("label", POS, None),
        ("visibility", POS, None),
        ("confidence", POS, None),
        ("normalized", POS, False),
        ("bbox_format", POS, "xyxy"),
        ("instance_confidence", POS, None),
        ("instance_extras", POS, None),
    ],
    "Keypoints2DInstances.from_row": [("row", POS, REQUIRED)],
    "Keypoints2DInstances.to_row": [],
    "MapElement": [
        ("internal_name", POS, ""),
        ("display_name", POS, ""),
        ("description", POS, ""),
        ("display_color", POS, ""),
        ("url", POS, ""),
    ],
    "MapElement.to_minimal_dict": [("include_all", POS, REQUIRED)],
    "MapElement.from_any": [("any_map_element", POS, REQUIRED)],
    "Keypoints2DSchema": [
        # 3LC requires classes and num_keypoints; posetable gives them defaults (the native
        # call Keypoints2DSchema(17) and the default class "person"), see the test below.
        ("classes", POS, ("person",)),
        ("num_keypoints", POS, None),
        ("points", POS, None),
        ("point_attributes", POS, None),
        ("lines", POS, None),
        ("line_attributes", POS, None),
        ("triangles", POS, None),
        ("triangle_attributes", POS, None),
        ("flip_indices", POS, None),
        ("oks_sigmas", POS, None),
        ("include_per_point_confidence", POS, False),
        ("include_per_point_visibility", POS, False),
        ("include_per_instance_label", POS, True),
        ("include_per_instance_confidence", POS, False),
        ("per_instance_schemas", POS, None),
    ],
}


def _resolve(path: str) -> Any:
    owner, _, member = path.partition(".")
    value = getattr(tlc, owner)
    return getattr(value, member) if member else value


@pytest.mark.parametrize("path", sorted(TLC_SIGNATURES))
def test_signatures_match_3lc_names_order_kinds_and_defaults(path: str) -> None:
    params = [p for p in inspect.signature(_resolve(path)).parameters.values() if p.name != "self"]
    expected = TLC_SIGNATURES[path]
    got = [(p.name, p.kind, p.default) for p in params[: len(expected)]]
    assert got == expected
    for extra in params[len(expected) :]:  # posetable's own parameters never shift 3LC's
        assert extra.kind in (KW, inspect.Parameter.VAR_KEYWORD), (path, extra.name)


def test_every_3lc_keypoint_helper_name_exists_with_3lcs_class_constants() -> None:
    methods = {p.split(".")[1] for p in TLC_SIGNATURES if p.startswith("KeypointHelper.")}
    assert len(methods) == 18
    for name in methods:
        assert isinstance(inspect.getattr_static(tlc.KeypointHelper, name), staticmethod), name
    types = {
        "COCO_KEYPOINT_NAMES": str,
        "COCO_KEYPOINT_DEFAULT_POSE": float,
        "COCO_SKELETON": int,
        "COCO_SKELETON_COLORS": tuple,
        "COCO_SKELETON_NAMES": str,
        "COCO_FLIP_INDICES": int,
    }
    for name, item_type in types.items():
        value = getattr(tlc.KeypointHelper, name)
        assert type(value) is list and all(type(v) is item_type for v in value), name
        assert getattr(pt, name) is value  # posetable.COCO_* are 3LC's too


def test_the_coco_constants_have_3lcs_documented_values() -> None:
    H = tlc.KeypointHelper
    # docs.3lc.ai (tlc.core.helpers.keypoint_helper) prints these whole ...
    assert H.COCO_FLIP_INDICES == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert H.COCO_KEYPOINT_NAMES[:8] == [
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
    ]
    # ... and these up to their first ~100 characters.
    assert H.COCO_SKELETON[:30] == [
        3, 1, 4, 2, 1, 0, 0, 2, 5, 6, 5, 7, 6, 8, 7, 9, 8, 10,
        11, 12, 11, 13, 12, 14, 13, 15, 14, 16, 5, 11,
    ]  # fmt: skip
    assert H.COCO_KEYPOINT_DEFAULT_POSE[:17] == [
        0.5, 0.15, 0.47, 0.14, 0.53, 0.14, 0.45, 0.15, 0.55, 0.15, 0.4, 0.25, 0.6, 0.25,
        0.38, 0.4, 0.62,
    ]  # fmt: skip
    assert H.COCO_SKELETON_COLORS[:6] == [
        (102, 204, 255),
        (51, 153, 255),
        (102, 0, 204),
        (51, 102, 255),
        (255, 128, 0),
        (153, 255, 204),
    ]
    assert H.COCO_SKELETON_NAMES[:4] == [
        "left_ear_to_left_eye",
        "right_ear_to_right_eye",
        "left_eye_to_nose",
        "nose_to_right_eye",
    ]
    assert H.COCO_SKELETON_NAMES[4].startswith("left_sh")
    pairs = list(zip(H.COCO_SKELETON[0::2], H.COCO_SKELETON[1::2], strict=True))
    names = H.COCO_KEYPOINT_NAMES
    assert [f"{names[a]}_to_{names[b]}" for a, b in pairs] == H.COCO_SKELETON_NAMES
    assert len(pairs) == len(H.COCO_SKELETON_COLORS) == 16 and len(set(pairs)) == 16
    assert all(0 <= v <= 1 for v in H.COCO_KEYPOINT_DEFAULT_POSE)
    # the constants feed a schema as 3LC's from_coco example passes them
    schema = pt.Keypoints2DSchema(
        classes=["person"],
        num_keypoints=17,
        lines=H.COCO_SKELETON,
        points=H.COCO_KEYPOINT_DEFAULT_POSE,
        point_attributes=H.COCO_KEYPOINT_NAMES,
        flip_indices=H.COCO_FLIP_INDICES,
        line_attributes=[
            pt.MapElement(n, display_color=tlc.rgb_tuple_to_hex(c))
            for n, c in zip(H.COCO_SKELETON_NAMES, H.COCO_SKELETON_COLORS, strict=True)
        ],
    )
    assert H.get_lines_from_table(schema) == H.COCO_SKELETON
    assert H.get_points_from_table(schema) == H.COCO_KEYPOINT_DEFAULT_POSE
    assert [a["internal_name"] for a in H.get_line_attributes_from_table(schema) or []] == (
        H.COCO_SKELETON_NAMES
    )


def test_the_classes_are_one_implementation_under_every_name() -> None:
    assert tlc.Keypoints2DInstances is pt.Keypoints2DInstances
    assert tlc.KeypointHelper is pt.KeypointHelper is helpers.KeypointHelper
    assert tlc.Keypoints2DSchema is pt.Keypoints2DSchema
    assert tlc.MapElement is pt.MapElement
    assert issubclass(data_types.Keypoints2D, pt.Keypoints2DInstances)
    from posetable.helper import KeypointHelper
    from posetable.instances import Keypoints2DInstances
    from posetable.schema import Keypoints2DSchema

    assert (KeypointHelper, Keypoints2DInstances, Keypoints2DSchema) == (
        pt.KeypointHelper,
        pt.Keypoints2DInstances,
        pt.Keypoints2DSchema,
    )


# -- the seed page ("Keypoints and Pose Estimation in 3LC") --------------------------------
@pytest.fixture
def people(real_data, store: Path) -> pt.Table:
    """The real COCO person table, its skeleton in the face-first order the page shows."""
    schema, rows = coco_rows(real_data("coco_kpts"))
    lines = sorted(tuple(sorted(pair)) for pair in schema.lines)
    return pt.Table.from_rows(rows, name="people", schema=schema.replace(lines=lines), store=store)


def test_the_seed_snippet_runs_as_written_and_prints_the_pages_values(people: pt.Table) -> None:
    table = people
    history = table.history()
    files = files_under(table.store.table_uri("people"))
    from posetable.tlc import Keypoints2DInstances

    table_row = table[0]["keypoints"].to_row()
    # Reading: Convert Table row to numpy arrays
    kpts = Keypoints2DInstances.from_row(table_row)
    assert kpts.keypoints.shape == (len(kpts), 17, 2)  # (num_instances, num_keypoints, 2)
    assert kpts.instance_labels.shape == (len(kpts),)  # (num_instances,)
    # Writing: Convert numpy arrays back to Table format
    updated_row = kpts.to_row()
    assert updated_row == table_row

    from posetable.tlc import KeypointHelper

    shape = KeypointHelper.get_keypoint_shape_from_table(table)
    assert shape == [17, 3]
    attributes = KeypointHelper.get_keypoint_attributes_from_table(table)
    assert attributes is not None and attributes[:2] == [
        {"internal_name": "nose"},
        {"internal_name": "left_eye"},
    ]
    lines = KeypointHelper.get_lines_from_table(table)
    assert lines is not None and lines[:4] == [0, 1, 0, 2]
    assert KeypointHelper.get_flip_indices_from_table(table) is None
    oks_sigmas = KeypointHelper.get_oks_sigmas_from_table(table)
    assert oks_sigmas == [1 / 17] * 17

    edited_table = KeypointHelper.edit_oks_sigmas(table, KeypointHelper.COCO_OKS_SIGMAS)
    assert (
        KeypointHelper.get_oks_sigmas_from_table(edited_table) == pt.KeypointHelper.COCO_OKS_SIGMAS
    )
    edited_table = KeypointHelper.edit_default_keypoints(
        table, KeypointHelper.COCO_KEYPOINT_DEFAULT_POSE
    )
    assert KeypointHelper.get_points_from_table(edited_table) == (
        KeypointHelper.COCO_KEYPOINT_DEFAULT_POSE
    )
    edited_table = KeypointHelper.edit_default_lines(table, KeypointHelper.COCO_SKELETON)
    assert KeypointHelper.get_lines_from_table(edited_table) == KeypointHelper.COCO_SKELETON

    names = {t.split("@")[0]: t for t in pt.list_tables(store=table.store)}
    assert sorted(names) == [
        "edited_default_keypoints",
        "edited_default_lines",
        "edited_oks_sigmas",
        "people",
    ]
    for name in ("edited_oks_sigmas", "edited_default_keypoints", "edited_default_lines"):
        derived = pt.Table.open(name, store=table.store)
        assert derived.source == "people@1" and derived.revision == 1
        assert [r["keypoints"].to_row() for r in derived] == [
            r["keypoints"].to_row() for r in table
        ]
    # the source table and its history are untouched
    assert pt.Table.open("people", store=table.store).history() == history
    assert files_under(table.store.table_uri("people")) == files
    assert KeypointHelper.get_oks_sigmas_from_table(table) == [1 / 17] * 17


def test_edits_name_siblings_in_the_namespace_and_never_overwrite(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("coco_kpts"))
    table = pt.Table.from_rows(
        rows, name="COCO Keypoints/COCO128/initial", schema=schema, store=store
    )
    H = tlc.KeypointHelper
    first = H.edit_oks_sigmas(table, [0.05] * 17)
    second = H.edit_oks_sigmas(table, [0.06] * 17)
    third = H.edit_oks_sigmas(second, [0.07] * 17, table_name="tuned")
    assert first.name == "COCO Keypoints/COCO128/edited_oks_sigmas"
    assert second.name == "COCO Keypoints/COCO128/edited_oks_sigmas_0001"
    assert third.name == "COCO Keypoints/COCO128/tuned"
    assert third.source == "COCO Keypoints/COCO128/edited_oks_sigmas_0001@1"
    assert H.get_oks_sigmas_from_table(first) == [0.05] * 17
    assert H.get_oks_sigmas_from_table(second) == [0.06] * 17
    assert pt.Table.open(table.name, store=store).revision == 1


def test_table_url_names_the_new_table(real_data, store: Path, tmp_path: Path) -> None:
    schema, rows = coco_rows(real_data("coco_kpts"))
    table = pt.Table.from_rows(rows, name="p/d/initial", schema=schema, store=store)
    H = tlc.KeypointHelper
    own = H.edit_default_lines(table, [0, 1], table_url=store / "tables" / "p" / "d" / "lined")
    assert (own.name, Path(own.store.root)) == ("p/d/lined", store)
    other_root = tmp_path / "other"
    tlc_form = f"{other_root}/projects/p/datasets/d/tables/moved"
    moved = H.edit_default_lines(table, [0, 2], table_url=tlc_form)
    assert (moved.name, Path(moved.store.root)) == ("p/d/moved", other_root)
    assert moved.source == "p/d/initial@1" and H.get_lines_from_table(moved) == [0, 2]
    again = H.edit_default_lines(table, [0, 2], table_url=tlc.Url(tlc_form))
    assert again.name == "p/d/moved_0001"
    with pytest.raises(NotFoundError, match="does not name a table"):
        H.edit_default_lines(table, [0, 1], table_url=tmp_path / "nowhere")


def test_a_3lc_table_view_is_edited_and_comes_back_as_one(people: pt.Table) -> None:
    view = tlc.Table.from_native(people)
    edited = tlc.KeypointHelper.edit_oks_sigmas(view, [0.05] * 17)
    assert isinstance(edited, tlc.Table)
    assert edited.native.source == "people@1"
    assert tlc.KeypointHelper.get_oks_sigmas_from_table(edited) == [0.05] * 17
    assert tlc.KeypointHelper.get_keypoint_shape_from_table(view) == [17, 3]


# -- 3LC's documented examples of Keypoints2DInstances ----------------------------------------
def test_3lcs_docstring_examples_run_unchanged() -> None:
    Keypoints2DInstances = tlc.Keypoints2DInstances
    kpts = Keypoints2DInstances.create_empty(640, 480)
    kpts.add_instance(
        keypoints=[[100, 150], [120, 160], [140, 170]], bbox=[90, 140, 150, 180], label=0
    )
    updated_row = kpts.to_row()
    assert updated_row["x_max"] == 640 and updated_row["y_max"] == 480
    assert updated_row["instances"][0]["bbs_2d"] == [[90.0, 140.0, 150.0, 180.0]]

    kpts = Keypoints2DInstances.create_empty(
        image_width=640, image_height=480, include_keypoint_confidences=True
    )
    kpts.add_instance(
        keypoints=[[100, 150], [120, 160]], bbox=[90, 140, 130, 170], label=0, confidence=[0.9, 0.8]
    )
    assert kpts.keypoint_visibilities is None
    np.testing.assert_array_equal(kpts.keypoint_confidences, np.float32([[0.9, 0.8]]))

    kpts = Keypoints2DInstances.create_empty(480, 640)
    kpts.add_instance(
        keypoints=[[100, 150], [120, 160], [140, 170]], bbox=[90, 140, 150, 180], label=0
    )
    kpts.add_instance(
        keypoints=[[200, 250, 2], [220, 260, 2], [240, 270, 1]],  # with visibility
        bbox=[190, 240, 250, 280],
        label=0,
    )
    assert kpts.keypoint_visibilities.tolist() == [[2, 2, 2], [2, 2, 1]]  # type: ignore[union-attr]
    kpts = Keypoints2DInstances.from_row(kpts.to_row())
    kpts.keypoints[:, :, 0] *= 2.0  # Scale x coordinates
    kpts.keypoints[:, 0, :] += [10, 10]  # Shift first keypoint
    assert kpts.to_row()["instances"][1]["vertices_2d"][:2] == [410.0, 260.0]
    assert kpts.image_width == 480 and kpts.image_height == 640
    assert kpts.instance_bbs_xywh is not None and kpts.instance_bbs_xywh[0].tolist() == [
        90.0,
        140.0,
        60.0,
        40.0,
    ]


def test_include_flags_of_create_empty_do_what_3lc_says() -> None:
    KI = pt.Keypoints2DInstances
    bare = KI.create_empty(8, 8, include_instance_labels=False, include_instance_bbs=False)
    bare.add_instance([[1, 2], [3, 4]])
    row = bare.to_row()
    assert row["instances_additional_data"]["label"] is None
    assert row["instances"][0]["bbs_2d"] == []
    assert KI.from_row(row).to_row() == row
    with pytest.raises(InstancesError, match="include_instance_bbs=False: give no bbox"):
        bare.add_instance([[1, 2], [3, 4]], bbox=[0, 0, 1, 1])
    with pytest.raises(InstancesError, match="include_instance_labels=False: give no label"):
        bare.add_instance([[1, 2], [3, 4]], label=1)
    with pytest.raises(InstancesError, match="mutually exclusive"):
        KI.create_empty(include_keypoint_confidences=True, include_keypoint_visibilities=True)
    with pytest.raises(UnsupportedError, match=r"per_keypoint_extras_keys .* got \['z'\]"):
        KI.create_empty(per_keypoint_extras_keys=["z"])
    scored = KI.create_empty(8, 8, include_instance_confidences=True, instance_extras_keys=["id"])
    scored.add_instance([[1, 2]], instance_confidence=0.5, instance_extras={"id": 3})
    assert scored.instance_confidences.tolist() == [0.5]  # type: ignore[union-attr]
    assert scored.instance_extras["id"].tolist() == [3]


# -- 3LC's create-custom-keypoints-table notebook (Animal-Pose) on the real test file ---------
KEYPOINT_COLORS = [
    [148, 0, 211], [75, 0, 130], [0, 0, 255], [0, 255, 0], [255, 255, 0], [255, 165, 0],
    [255, 69, 0], [255, 0, 0], [139, 0, 0], [128, 0, 128], [238, 130, 238], [186, 85, 211],
    [148, 0, 211], [0, 255, 255], [0, 128, 128], [0, 0, 139], [0, 0, 255], [0, 255, 0],
    [255, 69, 0], [255, 20, 147],
]  # fmt: skip
FLIP_INDEXES = [1, 0, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 17, 18, 19]


def test_the_custom_keypoints_notebook_schema_and_rows(real_data, store: Path) -> None:
    data = json.loads((real_data("animalpose") / "annotations.json").read_text())
    NUM_KEYPOINTS = 20
    KEYPOINT_NAMES = data["categories"][0]["keypoints"]
    CLASSES = {cat["id"]: cat["name"] for cat in data["categories"]}
    # the Kaggle file the notebook reads has a 0-based skeleton; mmpose's copy is 1-based
    SKELETON = (np.array(data["categories"][0]["skeleton"]) - 1).reshape(-1).tolist()
    OKS_SIGMAS = [0.07] * 20
    KEYPOINT_ATTRIBUTES = [
        tlc.MapElement(internal_name=kpt_name, display_color=tlc.rgb_tuple_to_hex(color))
        for kpt_name, color in zip(KEYPOINT_NAMES, KEYPOINT_COLORS, strict=True)
    ]
    KEYPOINTS_DEFAULT_POSE = [[0.05 * i, 1 - 0.05 * i] for i in range(20)]
    LINE_ATTRIBUTES = [
        tlc.MapElement(internal_name="edge", display_color=tlc.rgb_tuple_to_hex((10 * i, 0, 255)))
        for i in range(len(SKELETON) // 2)
    ]
    rows = []
    for image in data["images"]:
        keypoints = tlc.Keypoints2DInstances.create_empty(
            image_height=image["height"], image_width=image["width"]
        )
        for ann in data["annotations"]:
            if ann["image_id"] != image["id"]:
                continue
            triples = np.asarray(ann["keypoints"]).reshape(-1, 3).tolist()
            ann["keypoints"] = [[x, y, 2 if v else 0] for (x, y, v) in triples]
            keypoints.add_instance(
                keypoints=ann["keypoints"], bbox=ann["bbox"], label=ann["category_id"]
            )
        rows.append(keypoints.to_row())
    keypoints_schema = tlc.Keypoints2DSchema(
        num_keypoints=NUM_KEYPOINTS,
        classes=CLASSES,
        points=KEYPOINTS_DEFAULT_POSE,
        lines=SKELETON,
        line_attributes=LINE_ATTRIBUTES,
        point_attributes=KEYPOINT_ATTRIBUTES,
        include_per_point_visibility=True,
        flip_indices=FLIP_INDEXES,
        oks_sigmas=OKS_SIGMAS,
    )
    assert keypoints_schema.class_map == {1: "cat"}  # label values are the category ids
    table = pt.Table.from_rows(
        [
            {"image": im["file_name"], "width": im["width"], "height": im["height"], "keypoints": r}
            for im, r in zip(data["images"], rows, strict=True)
        ],
        name="AnimalPose/initial",
        schema=keypoints_schema,
        store=store,
    )
    H = tlc.KeypointHelper
    assert H.get_oks_sigmas_from_table(table) == OKS_SIGMAS
    assert H.get_flip_indices_from_table(table) == FLIP_INDEXES
    assert H.get_lines_from_table(table) == SKELETON
    assert H.get_keypoint_attributes_from_table(table) == [
        {"internal_name": name, "display_color": tlc.rgb_tuple_to_hex(color)}
        for name, color in zip(KEYPOINT_NAMES, KEYPOINT_COLORS, strict=True)
    ]
    assert H.get_line_attributes_from_table(table) == [
        e.to_minimal_dict(False) for e in LINE_ATTRIBUTES
    ]
    assert H.get_points_from_table(table) == np.asarray(KEYPOINTS_DEFAULT_POSE).reshape(-1).tolist()
    assert H.get_keypoint_shape_from_table(table) == [20, 3]
    first = tlc.Keypoints2DInstances.from_row(table[0]["keypoints"].to_row())
    assert first.instance_labels.tolist() == [1]
    assert first.to_row() == rows[0]


def test_the_fhibe_notebooks_keypoint_part() -> None:
    names = [f"point {i}" for i in range(33)]
    skeleton = [11, 12, 11, 13, 13, 15, 12, 14, 14, 16, 12, 24, 11, 23, 23, 24]
    schema = tlc.Keypoints2DSchema(
        classes=["person"],
        num_keypoints=33,
        lines=skeleton,
        point_attributes=names,
        include_per_point_visibility=True,
    )
    kpts_arr = np.zeros((33, 3), dtype=np.float32)
    kpts_arr[11] = [10, 20, 2]
    kpts_arr[12] = [30, 40, 0]
    instances = tlc.Keypoints2DInstances.create_empty(
        image_width=64,
        image_height=48,
        include_keypoint_visibilities=True,
        include_instance_bbs=True,
    )
    instances.add_instance(keypoints=kpts_arr, label=0, bbox=[1, 2, 50, 40])
    row = instances.to_row()
    assert row["instances"][0]["vertices_2d_additional_data"]["visibility"][11:13] == [2, 0]
    assert schema.keypoint_names[0] == "point 0" and schema.flat_lines == skeleton
    assert tlc.KeypointHelper.get_keypoint_shape_from_table(schema) == [33, 3]


# -- Keypoints2DSchema with 3LC's arguments ---------------------------------------------------
def test_classes_as_3lcs_value_map() -> None:
    S = pt.Keypoints2DSchema
    person = S(classes={0: "person"}, num_keypoints=3)
    assert person.classes == ("person",) and person == S(3)
    animals = S({1: tlc.MapElement("dog", display_color="#00ff00"), 3: "cow"}, 2)
    assert animals.class_map == {1: "dog", 3: "cow"}
    assert animals.classes == ("class_0", "dog", "class_2", "cow")  # by label value
    assert animals.attributes("class") == [
        {"internal_name": "dog", "display_color": "#00ff00"},
        {"internal_name": "cow"},
    ]
    back = S.from_json(animals.to_json())
    assert back == animals and back.class_map == {1: "dog", 3: "cow"}
    assert S(classes="horse", num_keypoints=1).classes == ("horse",)
    unlabeled = S(classes=None, num_keypoints=1)
    assert unlabeled.classes == ("object",) and not unlabeled.include_per_instance_label


def test_3lcs_positional_order_and_the_native_call_build_the_same_schema() -> None:
    tlc_order = pt.Keypoints2DSchema(
        ["person"], 3, [[0.5, 0.5]] * 3, ["a", "b", "c"], [0, 1, 1, 2], None, [0, 1, 2], ["t"],
        [0, 1, 2], [0.1, 0.2, 0.3],
    )  # fmt: skip
    native = pt.Keypoints2DSchema(
        3,
        keypoint_names=["a", "b", "c"],
        lines=[(0, 1), (1, 2)],
        default_pose=[0.5, 0.5] * 3,
        flip_indices=[0, 1, 2],
        oks_sigmas=[0.1, 0.2, 0.3],
        triangles=[(0, 1, 2)],
        triangle_names=["t"],
    )
    assert tlc_order == native
    assert tlc.KeypointHelper.get_triangles_from_table(native) == [0, 1, 2]
    assert tlc.KeypointHelper.get_triangle_attributes_from_table(native) == [{"internal_name": "t"}]
    assert pt.Keypoints2DSchema.from_json(native.to_json()) == native
    shown = pt.Keypoints2DSchema(2, display_name="Pose", writable=False)
    assert dict(shown.display) == {"display_name": "Pose", "writable": False}
    assert data_types.Keypoints2D.schema(["person"], 3, include_per_point_visibility=True) == (
        pt.Keypoints2DSchema(3, include_per_point_visibility=True)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"size0": 3}, UnsupportedError, r"schema argument size0=3; supported: \['display_name'"),
        (
            {"point_attributes": ["a", "b"]},
            SchemaError,
            "point_attributes must have 3 entries, got 2",
        ),
        (
            {"lines": [0, 1], "line_attributes": ["a", "b"]},
            SchemaError,
            "line_attributes must have 1 entries, got 2",
        ),
        (
            {"point_attributes": [tlc.MapElement("a", display_color="#ff0000"), "b", "c"]},
            UnsupportedError,
            "display_color is given for 1 of 3 entries",
        ),
        (
            {"point_attributes": [{"internal_name": "a", "colour": "x"}, "b", "c"]},
            UnsupportedError,
            r"unknown map-element keys \['colour'\]",
        ),
        ({"classes": {-1: "x"}}, SchemaError, r"classes keys must be label values .* got -1"),
        ({"classes": {"dog": 1}}, SchemaError, "got 'dog'"),
        ({"triangles": [0, 1, 5]}, SchemaError, r"triangles\[0\] index must be in \[0, 2\]"),
        ({"points": [0.5] * 4}, SchemaError, r"default_pose must have shape \(K=3, 2\)"),
        ({"points": [0.5] * 6, "default_pose": [0.5] * 6}, SchemaError, "not both"),
        ({"include_per_point_visibility": "yes"}, SchemaError, "must be True or False, got 'yes'"),
        ({"oks_sigmas": [0.1, float("nan"), 0.1]}, SchemaError, "got nan at index 1"),
    ],
)
def test_bad_3lc_schema_arguments_raise_naming_argument_and_value(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        pt.Keypoints2DSchema(**{"classes": ["person"], "num_keypoints": 3, **kwargs})


# -- flattening and parsing helpers -------------------------------------------------------------
def test_flatten_and_parse_helpers() -> None:
    H = tlc.KeypointHelper
    assert H.flatten_points(np.array([[1, 2, 3], [4, 5, 6]])) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert H.flatten_lines(np.array([[0, 1], [1, 2]])) == [0, 1, 1, 2]
    assert H.flatten_triangles([0, 1, 2, 2, 3, 0]) == [0, 1, 2, 2, 3, 0]
    points, vis = H.parse_keypoints_with_visibility([1, 2, 2, 3, 4, 1, 5, 6, 0])  # 9: triplets
    assert points.tolist() == [[1, 2], [3, 4], [5, 6]] and vis.tolist() == [2, 1, 0]  # type: ignore[union-attr]
    points, vis = H.parse_keypoints_with_visibility(np.zeros((4, 2)))
    assert points.shape == (4, 2) and vis is None
    with pytest.raises(InstancesError, match=r"12 values could be 6 .* or 4 .* points"):
        H.parse_keypoints_with_visibility([0.0] * 12)
    assert H.parse_bbox((1, 2, 3, 4)).tolist() == [[1.0, 2.0, 3.0, 4.0]]
    with pytest.raises(UnsupportedError, match="format must be 'xyxy' or 'xywh', got 'cxcywh'"):
        H.parse_bbox([1, 2, 3, 4], format="cxcywh")
    vis2, conf = H.parse_per_keypoint_channel(3, derived_visibility=np.array([2, 0, 1]))
    assert vis2.tolist() == [[2, 0, 1]] and conf is None  # type: ignore[union-attr]
    vis3, _ = H.parse_per_keypoint_channel(3, visibility=[1, 1, 1], derived_visibility=np.ones(3))
    assert vis3.tolist() == [[1, 1, 1]]  # type: ignore[union-attr]
    _, conf2 = H.parse_per_keypoint_channel(2, confidence=[0.5, 1.0])
    assert conf2.dtype == np.float32 and conf2.shape == (1, 2)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not both"):
        H.parse_per_keypoint_channel(2, visibility=[2, 2], confidence=[1, 1])
    with pytest.raises(InstancesError, match="visibility must have K=3 values, got 2"):
        H.parse_per_keypoint_channel(3, visibility=[2, 2])


# -- 3LC 3.x names --------------------------------------------------------------------------
def test_3x_keypoints2d_builds_the_same_rows_as_2x(store: Path) -> None:
    Keypoints2D = data_types.Keypoints2D
    three = Keypoints2D.create_empty(image_width=640, image_height=480)
    three.add_instance(
        keypoints=[[100, 150], [120, 160], [140, 170]],
        bounding_box=[90, 140, 150, 180],
        label=0,
        confidence=0.97,
        keypoint_visibilities=[2, 2, 1],
    )
    two = pt.Keypoints2DInstances.create_empty(image_width=640, image_height=480)
    two.add_instance(
        keypoints=[[100, 150], [120, 160], [140, 170]],
        bbox=[90, 140, 150, 180],
        label=0,
        visibility=[2, 2, 1],
        instance_confidence=0.97,
    )
    assert three.to_row() == two.to_row()
    assert three.labels.tolist() == [0] and three.confidences.tolist() == [0.97]  # type: ignore[union-attr]
    direct = Keypoints2D(
        keypoints=np.zeros((2, 3, 2), dtype=np.float32),
        labels=np.zeros(2, dtype=np.int32),
        bounding_boxes=np.array([[10, 10, 100, 200]] * 2, dtype=np.float32),
        keypoint_visibilities=np.ones((2, 3), dtype=np.int32) * 2,
        x_max=640.0,
        y_max=480.0,
    )
    assert direct.bounding_boxes.tolist() == [[10.0, 10.0, 100.0, 200.0]] * 2
    table = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 640, "height": 480, "keypoints": three}],
        name="three",
        schema=Keypoints2D.schema(classes=["person"], num_keypoints=3),
        store=store,
    )
    assert table[0]["keypoints"].to_row() == two.to_row()
    assert helpers.KeypointHelper.get_keypoint_shape_from_table(table) == [3, 3]
    with pytest.raises(InstancesError, match=r"give labels .* or instance_labels .*, not both"):
        Keypoints2D(np.zeros((1, 1, 2)), labels=[0], instance_labels=[0])
