"""Bounded memory and time when importing COCO and creating a run (issue 21, item 1).

The COCO keypoints and boxes are decoded a batch of annotations at a time: every batch
size gives what one decode of the whole field gives (values, number types, and for a bad
file the same error). A run from a results file writes its predictions alone; its
evaluation, record, index and suspects are made from its files on first use (or by
``Run.materialize``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import lance
import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

import posetable as pt
from posetable._run_index import INDEX_FOLDER, sorted_lance_copy
from posetable._run_suspects import SUSPECT_THRESHOLDS, read_suspects
from posetable.errors import FormatError
from posetable.eval.api import read_coco_results
from posetable.formats._coco_annotations import (
    ANNOTATION_TYPES,
    _keypoints,
    _keypoints_whole,
)
from posetable.formats._coco_schema import coco_schema
from posetable.formats._coco_values import Reader
from posetable.formats._json import decode_top
from posetable.formats._notes import Notes
from posetable.formats._records import decode_section
from tests._predictions import noisy_predictions

K = 5
BATCHES = (1, 3, 7, 1024)


def _write_coco(path: Path, annotations: list[dict], images: int = 6) -> Path:
    """A COCO keypoints file; keypoints/bbox given as JSON text (number types kept)."""
    parts = []
    for ann in annotations:
        fields = {k: v for k, v in ann.items() if k not in ("keypoints", "bbox")}
        text = orjson.dumps(fields)[:-1]
        for key in ("keypoints", "bbox"):
            if key in ann:
                text += f',"{key}":{ann[key]}'.encode()
        parts.append(text + b"}")
    doc = {
        "images": [
            {"id": i + 1, "file_name": f"{i}.jpg", "width": 64, "height": 48} for i in range(images)
        ],
        "categories": [
            {"id": 1, "name": "thing", "keypoints": [f"p{j}" for j in range(K)], "skeleton": []}
        ],
    }
    head = orjson.dumps(doc)[:-1]
    path.write_bytes(head + b',"annotations":[' + b",".join(parts) + b"]}")
    return path


def _annotations(n: int, seed: int = 0, *, float_text: bool = True) -> list[dict]:
    """``n`` annotations over 6 images with ints, floats and whole numbers written as floats
    (some annotations entirely, some in part), a few without a bbox."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        values = []
        for _ in range(K):
            x, y = (int(v) for v in rng.integers(0, 60, 2))
            v = int(rng.integers(0, 3))
            values += [x, y, v]
        texts = [str(v) for v in values]
        if float_text and i % 5 == 1:
            texts = [f"{v}.0" for v in values]  # the whole annotation as floats
        elif float_text and i % 5 == 2:
            texts[0] = f"{values[0]}.0"  # one whole number written as a float
        elif float_text and i % 5 == 3:
            texts[1] = f"{values[1]}.25"  # a true float
        ann = {
            "id": i + 1,
            "image_id": int(i % 6) + 1,
            "category_id": 1,
            "iscrowd": 0,
            "area": 10.0,
            "keypoints": "[" + ",".join(texts) + "]",
        }
        if i % 4 != 3:
            ann["bbox"] = "[1.5,2,10.0,12]" if i % 2 else "[1,2,10,12]"
        out.append(ann)
    return out


def _sections(path: Path) -> tuple[Reader, object, object]:
    raw = path.read_bytes()
    top = decode_top(path, raw)
    coco = coco_schema(orjson.loads(bytes(top["categories"])), path=path, notes=Notes(path))
    anns = decode_section(
        path, raw, top["annotations"], "annotations", ANNOTATION_TYPES, ("keypoints", "bbox")
    )
    return Reader(path, raw), anns, coco


@pytest.mark.parametrize("sub", [None, "every_other"])
def test_batched_keypoints_and_boxes_equal_one_decode(tmp_path: Path, sub: str | None) -> None:
    reader, anns, coco = _sections(_write_coco(tmp_path / "a.json", _annotations(40)))
    rows = None if sub is None else np.arange(0, 40, 2, dtype=np.int64)
    kp, vis, flags = _keypoints_whole(reader, anns, rows, coco)
    assert flags  # the file has whole numbers written as floats: their types are kept
    whole = reader.lists(anns, "bbox", rows)
    for batch in BATCHES:
        got_kp, got_vis, got_flags = _keypoints(reader, anns, rows, coco, batch)
        assert got_kp.dtype == kp.dtype and got_vis.dtype == vis.dtype
        np.testing.assert_array_equal(got_kp, kp)
        np.testing.assert_array_equal(got_vis, vis)
        assert got_flags == flags
        boxes = reader.batched_lists(anns, "bbox", rows, batch)
        np.testing.assert_array_equal(boxes.flat, whole.flat)
        np.testing.assert_array_equal(boxes.lengths, whole.lengths)
        np.testing.assert_array_equal(boxes.present, whole.present)
        if whole.float_whole is None:
            assert boxes.float_whole is None
        else:
            np.testing.assert_array_equal(boxes.float_whole, whole.float_whole)


def _broken(annotations: list[dict], fault: str, at: int) -> list[dict]:
    anns = [dict(a) for a in annotations]
    values = json.loads(anns[at]["keypoints"])
    if fault == "visibility":
        values[2] = 3
    elif fault == "length":
        values = values[:-1]
    elif fault == "text":
        values[4] = "x"
    if fault == "missing":
        del anns[at]["keypoints"]
    else:
        anns[at]["keypoints"] = json.dumps(values)
    return anns


@pytest.mark.parametrize("fault", ["visibility", "length", "text", "missing"])
@pytest.mark.parametrize("at", [0, 22, 39])
def test_a_bad_batch_raises_what_one_decode_raises(tmp_path: Path, fault: str, at: int) -> None:
    anns = _broken(_annotations(40, float_text=False), fault, at)
    if fault != "missing":  # an earlier batch faulty in another way: the first check wins
        anns = _broken(anns, "visibility", 39) if at != 39 else anns
    reader, section, coco = _sections(_write_coco(tmp_path / "bad.json", anns))
    with pytest.raises(FormatError) as whole:
        _keypoints_whole(reader, section, None, coco)
    for batch in BATCHES:
        with pytest.raises(FormatError) as batched:
            _keypoints(reader, section, None, coco, batch)
        assert str(batched.value) == str(whole.value)


def test_import_of_a_file_not_grouped_by_image(tmp_path: Path) -> None:
    """Annotations in image order take the no-copy path; shuffled ones are sorted: the same
    instances per row either way (``coco_order`` says where each stood in the file)."""
    anns = sorted(_annotations(30, float_text=False), key=lambda a: a["image_id"])
    grouped = _write_coco(tmp_path / "grouped.json", anns)
    rng = np.random.default_rng(1)
    shuffled = _write_coco(tmp_path / "shuffled.json", [anns[i] for i in rng.permutation(30)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = pt.Table.from_coco(grouped, name="g", store=tmp_path / "s", missing_images="skip")
        b = pt.Table.from_coco(shuffled, name="h", store=tmp_path / "s", missing_images="skip")
    for row_a, row_b in zip(a, b, strict=True):
        ka, kb = row_a["keypoints"], row_b["keypoints"]
        ids_a = np.asarray(ka.instance_extras["id"])
        ids_b = np.asarray(kb.instance_extras["id"])
        assert len(ids_a) and sorted(ids_a.tolist()) == sorted(ids_b.tolist())
        order = np.argsort(ids_b)[np.argsort(np.argsort(ids_a))]
        np.testing.assert_array_equal(ka.keypoints, kb.keypoints[order])
        np.testing.assert_array_equal(ka.keypoint_visibilities, kb.keypoint_visibilities[order])
        np.testing.assert_array_equal(ka.instance_bbs, kb.instance_bbs[order])


@pytest.fixture()
def made_run(tmp_path: Path) -> tuple[pt.Table, pt.Run]:
    from posetable.sample import sample_annotations

    table = pt.Table.from_coco(sample_annotations(), name="s", store=tmp_path / "store")
    results = pt.Run.from_predictions(
        table, noisy_predictions(table, noise=0.2), name="p"
    ).export_coco_results(tmp_path / "results.json")
    return table, pt.Run.from_coco_results(table, results, name="c")


def test_a_run_from_results_is_its_predictions_until_asked(
    made_run: tuple[pt.Table, pt.Run], tmp_path: Path
) -> None:
    """Creating a run writes what it was given; the metrics, their tables and the record
    come on first use, are kept, and equal those of the run the results were exported
    from (the same predictions, evaluated when they were asked for)."""
    table, run = made_run
    made = sorted(p.name for p in run.path.iterdir())
    assert made == ["manifest.json", "predictions_eval"]
    assert "metrics" not in run.manifest and run.manifest["format_version"] == 2
    assert not run.evaluated and "not evaluated yet" in repr(run)
    source = pt.Run.open("p", store=table.store)
    assert run.metrics == source.metrics
    assert run.evaluated and f"ap={run.metrics['ap']:.4f}" in repr(run)
    made = {p.name for p in run.path.iterdir()}
    assert {"evaluation.json", "pr.npz"} <= made and "per_sample.parquet" not in made
    assert run.per_sample.equals(source.per_sample)  # the tables when first asked for
    assert run.per_instance.equals(source.per_instance)
    assert {"per_sample.parquet", "per_instance.parquet"} <= {p.name for p in run.path.iterdir()}
    reopened = pt.Run.open("c", store=table.store)
    assert reopened.evaluated and reopened.metrics == run.metrics  # read, not evaluated
    np.testing.assert_array_equal(
        reopened.pr_curves()["precision"], source.pr_curves()["precision"]
    )


def test_the_record_made_on_first_use_is_the_results_file(
    made_run: tuple[pt.Table, pt.Run], tmp_path: Path
) -> None:
    """``predictions.parquet`` of a run from a results file is made from its flat columns
    when first read: the instances ``read_coco_results`` gives for each row."""
    table, run = made_run
    assert not (run.path / "predictions.parquet").exists()
    read = read_coco_results(run.model_info["source"], table)
    assert run.all_predictions() == read
    assert (run.path / "predictions.parquet").is_file()
    again = pt.Run.open("c", store=table.store)
    assert [again.predictions(r) for r in range(len(table))] == read


def test_materialize_keeps_the_index_and_suspects_made_from_the_run_files(
    made_run: tuple[pt.Table, pt.Run], tmp_path: Path
) -> None:
    table, run = made_run
    assert read_suspects(run.path, SUSPECT_THRESHOLDS) is None
    assert run.materialize() is run
    ids = table.sample_ids()
    for stem in ("predictions", "per_instance"):
        kept = lance.dataset(str(run.path / INDEX_FOLDER / f"{stem}.lance")).to_table()
        again, _ = sorted_lance_copy(run.path / f"{stem}.parquet", tmp_path / f"{stem}.lance", ids)
        assert kept.equals(again.to_table(), check_metadata=True)
    kept = read_suspects(run.path, SUSPECT_THRESHOLDS)
    found = pt.find_label_errors(
        table,
        pt.Run.open("c", store=table.store),
        instance_confidence_threshold=SUSPECT_THRESHOLDS[0],
        keypoint_confidence_threshold=SUSPECT_THRESHOLDS[1],
    )
    assert kept is not None and kept.num_rows > 0
    assert kept.equals(found)


def test_a_run_without_predictions_materializes_like_any_other(tmp_path: Path) -> None:
    from posetable.sample import sample_annotations

    table = pt.Table.from_coco(sample_annotations(), name="s", store=tmp_path / "store")
    run = pt.Run.from_predictions(table, [None] * len(table), name="empty").materialize()
    assert run.metrics["ap"] == 0.0  # nothing predicted, nothing found
    for stem in ("predictions", "per_instance"):
        kept = lance.dataset(str(run.path / INDEX_FOLDER / f"{stem}.lance")).to_table()
        again, _ = sorted_lance_copy(
            run.path / f"{stem}.parquet", tmp_path / f"{stem}.lance", table.sample_ids()
        )
        assert kept.equals(again.to_table(), check_metadata=True)
    assert read_suspects(run.path, SUSPECT_THRESHOLDS) is not None


@pytest.mark.parametrize("chunk", [1, 3])
def test_suspects_found_a_chunk_of_rows_at_a_time_equal_those_found_at_once(
    made_run: tuple[pt.Table, pt.Run], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Past ``CHUNK_ROWS`` rows a run's kept suspects are found in chunks (bounded memory
    at a million images); sorted as the finder sorts them, they are the same table."""
    from posetable import _run_suspects

    table, run = made_run
    at_once = _run_suspects._suspects(table, run, None)
    monkeypatch.setattr(_run_suspects, "CHUNK_ROWS", chunk)
    assert len(table) > chunk
    chunked = _run_suspects._suspects(table, run, None)
    given = _run_suspects._suspects(
        table,
        run,
        pq.read_table(run.file("predictions.parquet"), columns=["sample_id", "keypoints"]),
    )
    assert at_once.num_rows > 0
    assert chunked.equals(at_once) and given.equals(at_once)


@pytest.mark.parametrize("ids", [[3, 5, 9, 12], [12, 3, 9, 5], [9, 12, 3, 5]])
def test_rows_for_samples_finds_each_sample_in_any_row_order(ids: list[int]) -> None:
    """Increasing sample ids (most tables) are searched without a sort; any other order is
    sorted first: both name the row holding each sample, -1 where it is gone."""
    from posetable._run_columns import rows_for_samples

    target = np.asarray(ids, np.int64)
    asked = np.asarray([5, 7, 12, 3, 3, 0, 99], np.int64)
    expected = [ids.index(int(a)) if int(a) in ids else -1 for a in asked]
    assert rows_for_samples(asked, target).tolist() == expected
    assert rows_for_samples(asked, np.zeros(0, np.int64)).tolist() == [-1] * len(asked)
