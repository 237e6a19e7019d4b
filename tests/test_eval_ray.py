"""``pt.evaluate(table, run, engine="ray")`` on a local Ray instance: the local bits, always.

One Ray instance serves the module (2 CPUs, no dashboard). Its workers run
``tests._ray_faults.install`` at start, so a test can make the task's worker die inside an
evaluation (``os._exit``) on its first attempt, or on every attempt.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._predictions import noisy_predictions

pytestmark = pytest.mark.integration
ray = pytest.importorskip("ray")
pytest.importorskip("lance_ray")

from posetable.eval import _ray  # noqa: E402  (after the skips: it needs nothing, but reads so)
from posetable.eval._columns import table_frame  # noqa: E402

ARRAYS = ("stats", "precision", "recall", "scores")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """The control folder of ``tests._ray_faults`` (write ``mode`` to make workers die)."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module", autouse=True)
def local_ray(faults):
    env = {
        "worker_process_setup_hook": "tests._ray_faults.install",
        "env_vars": {"PYTHONPATH": str(REPO), "POSETABLE_TEST_FAULTS": str(faults)},
    }
    with warnings.catch_warnings():  # Ray execs the processes it forks
        warnings.filterwarnings("ignore", message="lance is not fork-safe")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        ray.init(num_cpus=2, include_dashboard=False, runtime_env=env, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture
def no_faults(faults):
    for name in ("mode", "died"):
        (faults / name).unlink(missing_ok=True)
    yield faults
    for name in ("mode", "died"):
        (faults / name).unlink(missing_ok=True)


def assert_same_bits(got: pt.EvaluationResult, want: pt.EvaluationResult) -> None:
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.shape == b.shape and a.tobytes() == b.tobytes(), name


def table_and_run(real_data, store, name: str, seed: int = 3) -> tuple[pt.Table, pt.Run]:
    table = coco_table(real_data(name), name=name, store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=seed), name=f"{name}-m")
    return table, run


@pytest.mark.parametrize("name", COCO_FOLDERS)
def test_ray_gives_the_local_bits_on_every_dataset(real_data, store, name, no_faults):
    table, run = table_and_run(real_data, store, name)
    local = pt.evaluate(table, run)
    assert_same_bits(pt.evaluate(table, run, engine="ray"), local)
    blobs = _ray.ray_partials(table, run, batch_rows=1)  # one partial per row
    assert len(blobs) == len(table) > 1
    assert_same_bits(pt.merge_partials(blobs), local)


def test_ray_on_a_later_revision_whose_fragments_are_out_of_row_order(real_data, store, no_faults):
    """An edit moves rows to a new fragment; the run of the first revision still applies."""
    table, run = table_and_run(real_data, store, "coco_kpts")
    row = table[1]["keypoints"].copy()
    row.keypoints[:] += 3.0
    edited = table.with_rows({1: {"keypoints": row}})
    assert len(edited.dataset.get_fragments()) > 1
    local = pt.evaluate(edited, run)
    assert_same_bits(pt.evaluate(edited, run, engine="ray"), local)
    assert_same_bits(pt.merge_partials(_ray.ray_partials(edited, run, batch_rows=1)), local)


def test_ray_takes_predictions_given_per_row(real_data, store, no_faults):
    table = coco_table(real_data("crowdpose"), name="cp", store=store)
    predictions = noisy_predictions(table, seed=8)
    assert_same_bits(pt.evaluate(table, predictions, engine="ray"), pt.evaluate(table, predictions))


def test_ray_partials_carry_the_fingerprint_of_evaluate_partial(real_data, store, no_faults):
    table, run = table_and_run(real_data, store, "aic")
    fingerprint = _ray.table_fingerprint(table, table_frame(table))
    assert fingerprint == pt.evaluate_partial(table, run, rows=[0]).ground_truth
    blobs = _ray.ray_partials(table, run, batch_rows=2)
    local_rest = pt.evaluate_partial(table, run, rows=[])  # an empty local shard merges too
    assert_same_bits(pt.merge_partials([*blobs, local_rest]), pt.evaluate(table, run))


def test_a_worker_dying_mid_evaluation_is_retried_to_the_same_bits(real_data, store, no_faults):
    table, run = table_and_run(real_data, store, "coco_kpts")
    (no_faults / "mode").write_text("once")
    result = _ray.evaluate_ray(table, run, batch_rows=2)
    assert (no_faults / "died").exists(), "no worker died: the test tested nothing"
    assert_same_bits(result, pt.evaluate(table, run))


def test_a_worker_dying_every_time_fails_with_our_error(real_data, store, no_faults):
    table, run = table_and_run(real_data, store, "horse10")
    (no_faults / "mode").write_text("always")
    with pytest.raises(pt.errors.EvaluationError, match=r"failed and gave no result \(") as e:
        _ray.evaluate_ray(table, run, max_retries=1)
    assert "WorkerCrashedError" in str(e.value)


def test_ray_needs_a_table(real_data, no_faults):
    gt = real_data("coco_kpts") / "annotations.json"
    with pytest.raises(pt.errors.UnsupportedError, match=r'engine="ray" evaluates a posetable'):
        pt.evaluate(gt, gt, engine="ray")


def test_each_worker_maps_the_runs_columns_instead_of_a_copy(real_data, store, no_faults):
    """The run's own revision: tasks read its memory-mapped files (nothing is put in Ray)."""
    table, run = table_and_run(real_data, store, "onehand10k")
    flat, path, rows = _ray._prediction_source(table, run, table_frame(table))
    assert flat is None and path == str(run.path)
    assert np.array_equal(rows, run.prediction_columns(table).column("row").to_numpy())
    mapped = _ray._mapped(path)
    assert isinstance(mapped.keypoints, np.memmap) and len(mapped) == rows.shape[0] > 0
    assert os.path.getsize(Path(path) / "predictions_eval" / "keypoints.npy") > 0
