"""``pt.check``: every rule finds faults injected into the real datasets, with few false
alarms on the clean data; typed errors for unknown rules; an empty table is no error."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import posetable as pt
from posetable.diagnose.check import FINDINGS_SCHEMA, RULES, exit_code
from posetable.errors import PosetableWarning, UnsupportedError
from tests import _faults

DATASETS = ("coco_kpts", "crowdpose", "aic", "onehand10k", "horse10", "ap10k")
#: the least recall each rule must reach over every dataset and 3 seeds (measured values in
#: the comments; the real excerpts are small, so the pose statistics have little to go on)
MIN_RECALL = {
    "swapped pair": 0.75,  # 0.83 (67 of 81): side views put a pair's points too close
    "moved joint": 0.35,  # 0.43 (40 of 93): a joint moved along its bone keeps its length
    "duplicated person": 1.0,
    "point outside image": 1.0,
    "wrong num_keypoints": 1.0,
    "v=0 with coordinates": 1.0,
    "point outside box": 1.0,
    "zero-width box": 1.0,
    "collapsed points": 1.0,
}
#: findings of each rule on the clean data (37 instances); the num_keypoints and skeleton
#: ones are real faults of the CrowdPose excerpt (counts that leave out 2 points, COCO's
#: 17-point skeleton on 14 points), the two swaps are arms reaching across the body
CLEAN = {
    "num_keypoints_mismatch": 4,
    "skeleton_invalid": 3,
    "sigmas_missing": 5,
    "left_right_swap": 2,
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from tests._data import data_path

    store = tmp_path_factory.mktemp("check-store")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        for name in DATASETS:
            folder = data_path(name)
            out[name] = pt.Table.from_coco(
                folder / "annotations.json", folder / "images", name=name, store=store
            )
    return out


@pytest.fixture(scope="module")
def clean(tables):
    return {name: pt.check(table) for name, table in tables.items()}


def _not_info(findings: pa.Table) -> pa.Table:
    return findings.filter(pc.not_equal(findings["severity"], "info"))


def test_clean_data_has_only_the_known_findings(clean):
    counts: dict[str, int] = {}
    for findings in clean.values():
        for rule in _not_info(findings).column("rule").to_pylist():
            counts[rule] = counts.get(rule, 0) + 1
    assert counts == CLEAN


@pytest.mark.parametrize("kind", list(_faults.FAULTS))
def test_each_rule_finds_the_injected_faults(tables, clean, kind):
    _, rule, _ = _faults.FAULTS[kind]
    found = injected = extra = 0
    for seed in range(3):
        for name, table in tables.items():
            edited, truth = _faults.inject(table, kind, seed)
            if edited is None:
                continue
            hits = _faults.found_at(pt.check(edited, rules=[rule]), rule)
            want = {(r, i) for r, i, _ in truth}
            found += len(want & hits)
            injected += len(want)
            extra += len(hits - want - _faults.found_at(clean[name], rule))
    assert injected >= 60, f"{kind}: only {injected} faults could be injected"
    assert found / injected >= MIN_RECALL[kind], f"{kind}: {found} of {injected}"
    assert extra == 0


def test_a_point_outside_the_image_is_named_with_its_keypoint(tables):
    table = tables["coco_kpts"]
    gt = table[0]["keypoints"].copy()
    gt.keypoints[0, 6] = [table[0]["width"] + 7.0, 50.0]
    edited = table.derive("outside").with_rows({0: {"keypoints": gt}})
    found = pt.check(edited, rules="outside_image").to_pylist()
    assert [(f["row"], f["instance"], f["keypoint"]) for f in found] == [(0, 0, 6)]
    assert found[0]["value"] == pytest.approx(7.0)
    assert "right_shoulder" in found[0]["message"] and found[0]["severity"] == "error"
    assert found[0]["annotation_id"] == int(gt.instance_extras["id"][0])


def test_num_keypoints_mismatch_reports_the_given_count(tables):
    table = tables["coco_kpts"]
    gt = table[1]["keypoints"].copy()
    counts = (gt.keypoint_visibilities > 0).sum(axis=1)
    i = int(np.argmax(counts))
    numbers = np.asarray(gt.instance_extras["num_keypoints"]).copy()
    numbers[i] = 0
    gt.instance_extras["num_keypoints"] = numbers
    edited = table.derive("count").with_rows({1: {"keypoints": gt}})
    (finding,) = pt.check(edited, rules=["num_keypoints_mismatch"]).to_pylist()
    assert (finding["row"], finding["instance"], finding["value"]) == (1, i, 0.0)
    assert finding["keypoint"] is None
    assert f"{counts[i]} points are labeled" in finding["message"]
    assert "ignored" in finding["message"]


def test_a_duplicated_person_is_reported_on_the_copy(tables):
    table = tables["crowdpose"]
    gt = table[0]["keypoints"].copy()
    i = int(np.argmax((gt.keypoint_visibilities > 0).sum(axis=1)))
    both = gt.copy()
    both._append(gt.select([i]).copy())
    edited = table.derive("dup").with_rows({0: {"keypoints": both}})
    found = pt.check(edited, rules=["duplicate_instance"]).to_pylist()
    assert [(f["row"], f["instance"]) for f in found] == [(0, len(gt))]
    assert found[0]["value"] == pytest.approx(1.0)
    assert f"duplicates instance {i} " in found[0]["message"]


def test_findings_are_sorted_most_severe_first(clean):
    findings = clean["crowdpose"]
    ranks = [("error", "warning", "info").index(s) for s in findings["severity"].to_pylist()]
    assert ranks == sorted(ranks)
    assert findings.schema.remove_metadata() == FINDINGS_SCHEMA
    assert findings.to_pandas().shape[0] == findings.num_rows


def test_unknown_rule_is_a_typed_error(tables):
    with pytest.raises(UnsupportedError, match="unknown check rule 'no_such_rule'"):
        pt.check(tables["coco_kpts"], rules=["outside_image", "no_such_rule"])


def test_a_table_without_labeled_points_gives_an_empty_findings_table(store):
    empty = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
    empty.add_instance([[0, 0, 0], [0, 0, 0], [0, 0, 0]])
    rows = [{"image": "a.jpg", "width": 10, "height": 10, "keypoints": empty}]
    table = pt.Table.from_rows(rows, name="none", schema=pt.Keypoints2DSchema(3), store=store)
    findings = pt.check(table)
    assert findings.num_rows == 0
    assert findings.column_names == FINDINGS_SCHEMA.names
    no_rows = pt.Table.from_rows([], name="zero", schema=pt.Keypoints2DSchema(3), store=store)
    assert pt.check(no_rows).num_rows == 0


def test_a_table_name_with_revision_is_a_source(tables):
    table = tables["crowdpose"]
    by_name = pt.check(f"{table.name}@{table.revision}", store=table.store.root)
    assert by_name.drop_columns([]).equals(pt.check(table))


def test_flip_indices_that_map_left_to_a_non_right_name(store):
    names = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
    # an involution (the schema accepts it) that pairs each eye with an ear
    schema = pt.Keypoints2DSchema(keypoint_names=names, flip_indices=[0, 3, 4, 1, 2])
    kp = pt.Keypoints2DInstances.create_empty(num_keypoints=5)
    kp.add_instance([[5, 5, 2], [4, 4, 2], [6, 4, 2], [3, 4, 2], [7, 4, 2]])
    table = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 10, "height": 10, "keypoints": kp}],
        name="flips",
        schema=schema,
        store=store,
    )
    found = pt.check(table, rules=["flip_indices_invalid"]).to_pylist()
    assert len(found) == 4
    assert "maps left_eye (1) to left_ear (3)" in found[0]["message"]
    assert {f["row"] for f in found} == {None}


def test_skeleton_loops_repeats_and_missing_sigmas(store):
    schema = pt.Keypoints2DSchema(3, lines=[(0, 1), (1, 1), (1, 0), (1, 2)])
    kp = pt.Keypoints2DInstances.create_empty(num_keypoints=3)
    kp.add_instance([[1, 1, 2], [5, 5, 2], [9, 9, 2]])
    table = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 10, "height": 10, "keypoints": kp}],
        name="skel",
        schema=schema,
        store=store,
    )
    found = pt.check(table, rules=["skeleton_invalid", "sigmas_missing"]).to_pylist()
    messages = [(f["rule"], f["message"]) for f in found]
    assert ("skeleton_invalid", "line 1 joins kpt_1 (1) to itself") in messages
    assert ("skeleton_invalid", "line 2 (kpt_1-kpt_0) repeats line 0") in messages
    assert any(r == "sigmas_missing" and "1/K = 0.3333" in m for r, m in messages)
    (advice,) = [m for r, m in messages if r == "sigmas_missing"]
    assert "pt.estimate_sigmas(table_a, table_b)" in advice  # two annotations of the images
    assert "table.with_schema(schema.replace(oks_sigmas=...))" in advice


def test_exit_code_is_a_ci_gate(clean):
    assert exit_code(clean["crowdpose"]) == 1  # errors
    assert exit_code(clean["coco_kpts"]) == 0  # only warnings
    assert exit_code(clean["coco_kpts"], "warning") == 1
    with pytest.raises(UnsupportedError):
        exit_code(clean["coco_kpts"], "info")


def test_every_rule_has_a_documented_function():
    assert len(RULES) == 12
    for rule in RULES.values():
        assert rule.run.__doc__ and rule.severity in ("error", "warning")
