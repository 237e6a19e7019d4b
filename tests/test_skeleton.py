"""Skeleton operations on real tables: add, remove, rename, reorder and map keypoints."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

import posetable as pt
from posetable import skeleton
from posetable._arrow import flat_from_arrow
from posetable.errors import ConflictError, PosetableWarning, SchemaError
from posetable.layouts import layout
from posetable.skeleton import SkeletonWarning, flip_indices_from_names
from tests._predictions import noisy_predictions

COCO = pt.Keypoints2DSchema.coco_person()


def _flat(table: pt.Table):
    return flat_from_arrow(table.to_arrow(columns=["keypoints"]).column("keypoints"))


def _revisions(table: pt.Table) -> int:
    return len(table.revisions())


def _import(real_data, folder: str, name: str, store) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)  # the importer's notes
        return pt.Table.from_coco(real_data(folder) / "annotations.json", name=name, store=store)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkeletonWarning)
        return fn(*args, **kwargs)


@pytest.fixture
def predictions_table(coco_table: pt.Table, store) -> pt.Table:
    """Prediction rows (per-point confidences, no visibility) made from the real COCO rows."""
    preds = noisy_predictions(coco_table, seed=3)
    rows = [
        {"image": r["image"], "width": r["width"], "height": r["height"], "keypoints": p}
        for r, p in zip(coco_table, preds, strict=True)
    ]
    schema = COCO.replace(include_per_point_confidence=True, include_per_point_visibility=False)
    return pt.Table.from_rows(rows, name="preds", schema=schema, store=store)


# -- reorder -----------------------------------------------------------------------------------
def test_reorder_moves_every_per_keypoint_value_and_keeps_the_rest(coco_table: pt.Table) -> None:
    rng = np.random.default_rng(5)
    order = rng.permutation(17)
    before = _flat(coco_table)
    out = coco_table.reorder_keypoints([COCO.keypoint_names[i] for i in order])
    after = _flat(out)
    np.testing.assert_array_equal(after.keypoints, before.keypoints[:, order])
    np.testing.assert_array_equal(after.visibilities, before.visibilities[:, order])
    np.testing.assert_array_equal(after.boxes, before.boxes)
    for name, (values, missing) in before.extras.items():  # ids, areas, segmentation...
        assert list(after.extras[name][0]) == list(values), name
        np.testing.assert_array_equal(after.extras[name][1], missing)
    s = out.schema
    assert s.keypoint_names == tuple(COCO.keypoint_names[i] for i in order)
    assert s.oks_sigmas == tuple(COCO.oks_sigmas[i] for i in order)
    assert s.oks_sigmas_source == "COCO"
    assert s.default_pose == tuple(COCO.default_pose[i] for i in order)  # type: ignore[index]
    flips = {s.keypoint_names[j]: s.keypoint_names[f] for j, f in enumerate(s.flip_indices)}
    assert flips == {
        COCO.keypoint_names[j]: COCO.keypoint_names[f] for j, f in enumerate(COCO.flip_indices)
    }
    named = {(s.keypoint_names[a], s.keypoint_names[b]) for a, b in s.lines}
    assert named == {(COCO.keypoint_names[a], COCO.keypoint_names[b]) for a, b in COCO.lines}
    assert (out.revision, out.parent, out.operation) == (2, 1, "reorder_keypoints")
    assert out.info.arguments["order"] == list(s.keypoint_names)
    assert coco_table.schema.keypoint_names == COCO.keypoint_names
    assert out.sample_ids().tolist() == coco_table.sample_ids().tolist()


def test_reorder_then_its_inverse_gives_the_table_back(coco_table: pt.Table) -> None:
    order = np.random.default_rng(1).permutation(17)
    there = coco_table.reorder_keypoints(order.tolist())
    back = there.reorder_keypoints(np.argsort(order).tolist())
    assert back.schema == coco_table.schema
    assert back.to_arrow().column("keypoints").equals(coco_table.to_arrow().column("keypoints"))


def test_evaluation_is_the_same_after_reordering_table_and_predictions(
    coco_table: pt.Table,
) -> None:
    """Sigmas follow their keypoints: AP of reordered ground truth and predictions is equal."""
    preds = noisy_predictions(coco_table, seed=2)
    expected = pt.evaluate(coco_table, preds)
    order = np.arange(17)[::-1].copy()
    moved = coco_table.reorder_keypoints(order.tolist())
    reordered = []
    for p in preds:
        if p is None:
            reordered.append(None)
            continue
        reordered.append(
            pt.Keypoints2DInstances(
                p.keypoints[:, order],
                keypoint_confidences=p.keypoint_confidences[:, order],
                instance_labels=p.instance_labels,
                instance_confidences=p.instance_confidences,
                image_width=p.x_max,
                image_height=p.y_max,
            )
        )
    got = pt.evaluate(moved, reordered)
    np.testing.assert_array_equal(got.stats, expected.stats)
    assert got.ap > 0.3


def test_reorder_refuses_what_is_not_a_permutation(coco_table: pt.Table) -> None:
    names = list(COCO.keypoint_names)
    cases = [
        (names[:-1], "permutation of all K=17 keypoints, got 16; missing ['right_ankle']"),
        ([*names[:-1], "nose"], "names keypoints more than once: ['nose']"),
        ([*names[:-1], "tail"], "'tail' is not a keypoint of this table"),
        ([*range(16), 17], "index 17 is out of range for K=17"),
        ("nose", "must be a list of keypoint names or indices"),
    ]
    for order, message in cases:
        with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
            coco_table.reorder_keypoints(order)
    assert _revisions(coco_table) == 1


# -- remove ------------------------------------------------------------------------------------
def test_remove_drops_points_lines_and_reports_them(coco_table: pt.Table) -> None:
    before = _flat(coco_table)
    with pytest.warns(SkeletonWarning) as caught:
        out = coco_table.remove_keypoints(["left_ear", "right_ear"])
    text = str(caught[0].message)
    assert "line left_eye-left_ear" in text and "line left_ear-left_shoulder" in text
    s = out.schema
    assert s.num_keypoints == 15 and "left_ear" not in s.keypoint_names
    assert len(s.lines) == len(COCO.lines) - 4
    keep = [i for i in range(17) if i not in (3, 4)]
    assert s.oks_sigmas == tuple(COCO.oks_sigmas[i] for i in keep)
    assert s.flip_indices == tuple(flip_indices_from_names(s.keypoint_names))
    after = _flat(out)
    np.testing.assert_array_equal(after.keypoints, before.keypoints[:, keep])
    np.testing.assert_array_equal(after.visibilities, before.visibilities[:, keep])
    lost = (before.visibilities[:, [3, 4]] > 0).sum(axis=1)
    np.testing.assert_array_equal(
        after.extras["num_keypoints"][0], before.extras["num_keypoints"][0] - lost
    )
    assert out.info.arguments["names"] == ["left_ear", "right_ear"]
    assert len(out.info.arguments["dropped"]) == 4


def test_removing_one_side_leaves_its_partner_flipping_to_itself(coco_table: pt.Table) -> None:
    with pytest.warns(SkeletonWarning, match="right_wrist now flips to itself"):
        out = coco_table.remove_keypoints(["left_wrist"])
    s = out.schema
    j = s.keypoint_names.index("right_wrist")
    assert s.flip_indices[j] == j  # type: ignore[index]
    check_flip = pt.Keypoints2DSchema(s.num_keypoints, flip_indices=s.flip_indices)
    assert check_flip.flip_indices == s.flip_indices


def test_remove_refuses_all_points_and_unknown_names(coco_table: pt.Table) -> None:
    with pytest.raises(SchemaError, match="removing all K=17 keypoints would leave none"):
        coco_table.remove_keypoints(list(COCO.keypoint_names))
    with pytest.raises(SchemaError, match="remove_keypoints names: 'tail' is not a keypoint"):
        coco_table.remove_keypoints(["nose", "tail"])
    with pytest.raises(SchemaError, match="at least one keypoint"):
        coco_table.remove_keypoints([])
    assert _revisions(coco_table) == 1


# -- add ---------------------------------------------------------------------------------------
def test_add_appends_unlabeled_points_with_their_sigmas_flips_and_lines(
    coco_table: pt.Table,
) -> None:
    before = _flat(coco_table)
    out = coco_table.add_keypoints(
        ["left_big_toe", "right_big_toe"],
        sigmas=[0.079, 0.079],
        flip_pairs=[("left_big_toe", "right_big_toe")],
        lines=[("left_ankle", "left_big_toe"), ("right_ankle", "right_big_toe")],
        default_points=[[0.62, 0.99], [0.38, 0.99]],
    )
    s = out.schema
    assert s.num_keypoints == 19
    assert s.oks_sigmas[-2:] == (0.079, 0.079) and s.oks_sigmas_source == "user"
    assert s.flip_indices == flip_indices_from_names(s.keypoint_names)
    assert s.lines[-2:] == ((15, 17), (16, 18))
    assert s.default_pose[-2:] == ((0.62, 0.99), (0.38, 0.99))  # type: ignore[index]
    after = _flat(out)
    np.testing.assert_array_equal(after.keypoints[:, :17], before.keypoints)
    assert not after.keypoints[:, 17:].any() and not after.visibilities[:, 17:].any()
    np.testing.assert_array_equal(
        after.extras["num_keypoints"][0], before.extras["num_keypoints"][0]
    )
    assert out.info.arguments["names"] == ["left_big_toe", "right_big_toe"]


def test_add_to_a_table_without_sigmas_keeps_them_uniform(real_data, store) -> None:
    table = _import(real_data, "crowdpose", "crowd", store)
    assert table.schema.oks_sigmas_source == "uniform 1/K"
    out = table.add_keypoints(["tail"])
    assert out.schema.oks_sigmas == (1 / 15,) * 15 and not out.schema.oks_sigmas_given
    with pytest.raises(SchemaError, match="the table has no OKS sigmas"):
        table.latest().add_keypoints(["tail2"], sigmas=[0.1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"names": ["nose"]}, r"\['nose'\] are keypoints already"),
        ({"names": ["toe", "toe"], "sigmas": [0.1, 0.1]}, "more than once"),
        ({"names": ["toe"]}, r"the table has OKS sigmas \(COCO\), so the 1 new keypoints"),
        ({"names": ["toe"], "sigmas": [0.1, 0.2]}, "oks_sigmas must have length K=1, got 2"),
        (
            {"names": ["toe"], "sigmas": [0.1], "flip_pairs": [("toe", "left_eye")]},
            "'left_eye' already flips to 'right_eye'",
        ),
        (
            {"names": ["toe"], "sigmas": [0.1], "flip_pairs": [("nose", "left_eye")]},
            "pairs two existing keypoints",
        ),
        ({"names": ["toe"], "sigmas": [0.1], "lines": [("toe", "tail")]}, "'tail' is not a"),
        ({"names": ["toe"], "sigmas": [0.1], "default_points": [[0, 0, 0]]}, r"shape \(1, 2\)"),
        ({"names": []}, "at least one new keypoint"),
    ],
)
def test_add_refuses_bad_arguments_and_writes_nothing(
    coco_table: pt.Table, kwargs: dict, message: str
) -> None:
    names = kwargs.pop("names")
    with pytest.raises(SchemaError, match=message):
        coco_table.add_keypoints(names, **kwargs)
    assert _revisions(coco_table) == 1


# -- rename ------------------------------------------------------------------------------------
def test_rename_changes_names_only_and_rederives_flips_when_asked(real_data, store) -> None:
    table = _import(real_data, "crowdpose", "c", store)
    data = table.to_arrow(columns=["keypoints"]).column("keypoints")
    out = table.rename_keypoints({"head": "head_top"})
    assert out.schema.keypoint_names[12] == "head_top"
    assert out.schema.flip_indices == table.schema.flip_indices
    assert out.to_arrow(columns=["keypoints"]).column("keypoints").equals(data)
    swapped = out.rename_keypoints(
        {"left_shoulder": "shoulder_l", "right_shoulder": "shoulder_r"}, derive_flips=True
    )
    assert swapped.schema.flip_indices[:2] == (1, 0)  # type: ignore[index]
    with pytest.raises(SchemaError, match="no 'shoulder_r'"):
        swapped.rename_keypoints({"shoulder_r": "shoulder_right"}, derive_flips=True)
    with pytest.raises(SchemaError, match=r"several keypoints the names \['neck'\]"):
        swapped.rename_keypoints({"head_top": "neck"})
    with pytest.raises(SchemaError, match="'tail' is not a keypoint"):
        swapped.rename_keypoints({"tail": "x"})
    assert swapped.latest().revision == 3


def test_rename_is_a_schema_edit_that_a_row_edit_can_race(coco_table: pt.Table) -> None:
    renamed = coco_table.rename_keypoints({"nose": "snout"})
    edited = coco_table.with_rows({0: {"width": 700}})  # based on revision 1: rebuilt on top
    assert edited.parent == renamed.revision
    assert edited.schema.keypoint_names[0] == "snout" and edited[0]["width"] == 700


# -- racing and stale edits --------------------------------------------------------------------
def test_an_edit_racing_a_keypoint_rewrite_conflicts_and_writes_nothing(
    coco_table: pt.Table,
) -> None:
    coco_table.reorder_keypoints(list(range(17))[::-1])
    with pytest.raises(ConflictError, match="reorder_keypoints"):
        coco_table.with_rows({0: {"width": 700}})
    with pytest.raises(ConflictError):
        coco_table.rename_keypoints({"nose": "snout"})
    with pytest.raises(ConflictError):
        _quiet(coco_table.remove_keypoints, ["nose"])
    assert _revisions(coco_table) == 2


def test_a_stale_table_conflicts_before_its_bad_arguments_are_reported(
    coco_table: pt.Table,
) -> None:
    coco_table.with_rows({1: {"width": 700}})
    with pytest.raises(ConflictError):
        coco_table.reorder_keypoints(["not", "a", "permutation"])


# -- predictions and big tables ----------------------------------------------------------------
def test_prediction_rows_carry_their_confidences(predictions_table: pt.Table) -> None:
    before = _flat(predictions_table)
    assert before.has_confidences.any() and not before.has_visibilities.any()
    moved = predictions_table.reorder_keypoints(list(range(17))[::-1])
    np.testing.assert_array_equal(_flat(moved).confidences, before.confidences[:, ::-1])
    grown = moved.add_keypoints(["tail"], sigmas=[0.05])
    flat = _flat(grown)
    assert not flat.has_visibilities.any()
    np.testing.assert_array_equal(flat.confidences[:, :17], before.confidences[:, ::-1])
    assert not flat.confidences[:, 17].any()
    assert grown[0]["keypoints"].keypoint_visibilities is None


def test_big_tables_are_rewritten_batch_by_batch(
    coco_table: pt.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(skeleton, "BATCH_ROWS", 1)  # every row its own batch
    monkeypatch.setattr(skeleton, "PROGRESS_ROWS", 1)  # and the progress bar drawn
    out = coco_table.reorder_keypoints(list(range(17))[::-1])
    np.testing.assert_array_equal(_flat(out).keypoints, _flat(coco_table).keypoints[:, ::-1])
    assert len(out) == len(coco_table)


def test_an_empty_table_changes_its_schema(store) -> None:
    table = pt.Table.from_rows([], name="empty", schema=COCO, store=store)
    out = _quiet(table.remove_keypoints, ["nose"])
    assert len(out) == 0 and out.schema.num_keypoints == 16


# -- map between layouts -----------------------------------------------------------------------
def test_map_coco_to_mpii_keeps_the_shared_points_and_leaves_the_rest_unlabeled(
    coco_table: pt.Table,
) -> None:
    with pytest.warns(SkeletonWarning) as caught:
        mpii = pt.map_keypoints(coco_table, "mpii16", "coco17->mpii16")
    text = str(caught[0].message)
    assert "dropped): nose, left_eye, right_eye, left_ear, right_ear" in text
    assert "(v=0): pelvis, thorax, upper_neck, head_top" in text
    target = layout("mpii16").schema()
    assert mpii.schema.keypoint_names == target.keypoint_names
    assert mpii.schema.lines == target.lines and mpii.schema.flip_indices == target.flip_indices
    assert mpii.schema.oks_sigmas_source == "uniform 1/K"
    before, after = _flat(coco_table), _flat(mpii)
    for j, name in enumerate(target.keypoint_names):
        if name in COCO.keypoint_names:
            i = COCO.keypoint_names.index(name)
            np.testing.assert_array_equal(after.keypoints[:, j], before.keypoints[:, i])
            np.testing.assert_array_equal(after.visibilities[:, j], before.visibilities[:, i])
        else:
            assert not after.visibilities[:, j].any() and not after.keypoints[:, j].any()
    lost = (before.visibilities[:, :5] > 0).sum(axis=1)  # nose, eyes, ears
    np.testing.assert_array_equal(
        after.extras["num_keypoints"][0], before.extras["num_keypoints"][0] - lost
    )
    assert (mpii.revision, mpii.operation) == (2, "map_keypoints")
    assert mpii.info.arguments["mapping"] == "coco17->mpii16"


def test_coco_through_halpe_and_wholebody_comes_back_unchanged(coco_table: pt.Table) -> None:
    halpe = _quiet(pt.map_keypoints, coco_table, "halpe26", "coco17->halpe26", name="halpe")
    whole = _quiet(pt.map_keypoints, halpe, "coco_wholebody", "halpe26->coco_wholebody")
    back = _quiet(pt.map_keypoints, whole, "coco17", "coco_wholebody->coco17", name="back")
    assert halpe.source == coco_table.ref and back.source == whole.ref
    assert whole.schema.num_keypoints == 133 and halpe.schema.oks_sigmas_source == "user"
    assert back.schema == coco_table.schema
    assert back.to_arrow().column("keypoints").equals(coco_table.to_arrow().column("keypoints"))
    assert back.lineage()[-1] == coco_table.ref
    assert coco_table.latest().revision == 1  # derived tables leave the source as it was


def test_map_with_a_users_mapping_and_schema(real_data, store) -> None:
    ap10k = _import(real_data, "ap10k", "ap", store)
    target = pt.Keypoints2DSchema(
        keypoint_names=["snout", "left_eye", "right_eye", "tail_tip"], oks_sigmas=[0.1] * 4
    )
    mapping = {"snout": "nose", "left_eye": "left_eye", "right_eye": "right_eye"}
    with pytest.warns(SkeletonWarning, match=r"\(v=0\): tail_tip"):
        out = ap10k.map_keypoints(target, mapping, name="ap4")
    assert out.schema.classes == ap10k.schema.classes  # instances keep their labels
    assert out.schema.oks_sigmas == (0.1,) * 4 and out.schema.oks_sigmas_source == "user"
    before, after = _flat(ap10k), _flat(out)
    np.testing.assert_array_equal(after.keypoints[:, 0], before.keypoints[:, 2])
    np.testing.assert_array_equal(after.labels, before.labels)
    with pytest.raises(SchemaError, match=r"targets \['nose'\] are not keypoints of the target"):
        ap10k.map_keypoints(target, {"nose": "nose"}, name="bad")
    with pytest.raises(SchemaError, match=r"sources \['tail'\] are not keypoints of table ap@1"):
        ap10k.map_keypoints(target, {"snout": "tail"}, name="bad")
    with pytest.raises(SchemaError, match="unknown layout 'mpii17'"):
        ap10k.map_keypoints("mpii17", {}, name="bad")
    assert pt.list_tables(store=store) == ["ap", "ap4"]


# -- flip indices from names -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("folder", "pairs"),
    [
        ("coco_kpts", [("left_eye", "right_eye"), ("left_ankle", "right_ankle")]),
        ("aic", [("Right Shoulder", "Left Shoulder")]),
        ("ap10k", [("left_front_paw", "right_front_paw")]),
        ("animalpose", [("L_EarBase", "R_EarBase"), ("L_B_Paw", "R_B_Paw")]),
    ],
)
def test_flip_indices_from_the_names_of_real_datasets(real_data, folder, pairs) -> None:
    import orjson

    doc = orjson.loads((real_data(folder) / "annotations.json").read_bytes())
    names = doc["categories"][0]["keypoints"]
    flips = flip_indices_from_names(names)
    for a, b in pairs:
        assert flips[names.index(a)] == names.index(b)
        assert flips[names.index(b)] == names.index(a)
    sided = [n for n in names if "left" in n.lower() or "right" in n.lower() or n[:2] in "L_R_"]
    assert all(flips[names.index(n)] != names.index(n) for n in sided)
    if folder == "coco_kpts":
        assert flips == tuple(pt.Keypoints2DSchema.coco_person().flip_indices)


def test_flip_indices_from_dlc_and_openpose_names(real_data) -> None:
    import yaml

    config = yaml.safe_load((real_data("dlc") / "openfield" / "config.yaml").read_text())
    names = config["bodyparts"]  # snout, leftear, rightear, tailbase
    assert flip_indices_from_names(names) == (0, 2, 1, 3)
    assert flip_indices_from_names(["Nose", "LEye", "REye", "LED"]) == (0, 2, 1, 3)
    assert flip_indices_from_names(["hand.L", "hand.R", "Left Ear", "Right Ear"]) == (1, 0, 3, 2)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["left_paw", "tail", "r_ear"], "'left_paw' (no 'right_paw'), 'r_ear' (no 'l_ear')"),
        (["Left_eye", "left_eye"], "differ only by case"),
    ],
)
def test_flip_indices_from_names_lists_what_does_not_pair(names, message) -> None:
    with pytest.raises(SchemaError) as caught:
        flip_indices_from_names(names)
    assert message in str(caught.value)


def test_one_flip_function_serves_the_coco_reader_and_the_skeleton_operations(real_data) -> None:
    import orjson

    from posetable.schema import flip_indices_from_names as lenient  # the COCO reader's

    files = sorted(real_data("coco_kpts").parent.glob("*/annotations.json"))
    lists = []
    for path in files:
        for category in orjson.loads(path.read_bytes()).get("categories", []):
            if category.get("keypoints"):
                lists.append([str(n) for n in category["keypoints"]])
    assert len(lists) >= 5
    for names in lists:  # the same flips; None (lenient) where no name has a side
        strict = flip_indices_from_names(names)
        assert strict == lenient(names, strict=True)  # one implementation, two modes
        unsided = strict == tuple(range(len(names)))
        assert lenient(names) == (None if unsided else strict)
    assert sum(lenient(names) is not None for names in lists) >= 5
    # names that do not pair: the reader's mode gives None (and the reader says so)
    assert lenient(["left_paw", "tail", "r_ear"]) is None
    with pytest.raises(SchemaError, match="without a partner"):
        flip_indices_from_names(["left_paw", "tail", "r_ear"])
    assert lenient(["a", "b"]) is None and flip_indices_from_names(["a", "b"]) == (0, 1)
    # OpenPose's bare capitals pair only in strict mode (the COCO reader never guessed them)
    assert lenient(["Nose", "LEye", "REye"]) is None
    assert flip_indices_from_names(["Nose", "LEye", "REye"]) == (0, 2, 1)


def test_arrow_batches_a_table_writes_are_well_formed(coco_table: pt.Table) -> None:
    out = coco_table.reorder_keypoints(list(range(17))[::-1])
    data = out.dataset.to_table()
    data.validate(full=True)
    assert isinstance(data.column("keypoints").type, pa.StructType)


def test_num_keypoints_a_file_gave_apart_from_its_count_stays_apart(real_data, store) -> None:
    """CrowdPose states num_keypoints unlike its labeled counts (pycocotools reads the value)."""
    table = _import(real_data, "crowdpose", "crowd", store)
    before = _flat(table)
    stated = np.asarray(before.extras["num_keypoints"][0])
    apart = stated - (before.visibilities > 0).sum(axis=1)
    assert apart.any()
    out = _quiet(table.remove_keypoints, ["head", "neck"])
    after = _flat(out)
    lost = (before.visibilities[:, 12:] > 0).sum(axis=1)
    now = np.asarray(after.extras["num_keypoints"][0])
    np.testing.assert_array_equal(now, np.maximum(stated - lost, 0))
    kept = stated - lost >= 0
    np.testing.assert_array_equal((now - (after.visibilities > 0).sum(axis=1))[kept], apart[kept])


def test_rows_an_edit_moved_are_rewritten_in_row_order(coco_table: pt.Table) -> None:
    edited = coco_table.with_rows({0: {"width": 700}})  # Lance moves row 0 to a new fragment
    assert edited._physical() is not None
    out = edited.reorder_keypoints(list(range(17))[::-1])
    np.testing.assert_array_equal(_flat(out).keypoints, _flat(edited).keypoints[:, ::-1])
    assert [r["width"] for r in out] == [r["width"] for r in edited]
    assert out.sample_ids().tolist() == edited.sample_ids().tolist()
