"""One-click fixes with a run's predictions as evidence (``posetable.diagnose.run_fixes``), on
the bundled COCO sample and the dashboard's seeded run of it (a planted left/right swap on
row 1, a spurious detection on row 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.dashboard._sample_run import sample_predictions
from posetable.diagnose.run_fixes import RUN_FIXES, apply_run_fix, matched_prediction, run_fix
from posetable.errors import ConflictError, RowError, RunError, UnsupportedError
from posetable.sample import sample_table


@pytest.fixture
def sample(store: Path) -> tuple[pt.Table, pt.Run]:
    table = sample_table(store=store)
    return table, pt.Run.from_predictions(table, sample_predictions(table), name="seeded")


def test_the_matched_prediction_is_the_accept_rules_match(sample) -> None:
    table, run = sample
    per_instance = run.per_instance.to_pylist()
    for row in range(len(table)):
        predictions = run.predictions(row)
        for gt in (r for r in per_instance if r["row"] == row and r["kind"] == "gt"):
            if gt["partner"] < 0:
                with pytest.raises(RunError, match=f"matches instance {gt['index']}"):
                    matched_prediction(table, run, row, gt["index"], predictions)
            else:  # where evaluation matched at OKS >= .5, the accept rule agrees here
                assert (
                    matched_prediction(table, run, row, gt["index"], predictions) == gt["partner"]
                )


def test_swapping_one_pair_swaps_only_that_pair(sample) -> None:
    table, run = sample
    names = table.schema.keypoint_names
    hip = names.index("left_hip")
    fixed = run_fix(table, run, 1, "mirror_instance", instance=0, keypoint=hip)
    assert fixed.note == "swapped left_hip/right_hip of instance 0 (row 1)"
    before = table[1]["keypoints"].keypoints[0]
    after = fixed.instances.keypoints[0]
    other = names.index("right_hip")
    assert after[hip].tolist() == before[other].tolist()
    assert after[other].tolist() == before[hip].tolist()
    rest = [k for k in range(17) if k not in (hip, other)]
    np.testing.assert_array_equal(after[rest], before[rest])
    with pytest.raises(RowError, match=r"keypoint 0 \(nose\) has no left/right partner"):
        run_fix(table, run, 1, "mirror_instance", instance=0, keypoint=0)


def test_each_fix_is_one_revision_with_what_was_done(sample) -> None:
    table, run = sample
    saved = apply_run_fix(
        table, run, 1, "accept_instance", instance=0, prediction=0, arguments={"by": "test"}
    )
    assert (saved.revision, saved.parent, saved.operation) == (2, 1, "fix_from_run")
    arguments = saved.info.arguments
    assert {k: arguments[k] for k in ("action", "row", "instance", "prediction", "run", "by")} == {
        "action": "accept_instance",
        "row": 1,
        "instance": 0,
        "prediction": 0,
        "run": "seeded",
        "by": "test",
    }
    assert arguments["note"].startswith("replaced instance 0 by prediction 0 of run seeded")
    with pytest.raises(ConflictError):  # the revision it was computed on is stale in row 1
        apply_run_fix(table, run, 1, "drop_instance", instance=0)
    assert saved.latest().revision == 2


@pytest.mark.parametrize(
    ("row", "action", "options", "error", "message"),
    [
        (1, "teleport", {}, UnsupportedError, "is not a one-click fix"),
        (7, "drop_instance", {"instance": 0}, RowError, r"there is no row 7 \(0\.\.3\)"),
        (1, "drop_instance", {}, RowError, "needs the instance"),
        (1, "snap_keypoint", {"instance": 1}, RowError, "needs the keypoint"),
        (1, "snap_keypoint", {"instance": 1, "keypoint": 17}, RowError, "no keypoint 17"),
        (1, "accept_instance", {"instance": 1, "prediction": 5}, RowError, "no prediction 5"),
        (1, "add_prediction", {}, RowError, "needs the prediction"),
    ],
)
def test_impossible_fixes_name_what_is_missing_and_write_nothing(
    sample, row: int, action: str, options: dict, error: type, message: str
) -> None:
    table, run = sample
    with pytest.raises(error, match=message):
        apply_run_fix(table, run, row, action, **options)
    assert table.latest().revision == 1
    assert set(RUN_FIXES) == {
        "snap_keypoint",
        "accept_instance",
        "add_prediction",
        "mirror_instance",
        "drop_instance",
    }


def test_fixes_that_need_a_run_or_flip_indices_say_so(sample, store: Path) -> None:
    table, _ = sample
    with pytest.raises(RunError, match="needs a run"):
        run_fix(table, None, 0, "snap_keypoint", instance=0, keypoint=0)
    plain = table.derive("no-flips", schema=table.schema.replace(flip_indices=None))
    with pytest.raises(UnsupportedError, match="has no flip indices"):
        run_fix(plain, None, 1, "mirror_instance", instance=0)
