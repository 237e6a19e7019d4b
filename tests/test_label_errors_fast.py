"""The vectorised label-error finder gives exactly the tables of the per-row finder it
replaced (kept in ``tests/_label_errors_reference.py``), on every real COCO-format dataset
of tests/data and the bundled sample, with edits, deleted rows, rows without visibilities
or confidences, and with chunks small enough that every path (chunk edges, two threads)
runs."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

import posetable as pt
from posetable import _label_flat
from posetable._pairs import pair_oks, same_row_pairs
from posetable._text_columns import fixed
from posetable.errors import PosetableWarning
from posetable.label_errors import label_errors_of_rows
from posetable.sample import sample_table
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._label_errors_reference import reference_find_label_errors
from tests._predictions import noisy_predictions

SETTINGS = [
    {},
    {"instance_confidence_threshold": 0.3, "keypoint_confidence_threshold": 0.3},
    {"instance_confidence_threshold": 0.9, "keypoint_confidence_threshold": 0.0},
    {"top": 3},
    {"kinds": ("swap", "misplaced_keypoint")},
]


def _same(table: pt.Table, run: pt.Run) -> int:
    """Assert both finders agree under every setting; the number of suspects seen."""
    seen = 0
    for options in SETTINGS:
        new = pt.find_label_errors(table, run, **options)
        old = reference_find_label_errors(table, run, **options)
        assert new.schema == old.schema
        assert new.equals(old), (options, new.to_pylist()[:3], old.to_pylist()[:3])
        seen += new.num_rows
    return seen


def _variants(table: pt.Table) -> list[pt.Table]:
    """The table, a revision with edits (a mirrored person, one without labeled points, a
    dropped one, an emptied row, a row without visibilities) and one with a deleted row."""
    out = [table]
    edits = {}
    flips = table.schema.flip_indices
    for row in range(len(table)):
        gt = table[row]["keypoints"]
        if len(gt) == 0:
            continue
        if row == 0 and flips is not None:
            mirrored = gt.copy()
            mirrored.keypoints[0] = gt.keypoints[0][np.asarray(flips)]
            if gt.keypoint_visibilities is not None:
                mirrored.keypoint_visibilities[0] = gt.keypoint_visibilities[0][np.asarray(flips)]
            if len(gt) > 1 and mirrored.keypoint_visibilities is not None:
                mirrored.keypoint_visibilities[1] = 0  # no labeled point: the 3x-box OKS
            edits[row] = {"keypoints": mirrored}
        elif row == 1 and len(gt) > 1:
            edits[row] = {"keypoints": gt.select(np.arange(1, len(gt)))}
        elif row == 2:
            plain = pt.Keypoints2DInstances(
                gt.keypoints.copy(),
                instance_bbs=gt.instance_bbs.copy(),
                instance_labels=gt.instance_labels.copy(),
                num_keypoints=gt.num_keypoints,
            )
            edits[row] = {"keypoints": plain}
        elif row == 3:
            edits[row] = {"keypoints": gt.select(np.zeros(len(gt), bool))}
    if edits:
        out.append(table.with_rows(edits))
    if len(table) > 1:
        out.append(out[-1].delete_rows([len(table) - 1]))
    return out


def _runs(table: pt.Table, name: str) -> list[pt.Run]:
    """Runs of several noise levels; one whose predictions lack keypoint confidences."""
    runs = []
    for seed, noise in ((0, 0.01), (1, 0.05), (2, 0.2)):
        predictions = noisy_predictions(table, seed=seed, noise=noise)
        runs.append(pt.Run.from_predictions(table, predictions, name=f"{name}-{seed}"))
    bare = []
    for item in noisy_predictions(table, seed=3, noise=0.03):
        bare.append(
            None
            if item is None or len(item) == 0
            else pt.Keypoints2DInstances(
                item.keypoints,
                instance_confidences=item.instance_confidences,
                num_keypoints=item.num_keypoints,
            )
        )
    runs.append(pt.Run.from_predictions(table, bare, name=f"{name}-bare"))
    return runs


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_same_suspects_as_the_per_row_finder_on_real_data(real_data, store, folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = coco_table(real_data(folder), name=folder, store=store)
        runs = _runs(table, folder)
        variants = _variants(table)
    seen = 0
    for run in runs:
        for variant in variants:
            seen += _same(variant, run)
    assert seen > 0  # the comparison saw suspects, not only empty tables


def test_same_suspects_on_the_sample_with_tiny_chunks_and_threads(store, monkeypatch):
    table = sample_table(store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=5), name="sample-run")
    full = pt.find_label_errors(table, run)
    monkeypatch.setattr(_label_flat, "PAIR_CHUNK", 3)
    monkeypatch.setattr(_label_flat, "PARALLEL_CHUNKS", 2)
    assert sum(_same(variant, run) for variant in _variants(table)) > 0
    assert pt.find_label_errors(table, run).equals(full)


def test_fixed_point_text_matches_python_formatting():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.random(2000),
            rng.random(2000).astype(np.float32).astype(np.float64),
            np.arange(0, 2000) / 200.0,  # exact ties of two decimals
            -rng.random(200),
            [0.0, -0.0, np.nan, np.inf, -np.inf, 1e300, 0.005, 0.125, 2.675, 1e9 + 0.005],
        ]
    )
    for digits in (0, 1, 2, 3):
        want = [format(v, f".{digits}f") for v in values.tolist()]
        assert fixed(values, digits).to_pylist() == want
    assert fixed(np.zeros(0)).equals(pa.array([], pa.string()))


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_pair_oks_is_bit_identical_to_the_reference_formula(real_data, store, folder, eval_engine):
    """On both engines (the C kernel's pair_errors / pair_sums and numpy), as labeled and
    mirrored, with the 3x-box path of ground truth without labeled points."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = coco_table(real_data(folder), name=folder, store=store)
        run = pt.Run.from_predictions(table, noisy_predictions(table, seed=4), name="r")
    schema = table.schema
    k = schema.num_keypoints
    flips = np.asarray(schema.flip_indices if schema.flip_indices is not None else range(k))
    saw_boxed = False
    variants = _variants(table)
    latest = variants[-1]  # edits go on the newest revision
    first = next(r for r in range(len(latest)) if len(latest[r]["keypoints"]) > 0)
    unlabeled = latest[first]["keypoints"].copy()
    if unlabeled.keypoint_visibilities is None:
        unlabeled.keypoint_visibilities = np.full(unlabeled.keypoints.shape[:2], 2, np.int32)
    unlabeled.keypoint_visibilities[0] = 0  # no labeled point: the 3x-box OKS
    for variant in [*variants, latest.with_rows({first: {"keypoints": unlabeled}})]:
        _, gt, dt = _label_flat.flat_inputs(variant, run)
        gi, di = same_row_pairs(gt.row, dt.row)
        pairs = _label_flat.PairOks(gt, dt.keypoints, schema.sigmas, flips)
        oks, oks_flip = pairs.oks(gi, di)
        e, e_flip = pairs.errors(gi, di)
        want, want_e = pair_oks(gt, dt.keypoints, gi, di, schema.sigmas)
        mirrored = {
            "gt_keypoints": gt.keypoints[:, flips],
            "gt_visibility": gt.visibility[:, flips],
        }
        want_flip, want_e_flip = pair_oks(gt, dt.keypoints, gi, di, schema.sigmas, **mirrored)
        saw_boxed |= bool(((gt.visibility[gi] > 0).sum(axis=1) == 0).any())
        for got, expected in (
            (oks, want),
            (oks_flip, want_flip),
            (e, want_e),
            (e_flip, want_e_flip),
        ):
            assert got.tobytes() == expected.tobytes()
    assert saw_boxed  # the 3x-box path of ground truth without labeled points ran


def test_a_run_keeps_its_suspects_and_an_unreadable_file_is_found_again(store, caplog):
    from posetable._run_suspects import SUSPECT_THRESHOLDS, read_suspects, suspects_path

    table = sample_table(store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=6), name="kept")
    assert read_suspects(run.path, SUSPECT_THRESHOLDS) is None  # found on first use
    assert run.materialize() is run  # made now, and kept beside the run
    kept = read_suspects(run.path, SUSPECT_THRESHOLDS)
    found = pt.find_label_errors(
        table,
        run,
        instance_confidence_threshold=SUSPECT_THRESHOLDS[0],
        keypoint_confidence_threshold=SUSPECT_THRESHOLDS[1],
    )
    assert kept is not None and kept.equals(found)
    suspects_path(run.path, SUSPECT_THRESHOLDS).write_bytes(b"not parquet")
    assert read_suspects(run.path, SUSPECT_THRESHOLDS) is None
    assert "unreadable suspects file" in caplog.text


def test_suspects_of_some_rows_are_those_rows_suspects(store):
    table = sample_table(store=store)
    run = pt.Run.from_predictions(table, noisy_predictions(table, seed=7, noise=0.1), name="r")
    everything = pt.find_label_errors(table, run, instance_confidence_threshold=0.3)
    assert everything.num_rows
    for rows in ([0], [1, 3], [2]):
        some = label_errors_of_rows(table, run, np.asarray(rows), instance_confidence_threshold=0.3)
        mask = np.isin(everything.column("row").to_numpy(), rows)
        assert some.equals(everything.filter(pa.array(mask)))
