"""Keypoints2DSchema: construction, defaults, JSON round trip, COCO preset, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.cocoeval import Params

import posetable as pt
from posetable.errors import SchemaError
from tests._core_tables import COCO_FOLDERS, coco_schema, read_coco


def test_k_comes_from_num_keypoints_with_default_names_and_uniform_sigmas() -> None:
    schema = pt.Keypoints2DSchema(4)
    assert schema.num_keypoints == 4
    assert schema.keypoint_names == ("kpt_0", "kpt_1", "kpt_2", "kpt_3")
    assert schema.sigmas.dtype == np.float64
    np.testing.assert_array_equal(schema.sigmas, np.full(4, 1 / 4))
    assert not schema.oks_sigmas_given
    assert schema.lines == () and schema.flip_indices is None and schema.default_pose is None
    assert schema.classes == ("person",)


def test_k_comes_from_the_names_when_not_given() -> None:
    schema = pt.Keypoints2DSchema(keypoint_names=["nose", "left_eye", "right_eye"])
    assert schema.num_keypoints == 3
    assert schema.keypoint_names == ("nose", "left_eye", "right_eye")


@pytest.mark.parametrize(
    "lines",
    [
        [0, 1, 1, 2, 2, 3],
        [(0, 1), (1, 2), (2, 3)],
        [[0, 1], [1, 2], [2, 3]],
        np.array([[0, 1], [1, 2], [2, 3]]),
    ],
    ids=["flat", "tuples", "lists", "array"],
)
def test_lines_accept_the_flat_list_or_pairs(lines: object) -> None:
    schema = pt.Keypoints2DSchema(4, lines=lines)
    assert schema.lines == ((0, 1), (1, 2), (2, 3))
    assert schema.flat_lines == [0, 1, 1, 2, 2, 3]


def test_default_pose_accepts_k_by_2_or_the_flat_list() -> None:
    pairs = pt.Keypoints2DSchema(2, default_pose=[[0.1, 0.2], [0.3, 0.4]])
    flat = pt.Keypoints2DSchema(2, default_pose=[0.1, 0.2, 0.3, 0.4])
    assert pairs.default_pose == flat.default_pose == ((0.1, 0.2), (0.3, 0.4))


def test_colours_accept_hex_or_rgb() -> None:
    schema = pt.Keypoints2DSchema(
        2, lines=[0, 1], keypoint_colors=["#ff0000", (0, 255, 0)], line_colors=["00ff00"]
    )
    assert schema.keypoint_colors == ((255, 0, 0), (0, 255, 0))
    assert schema.line_colors == ((0, 255, 0),)


def test_schema_is_frozen_and_its_sigmas_read_only() -> None:
    schema = pt.Keypoints2DSchema(3, oks_sigmas=[0.1, 0.2, 0.3])
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.num_keypoints = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        schema.sigmas[0] = 1.0
    assert hash(schema) == hash(pt.Keypoints2DSchema(3, oks_sigmas=[0.1, 0.2, 0.3]))


def test_replace_returns_a_new_schema_and_keeps_the_old() -> None:
    schema = pt.Keypoints2DSchema(2)
    other = schema.replace(oks_sigmas=[0.5, 0.25])
    assert other.oks_sigmas == (0.5, 0.25) and other.oks_sigmas_given
    assert schema.oks_sigmas == (0.5, 0.5) and not schema.oks_sigmas_given
    with pytest.raises(SchemaError, match="unknown schema fields"):
        schema.replace(sigma=[1, 2])


def test_coco_person_matches_pycocotools_exactly() -> None:
    schema = pt.Keypoints2DSchema.coco_person()
    reference = Params(iouType="keypoints").kpt_oks_sigmas
    assert schema.sigmas.tobytes() == np.asarray(reference, dtype=np.float64).tobytes()
    assert list(schema.keypoint_names) == pt.COCO_KEYPOINT_NAMES
    assert schema.keypoint_names[:3] == ("nose", "left_eye", "right_eye")
    assert list(schema.flip_indices or ()) == pt.COCO_FLIP_INDICES
    assert len(schema.lines) == 19 and schema.lines[0] == (15, 13)
    assert schema.default_pose is not None and len(schema.default_pose) == 17
    assert all(0 <= v <= 1 for point in schema.default_pose for v in point)
    assert schema.line_colors is not None and len(schema.line_colors) == 19


def test_coco_person_agrees_with_the_real_coco_file(real_data) -> None:
    from_file = coco_schema(read_coco(real_data("coco_kpts")))
    preset = pt.Keypoints2DSchema.coco_person()
    assert from_file.keypoint_names == preset.keypoint_names
    assert from_file.lines == preset.lines


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_real_schemas_round_trip_through_json(real_data, folder: str) -> None:
    schema = coco_schema(read_coco(real_data(folder)))
    text = schema.to_json()
    data = orjson.loads(text)
    assert data["type"] == "keypoints_2d" and data["format_version"] == 1
    back = pt.Keypoints2DSchema.from_json(text)
    assert back == schema
    assert back.sigmas.tobytes() == schema.sigmas.tobytes()
    assert pt.Keypoints2DSchema.from_dict(schema.to_dict()) == schema


def test_real_several_category_file_keeps_every_class(real_data) -> None:
    data = read_coco(real_data("ap10k"))
    schema = coco_schema(data)
    assert len(schema.classes) == len(data["categories"]) == 54
    assert schema.num_keypoints == 17


def test_full_schema_round_trips_through_json() -> None:
    schema = pt.Keypoints2DSchema(
        keypoint_names=["a", "left_b", "right_b"],
        lines=[0, 1, 0, 2],
        flip_indices=[0, 2, 1],
        oks_sigmas=[0.1, 0.07000000000000001, 0.3],
        default_pose=[[0.5, 0.1], [0.4, 0.5], [0.6, 0.5]],
        classes=["cat", "dog"],
        keypoint_colors=[(1, 2, 3), (4, 5, 6), (7, 8, 9)],
        line_colors=["#010203", "#040506"],
    )
    back = pt.Keypoints2DSchema.from_json(schema.to_json())
    assert back == schema
    assert back.oks_sigmas[1] == 0.07000000000000001


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 133),
    data=st.data(),
)
def test_any_valid_schema_round_trips_through_json(k: int, data: st.DataObject) -> None:
    sigmas = data.draw(
        st.none() | st.lists(st.floats(1e-6, 10, allow_nan=False), min_size=k, max_size=k)
    )
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), max_size=10)
    )
    swaps = data.draw(st.permutations(range(k)))
    flips = list(range(k))
    for a, b in zip(swaps[0::2], swaps[1::2], strict=False):
        flips[a], flips[b] = b, a
    schema = pt.Keypoints2DSchema(k, lines=pairs, flip_indices=flips, oks_sigmas=sigmas)
    back = pt.Keypoints2DSchema.from_json(schema.to_json())
    assert back == schema
    assert back.sigmas.tobytes() == schema.sigmas.tobytes()


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"oks_sigmas": [0.1, 0.2]}, "oks_sigmas must have length K=3, got 2"),
        ({"oks_sigmas": [0.1, 0.2, 0.3, 0.4]}, "oks_sigmas must have length K=3, got 4"),
        ({"oks_sigmas": [0.1, 0.0, 0.3]}, r"oks_sigmas must be finite and > 0, got 0.0 at index 1"),
        (
            {"oks_sigmas": [0.1, -0.2, 0.3]},
            r"oks_sigmas must be finite and > 0, got -0.2 at index 1",
        ),
        (
            {"oks_sigmas": [0.1, 0.2, float("nan")]},
            r"oks_sigmas must be finite and > 0, got nan at index 2",
        ),
        ({"oks_sigmas": [0.1, float("inf"), 0.2]}, r"got inf at index 1"),
        ({"oks_sigmas": ["a", "b", "c"]}, "oks_sigmas must be 3 numbers"),
        ({"lines": [0, 3]}, r"lines\[0\] index must be in \[0, 2\] \(K=3\), got 3"),
        ({"lines": [(0, 1), (1, -1)]}, r"lines\[1\] index must be in \[0, 2\] \(K=3\), got -1"),
        ({"lines": [0, 1, 2]}, "even length"),
        ({"lines": [(0, 1, 2)]}, r"lines\[0\] must be a pair"),
        ({"lines": [0.5, 1]}, "integer keypoint indices"),
        ({"flip_indices": [0, 2]}, "flip_indices must have length K=3, got 2"),
        ({"flip_indices": [1, 2, 0]}, r"own inverse .*flip\[0\]=1 but flip\[1\]=2"),
        ({"flip_indices": [0, 0, 1]}, "own inverse"),
        ({"flip_indices": [0, 1, 3]}, r"flip_indices\[2\] must be an index in \[0, 2\], got 3"),
        ({"keypoint_names": ["a", "b"]}, "keypoint_names must have length K=3, got 2"),
        ({"default_pose": [[0.1, 0.2]]}, r"default_pose must have shape \(K=3, 2\)"),
        ({"default_pose": [[0, 0], [0, 0], [0, float("nan")]]}, "finite"),
        ({"classes": []}, "at least one class"),
        ({"keypoint_colors": ["#ff0000"]}, "keypoint_colors must have 3 entries, got 1"),
        ({"keypoint_colors": ["red", "#00ff00", "#0000ff"]}, r"keypoint_colors\[0\]"),
    ],
)
def test_bad_schema_input_names_what_was_expected_and_found(kwargs: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        pt.Keypoints2DSchema(3, **kwargs)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_num_keypoints_must_be_a_positive_integer(k: object) -> None:
    with pytest.raises(SchemaError, match="num_keypoints must be an integer >= 1"):
        pt.Keypoints2DSchema(k)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="num_keypoints must be an integer >= 1"):
        pt.Keypoints2DSchema(num_keypoints=k)  # type: ignore[arg-type]


def test_a_first_positional_that_is_not_a_number_is_3lcs_classes() -> None:
    schema = pt.Keypoints2DSchema("3", 2)  # 3LC's order: classes, num_keypoints
    assert schema.classes == ("3",) and schema.num_keypoints == 2
    with pytest.raises(SchemaError, match="give num_keypoints or keypoint_names"):
        pt.Keypoints2DSchema("3")


def test_schema_needs_k_or_names_and_unique_names() -> None:
    with pytest.raises(SchemaError, match="give num_keypoints or keypoint_names"):
        pt.Keypoints2DSchema()
    with pytest.raises(SchemaError, match=r"unique, got duplicates \['a'\]"):
        pt.Keypoints2DSchema(keypoint_names=["a", "b", "a"])


def test_schema_errors_are_value_errors_of_ours() -> None:
    with pytest.raises(ValueError):
        pt.Keypoints2DSchema(2, oks_sigmas=[1.0])
    assert issubclass(SchemaError, pt.errors.PosetableError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"type": "boxes", "format_version": 1, "num_keypoints": 2}',
            "schema type must be 'keypoints_2d'",
        ),
        (
            '{"type": "keypoints_2d", "format_version": 99, "num_keypoints": 2}',
            "format_version must be an int <= 1, got 99",
        ),
        (
            '{"type": "keypoints_2d", "format_version": 1, "num_keypoints": 2, "bogus": 1}',
            "unknown fields",
        ),
        ("[1, 2]", "must be a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_schema_json_raises_schema_error(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        pt.Keypoints2DSchema.from_json(text)


def test_flip_indices_come_from_left_right_names() -> None:
    from posetable.schema import flip_indices_from_names

    assert flip_indices_from_names(pt.COCO_KEYPOINT_NAMES) == tuple(pt.COCO_FLIP_INDICES)
    assert flip_indices_from_names(["L_Paw", "R_Paw", "tail"]) == (1, 0, 2)
    assert flip_indices_from_names(["a", "b"]) is None
