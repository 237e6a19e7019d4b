"""Sigmas from data (COCO's recipe, checked by simulation) and where a table's sigmas came from."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import posetable as pt
from posetable._arrow import flat_from_arrow
from posetable.cli import main
from posetable.errors import PosetableWarning, SchemaError
from posetable.sigmas import SigmaWarning, _Errors, bootstrap_sigmas, greedy_pairs

COCO_SIGMAS = np.asarray(pt.COCO_OKS_SIGMAS)
TILES = 100  # the 12 labeled persons of coco_kpts, 100 times: 1,200 instance pairs


def _import(real_data, name: str, store) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return pt.Table.from_coco(
            real_data("coco_kpts") / "annotations.json", name=name, store=store
        )


@pytest.fixture
def tiled(coco_table: pt.Table) -> pt.Table:
    """The real COCO rows repeated: many instances with real poses, boxes and areas."""
    data = coco_table.to_arrow(columns=["image", "width", "height", "keypoints"])
    return pt.Table.from_arrow(
        pa.concat_tables([data] * TILES), name="tiled", schema=coco_table.schema,
        store=coco_table.store,
    )  # fmt: skip


def _noisy_rows(table: pt.Table, sigmas: np.ndarray, seed: int) -> dict[int, dict]:
    """Every labeled point moved by isotropic Gaussian noise with E|d|^2 = (sigma s)^2."""
    rng = np.random.default_rng(seed)
    rows = table.rows(range(len(table)))
    for row in rows:
        kp = row["keypoints"]
        if not len(kp):
            continue
        scale = np.sqrt(np.asarray(kp.instance_extras["area"], float))
        step = (
            rng.normal(size=kp.keypoints.shape)
            * (sigmas[None, :] * scale[:, None] / np.sqrt(2))[..., None]
        )
        kp.keypoints = np.where(
            kp.keypoint_visibilities[..., None] > 0, kp.keypoints + step, kp.keypoints
        )
    return dict(enumerate(rows))


# -- the estimate ---------------------------------------------------------------------------------
def test_the_estimate_recovers_known_sigmas_within_its_interval(tiled: pt.Table) -> None:
    noisy = tiled.with_rows(_noisy_rows(tiled, COCO_SIGMAS, seed=1))
    est = pt.estimate_sigmas(tiled, noisy, confidence=0.99, bootstrap=500, seed=0)
    labeled = (flat_from_arrow(tiled.to_arrow(columns=["keypoints"]).column("keypoints"))
               .visibilities > 0).sum(axis=0)  # fmt: skip
    np.testing.assert_array_equal(est.counts, labeled)
    assert est.pairs == 14 * TILES and est.unmatched == (0, 0)
    inside = (est.low <= COCO_SIGMAS) & (est.high >= COCO_SIGMAS)
    assert inside.all(), [n for n, ok in zip(est.keypoint_names, inside, strict=True) if not ok]
    assert np.max(np.abs(est.sigmas / COCO_SIGMAS - 1)) < 0.15
    assert np.all(est.high - est.low < 0.5 * COCO_SIGMAS)  # the interval is informative
    assert est.sources == (tiled.ref, noisy.ref)


def test_the_intervals_cover_the_true_sigmas_at_their_level(tiled: pt.Table) -> None:
    """Over 40 simulated re-annotations, ~95% of the 95% intervals hold the true sigma."""
    flat = flat_from_arrow(tiled.to_arrow(columns=["keypoints"]).column("keypoints"))
    rng = np.random.default_rng(7)
    scale = np.sqrt(np.asarray(flat.extras["area"][0], float))
    covered = []
    for rep in range(40):
        step = rng.normal(size=flat.keypoints.shape)
        step *= (COCO_SIGMAS[None, :] * scale[:, None] / np.sqrt(2))[..., None]
        other = dataclasses.replace(flat, keypoints=flat.keypoints + step)
        errors = _Errors()
        errors.add(flat, other, 0.5)
        _, low, high = bootstrap_sigmas(
            errors.z[0], errors.valid[0], resamples=300, confidence=0.95, seed=rep
        )
        covered.append((low <= COCO_SIGMAS) & (high >= COCO_SIGMAS))
    rate = float(np.mean(covered))
    assert 0.88 <= rate <= 0.99, rate


def test_one_annotation_scores_eight_ninths_oks_against_the_other(tiled: pt.Table) -> None:
    """The estimated sigmas mean what pycocotools' OKS formula means: under Gaussian
    disagreement, E[exp(-d^2 / (2 s^2 (2 sigma)^2))] = 1 / (1 + 1/8)."""
    noisy = tiled.with_rows(_noisy_rows(tiled, COCO_SIGMAS, seed=4))
    est = pt.estimate_sigmas(tiled, noisy, bootstrap=0)
    gt = est.apply(tiled.derive("clean"))  # revision 1's rows, the estimated sigmas
    predictions = []
    for row in noisy:
        kp = row["keypoints"]
        labeled = (kp.keypoint_visibilities > 0).any(axis=1) if len(kp) else np.zeros(0, bool)
        chosen = kp.select(labeled)
        predictions.append(
            pt.Keypoints2DInstances(
                chosen.keypoints,
                keypoint_confidences=np.ones(chosen.keypoints.shape[:2], np.float32),
                instance_confidences=np.ones(len(chosen)),
                image_width=row["width"],
                image_height=row["height"],
            )
        )
    result = pt.evaluate(gt, predictions)
    table = result.per_instance.to_pylist()
    oks = np.asarray([r["oks"] for r in table if r["kind"] == "gt" and not r["ignored"]])
    assert len(oks) == 12 * TILES
    assert abs(oks.mean() - 8 / 9) < 0.02
    assert result.sigmas_source == est.source


def test_instances_are_paired_by_their_boxes_whatever_their_order(tiled: pt.Table) -> None:
    rows = _noisy_rows(tiled, COCO_SIGMAS, seed=2)
    noisy = tiled.with_rows(rows)
    for row in rows.values():
        row["keypoints"] = row["keypoints"].select(np.arange(len(row["keypoints"]))[::-1])
    shuffled = noisy.with_rows(rows)
    a = pt.estimate_sigmas(tiled, noisy, bootstrap=0)
    b = pt.estimate_sigmas(tiled, shuffled, bootstrap=0)
    np.testing.assert_allclose(b.sigmas, a.sigmas, rtol=1e-12)
    assert b.pairs == a.pairs


def test_tables_imported_apart_are_paired_by_image(real_data, store) -> None:
    a = _import(real_data, "a", store)
    b = _import(real_data, "b", store)
    rows = _noisy_rows(a, COCO_SIGMAS, seed=3)
    by_image = b.with_rows(rows)
    by_sample = a.with_rows(rows)
    est = pt.estimate_sigmas(a, by_image, match="image", bootstrap=50)
    same = pt.estimate_sigmas(a, by_sample, bootstrap=50)
    np.testing.assert_array_equal(est.sigmas, same.sigmas)
    assert est.source == "estimated from a@1, b@2"


def test_greedy_pairs_match_a_plain_greedy_loop() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        rows = int(rng.integers(1, 5))
        ca, cb = rng.integers(0, 6, rows), rng.integers(0, 6, rows)
        corner = rng.uniform(0, 50, (int(ca.sum()), 2))
        boxes_a = np.hstack([corner, corner + rng.uniform(5, 30, corner.shape)])
        corner = rng.uniform(0, 50, (int(cb.sum()), 2))
        boxes_b = np.hstack([corner, corner + rng.uniform(5, 30, corner.shape)])
        got = greedy_pairs(ca, cb, boxes_a, boxes_b, min_iou=0.1)
        expected: list[tuple[int, int]] = []
        oa, ob = np.concatenate([[0], np.cumsum(ca)]), np.concatenate([[0], np.cumsum(cb)])
        for r in range(rows):
            cands = []
            for i in range(oa[r], oa[r + 1]):
                for j in range(ob[r], ob[r + 1]):
                    x0, y0 = max(boxes_a[i, 0], boxes_b[j, 0]), max(boxes_a[i, 1], boxes_b[j, 1])
                    x1, y1 = min(boxes_a[i, 2], boxes_b[j, 2]), min(boxes_a[i, 3], boxes_b[j, 3])
                    inter = max(0, x1 - x0) * max(0, y1 - y0)
                    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
                    iou = inter / (area(boxes_a[i]) + area(boxes_b[j]) - inter)
                    if iou >= 0.1:
                        cands.append((-iou, i, j))
            used_a, used_b = set(), set()
            for _, i, j in sorted(cands):
                if i not in used_a and j not in used_b:
                    used_a.add(i)
                    used_b.add(j)
                    expected.append((i, j))
        assert sorted(zip(got[0].tolist(), got[1].tolist(), strict=True)) == sorted(expected)


def test_a_keypoint_never_labeled_twice_gets_no_sigma_and_is_named(tiled: pt.Table) -> None:
    rows = _noisy_rows(tiled, COCO_SIGMAS, seed=5)
    for row in rows.values():
        if len(row["keypoints"]):
            vis = row["keypoints"].keypoint_visibilities.copy()
            vis[:, 0] = 0  # nobody labels the nose
            row["keypoints"].keypoint_visibilities = vis
    other = tiled.with_rows(rows)
    with pytest.warns(SigmaWarning, match=r"no instance pair labels \['nose'\]"):
        est = pt.estimate_sigmas(tiled, other, bootstrap=20)
    assert np.isnan(est.sigmas[0]) and est.counts[0] == 0 and np.isfinite(est.sigmas[1:]).all()
    with pytest.raises(SchemaError, match=r"no sigma was estimated for \['nose'\]"):
        est.apply(other)
    assert est.to_dict()["sigmas"][0] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"match": "row"}, "match must be 'sample_id' or 'image', got 'row'"),
        ({"confidence": 1.5}, r"confidence must be in \(0, 1\), got 1.5"),
        ({"bootstrap": -1}, "bootstrap must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(coco_table: pt.Table, kwargs: dict, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        pt.estimate_sigmas(coco_table, coco_table, **kwargs)


def test_tables_with_other_keypoints_or_repeated_images_are_refused(
    coco_table: pt.Table, tiled: pt.Table
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        fewer = coco_table.remove_keypoints(["nose"])
    with pytest.raises(SchemaError, match="the same keypoints in both tables"):
        pt.estimate_sigmas(coco_table, fewer, bootstrap=0)
    with pytest.raises(SchemaError, match=r"holds image .* in 100 rows"):
        pt.estimate_sigmas(tiled, tiled, match="image")
    with pytest.raises(SchemaError, match="table_b must be a Table"):
        pt.estimate_sigmas(tiled, "tiled")  # type: ignore[arg-type]


def test_the_estimate_as_a_table_and_text(tiled: pt.Table) -> None:
    pandas = pytest.importorskip("pandas")
    est = pt.estimate_sigmas(
        tiled, tiled.with_rows(_noisy_rows(tiled, COCO_SIGMAS, 6)), bootstrap=50
    )
    frame = est.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["keypoint", "sigma", "low", "high", "count"]
    assert frame["keypoint"].tolist() == list(est.keypoint_names)
    text = str(est)
    assert text.splitlines()[0].startswith("OKS sigmas estimated from tiled@1, tiled@2")
    assert len(text.splitlines()) == 18
    assert json.loads(json.dumps(est.to_dict()))["counts"] == est.counts.tolist()


# -- where sigmas came from ------------------------------------------------------------------------
def test_apply_records_the_estimate_as_the_sigma_source(tiled: pt.Table) -> None:
    noisy = tiled.with_rows(_noisy_rows(tiled, COCO_SIGMAS, seed=8))
    est = pt.estimate_sigmas(tiled, noisy, bootstrap=0)
    out = est.apply(noisy)
    assert (out.operation, out.parent) == ("estimate_sigmas", noisy.revision)
    assert out.info.arguments["source"] == "estimated from tiled@1, tiled@2"
    opened = pt.Table.open(out.ref, store=out.store)
    assert opened.schema.oks_sigmas_source == "estimated from tiled@1, tiled@2"
    assert opened.schema.oks_sigmas == tuple(est.sigmas.tolist())
    parquet = pa.parquet.read_schema(out.to_parquet(out.store.root / "t.parquet"))
    record = json.loads(parquet.metadata[b"posetable"])
    assert record["schema"]["oks_sigmas_source"] == "estimated from tiled@1, tiled@2"


@pytest.mark.parametrize(
    ("schema", "source"),
    [
        (pt.Keypoints2DSchema.coco_person(), "COCO"),
        (pt.Keypoints2DSchema(3), "uniform 1/K"),
        (pt.Keypoints2DSchema(3, oks_sigmas=[0.1, 0.2, 0.3]), "user"),
        (pt.Keypoints2DSchema(17, oks_sigmas=pt.COCO_OKS_SIGMAS), "COCO"),
    ],
)
def test_the_source_is_inferred_and_written_only_when_it_says_more(schema, source) -> None:
    assert schema.oks_sigmas_source == source
    assert "oks_sigmas_source" not in schema.to_dict()
    explicit = schema.replace(oks_sigmas_source=source)
    assert explicit == schema


def test_old_tables_without_the_field_read_their_source_by_inference(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).parent / "data" / "store-pylance14", tmp_path / "store")
    store = tmp_path / "store"
    assert pt.Table.open("coco@1", store=store).schema.oks_sigmas_source == "uniform 1/K"
    assert pt.Table.open("coco@3", store=store).schema.oks_sigmas_source == "user"


def test_sources_that_contradict_the_sigmas_are_refused() -> None:
    with pytest.raises(SchemaError, match="'COCO' needs oks_sigmas"):
        pt.Keypoints2DSchema(3, oks_sigmas_source="COCO")
    with pytest.raises(SchemaError, match="'uniform 1/K' needs the schema to have no oks_sigmas"):
        pt.Keypoints2DSchema(2, oks_sigmas=[0.1, 0.1], oks_sigmas_source="uniform 1/K")
    with pytest.raises(SchemaError, match="oks_sigmas_source must be"):
        pt.Keypoints2DSchema(2, oks_sigmas=[0.1, 0.1], oks_sigmas_source="estimated from ")
    changed = pt.Keypoints2DSchema.coco_person().replace(oks_sigmas=[0.05] * 17)
    assert changed.oks_sigmas_source == "user"  # new sigmas: the source is inferred again


def test_every_metric_report_names_the_sigma_source(
    coco_table: pt.Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests._predictions import noisy_predictions

    preds = noisy_predictions(coco_table, seed=1)
    result = pt.evaluate(coco_table, preds)
    assert result.sigmas_source == "COCO"
    assert result.to_dict()["sigmas_source"] == "COCO"
    assert "sigmas_source='COCO'" in repr(result)
    assert result.summary().splitlines()[-1] == " OKS sigmas: COCO (K=17)"
    assert str(result).count("\n") == 9  # str stays pycocotools' ten lines
    assert pt.evaluate(coco_table, preds, sigmas=[0.05] * 17).sigmas_source == "user"
    uniform = pt.evaluate(coco_table, preds, sigmas=[1 / 17] * 17)
    assert uniform.sigmas_source == "uniform 1/K"
    tuned = pt.KeypointHelper.edit_oks_sigmas(coco_table, [0.05] * 17, table_name="tuned")
    estimated = tuned.with_schema(
        tuned.schema.replace(oks_sigmas_source="estimated from coco@1, coco@2")
    )
    assert pt.evaluate(estimated, preds).sigmas_source == "estimated from coco@1, coco@2"
    results = [
        {"image_id": int(r["image_id"]), "category_id": 1, "score": 0.9,
         "keypoints": np.column_stack([p.keypoints[i], np.ones(17)]).ravel().tolist()}
        for r, p in zip(coco_table, preds, strict=True) if p is not None
        for i in range(len(p))
    ]  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    out = tmp_path / "stats.json"
    code = main(["eval", estimated.ref, str(path), "--store", str(estimated.store.root),
                 "--json", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == " OKS sigmas: estimated from coco@1, coco@2 (K=17)"
    assert json.loads(out.read_text())["sigmas_source"] == "estimated from coco@1, coco@2"
