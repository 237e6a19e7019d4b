"""KeypointHelper: the seed's getters on real tables, derived tables, COCO constants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pycocotools.cocoeval import Params

import posetable as pt
from posetable.errors import SchemaError, UnsupportedError
from tests._core_tables import coco_table, files_under, read_coco, versions

H = pt.KeypointHelper


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


def test_getters_return_the_seed_values_on_the_real_coco_table(coco: pt.Table) -> None:
    assert H.get_keypoint_shape_from_table(coco) == [17, 3]  # its rows carry visibility
    attributes = H.get_keypoint_attributes_from_table(coco)
    assert attributes is not None
    assert attributes[0] == {"internal_name": "nose"} and len(attributes) == 17
    assert [a["internal_name"] for a in attributes] == pt.COCO_KEYPOINT_NAMES
    lines = H.get_lines_from_table(coco)
    assert isinstance(lines, list) and len(lines) == 38
    assert lines[:4] == [15, 13, 13, 11]
    assert all(isinstance(i, int) and 0 <= i < 17 for i in lines)
    assert H.get_flip_indices_from_table(coco) is None  # the COCO file has none
    assert H.get_keypoint_names_from_table(coco)[-1] == "right_ankle"
    assert H.get_points_from_table(coco) is None  # no default pose in the file
    assert H.get_line_attributes_from_table(coco) is None
    assert H.get_triangles_from_table(coco) is None
    assert H.get_triangle_attributes_from_table(coco) is None


def test_sigmas_default_to_uniform_one_over_k_as_a_list(real_data, store: Path) -> None:
    for folder, k in [("coco_kpts", 17), ("onehand10k", 21), ("horse10", 22)]:
        table = coco_table(real_data(folder), name=folder, store=store)
        sigmas = H.get_oks_sigmas_from_table(table)
        assert isinstance(sigmas, list) and all(isinstance(s, float) for s in sigmas)
        assert sigmas == [1.0 / k] * k


def test_the_shape_has_two_channels_without_visibility(store: Path) -> None:
    rows = []
    for i in range(2):
        kp = pt.Keypoints2DInstances.create_empty(10, 10, include_keypoint_confidences=True)
        if i:
            kp.add_instance([[1, 2], [3, 4]], confidence=[0.5, 0.25])
        rows.append({"image": f"{i}.jpg", "width": 10, "height": 10, "keypoints": kp})
    schema = pt.Keypoints2DSchema(2)
    assert H.get_keypoint_shape_from_table(schema) == [2, 2]
    declared = pt.Keypoints2DSchema(
        classes=["a"], num_keypoints=2, include_per_point_visibility=True
    )
    assert H.get_keypoint_shape_from_table(declared) == [2, 3]
    no_instances = pt.Table.from_rows(rows[:1], name="empty", schema=schema, store=store)
    assert H.get_keypoint_shape_from_table(no_instances) == [2, 2]
    predictions = pt.Table.from_rows(rows, name="pred", schema=schema, store=store)
    assert H.get_keypoint_shape_from_table(predictions) == [2, 3]  # a confidence channel


def test_getters_read_a_schema_too() -> None:
    schema = pt.Keypoints2DSchema.coco_person()
    assert H.get_flip_indices_from_table(schema) == pt.COCO_FLIP_INDICES
    assert H.get_oks_sigmas_from_table(schema) == list(pt.COCO_OKS_SIGMAS)
    assert H.get_default_keypoints_from_table(schema).shape == (17, 2)
    ring = H.get_default_keypoints_from_table(pt.Keypoints2DSchema(5))
    assert ring.shape == (5, 2) and np.all((ring >= 0) & (ring <= 1))
    assert H.get_lines_from_table(pt.Keypoints2DSchema(5)) is None
    with pytest.raises(
        SchemaError, match="expected a posetable Table or Keypoints2DSchema, got dict"
    ):
        H.get_keypoint_shape_from_table({})  # type: ignore[arg-type]


def test_label_column_name_takes_3lcs_default_or_ours(coco: pt.Table) -> None:
    assert H.get_oks_sigmas_from_table(coco, label_column_name="keypoints_2d") == [1 / 17] * 17
    assert H.get_oks_sigmas_from_table(coco, "keypoints") == [1 / 17] * 17
    with pytest.raises(
        UnsupportedError, match=r"label_column_name must name .*keypoints_2d, keypoints.*got 'kp'"
    ):
        H.get_lines_from_table(coco, label_column_name="kp")
    with pytest.raises(UnsupportedError, match="label_column_name"):
        H.edit_oks_sigmas(coco, [0.1] * 17, label_column_name="image")
    assert pt.list_tables(store=coco.store) == ["coco"]


def test_edit_oks_sigmas_derives_a_new_table_and_keeps_the_original(coco: pt.Table) -> None:
    reference = Params(iouType="keypoints").kpt_oks_sigmas
    history = coco.history()
    tuned = H.edit_oks_sigmas(coco, reference)
    assert (tuned.name, tuned.revision, tuned.parent) == ("edited_oks_sigmas", 1, None)
    assert tuned.operation == "edit_oks_sigmas" and tuned.source == "coco@1"
    assert tuned.info.arguments == {"source": "coco@1", "oks_sigmas": reference.tolist()}
    assert np.asarray(H.get_oks_sigmas_from_table(tuned)).tobytes() == reference.tobytes()
    assert H.get_oks_sigmas_from_table(coco) == [1 / 17] * 17
    latest = pt.Table.open("coco", store=coco.store)
    assert latest.revision == 1 and latest.history() == history
    assert [r["keypoints"].to_row() for r in tuned] == [r["keypoints"].to_row() for r in coco]
    reset = H.edit_oks_sigmas(tuned)  # None: back to 3LC's default, uniform 1/K
    assert H.get_oks_sigmas_from_table(reset) == [1 / 17] * 17
    assert reset.name == "edited_oks_sigmas_0001" and reset.source == "edited_oks_sigmas@1"


def test_an_edit_leaves_the_source_tables_files_alone(coco: pt.Table) -> None:
    folder = coco.store.table_uri("coco")
    before = files_under(folder)
    H.edit_oks_sigmas(coco, [0.05] * 17)
    assert files_under(folder) == before


def test_edit_default_keypoints_takes_the_seed_flat_list_or_pairs(coco: pt.Table) -> None:
    flat = [0.5, 0.1] * 17
    first = H.edit_default_keypoints(coco, flat)
    assert H.get_points_from_table(first) == flat
    np.testing.assert_array_equal(
        H.get_default_keypoints_from_table(first), np.tile([0.5, 0.1], (17, 1))
    )
    pairs = np.tile([0.25, 0.75], (17, 1))
    second = H.edit_default_keypoints(first, pairs, table_name="posed")
    np.testing.assert_array_equal(H.get_default_keypoints_from_table(second), pairs)
    assert (second.name, second.source) == ("posed", "edited_default_keypoints@1")
    assert coco.schema.default_pose is None


def test_edit_default_lines_and_flip_indices(coco: pt.Table) -> None:
    lined = H.edit_default_lines(coco, [[0, 1], [1, 2]])
    assert H.get_lines_from_table(lined) == [0, 1, 1, 2]
    assert H.get_lines_from_table(coco)[:2] == [15, 13]  # type: ignore[index]
    flipped = H.edit_flip_indices(lined, pt.COCO_FLIP_INDICES)
    assert H.get_flip_indices_from_table(flipped) == pt.COCO_FLIP_INDICES
    assert flipped.info.arguments == {
        "source": "edited_default_lines@1",
        "flip_indices": pt.COCO_FLIP_INDICES,
    }


def test_edit_default_lines_drops_the_old_lines_names_and_colours(store: Path) -> None:
    schema = pt.Keypoints2DSchema(
        classes=["a"],
        num_keypoints=3,
        lines=[0, 1, 1, 2],
        line_attributes=[
            pt.MapElement("l0", display_color="#ff0000"),
            pt.MapElement("l1", display_color="#00ff00", description="second"),
        ],
    )
    table = pt.Table.from_rows([], name="t", schema=schema, store=store)
    assert H.get_line_attributes_from_table(table) == [
        {"internal_name": "l0", "display_color": "#ff0000"},
        {"internal_name": "l1", "description": "second", "display_color": "#00ff00"},
    ]
    relined = H.edit_default_lines(table, [0, 2])
    assert H.get_lines_from_table(relined) == [0, 2]
    assert H.get_line_attributes_from_table(relined) is None


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
    assert pt.list_tables(store=coco.store) == ["coco"]


def test_bad_default_pose_and_lines_raise(coco: pt.Table) -> None:
    with pytest.raises(SchemaError, match=r"default_pose must have shape \(K=17, 2\)"):
        H.edit_default_keypoints(coco, [0.5] * 10)
    with pytest.raises(
        SchemaError, match=r"lines\[0\] index must be in \[0, 16\] \(K=17\), got 17"
    ):
        H.edit_default_lines(coco, [17, 0])
    with pytest.raises(SchemaError, match="own inverse"):
        H.edit_flip_indices(coco, [1, *range(1, 17)])
    with pytest.raises(UnsupportedError, match="table_name must be a non-empty string, got ''"):
        H.edit_oks_sigmas(coco, [0.1] * 17, table_name="")
    assert pt.list_tables(store=coco.store) == ["coco"]


def test_edits_of_an_old_revision_derive_from_it_without_touching_history(
    coco: pt.Table,
) -> None:
    newer = coco.with_rows({0: {"width": 1}})
    first = H.edit_oks_sigmas(coco, [0.1] * 17)
    second = H.edit_oks_sigmas(coco, [0.2] * 17)
    assert (first.source, second.source) == ("coco@1", "coco@1")
    assert second.name == "edited_oks_sigmas_0001"
    assert first[0]["width"] == coco[0]["width"] != newer[0]["width"]
    latest = pt.Table.open("coco", store=coco.store)
    assert latest.revision == 2 and [h.operation for h in latest.history()] == [
        "edit_rows",
        "create",
    ]


def test_coco_constants_have_3lcs_values_and_types(real_data) -> None:
    category = read_coco(real_data("coco_kpts"))["categories"][0]
    assert H.COCO_KEYPOINT_NAMES == category["keypoints"] == pt.COCO_KEYPOINT_NAMES
    assert H.COCO_SKELETON is pt.COCO_SKELETON and H.COCO_FLIP_INDICES is pt.COCO_FLIP_INDICES
    file_lines = {frozenset((a - 1, b - 1)) for a, b in category["skeleton"]}
    mine = {frozenset(p) for p in zip(H.COCO_SKELETON[0::2], H.COCO_SKELETON[1::2], strict=True)}
    assert mine <= file_lines and len(mine) == 16  # 3LC's 16 of pycocotools' 19 lines
    assert (
        np.asarray(H.COCO_OKS_SIGMAS).tobytes()
        == Params(iouType="keypoints").kpt_oks_sigmas.tobytes()
    )
    flips = H.COCO_FLIP_INDICES
    assert all(flips[flips[i]] == i for i in range(17))
    names = H.COCO_KEYPOINT_NAMES
    assert all(
        names[flips[i]]
        == names[i].replace("left", "L").replace("right", "left").replace("L", "right")
        for i in range(17)
    )
    assert len(H.COCO_KEYPOINT_DEFAULT_POSE) == 34
    assert len(H.COCO_SKELETON_COLORS) == len(H.COCO_SKELETON_NAMES) == len(H.COCO_SKELETON) // 2
    pose = np.asarray(H.COCO_KEYPOINT_DEFAULT_POSE).reshape(17, 2)
    assert pose[5][0] < pose[6][0]  # 3LC's pose: the left shoulder on the image's left
