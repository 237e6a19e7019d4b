"""Partial evaluations merged bit for bit, and every kind of mismatch refused by name.

The reference is ``pt.evaluate`` / ``pt.evaluate_coco`` on everything at once (itself equal
to pycocotools in test_eval*.py); the merge must give the same bytes for the stats and the
precision, recall and scores arrays, and the same per-sample / per-instance tables.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import posetable as pt
from posetable.eval import COCOeval, EvaluationMemoryError
from posetable.eval._partial_bytes import FORMAT_VERSION, MAGIC
from posetable.eval.partial import (
    Partial,
    PartialCoverageError,
    PartialError,
    PartialMismatchError,
)
from tests._coco_reference import perturbed_results, write_json
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._data import data_path
from tests._predictions import noisy_predictions
from tests.test_eval_hypothesis import SETTINGS, coco_case

ARRAYS = ("stats", "precision", "recall", "scores")


def assert_same_bits(merged: pt.EvaluationResult, whole: pt.EvaluationResult) -> None:
    for name in ARRAYS:
        a, b = getattr(merged, name), getattr(whole, name)
        assert a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name  # bit for bit, signed zeros and -1 cells too
    assert merged.category_ids.tolist() == whole.category_ids.tolist()
    assert merged.sigmas.tobytes() == whole.sigmas.tobytes()


def _bits(value: object) -> object:
    """A value with every float as its bits (NaN equals NaN, -0.0 differs from 0.0)."""
    if isinstance(value, float):
        return ("f", struct.pack("<d", value))
    if isinstance(value, list):
        return [_bits(v) for v in value]
    if isinstance(value, dict):
        return {k: _bits(v) for k, v in value.items()}
    return value


def assert_same_table(merged: pa.Table, whole: pa.Table) -> None:
    """Equal schemas and values, floats bit for bit (``Table.equals`` says NaN != NaN)."""
    assert merged.schema == whole.schema
    for name in whole.column_names:
        got, want = merged.column(name).to_pylist(), whole.column(name).to_pylist()
        assert _bits(got) == _bits(want), name


def shards(ids: list, n: int, seed: int) -> list[list]:
    """``ids`` shuffled and dealt into ``n`` shards of uneven sizes, plus an empty one."""
    rng = np.random.default_rng(seed)
    shuffled = list(rng.permutation(np.asarray(ids, dtype=object)))
    cuts = np.sort(rng.integers(0, len(shuffled) + 1, n - 1)).tolist()
    parts = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    parts.append([])
    order = rng.permutation(len(parts))
    return [parts[i] for i in order]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Per dataset: (ground truth path, results path, image ids)."""
    out = {}
    tmp = tmp_path_factory.mktemp("results")
    for name in COCO_FOLDERS:
        gt = data_path(name) / "annotations.json"
        doc = json.loads(gt.read_text())
        results = perturbed_results(doc, seed=5, extra=1.5, with_bbox=name == "aic")
        out[name] = (
            gt,
            write_json(tmp / f"{name}.json", results),
            [i["id"] for i in doc["images"]],
        )
    return out


@pytest.mark.parametrize("name", COCO_FOLDERS)
@pytest.mark.parametrize("n_shards", [2, 3, 7])
def test_merged_shards_are_the_single_run_bit_for_bit(files, name, n_shards, eval_engine):
    gt, results, ids = files[name]
    whole = pt.evaluate_coco(gt, results)
    parts = [
        pt.evaluate_partial(gt, results, images=shard).to_bytes()
        for shard in shards(ids, n_shards, seed=n_shards)
    ]
    merged = pt.merge_partials(parts)
    assert_same_bits(merged, whole)
    assert_same_bits(pt.merge_partials(parts[::-1]), whole)


@pytest.mark.parametrize("name", COCO_FOLDERS)
def test_merged_details_give_the_single_runs_tables(files, name):
    gt, results, ids = files[name]
    whole = pt.evaluate_coco(gt, results)
    parts = [
        Partial.from_bytes(pt.evaluate_partial(gt, results, images=s, details=True).to_bytes())
        for s in shards(ids, 3, seed=1)
    ]
    merged = pt.merge_partials(parts)
    assert_same_bits(merged, whole)
    assert_same_table(merged.per_sample, whole.per_sample)
    assert_same_table(merged.per_instance, whole.per_instance)


@pytest.mark.parametrize("name", ["coco_kpts", "crowdpose", "ap10k"])
def test_table_and_run_partials_by_rows(real_data, store, name, eval_engine):
    """A table with a run, split by rows as a sampler splits it; ap10k has 54 classes."""
    table = coco_table(real_data(name), name=name, store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=2), name=f"{name}-m")
    whole = pt.evaluate(table, run)
    rows = list(range(len(table)))
    parts = [pt.evaluate_partial(table, run, rows=s, details=True) for s in shards(rows, 2, 3)]
    merged = pt.merge_partials(parts)
    assert_same_bits(merged, whole)
    assert_same_table(merged.per_instance, whole.per_instance)
    assert_same_table(merged.per_sample, whole.per_sample)
    predictions = noisy_predictions(table, seed=2)  # per-row instances, partials by image id
    by_ids = [pt.evaluate_partial(table, predictions, images=[i]) for i in range(len(table))]
    assert_same_bits(pt.merge_partials(by_ids), pt.evaluate(table, predictions))


def test_val2017_sized_pair_in_seven_shards(tmp_path):
    """5,000 images with scores that tie across images: the merge keeps image-id order."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from _eval_data import generate

    doc, results = generate(1, seed=4)
    rng = np.random.default_rng(0)
    for r in results:  # coarse scores: many ties, across images too
        r["score"] = float(np.round(r["score"], 1))
    gt = write_json(tmp_path / "gt.json", doc)
    res = write_json(tmp_path / "r.json", results)
    whole = pt.evaluate_coco(gt, res)
    ids = [i["id"] for i in doc["images"]]
    parts = [pt.evaluate_partial(gt, res, images=s).to_bytes() for s in shards(ids, 7, seed=9)]
    rng.shuffle(parts)
    assert_same_bits(pt.merge_partials(parts), whole)
    assert whole.ap > 0.1  # a real evaluation, not an empty one
    assert len({r["score"] for r in results}) <= 11  # 19,000 predictions, 11 scores


@SETTINGS
@given(case=coco_case(), n_shards=st.integers(1, 4), seed=st.integers(0, 100))
def test_generated_cases_merge_to_the_single_run(case, n_shards, seed, tmp_path_factory):
    """Crowds, num_keypoints 0, > 20 detections, tied scores, id 0, several categories."""
    doc, results, sigmas = case
    tmp = Path(tmp_path_factory.mktemp("case"))
    gt, res = write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results)
    whole = pt.evaluate_coco(gt, res, sigmas=sigmas)
    ids = [i["id"] for i in doc["images"]]
    parts = [
        pt.evaluate_partial(gt, res, images=s, sigmas=sigmas, details=True).to_bytes()
        for s in shards(ids, n_shards, seed)
    ]
    merged = pt.merge_partials(parts)
    assert_same_bits(merged, whole)
    assert_same_table(merged.per_instance, whole.per_instance)


@SETTINGS
@given(case=coco_case(), max_dets=st.sampled_from([[20], [1, 10, 20], [3]]))
def test_custom_parameters_merge_to_the_shims_answer(case, max_dets, tmp_path_factory):
    doc, results, sigmas = case
    tmp = Path(tmp_path_factory.mktemp("params"))
    gt, res = write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results)
    evaluator = COCOeval(str(gt), str(res), "keypoints")
    p = evaluator.params
    p.kpt_oks_sigmas = sigmas
    p.iouThrs = np.array([0.0, 0.3, 0.5, 0.75, 0.999999])
    p.maxDets = max_dets
    p.areaRng = [[0.0, 1e10], [1.0, 32.0**2], [32.0**2, 32.0**2 + 0.5]]
    p.areaRngLbl = ["all", "small", "medium"]
    evaluator.evaluate()
    evaluator.accumulate()
    ids = [i["id"] for i in doc["images"]]
    parts = [
        pt.evaluate_partial(gt, res, images=s, sigmas=sigmas, params=p) for s in shards(ids, 2, 1)
    ]
    merged = pt.merge_partials(parts)
    assert evaluator.result is not None
    assert_same_bits(merged, evaluator.result)


# -- refusals --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(files):
    gt, results, ids = files["coco_kpts"]
    return gt, results, sorted(ids)


def test_overlapping_partials_are_refused_naming_the_image(pair):
    gt, res, ids = pair
    a = pt.evaluate_partial(gt, res, images=ids[:3])
    b = pt.evaluate_partial(gt, res, images=ids[2:])
    with pytest.raises(
        PartialCoverageError, match=rf"image {ids[2]} is in partial 0 and in partial 1"
    ) as e:
        pt.merge_partials([a, b])
    assert e.value.kind == "overlap"


def test_missing_images_are_refused_unless_allowed(pair, tmp_path):
    gt, res, ids = pair
    a = pt.evaluate_partial(gt, res, images=[ids[0], ids[3]])
    with pytest.raises(
        PartialCoverageError, match=r"cover 2 of the ground truth's 4 images; 2 are"
    ) as e:
        pt.merge_partials([a])
    assert e.value.kind == "missing"
    assert f"after id {ids[0]!r}" in str(e.value)
    # allowed: the evaluation of the covered images alone (pycocotools with imgIds)
    evaluator = COCOeval(str(gt), str(res), "keypoints")
    evaluator.params.imgIds = [ids[0], ids[3]]
    evaluator.evaluate()
    evaluator.accumulate()
    assert_same_bits(pt.merge_partials([a], allow_missing=True), evaluator.result)


def test_partials_of_another_ground_truth_are_refused(pair, files, tmp_path):
    gt, res, ids = pair
    a = pt.evaluate_partial(gt, res, images=ids[:2])
    doc = json.loads(gt.read_text())
    doc["annotations"][0]["keypoints"][0] += 1.0  # one coordinate moved
    other = write_json(tmp_path / "gt2.json", doc)
    b = pt.evaluate_partial(other, res, images=ids[2:])
    with pytest.raises(
        PartialMismatchError, match="partial 1 comes from another ground truth"
    ) as e:
        pt.merge_partials([a, b])
    assert (e.value.field, e.value.index) == ("ground_truth", 1)
    crowd_gt, crowd_res, crowd_ids = files["crowdpose"]
    c = pt.evaluate_partial(crowd_gt, crowd_res, images=crowd_ids)
    with pytest.raises(PartialMismatchError, match="another ground truth"):
        pt.merge_partials([a, c])


def test_partials_with_other_sigmas_or_parameters_are_refused(pair):
    gt, res, ids = pair
    a = pt.evaluate_partial(gt, res, images=ids[:2])
    sigmas = np.full(17, 0.05)
    b = pt.evaluate_partial(gt, res, images=ids[2:], sigmas=sigmas)
    with pytest.raises(PartialMismatchError, match=r"other sigmas \( \[0.05, 0.05") as e:
        pt.merge_partials([a, b])
    assert e.value.field == "sigmas"
    params = COCOeval().params
    params.iouThrs = np.array([0.5, 0.75])
    c = pt.evaluate_partial(gt, res, images=ids[2:], params=params)
    with pytest.raises(
        PartialMismatchError, match=r"other parameters \(oks_thresholds \[0.5, 0.75\]"
    ) as e:
        pt.merge_partials([a, c])
    assert e.value.field == "oks_thresholds"
    params = COCOeval().params
    params.maxDets = [10]
    d = pt.evaluate_partial(gt, res, images=ids[2:], params=params)
    with pytest.raises(PartialMismatchError, match=r"max_dets \(10,\)"):
        pt.merge_partials([a, d])


def test_bytes_that_are_not_a_whole_partial_are_refused(pair):
    gt, res, ids = pair
    data = bytearray(pt.evaluate_partial(gt, res, images=ids).to_bytes())
    with pytest.raises(PartialError, match="are not a posetable partial"):
        Partial.from_bytes(b"{}" + bytes(data))
    with pytest.raises(PartialError, match="damaged or cut short"):
        Partial.from_bytes(bytes(data[:-100]))
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    with pytest.raises(PartialError, match="checksum does not match"):
        pt.merge_partials([bytes(flipped)])
    newer = bytearray(data)
    newer[len(MAGIC)] = FORMAT_VERSION + 1
    with pytest.raises(PartialError, match=f"format version {FORMAT_VERSION + 1}"):
        Partial.from_bytes(bytes(newer))
    with pytest.raises(PartialError, match="at least one partial"):
        pt.merge_partials([])


def test_images_must_be_known_and_given_once(pair):
    gt, res, ids = pair
    with pytest.raises(pt.errors.EvaluationError, match="image id 123456789 is not an image"):
        pt.evaluate_partial(gt, res, images=[ids[0], 123456789])
    with pytest.raises(pt.errors.EvaluationError, match=f"image id {ids[1]} is given twice"):
        pt.evaluate_partial(gt, res, images=[ids[1], ids[1]])
    with pytest.raises(pt.errors.EvaluationError, match="exactly one of images="):
        pt.evaluate_partial(gt, res, images=ids, rows=[0])
    with pytest.raises(pt.errors.EvaluationError, match="row 9 is not an image"):
        pt.evaluate_partial(gt, res, rows=[9])


def test_an_evaluation_too_large_for_one_process_points_to_ray(real_data, store):
    table = coco_table(real_data("coco_kpts"), name="c", store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table), name="m")
    with pytest.raises(EvaluationMemoryError, match=r'engine="ray"') as e:
        pt.evaluate(table, run, max_memory=10_000)
    assert "max_memory=10000" in str(e.value) and isinstance(e.value, MemoryError)
    assert (
        pt.evaluate(table, run, max_memory=10**9).stats.tobytes() == run.evaluate().stats.tobytes()
    )
    with pytest.raises(pt.errors.UnsupportedError, match="engine must be 'local' or 'ray'"):
        pt.evaluate(table, run, engine="spark")


# -- torch.distributed ----------------------------------------------------------------------
def _rank_main(rank: int, world: int, folder: str, dst: int | None) -> None:
    """One rank of a real gloo group: its own rows, gathered and merged."""
    import torch.distributed as dist

    from posetable.eval.distributed import gather_partials

    rendezvous = f"file://{Path(folder) / 'rendezvous'}"  # a file: no port to race for
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world)
    try:
        table = pt.Table.open("c", store=Path(folder) / "store")
        run = pt.Run.open("m", store=Path(folder) / "store")
        rows = list(range(rank, len(table), world))  # a DistributedSampler's split
        result = gather_partials(pt.evaluate_partial(table, run, rows=rows), dst=dst)
        out = Path(folder) / f"rank{rank}.npz"
        if result is None:
            out.write_bytes(b"none")
        else:
            np.savez(out, **{name: getattr(result, name) for name in ARRAYS})
    finally:
        dist.destroy_process_group()


@pytest.mark.integration
@pytest.mark.parametrize("dst", [None, 0])
def test_gather_partials_across_two_gloo_ranks(real_data, tmp_path, dst):
    pytest.importorskip("torch")
    import torch.multiprocessing as mp

    table = coco_table(real_data("coco_kpts"), name="c", store=tmp_path / "store")
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=4), name="m")
    whole = pt.evaluate(table, run)
    mp.start_processes(
        _rank_main, args=(2, str(tmp_path), dst), nprocs=2, join=True, start_method="spawn"
    )
    for rank in range(2):
        out = tmp_path / f"rank{rank}.npz"
        if dst is not None and rank != dst:
            assert out.read_bytes() == b"none"
            continue
        got = np.load(out)
        for name in ARRAYS:
            assert got[name].tobytes() == getattr(whole, name).tobytes(), (rank, name)


@pytest.mark.integration
def test_gather_partials_needs_a_process_group(pair):
    pytest.importorskip("torch")
    from posetable.eval.distributed import gather_partials

    gt, res, ids = pair
    with pytest.raises(pt.errors.EvaluationError, match=r"initialised torch\.distributed"):
        gather_partials(pt.evaluate_partial(gt, res, images=ids))
