"""KeypointHelper: the seed's getters on real tables, derived tables, COCO constants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pycocotools.cocoeval import Params

import posetable as pt
from posetable.errors import ConflictError, SchemaError
from tests._core_tables import coco_table, read_coco, versions

H = pt.KeypointHelper


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


def test_getters_return_the_seed_values_on_the_real_coco_table(coco: pt.Table) -> None:
    assert H.get_keypoint_shape_from_table(coco) == (17, 3)
    attributes = H.get_keypoint_attributes_from_table(coco)
    assert attributes[0] == {"internal_name": "nose"} and len(attributes) == 17
    assert [a["internal_name"] for a in attributes] == list(pt.COCO_KEYPOINT_NAMES)
    lines = H.get_lines_from_table(coco)
    assert isinstance(lines, list) and len(lines) == 38
    assert lines[:4] == [15, 13, 13, 11]
    assert all(isinstance(i, int) and 0 <= i < 17 for i in lines)
    assert H.get_flip_indices_from_table(coco) is None  # the COCO file has none
    assert H.get_keypoint_names_from_table(coco)[-1] == "right_ankle"


def test_sigmas_default_to_uniform_one_over_k(real_data, store: Path) -> None:
    for folder, k in [("coco_kpts", 17), ("onehand10k", 21), ("horse10", 22)]:
        table = coco_table(real_data(folder), name=folder, store=store)
        sigmas = H.get_oks_sigmas_from_table(table)
        assert sigmas.dtype == np.float64 and sigmas.shape == (k,)
        np.testing.assert_array_equal(sigmas, np.full(k, 1.0 / k))


def test_getters_read_a_schema_too() -> None:
    schema = pt.Keypoints2DSchema.coco_person()
    assert H.get_flip_indices_from_table(schema) == list(pt.COCO_FLIP_INDICES)
    assert H.get_oks_sigmas_from_table(schema).tolist() == list(pt.COCO_OKS_SIGMAS)
    assert H.get_default_keypoints_from_table(schema).shape == (17, 2)
    ring = H.get_default_keypoints_from_table(pt.Keypoints2DSchema(5))
    assert ring.shape == (5, 2) and np.all((ring >= 0) & (ring <= 1))
    with pytest.raises(
        SchemaError, match="expected a posetable Table or Keypoints2DSchema, got dict"
    ):
        H.get_keypoint_shape_from_table({})  # type: ignore[arg-type]


def test_edit_oks_sigmas_makes_a_derived_table_and_keeps_the_original(coco: pt.Table) -> None:
    reference = Params(iouType="keypoints").kpt_oks_sigmas
    tuned = H.edit_oks_sigmas(coco, reference)
    assert (tuned.revision, tuned.parent) == (2, 1)
    assert tuned.operation == "edit_oks_sigmas"
    assert H.get_oks_sigmas_from_table(tuned).tobytes() == np.asarray(reference).tobytes()
    np.testing.assert_array_equal(H.get_oks_sigmas_from_table(coco), np.full(17, 1 / 17))
    reopened = pt.Table.open("coco@1", store=coco.store)
    np.testing.assert_array_equal(H.get_oks_sigmas_from_table(reopened), np.full(17, 1 / 17))
    assert [r["keypoints"].to_row() for r in tuned] == [r["keypoints"].to_row() for r in coco]


def test_a_metadata_edit_writes_no_data_file(coco: pt.Table) -> None:
    data_dir = coco.store.table_uri("coco") / "data"
    before = sorted(p.name for p in data_dir.iterdir())
    H.edit_oks_sigmas(coco, [0.05] * 17)
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_edit_default_keypoints_takes_the_seed_flat_list_or_pairs(coco: pt.Table) -> None:
    flat = [0.5, 0.1] * 17
    first = H.edit_default_keypoints(coco, flat)
    np.testing.assert_array_equal(
        H.get_default_keypoints_from_table(first), np.tile([0.5, 0.1], (17, 1))
    )
    pairs = np.tile([0.25, 0.75], (17, 1))
    second = H.edit_default_keypoints(first, pairs)
    np.testing.assert_array_equal(H.get_default_keypoints_from_table(second), pairs)
    assert [h.operation for h in second.history()] == [
        "edit_default_keypoints",
        "edit_default_keypoints",
        "create",
    ]
    assert coco.schema.default_pose is None


def test_edit_default_lines_and_flip_indices(coco: pt.Table) -> None:
    lined = H.edit_default_lines(coco, [[0, 1], [1, 2]])
    assert H.get_lines_from_table(lined) == [0, 1, 1, 2]
    assert H.get_lines_from_table(coco)[:2] == [15, 13]
    flipped = H.edit_flip_indices(lined, pt.COCO_FLIP_INDICES)
    assert H.get_flip_indices_from_table(flipped) == list(pt.COCO_FLIP_INDICES)
    assert flipped.history()[0].arguments == {"flip_indices": list(pt.COCO_FLIP_INDICES)}


@pytest.mark.parametrize(
    ("sigmas", "message"),
    [
        ([0.1] * 16, "oks_sigmas must have length K=17, got 16"),
        ([0.1] * 16 + [0.0], "must be finite and > 0, got 0.0 at index 16"),
        ([0.1] * 16 + [float("nan")], "got nan at index 16"),
        ([-0.1] + [0.1] * 16, "got -0.1 at index 0"),
    ],
)
def test_bad_sigmas_raise_and_write_nothing(
    coco: pt.Table, sigmas: list[float], message: str
) -> None:
    state = versions(coco.store.table_uri("coco"))
    with pytest.raises(SchemaError, match=message):
        H.edit_oks_sigmas(coco, sigmas)
    assert versions(coco.store.table_uri("coco")) == state


def test_bad_default_pose_and_lines_raise(coco: pt.Table) -> None:
    with pytest.raises(SchemaError, match=r"default_pose must have shape \(K=17, 2\)"):
        H.edit_default_keypoints(coco, [0.5] * 10)
    with pytest.raises(
        SchemaError, match=r"lines\[0\] index must be in \[0, 16\] \(K=17\), got 17"
    ):
        H.edit_default_lines(coco, [17, 0])
    with pytest.raises(SchemaError, match="own inverse"):
        H.edit_flip_indices(coco, [1, *range(1, 17)])


def test_edits_of_an_old_revision_conflict(coco: pt.Table) -> None:
    H.edit_oks_sigmas(coco, [0.1] * 17)
    with pytest.raises(ConflictError):
        H.edit_oks_sigmas(coco, [0.2] * 17)


def test_coco_constants_live_on_the_helper_and_the_package(real_data) -> None:
    category = read_coco(real_data("coco_kpts"))["categories"][0]
    assert list(H.COCO_KEYPOINT_NAMES) == category["keypoints"] == list(pt.COCO_KEYPOINT_NAMES)
    assert [(a + 1, b + 1) for a, b in H.COCO_SKELETON] == [tuple(p) for p in category["skeleton"]]
    assert H.COCO_SKELETON is pt.COCO_SKELETON
    assert (
        np.asarray(H.COCO_OKS_SIGMAS).tobytes()
        == Params(iouType="keypoints").kpt_oks_sigmas.tobytes()
    )
    assert H.COCO_FLIP_INDICES == pt.COCO_FLIP_INDICES
    flips = H.COCO_FLIP_INDICES
    assert all(flips[flips[i]] == i for i in range(17))
    names = H.COCO_KEYPOINT_NAMES
    assert all(
        names[flips[i]]
        == names[i].replace("left", "L").replace("right", "left").replace("L", "right")
        for i in range(17)
    )
    assert len(H.COCO_KEYPOINT_DEFAULT_POSE) == 17 and len(H.COCO_SKELETON_COLORS) == len(
        H.COCO_SKELETON
    )
    pose = np.asarray(H.COCO_KEYPOINT_DEFAULT_POSE)
    left, right = (
        pose[5],
        pose[6],
    )  # the person faces the viewer: their left is on the image's right
    assert left[0] > right[0]
