"""The C kernel engine gives the numpy engine's arrays bit for bit, and guards its inputs.

The numpy engine is the reference (itself checked against pycocotools in test_eval.py and
test_eval_hypothesis.py, where both engines run); here every intermediate array is compared:
candidate pairs and their OKS, matches, TP / FP / ignore flags, precision, recall, scores.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posetable.eval import _engine, _native, api
from tests._coco_reference import perturbed_results, write_json
from tests.test_eval_hypothesis import SETTINGS, coco_case

DATASETS = ["coco_kpts", "coco_wholebody", "crowdpose", "aic", "onehand10k", "horse10", "ap10k"]

needs_kernel = pytest.mark.skipif(
    not _native.AVAILABLE and os.environ.get("POSETABLE_REQUIRE_KERNEL") != "1",
    reason="the C kernel was not built (no C compiler at install time)",
)


def test_kernel_is_built_where_required():
    """CI sets POSETABLE_REQUIRE_KERNEL=1: a silent fallback to numpy there is a failure."""
    if os.environ.get("POSETABLE_REQUIRE_KERNEL") != "1":
        pytest.skip("POSETABLE_REQUIRE_KERNEL is not set")
    assert _native.AVAILABLE, "posetable.eval._kernel was not built"
    assert _engine.backend() == "native"


def test_backend_follows_the_environment(monkeypatch):
    monkeypatch.setenv("POSETABLE_EVAL_ENGINE", "numpy")
    assert _engine.backend() == "numpy"
    monkeypatch.setenv("POSETABLE_EVAL_ENGINE", "fortran")
    with pytest.raises(ValueError, match="auto, native or numpy, got 'fortran'"):
        _engine.backend()
    monkeypatch.setenv("POSETABLE_EVAL_ENGINE", "native")
    if _native.AVAILABLE:
        assert _engine.backend() == "native"
    else:
        with pytest.raises(ImportError, match="was not built"):
            _engine.backend()


def assert_engines_agree(inputs, params: _engine.Params | None = None) -> None:
    p = params or _engine.Params()
    ours = _native.match(inputs, p)
    reference = _engine.match_numpy(inputs, p)
    for name in ("evaluated", "rank", "dt_gt", "dt_ignore", "tp", "fp", "gt_ignore"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(reference, name), err_msg=name)
    acc, acc_ref = _native.accumulate(inputs, ours, p), _engine.accumulate_numpy(inputs, ours, p)
    for name in ("precision", "recall", "scores"):
        np.testing.assert_array_equal(getattr(acc, name), getattr(acc_ref, name), err_msg=name)
    # every pair's OKS (no screening), as the numpy engine computes it
    for min_oks in (None, 0.5):
        pe, pg, values = _native.candidate_pairs(inputs, ours.evaluated, min_oks=min_oks)
        re, rg, _, rv = _engine.candidate_pairs(inputs, ours.evaluated, min_oks=min_oks)
        np.testing.assert_array_equal(pe, re)
        np.testing.assert_array_equal(pg, rg)
        assert values.tobytes() == rv.tobytes()  # bit for bit, signed zeros included


def split_work(monkeypatch: pytest.MonkeyPatch, split: bool) -> None:
    """``split``: two threads and many small screening chunks even for tiny inputs."""
    monkeypatch.setattr(_native, "PARALLEL_PAIRS", 0 if split else 20_000)
    monkeypatch.setattr(_native, "CHUNK_TERMS", 1 if split else 1 << 15)


@needs_kernel
@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("split", [False, True], ids=["one-pass", "threads-and-chunks"])
def test_engines_agree_on_real_ground_truth(real_data, tmp_path, monkeypatch, name, seed, split):
    split_work(monkeypatch, split)
    gt = real_data(name) / "annotations.json"
    doc = json.loads(gt.read_text())
    results = perturbed_results(doc, seed=seed, with_bbox=seed == 3)
    assert_engines_agree(
        api._prepare_files(gt, write_json(tmp_path / "r.json", results), sigmas=None)
    )


@needs_kernel
@SETTINGS
@given(
    case=coco_case(),
    max_dets=st.sampled_from([(20,), (1, 10, 20), (3,)]),
    areas=st.sampled_from(["coco", "borders"]),
    split=st.booleans(),
)
def test_engines_agree_on_generated_cases_and_parameters(
    case, max_dets, areas, split, tmp_path_factory, monkeypatch
):
    split_work(monkeypatch, split)
    doc, results, sigmas = case
    tmp = Path(tmp_path_factory.mktemp("case"))
    inputs = api._prepare_files(
        write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results), sigmas=sigmas
    )
    ranges = (
        _engine.AREA_RANGES
        if areas == "coco"
        else np.array([[0.0, 1e10], [1.0, 32.0**2], [32.0**2, 32.0**2 + 0.5], [5000.0, 5000.0]])
    )
    params = _engine.Params(
        oks_thresholds=np.array([0.0, 0.3, 0.5, 0.75, 0.999999]),
        area_ranges=ranges,
        max_dets=max_dets,
    )
    assert_engines_agree(inputs)
    assert_engines_agree(inputs, params)


@needs_kernel
def test_sort_keys_order_and_tie_like_numpy():
    """Descending-score keys sort as np.argsort(-score, kind="stable"): ties (0.0 and -0.0
    among them) keep input order."""
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, 1.0, 1.0, 0.5, -2.5, 1e-310, -1e-310, 5e300, np.inf, -np.inf]
    for n in (0, 1, 2, 17, 1000, 70_000):
        scores = np.concatenate([rng.choice(special, n // 2), rng.random(n - n // 2).round(2)])
        rng.shuffle(scores)
        got = _native.stable_argsort(_native.descending_keys(scores))
        np.testing.assert_array_equal(got, np.argsort(-scores, kind="stable"))
        ints = rng.integers(0, 2**40, n).astype(np.uint64)
        np.testing.assert_array_equal(_native.stable_argsort(ints), np.argsort(ints, kind="stable"))


@needs_kernel
def test_pairwise_sum_is_numpys_sum():
    """numpy's pairwise order: a left fold below 8 values, 8 running sums to 128, halves above."""
    rng = np.random.default_rng(7)
    for n in [*range(0, 140), 255, 256, 257, 1000, 1031]:
        for _ in range(20):
            values = np.exp(-rng.random(n) * rng.choice([0.1, 5.0, 50.0]))
            values[rng.random(n) < 0.3] = 0.0
            assert _native._kernel.pairwise_sum(values) == np.sum(values)
        zeros = np.full(n, -0.0)  # signed zeros too: numpy adds from +0.0
        assert np.signbit(_native._kernel.pairwise_sum(zeros)) == np.signbit(np.sum(zeros))


@needs_kernel
def test_kernel_rejects_out_of_range_indices_instead_of_reading_past_arrays():
    k = 3
    dt_kp = np.zeros((2, k, 2))
    gt_kp = np.zeros((1, k, 2))
    labeled = np.ones((1, k), bool)
    dt_ext, gt_ext, count = np.empty((2, 4)), np.empty((1, 4)), np.empty(1, np.int64)
    kernel = _native._kernel
    with pytest.raises(ValueError, match="ev_dt index out of range"):
        kernel.extents(dt_kp, np.array([0, 5]), gt_kp, labeled, np.zeros((1, 4)), k,
                       dt_ext, gt_ext, count)  # fmt: skip
    kernel.extents(dt_kp, np.array([0, 1]), gt_kp, labeled, np.zeros((1, 4)), k,
                   dt_ext, gt_ext, count)  # fmt: skip
    outputs = [np.empty(8, np.int64) for _ in range(4)] + [
        np.empty(8),
        np.empty(24),
        np.empty(24, np.int64),
    ]
    args = (dt_kp, gt_kp, labeled, np.ones(1), np.ones(k), np.array([0, 1]))
    with pytest.raises(ValueError, match="index out of range"):
        kernel.screen(*args, np.array([0, 2]), np.array([0]), np.array([1]), np.array([7]),
                      dt_ext, gt_ext, count, 0.5, 0, 1, *outputs)  # fmt: skip
    with pytest.raises(ValueError, match="outputs too small"):
        kernel.screen(*args, np.array([0, 2]), np.array([0]), np.array([1]), np.array([0]),
                      dt_ext, gt_ext, count, 0.5, 0, 1, *[o[:1] for o in outputs])  # fmt: skip
    with pytest.raises(ValueError, match="gt_area: expected items of 8 bytes"):
        kernel.screen(dt_kp, gt_kp, labeled, np.ones(1, np.float32), np.ones(k), np.array([0, 1]),
                      np.array([0, 2]), np.array([0]), np.array([1]), np.array([0]),
                      dt_ext, gt_ext, count, 0.5, 0, 1, *outputs)  # fmt: skip


@needs_kernel
def test_per_instance_and_per_sample_tables_are_the_same_on_both_engines(
    real_data, tmp_path, monkeypatch
):
    gt = real_data("crowdpose") / "annotations.json"
    results = perturbed_results(json.loads(gt.read_text()), seed=4)
    path = write_json(tmp_path / "r.json", results)
    tables = {}
    for engine in ("native", "numpy"):
        monkeypatch.setenv("POSETABLE_EVAL_ENGINE", engine)
        result = api.evaluate_coco(gt, path)
        tables[engine] = (result.per_instance, result.per_sample)
    assert tables["native"][0].equals(tables["numpy"][0])
    assert tables["native"][1].equals(tables["numpy"][1])


@needs_kernel
@pytest.mark.parametrize("dataset", ["animalpose", "ap10k", "coco_wholebody"])
def test_per_image_ap_is_the_same_on_both_engines_in_any_chunking(
    dataset, real_data, tmp_path, monkeypatch
):
    """The kernel's per-image AP (``cell_sums``: each image-category cell evaluated
    alone) and numpy's give the same bits, whatever numpy's cells per block."""
    from posetable.eval import _details

    gt = real_data(dataset) / "annotations.json"
    results = perturbed_results(json.loads(gt.read_text()), seed=7)
    path = write_json(tmp_path / "r.json", results)
    columns = {}
    for engine, chunk in (("native", 2048), ("numpy", 2048), ("numpy", 3), ("numpy", 1)):
        monkeypatch.setenv("POSETABLE_EVAL_ENGINE", engine)
        monkeypatch.setattr(_details, "SUM_CHUNK", chunk)
        columns[engine, chunk] = api.evaluate_coco(gt, path).per_sample.column("ap")
    reference = columns["numpy", 2048]
    assert reference.null_count < len(reference)  # some images have an AP
    for key, column in columns.items():
        assert column.equals(reference), key


def test_pair_oks_lookup_is_the_same_for_pairs_in_any_order(real_data, tmp_path):
    """The metric tables look up the OKS of matched pairs among all pairs; the engine
    gives them sorted (searched as they are), any other order is sorted first."""
    from posetable.eval._details import _Pairs

    gt = real_data("crowdpose") / "annotations.json"
    path = write_json(tmp_path / "r.json", perturbed_results(json.loads(gt.read_text()), seed=3))
    details = api.evaluate_coco(gt, path)._require_details()
    pairs = _Pairs(details.inputs, details.matches)
    assert pairs._order is None  # the engine's own order
    hits = np.flatnonzero(details.matches.dt_gt[0, 0] >= 0)
    partners = details.matches.dt_gt[0, 0, hits]
    expected = pairs.oks(hits, partners)
    shuffled = _Pairs.__new__(_Pairs)
    shuffled.inp, shuffled.matches, shuffled._width = pairs.inp, pairs.matches, pairs._width
    perm = np.random.default_rng(0).permutation(len(pairs.values))
    keys = pairs.ev[perm].astype(np.int64) * pairs._width + pairs.gt[perm]
    shuffled.values, shuffled._order = pairs.values[perm], np.argsort(keys, kind="stable")
    shuffled._sorted = keys[shuffled._order]
    assert hits.size > 0 and np.array_equal(shuffled.oks(hits, partners), expected)


@needs_kernel
def test_the_thread_pool_is_made_anew_after_fork(tmp_path):
    """A forked child inherits the pool object without its threads; it must not hang."""
    _native._pool()
    with warnings.catch_warnings():  # lance warns that it is not fork-safe (it is unused here)
        warnings.simplefilter("ignore")
        pid = os.fork()
    if pid == 0:  # the child: split work would wait forever on a pool without threads
        try:
            assert not _native._POOL
            assert _native._pool().submit(sum, [1, 2]).result(timeout=10) == 3
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


@needs_kernel
def test_engines_agree_at_val2017_size(tmp_path):
    """5,000 images, ~85,000 candidate pairs: the threaded and chunked paths run as in use."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from _eval_data import generate

    gt, results = generate(1, seed=8)
    inputs = api._prepare_files(
        write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "r.json", results), sigmas=None
    )
    assert len(inputs.dt) > _native.PARALLEL_PAIRS / 2
    assert_engines_agree(inputs)
