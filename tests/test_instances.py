"""Keypoints2DInstances: 3LC names, building, row round trips, bad input."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import posetable as pt
from posetable.errors import InstancesError, UnsupportedError
from tests._core_tables import COCO_FOLDERS, coco_rows, read_coco

KI = pt.Keypoints2DInstances


# -- the 3LC 2.x surface ------------------------------------------------------------------
def test_names_match_3lc_so_code_ports_by_changing_the_import() -> None:
    for attribute in ("create_empty", "add_instance", "from_row", "to_row", "instance_bbs_xywh"):
        assert hasattr(KI, attribute)
    empty = inspect.signature(KI.create_empty).parameters
    for name in (
        "image_width",
        "image_height",
        "x_min",
        "y_min",
        "x_max",
        "y_max",
        "include_keypoint_confidences",
        "include_keypoint_visibilities",
        "include_instance_confidences",
        "include_instance_labels",
        "include_instance_bbs",
        "instance_extras_keys",
    ):
        assert name in empty, name
    assert list(empty)[:2] == ["image_width", "image_height"]
    add = inspect.signature(KI.add_instance).parameters
    assert list(add) == [  # 3LC's order; every one may be passed by position or keyword
        "self",
        "keypoints",
        "bbox",
        "label",
        "visibility",
        "confidence",
        "normalized",
        "bbox_format",
        "instance_confidence",
        "instance_extras",
    ]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in add.values())
    kp = KI.create_empty(640, 480)
    for field in (
        "keypoints",
        "keypoint_visibilities",
        "keypoint_confidences",
        "instance_labels",
        "instance_confidences",
        "instance_bbs",
        "instance_extras",
        "image_width",
        "image_height",
        "x_min",
        "y_min",
        "x_max",
        "y_max",
    ):
        assert hasattr(kp, field), field


def test_3lc_docstring_example_runs_unchanged() -> None:
    kpts = KI.create_empty(640, 480)
    kpts.add_instance(
        keypoints=[[100, 150], [120, 160], [140, 170]], bbox=[90, 140, 150, 180], label=0
    )
    kpts.add_instance(
        keypoints=[[200, 250, 2], [220, 260, 2], [240, 270, 1]], bbox=[190, 240, 250, 280], label=0
    )
    assert kpts.keypoints.shape == (2, 3, 2)
    assert kpts.keypoint_visibilities.tolist() == [[2, 2, 2], [2, 2, 1]]
    row = kpts.to_row()
    assert KI.from_row(row).to_row() == row
    assert (kpts.image_width, kpts.image_height) == (640.0, 480.0)


def test_predictions_built_like_3lc() -> None:
    kpts = KI.create_empty(image_width=640, image_height=480, include_keypoint_confidences=True)
    kpts.add_instance(
        keypoints=[[100, 150], [120, 160]],
        bbox=[90, 140, 130, 170],
        label=0,
        confidence=[0.9, 0.8],
        instance_confidence=0.95,
    )
    assert kpts.keypoint_visibilities is None
    assert kpts.keypoint_confidences.dtype == np.float32
    np.testing.assert_array_equal(kpts.keypoint_confidences, np.float32([[0.9, 0.8]]))
    # a third column in a set of predictions is the confidence
    kpts.add_instance([[1, 2, 0.5], [3, 4, 0.25]], instance_confidence=0.7)
    np.testing.assert_array_equal(kpts.keypoint_confidences[1], np.float32([0.5, 0.25]))
    assert kpts.instance_confidences.tolist() == [0.95, 0.7]
    with pytest.raises(InstancesError, match="must carry an instance_confidence like the others"):
        kpts.add_instance([[1, 2], [3, 4]], confidence=[1, 1])
    with pytest.raises(InstancesError, match="holds predictions: give confidence="):
        kpts.add_instance([[1, 2], [3, 4]], instance_confidence=0.5)
    assert len(kpts) == 2


# -- dtypes, shapes and derived values ------------------------------------------------------
def test_arrays_have_the_documented_dtypes_and_shapes() -> None:
    kp = KI.create_empty(image_width=100, image_height=50)
    kp.add_instance([[1, 2, 2], [3, 4, 0], [5, 6, 1]], instance_extras={"area": 12.5, "id": 7})
    assert kp.keypoints.dtype == np.float64 and kp.keypoints.shape == (1, 3, 2)
    assert kp.keypoint_visibilities.dtype == np.int32 and kp.keypoint_visibilities.shape == (1, 3)
    assert kp.instance_labels.dtype == np.int32 and kp.instance_labels.tolist() == [0]
    assert kp.instance_bbs.dtype == np.float64 and kp.instance_bbs.shape == (1, 4)
    assert kp.instance_extras["area"].dtype == np.float64
    assert kp.instance_extras["id"].dtype == np.int64
    assert kp.instance_confidences is None and kp.keypoint_confidences is None
    assert len(kp) == 1 and kp.num_keypoints == 3


def test_box_is_derived_from_labeled_points_only() -> None:
    kp = KI.create_empty(image_width=100, image_height=100)
    kp.add_instance([[10, 20, 2], [50, 5, 1], [99, 99, 0]])
    assert kp.instance_bbs.tolist() == [[10.0, 5.0, 50.0, 20.0]]
    kp.add_instance([[1, 1, 0], [2, 2, 0], [3, 3, 0]])
    assert kp.instance_bbs[1].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_xywh_view_and_xywh_input() -> None:
    kp = KI.create_empty(image_width=100, image_height=100)
    kp.add_instance([[10, 20], [30, 40]], bbox=[5, 6, 20, 30], bbox_format="xywh")
    assert kp.instance_bbs.tolist() == [[5.0, 6.0, 25.0, 36.0]]
    assert kp.instance_bbs_xywh.tolist() == [[5.0, 6.0, 20.0, 30.0]]
    assert kp.instance_bbs.tolist() == [[5.0, 6.0, 25.0, 36.0]]  # the view copies


def test_flat_keypoint_lists_are_read_as_2k_or_3k_values() -> None:
    kp = KI.create_empty(image_width=10, image_height=10, num_keypoints=2)
    kp.add_instance([1, 2, 2, 3, 4, 1])
    kp.add_instance([5, 6, 7, 8])
    assert kp.keypoints.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    assert kp.keypoint_visibilities.tolist() == [[2, 1], [2, 2]]


def test_explicit_visibility_overrides_a_third_column() -> None:
    kp = KI.create_empty(image_width=10, image_height=10)
    kp.add_instance([[1, 2, 2], [3, 4, 2]], visibility=[0, 1])
    assert kp.keypoint_visibilities.tolist() == [[0, 1]]


def test_extras_new_to_a_set_pad_earlier_instances_like_3lc() -> None:
    kp = KI.create_empty(image_width=10, image_height=10)
    kp.add_instance([[1, 1]], instance_extras={"id": 1})
    kp.add_instance([[2, 2]], instance_extras={"id": 2, "area": 4.5, "name": "x"})
    kp.add_instance([[3, 3]])
    assert kp.instance_extras["id"].tolist() == [1, 2, -1]
    assert (
        np.isnan(kp.instance_extras["area"][[0, 2]]).all() and kp.instance_extras["area"][1] == 4.5
    )
    assert kp.instance_extras["name"].tolist() == [None, "x", None]


def test_list_valued_extras_are_kept_as_given() -> None:
    kp = KI.create_empty(image_width=10, image_height=10)
    polygon = [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]
    kp.add_instance([[1, 1]], instance_extras={"segmentation": polygon, "face_valid": False})
    assert kp.instance_extras["segmentation"].tolist() == [polygon]
    assert kp.to_row()["instances_additional_data"]["segmentation"] == [polygon]


def test_normalized_coordinates_are_scaled_by_the_image_size() -> None:
    kp = KI.create_empty(image_width=200, image_height=100)
    kp.add_instance([[0.5, 0.5, 2]], normalized=True)
    assert kp.keypoints.tolist() == [[[100.0, 50.0]]]
    with pytest.raises(InstancesError, match="need the image size"):
        KI.create_empty().add_instance([[0.5, 0.5]], normalized=True)


def test_select_and_copy_are_independent() -> None:
    kp = KI.create_empty(image_width=10, image_height=10)
    kp.add_instance([[1, 1]], instance_extras={"id": 1})
    kp.add_instance([[2, 2]], instance_extras={"id": 2})
    picked = kp.select(kp.instance_extras["id"] > 1)
    picked.keypoints[0, 0, 0] = 99
    assert kp.keypoints[1, 0, 0] == 2 and len(picked) == 1
    clone = kp.copy()
    assert clone == kp and clone is not kp


# -- row round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_real_rows_round_trip_exactly(real_data, folder: str) -> None:
    _, rows = coco_rows(real_data(folder))
    for row in rows:
        value = row["keypoints"].to_row()
        assert KI.from_row(value).to_row() == value


def test_real_coordinates_are_kept_as_float64(real_data) -> None:
    data = read_coco(real_data("horse10"))
    _, rows = coco_rows(real_data("horse10"))
    given = [v for a in data["annotations"] for v in a["keypoints"][0::3]]
    stored = [x for r in rows for x in r["keypoints"].keypoints[..., 0].ravel().tolist()]
    assert stored == given  # exact, e.g. 71.39999999999999 stays itself


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
scores = st.floats(0, 1, width=32)


@st.composite
def row_values(draw: st.DrawFn) -> dict[str, Any]:
    """A keypoints row value in 3LC's layout: ground truth or predictions, K in 1..133."""
    k = draw(st.integers(1, 133))
    n = draw(st.integers(0, 4))
    predictions = draw(st.booleans())
    kp = draw(arrays(np.float64, (n, 2 * k), elements=finite))
    corners = draw(arrays(np.float64, (n, 4), elements=finite))
    # x2 >= x1 and y2 >= y1: a table refuses inverted boxes (tests/test_input_edges.py)
    boxes = np.concatenate(
        [np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])], 1
    )
    vis = draw(arrays(np.int32, (n, k), elements=st.integers(0, 2)))
    conf = draw(arrays(np.float32, (n, k), elements=scores))
    instances = [
        {
            "vertices_2d": kp[i].tolist(),
            "vertices_2d_additional_data": {
                "visibility": None if predictions else vis[i].tolist(),
                "confidence": conf[i].tolist() if predictions else None,
            },
            "bbs_2d": [boxes[i].tolist()],
        }
        for i in range(n)
    ]
    data: dict[str, Any] = {
        "label": draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)),
        "confidence": draw(st.lists(finite, min_size=n, max_size=n)) if predictions else None,
    }
    if draw(st.booleans()):
        data["area"] = draw(st.lists(finite, min_size=n, max_size=n))
        data["id"] = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
        data["note"] = draw(st.lists(st.text(max_size=5), min_size=n, max_size=n))
    return {
        "x_min": 0.0,
        "y_min": 0.0,
        "x_max": float(draw(st.integers(1, 5000))),
        "y_max": float(draw(st.integers(1, 5000))),
        "instances": instances,
        "instances_additional_data": data,
    }


@settings(max_examples=150, deadline=None)
@given(row_values())
def test_to_row_of_from_row_gives_back_the_value_exactly(value: dict[str, Any]) -> None:
    item = KI.from_row(value)
    assert item.to_row() == value
    assert len(item) == len(value["instances"])
    if len(item):
        assert (item.keypoint_confidences is not None) == (
            value["instances_additional_data"]["confidence"] is not None
        )


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 133),
    n=st.integers(0, 5),
    data=st.data(),
)
def test_built_instances_round_trip_through_rows(k: int, n: int, data: st.DataObject) -> None:
    kp = KI.create_empty(image_width=640, image_height=480, num_keypoints=k)
    for _ in range(n):
        points = data.draw(arrays(np.float64, (k, 2), elements=finite))
        vis = data.draw(arrays(np.int64, (k,), elements=st.integers(0, 2)))
        kp.add_instance(
            np.column_stack([points, vis]),
            label=data.draw(st.integers(0, 3)),
            instance_extras={"id": data.draw(st.integers(0, 10**9))},
        )
    value = kp.to_row()
    back = KI.from_row(value)
    assert back.to_row() == value
    assert back == kp


def test_empty_rows_round_trip() -> None:
    empty = KI.create_empty(image_width=8, image_height=6)
    value = empty.to_row()
    assert value["instances"] == [] and value["x_max"] == 8.0
    assert KI.from_row(value).to_row() == value
    assert len(KI.from_row(value)) == 0


def test_from_row_accepts_a_pyarrow_scalar_and_an_instance() -> None:
    import pyarrow as pa

    kp = KI.create_empty(image_width=10, image_height=10)
    kp.add_instance([[1, 2, 2]])
    value = kp.to_row()
    scalar = pa.array([value])[0]
    assert KI.from_row(scalar).to_row() == value
    assert KI.from_row(kp) == kp and KI.from_row(kp) is not kp


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keypoints": np.zeros((2, 3))}, r"keypoints must have shape \(N, K, 2\), got \(2, 3\)"),
        (
            {"keypoints": np.zeros((2, 3, 3))},
            r"keypoints must have shape \(N, K, 2\), got \(2, 3, 3\)",
        ),
        (
            {"keypoints": np.zeros((1, 3, 2)), "num_keypoints": 17},
            r"\(N, K=17, 2\), got \(1, 3, 2\)",
        ),
        (
            {"keypoints": [[[0.0, np.nan]]]},
            r"keypoints must be finite, got \[0.0, nan\] at instance 0, keypoint 0",
        ),
        (
            {"keypoints": [[[0.0, 0.0], [np.inf, 1.0]]]},
            r"got \[inf, 1.0\] at instance 0, keypoint 1",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "keypoint_visibilities": [[0, 3]]},
            r"must be 0, 1 or 2, got 3 at instance 0, keypoint 1",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "keypoint_visibilities": [[-1, 0]]},
            r"got -1 at instance 0, keypoint 0",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "keypoint_visibilities": [[1.5, 0]]},
            r"must be 0, 1 or 2, got 1.5",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "keypoint_visibilities": [[0, 1, 2]]},
            r"shape \(N=1, K=2\), got \(1, 3\)",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "keypoint_confidences": [[0.1, np.nan]]},
            "keypoint_confidences must be finite",
        ),
        (
            {
                "keypoints": np.zeros((1, 2, 2)),
                "keypoint_visibilities": [[2, 2]],
                "keypoint_confidences": [[1, 1]],
            },
            "not both",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "instance_labels": [0, 1]},
            r"instance_labels must have shape \(N=1,\), got \(2\)",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "instance_bbs": [[0, 0, 1]]},
            r"instance_bbs must have shape \(N=1, 4\)",
        ),
        (
            {"keypoints": np.zeros((1, 2, 2)), "instance_extras": {"area": [1.0, 2.0]}},
            r"instance_extras\['area'\] must have shape \(N=1,\)",
        ),
        ({"keypoints": np.zeros((1, 2, 2)), "instance_extras": {"label": [1]}}, "fixed field"),
        (
            {"keypoints": np.zeros((1, 2, 2)), "instance_confidences": [np.nan]},
            "instance_confidences must be finite",
        ),
    ],
)
def test_bad_arrays_raise_instances_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InstancesError, match=message):
        KI(**kwargs)


def test_add_instance_checks_k_and_values() -> None:
    kp = KI.create_empty(image_width=10, image_height=10, num_keypoints=3)
    with pytest.raises(InstancesError, match=r"\(K=3, 2\) or \(K=3, 3\), got \(2, 2\)"):
        kp.add_instance([[1, 1], [2, 2]])
    kp.add_instance([[1, 1], [2, 2], [3, 3]])
    with pytest.raises(InstancesError, match="must be 0, 1 or 2, got 7"):
        kp.add_instance([[1, 1, 7], [2, 2, 2], [3, 3, 2]])
    with pytest.raises(InstancesError, match="finite"):
        kp.add_instance([[np.nan, 1], [2, 2], [3, 3]])
    with pytest.raises(InstancesError, match="not both"):
        kp.add_instance([[1, 1], [2, 2], [3, 3]], visibility=[2, 2, 2], confidence=[1, 1, 1])
    with pytest.raises(UnsupportedError, match="bbox_format must be 'xyxy' or 'xywh', got 'cx"):
        kp.add_instance([[1, 1], [2, 2], [3, 3]], bbox=[0, 0, 1, 1], bbox_format="cxcywh")
    assert len(kp) == 1  # failed calls added nothing


def test_bad_row_values_raise_instances_error() -> None:
    with pytest.raises(InstancesError, match="needs an 'instances' list"):
        KI.from_row({"x_max": 1})
    with pytest.raises(InstancesError, match="must be a mapping"):
        KI.from_row([1, 2])  # type: ignore[arg-type]
    mixed = {
        "instances": [
            {
                "vertices_2d": [0, 0, 1, 1],
                "vertices_2d_additional_data": {"visibility": [2, 2]},
                "bbs_2d": [],
            },
            {
                "vertices_2d": [0, 0],
                "vertices_2d_additional_data": {"visibility": [2]},
                "bbs_2d": [],
            },
        ],
        "instances_additional_data": {"label": [0, 0]},
    }
    with pytest.raises(InstancesError, match=r"same number of vertices, got lengths \[2, 4\]"):
        KI.from_row(mixed)
    some = {
        "instances": [
            {
                "vertices_2d": [0, 0],
                "vertices_2d_additional_data": {"visibility": [2]},
                "bbs_2d": [],
            },
            {
                "vertices_2d": [0, 0],
                "vertices_2d_additional_data": {"visibility": None},
                "bbs_2d": [],
            },
        ],
        "instances_additional_data": {"label": [0, 0]},
    }
    with pytest.raises(InstancesError, match="set for some instances only"):
        KI.from_row(some)
    labels = {
        "instances": [{"vertices_2d": [0, 0]}],
        "instances_additional_data": {"label": [0, 1]},
    }
    with pytest.raises(
        InstancesError, match=r"label must have one value per instance \(N=1\), got 2"
    ):
        KI.from_row(labels)


def test_instances_errors_are_value_errors_of_ours() -> None:
    assert issubclass(InstancesError, ValueError)
    assert issubclass(InstancesError, pt.errors.PosetableError)
