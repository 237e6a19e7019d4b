"""Named keypoint layouts and the standard mappings between them."""

from __future__ import annotations

import warnings

import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.errors import SchemaError
from posetable.layouts import (
    LAYOUTS,
    layout,
    standard_mapping,
    standard_mappings,
)
from posetable.skeleton import SkeletonWarning

SIZES = {"coco17": 17, "mpii16": 16, "posetrack15": 15, "posetrack18": 17, "halpe26": 26,
         "halpe136": 136, "coco_wholebody": 133}  # fmt: skip
LIMBS = [
    f"{side}_{part}"
    for side in ("left", "right")
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
]


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_layout_is_a_valid_schema_whose_flips_swap_sides(name: str) -> None:
    item = layout(name)
    schema = item.schema()
    assert schema.num_keypoints == SIZES[name] == item.num_keypoints
    assert len(set(schema.keypoint_names)) == schema.num_keypoints
    flips = schema.flip_indices
    assert flips is not None and all(flips[flips[i]] == i for i in range(len(flips)))
    names = schema.keypoint_names
    for i, n in enumerate(names):
        if n.startswith("left_"):
            assert names[flips[i]] == "right_" + n[5:]
        elif not n.startswith(("right_", "face-")):
            assert flips[i] == i
    assert {names[a] for line in schema.lines for a in line} <= set(names)
    unmeasured = ("mpii16", "posetrack15", "posetrack18")  # PCKh datasets: no sigmas
    assert schema.oks_sigmas_given == (name not in unmeasured)
    assert schema.oks_sigmas_source == ("uniform 1/K" if name in unmeasured else
                                        "COCO" if name == "coco17" else "user")  # fmt: skip
    assert schema.lines == item.line_indices and schema.flip_indices == item.flip_indices


def test_layout_values_follow_their_sources() -> None:
    coco = pt.Keypoints2DSchema.coco_person()
    assert layout("coco17").schema() == coco and layout("coco").name == "coco17"
    halpe = layout("halpe26")
    assert halpe.keypoint_names[:17] == coco.keypoint_names
    assert halpe.oks_sigmas[:17] == coco.oks_sigmas  # type: ignore[index]
    assert halpe.schema().oks_sigmas_source == "user"
    whole = layout("coco_wholebody")
    assert whole.keypoint_names[17:23] == (
        "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
        "right_heel",
    )  # fmt: skip
    assert whole.keypoint_names[23] == "face-0" and whole.keypoint_names[91] == "left_hand_root"
    assert len(whole.lines) == 65 and whole.oks_sigmas[23] == 0.042  # type: ignore[index]
    mpii = layout("mpii16")
    assert mpii.keypoint_names[6:10] == ("pelvis", "thorax", "upper_neck", "head_top")
    assert layout("posetrack15").keypoint_names[12:] == ("head_bottom", "nose", "head_top")


def test_standard_mappings_map_only_real_correspondences() -> None:
    coco_to_mpii = standard_mapping("coco17->mpii16")
    assert {t for t, s in coco_to_mpii.items() if s is not None} == set(LIMBS)
    assert all(coco_to_mpii[t] is None for t in ("pelvis", "thorax", "upper_neck", "head_top"))
    assert {t for t, s in standard_mapping("mpii16->coco17").items() if s} == set(LIMBS)
    assert standard_mapping("coco17->posetrack15")["nose"] == "nose"
    assert standard_mapping("posetrack15->coco17")["left_eye"] is None
    assert standard_mapping("mpii16->posetrack15")["head_bottom"] == "upper_neck"
    assert standard_mapping("posetrack15->mpii16")["upper_neck"] == "head_bottom"
    assert standard_mapping("coco17->mpii16")["upper_neck"] is None
    halpe_to_coco = standard_mapping("halpe26->coco17")
    assert all(halpe_to_coco[n] == n for n in pt.Keypoints2DSchema.coco_person().keypoint_names)
    whole_to_halpe = standard_mapping("coco_wholebody->halpe26")
    assert whole_to_halpe["left_heel"] == "left_heel" and whole_to_halpe["neck"] is None
    for name in standard_mappings():
        source, target = (layout(p) for p in name.split("->"))
        mapping = standard_mapping(name)
        assert list(mapping) == list(target.keypoint_names)
        assert {s for s in mapping.values() if s} <= set(source.keypoint_names)
    assert len(standard_mappings()) == len(LAYOUTS) * (len(LAYOUTS) - 1)


def test_the_posetrack18_and_halpe136_layouts_extend_the_others() -> None:
    pt18, pt15 = layout("posetrack18"), layout("posetrack15")
    assert set(pt18.keypoint_names) - set(pt15.keypoint_names) == {"left_ear", "right_ear"}
    assert set(pt18.lines) == set(pt15.lines)  # the ears are never labeled nor drawn
    assert standard_mapping("mpii16->posetrack18")["head_bottom"] == "upper_neck"
    assert standard_mapping("posetrack18->mpii16")["upper_neck"] == "head_bottom"
    from_15 = standard_mapping("posetrack15->posetrack18")
    assert [t for t, s in from_15.items() if s is None] == ["left_ear", "right_ear"]
    h136, h26 = layout("halpe136"), layout("halpe26")
    assert h136.keypoint_names[:26] == h26.keypoint_names
    assert h136.lines[: len(h26.lines)] == h26.lines
    assert h136.oks_sigmas[26:] == (0.015,) * 110  # type: ignore[index]
    whole = layout("coco_wholebody")
    assert ("left_hand_root", "left_thumb1") in whole.lines  # mmpose: fingers from the hand
    assert ("left_wrist", "left_thumb1") in h136.lines  # ... Halpe's from the wrist
    hands = [n for n in whole.keypoint_names if "hand" in n]
    assert hands == ["left_hand_root", "right_hand_root"]  # one naming scheme: the readers'


def test_the_readers_take_their_layouts_from_posetable_layouts(real_data, store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        tables = {
            "coco_wholebody": pt.Table.from_coco(
                real_data("coco_wholebody") / "annotations.json", name="wb", store=store,
                merge_parts=True,
            ),
            "halpe136": pt.Table.from_coco(
                real_data("halpe") / "test_halpe.json", name="halpe", store=store
            ),
            "mpii16": pt.Table.from_mpii(
                real_data("mpii") / "test_mpii.json", name="mpii", store=store
            ),
            "posetrack18": pt.Table.from_posetrack(
                real_data("posetrack18") / "annotations/val", name="pt", store=store
            ),
        }  # fmt: skip
    for name, table in tables.items():
        item, schema = layout(name), table.schema
        assert schema.keypoint_names == item.keypoint_names, name
        assert schema.flip_indices == item.flip_indices, name
        if name != "posetrack18":  # PoseTrack keeps its file's own skeleton
            assert schema.lines == item.line_indices, name
        if item.oks_sigmas is None:
            assert schema.oks_sigmas_source == "uniform 1/K", name
        else:
            assert schema.oks_sigmas == item.oks_sigmas, name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("coco17", "named 'source->target'"),
        ("coco17->coco17", "onto itself"),
        ("coco17->mpii17", "unknown layout 'mpii17'"),
    ],
)
def test_bad_mapping_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        standard_mapping(name)


# -- the real COCO-WholeBody annotations -------------------------------------------------------
def _wholebody(real_data, store) -> tuple[pt.Table, list[dict]]:
    """The WholeBody excerpt as one K=133 table (body, feet, face, left and right hand in the
    order of COCO-WholeBody's evaluation) and its annotations."""
    doc = orjson.loads((real_data("coco_wholebody") / "annotations.json").read_bytes())
    parts = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
    rows = []
    for image in doc["images"]:
        kp = pt.Keypoints2DInstances.create_empty(
            image_width=image["width"], image_height=image["height"], num_keypoints=133
        )
        for a in doc["annotations"]:
            if a["image_id"] == image["id"]:
                points = np.concatenate([np.asarray(a[p], float).reshape(-1, 3) for p in parts])
                # WholeBody's part visibilities may be floats where "v > 0 means reliable"
                points[17:, 2] = np.where(points[17:, 2] > 0, 2, 0)
                kp.add_instance(points)
        rows.append({"image": image["file_name"], "width": image["width"],
                     "height": image["height"], "keypoints": kp})  # fmt: skip
    schema = layout("coco_wholebody").schema()
    return pt.Table.from_rows(rows, name="whole", schema=schema, store=store), doc["annotations"]


def _faces(real_data, name: str) -> list[np.ndarray]:
    """The labeled faces (68 x 3) of the real COCO-WholeBody or Halpe excerpt."""
    if name == "coco_wholebody":
        doc = orjson.loads((real_data("coco_wholebody") / "annotations.json").read_bytes())
        return [np.asarray(a["face_kpts"], float).reshape(68, 3) for a in doc["annotations"]
                if a["face_valid"]]  # fmt: skip
    doc = orjson.loads((real_data("halpe") / "test_halpe.json").read_bytes())
    points = [np.asarray(a["keypoints"], float).reshape(136, 3)[26:94] for a in doc["annotations"]]
    return [face for face in points if (face[:, 2] > 0).sum() >= 34]


@pytest.mark.parametrize("name", ["coco_wholebody", "halpe136"])
def test_the_face_mirror_pairs_lie_on_opposite_sides_of_real_faces(real_data, name) -> None:
    item = layout(name)
    start = item.keypoint_names.index("face-0")
    face_flips = np.asarray(item.flip_indices[start : start + 68]) - start
    middle = [i for i in range(68) if face_flips[i] == i]  # chin, nose bridge, lip middles
    opposite = total = 0
    for face in _faces(real_data, name):
        labeled = [i for i in middle if face[i, 2] > 0]
        centre = face[labeled, 0].mean()
        for i in range(68):
            j = int(face_flips[i])
            if i < j and face[i, 2] > 0 and face[j, 2] > 0:
                total += 1
                opposite += (face[i, 0] - centre) * (face[j, 0] - centre) < 0
    assert total > 100 and opposite / total > 0.8


def test_wholebody_maps_onto_coco_and_halpe_by_name(real_data, store) -> None:
    table, annotations = _wholebody(real_data, store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkeletonWarning)
        coco = table.map_keypoints("coco17", "coco_wholebody->coco17", name="body")
        halpe = table.map_keypoints("halpe26", "coco_wholebody->halpe26", name="halpe")
    by_image: dict[int, list[dict]] = {}
    for a in annotations:
        by_image.setdefault(a["image_id"], []).append(a)
    files = orjson.loads((real_data("coco_wholebody") / "annotations.json").read_bytes())
    for r, image in enumerate(files["images"]):
        body = coco[r]["keypoints"]
        feet = halpe[r]["keypoints"]
        for n, a in enumerate(by_image.get(image["id"], [])):
            expected = np.asarray(a["keypoints"], float).reshape(17, 3)
            np.testing.assert_array_equal(body.keypoints[n], expected[:, :2])
            np.testing.assert_array_equal(body.keypoint_visibilities[n], expected[:, 2])
            foot = np.asarray(a["foot_kpts"], float).reshape(6, 3)
            heel = halpe.schema.keypoint_names.index("left_heel")
            np.testing.assert_array_equal(feet.keypoints[n, heel], foot[2, :2])
    assert halpe.schema.keypoint_names[17] == "head"
    assert not halpe.to_arrow().column("keypoints").null_count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", ("left_a", "right_a"), (("left_a", "nose"),)), r"lines name unknown .*'nose'"),
        (("x", ("left_a", "right_a"), (), (0.1,)), "expected 2 sigmas, got 1"),
        (("x", ("left_a", "tail"), ()), "'left_a' \\(no 'right_a'\\)"),
    ],
)
def test_a_layout_that_contradicts_itself_is_refused(args, message) -> None:
    from posetable.layouts import Layout

    with pytest.raises(SchemaError, match=message):
        Layout(*args)
