"""Bounded memory from files: what evaluation imports, keeps and holds at its peak.

Every claim is checked where it can fail: in a fresh interpreter for what is imported, on
real COCO files (``tests/data/coco_kpts``, repeated to tens of megabytes for the sizes
where the readers stream) for the peak, and bit for bit against the other reading order.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.eval import _duck, _gt_fast, _io
from tests._coco_reference import perturbed_results, write_json
from tests._data import REPO, data_path
from tests._predictions import noisy_predictions


def _doc() -> dict[str, Any]:
    return json.loads((data_path("coco_kpts") / "annotations.json").read_text())


def _repeated(doc: dict[str, Any], times: int) -> dict[str, Any]:
    """The real file's images and annotations ``times`` over, under new ids."""
    out = {k: v for k, v in doc.items() if k not in ("images", "annotations")}
    step_img = max(int(i["id"]) for i in doc["images"]) + 1
    step_ann = max(int(a["id"]) for a in doc["annotations"]) + 1
    out["images"] = [
        {**img, "id": img["id"] + r * step_img} for r in range(times) for img in doc["images"]
    ]
    out["annotations"] = [
        {**a, "id": a["id"] + r * step_ann, "image_id": a["image_id"] + r * step_img}
        for r in range(times)
        for a in doc["annotations"]
    ]
    return out


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("small")
    doc = _doc()
    results = perturbed_results(doc, seed=3, with_bbox=True)
    return data_path("coco_kpts") / "annotations.json", write_json(tmp / "r.json", results)


@pytest.fixture(scope="module")
def large_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """~50 MB together, each file large: the streaming DuckDB readers take turns."""
    tmp = tmp_path_factory.mktemp("large")
    doc = _repeated(_doc(), 2800)
    results = perturbed_results(doc, seed=5)
    gt, res = write_json(tmp / "gt.json", doc), write_json(tmp / "r.json", results)
    assert min(gt.stat().st_size, res.stat().st_size) > _io.RELEASE_BYTES > _gt_fast.MIN_BYTES
    return gt, res


def _fresh(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- what is imported ------------------------------------------------------------------------
def test_import_posetable_is_cheap_and_every_public_name_resolves() -> None:
    got = _fresh(
        """
        import json, sys
        import posetable as pt
        after_import = sorted(m for m in ("lance", "duckdb", "pandas", "posetable.table",
                                          "posetable.eval") if m in sys.modules)
        kinds = {name: type(getattr(pt, name)).__name__ for name in pt.__all__}
        print(json.dumps({"after_import": after_import, "kinds": kinds,
                          "dir": sorted(set(pt.__all__) - set(dir(pt)))}))
        """
    )
    assert got["after_import"] == []
    assert got["dir"] == []
    assert set(got["kinds"]) == set(pt.__all__)
    assert got["kinds"]["diagnose"] == "function"  # the function, not the subpackage
    assert got["kinds"]["errors"] == "module"
    assert got["kinds"]["Table"] == "type"


@pytest.mark.slow
def test_each_lazy_module_imports_as_the_first_name_used() -> None:
    """Nothing relies on another name having been imported first (the eager package hid
    such orders): a fresh interpreter per defining module, its first name accessed first."""
    from posetable import _LAZY

    firsts = {module: name for name, module in sorted(_LAZY.items(), reverse=True)}
    failed = {}
    for name in sorted(firsts.values()):
        code = f"import posetable as pt; assert pt.{name}.__module__.startswith('posetable')"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode:
            failed[name] = done.stderr.strip().splitlines()[-1]
    assert failed == {}


def test_the_lazy_names_are_the_objects_of_their_modules() -> None:
    from posetable.diagnose.error_analysis import diagnose
    from posetable.eval.api import evaluate_coco
    from posetable.table import Table

    assert pt.evaluate_coco is evaluate_coco
    assert pt.Table is Table
    assert pt.diagnose is diagnose
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = pt.no_such_name  # type: ignore[attr-defined]


def test_evaluating_two_files_imports_neither_lance_nor_pandas(
    small_pair: tuple[Path, Path],
) -> None:
    """From two files only numpy and the C scanner are needed (no DuckDB, pyarrow, Lance or
    pandas: each import is resident memory the evaluation does not use)."""
    from posetable.eval import _coco_scan

    gt, res = small_pair
    got = _fresh(
        f"""
        import json, sys
        import posetable as pt
        result = pt.evaluate_coco({str(gt)!r}, {str(res)!r})
        print(json.dumps({{"ap": float(result.ap), "modules": sorted(
            m for m in ("lance", "pandas", "posetable.table", "posetable.runs", "duckdb",
                        "pyarrow")
            if m in sys.modules)}}))
        """
    )
    # without the scanner (no C compiler) the results go through DuckDB's reader
    assert got["modules"] == ([] if _coco_scan.AVAILABLE else ["duckdb", "pyarrow"])
    assert got["ap"] == pt.evaluate_coco(gt, res).ap


def test_evaluating_a_table_and_run_again_imports_neither_lance_nor_arrow_nor_duckdb(
    tmp_path: Path,
) -> None:
    """A revision evaluated once keeps a flat snapshot, and a run keeps its predictions as
    numpy files: opening both and evaluating again needs numpy alone (``import lance`` is
    ~85 MB resident, pyarrow ~30, DuckDB ~32). Reading rows opens Lance; the first SQL
    query imports DuckDB."""
    from posetable.sample import sample_table

    table = sample_table(store=tmp_path)
    pt.Run.from_predictions(table, noisy_predictions(table, seed=4), name="r", store=tmp_path)
    got = _fresh(
        f"""
        import json, sys
        import posetable as pt
        heavy = ("lance", "pyarrow", "pandas", "duckdb")
        table = pt.Table.open({table.name!r}, store={str(tmp_path)!r})
        ap = float(pt.evaluate(table, pt.Run.open("r", store={str(tmp_path)!r})).ap)
        before = sorted(m for m in heavy if m in sys.modules)
        width = table[0]["width"]
        rows = "lance" in sys.modules and "pyarrow" in sys.modules
        table.sql("SELECT count(*) AS n FROM t")
        print(json.dumps({{"ap": ap, "before": before, "rows": rows,
                           "after": "duckdb" in sys.modules, "width": width}}))
        """
    )
    assert got == {"ap": pt.evaluate(table, pt.Run.open("r", store=tmp_path)).ap,
                   "before": [], "rows": True, "after": True,
                   "width": table[0]["width"]}  # fmt: skip


# -- the same bits whichever way the files are read -------------------------------------------
def _arrays(result: pt.EvaluationResult) -> list[bytes]:
    return [np.asarray(a).tobytes() for a in (result.stats, result.precision, result.recall)]


def test_reading_in_turns_or_at_once_gives_the_same_bits(
    large_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from posetable.eval import _coco_scan

    gt, res = large_pair
    scanned = pt.evaluate_coco(gt, res)  # the C scanner where it is built
    monkeypatch.setattr(_coco_scan, "AVAILABLE", False)  # DuckDB's readers from here
    in_turns = pt.evaluate_coco(gt, res)
    assert _arrays(scanned) == _arrays(in_turns)
    assert _duck._DATABASE is None  # large files: DuckDB's memory went back
    monkeypatch.setattr(_io, "RELEASE_BYTES", 1 << 40)  # "small" files: both read at once
    at_once = pt.evaluate_coco(gt, res)
    assert _duck._DATABASE is not None
    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 1 << 40)  # the plain ground-truth reader
    plain = pt.evaluate_coco(gt, res)
    assert _arrays(in_turns) == _arrays(at_once) == _arrays(plain)
    assert in_turns.ap > 0 and in_turns.ar > 0
    shim = pt.eval.COCOeval(str(gt), str(res), "keypoints")  # the shim: ground truth read first
    shim.evaluate()
    shim.accumulate()
    assert np.asarray(shim.eval["precision"]).tobytes() == np.asarray(in_turns.precision).tobytes()


def test_the_streamed_readers_equal_the_plain_readers_column_for_column(
    large_pair: tuple[Path, Path],
) -> None:
    gt, res = large_pair
    fast_gt = _gt_fast.read_ground_truth_fast(gt)
    assert fast_gt is not None
    plain_gt = _io._read_ground_truth(gt)
    for name in plain_gt.__dataclass_fields__:
        a, b = getattr(fast_gt, name), getattr(plain_gt, name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    fast = _io._results_duckdb(res, 17, True)
    assert fast is not None
    plain = _io._results_plain(res, 17)
    for name in ("image_ids", "category_ids", "points", "confidences", "score", "area"):
        a, b = getattr(fast, name), getattr(plain, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert len(fast) > 2 * _duck.BATCH_BYTES // (8 * 51 + 64)  # several record batches


def test_a_read_after_the_database_was_given_back_opens_a_new_one(
    small_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from posetable.eval import _coco_scan

    monkeypatch.setattr(_coco_scan, "AVAILABLE", False)  # DuckDB's readers
    gt, res = small_pair
    first = pt.evaluate_coco(gt, res)
    _duck.release()
    assert _duck._DATABASE is None
    assert _arrays(pt.evaluate_coco(gt, res)) == _arrays(first)
    assert _duck._DATABASE is not None


@pytest.mark.parametrize("name", ["coco_kpts", "ap10k", "crowdpose", "onehand10k"])
def test_a_tables_ground_truth_read_in_batches_equals_the_whole_read(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one row (ids a row lacks numbered on across batches) give the same
    columns as flattening the whole keypoints column at once."""
    import warnings

    from posetable.eval import _columns
    from tests._data import data_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes about derived fields
        table = pt.Table.from_coco(
            data_path(name) / "annotations.json", name="t", store=tmp_path,
            missing_images="warn",
        )  # fmt: skip
    fr = _columns.table_frame(table)
    whole = _columns.ground_truth_columns(
        table.to_arrow(columns=["keypoints"]).column("keypoints"), np.arange(len(table)), fr
    )
    monkeypatch.setattr(_columns, "GT_BATCH_ROWS", 1)
    batched = _columns.table_ground_truth(table, fr)
    assert len(table) > 1
    for field in whole.__dataclass_fields__:
        a, b = getattr(batched, field), getattr(whole, field)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), field


def test_evaluation_does_not_keep_the_points_third_values(large_pair: tuple[Path, Path]) -> None:
    res = large_pair[1]
    columns = _io.read_results(res, 17, confidences=False)
    assert columns.confidences is None
    with pytest.raises(ValueError, match="without the points' third values"):
        _ = columns.keypoints
    full = _io.read_results(res, 17)
    assert full.keypoints.shape == (len(full), 17, 3)
    assert full.points.tobytes() == columns.points.tobytes()


# -- numbers typed in SQL: nothing converted, everything named -------------------------------
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score", "0.9", r"results\[1\]: 'score' must be a finite number, got '0.9'"),
        ("image_id", True, r"results\[1\].*'image_id' must be an integer or string id"),
        ("category_id", 1.5, r"results\[1\].*'category_id' must be an integer or string id"),
        ("score", None, r"results\[1\]: 'score' must be a finite number, got None"),
    ],
)
def test_a_mistyped_result_field_is_named_not_converted(
    small_pair: tuple[Path, Path], tmp_path: Path, field: str, value: Any, message: str
) -> None:
    gt, res = small_pair
    results = json.loads(res.read_text())
    results[1][field] = value
    bad = write_json(tmp_path / "bad.json", results)
    assert _io._results_duckdb(bad, 17, True) is None
    with pytest.raises(pt.errors.FormatError, match=message):
        pt.evaluate_coco(gt, bad)


def test_a_number_written_as_a_string_inside_a_list_is_named(
    small_pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's DOUBLE[] would read "367" as 367.0; the scan beside it hands the file to
    the plain reader, which names the value (pycocotools fails on it)."""
    gt, res = small_pair
    results = json.loads(res.read_text())
    results[4]["keypoints"][3] = str(results[4]["keypoints"][3])
    bad = write_json(tmp_path / "bad.json", results)
    assert _io.strings_in_arrays(bad)
    assert _io._results_duckdb(bad, 17, True) is None
    with pytest.raises(pt.errors.FormatError, match=r"results\[4\]: 'keypoints' must hold"):
        pt.evaluate_coco(gt, bad)
    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    doc = _doc()
    doc["annotations"][1]["bbox"][0] = str(doc["annotations"][1]["bbox"][0])
    bad_gt = write_json(tmp_path / "gt.json", doc)
    assert _gt_fast.read_ground_truth_fast(bad_gt) is None
    with pytest.raises(pt.errors.FormatError, match=r"'bbox' must hold finite numbers"):
        pt.evaluate_coco(bad_gt, res)


def test_strings_in_lists_elsewhere_leave_the_numbers_as_they_are(
    small_pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list of strings the evaluation does not read (tags) sends the file to the plain
    reader, which gives the same bits."""
    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    gt, res = small_pair
    doc = _doc()
    doc["annotations"][0]["tags"] = ["occluded", "blurred"]
    tagged = write_json(tmp_path / "gt.json", doc)
    assert _gt_fast.read_ground_truth_fast(tagged) is None
    assert _gt_fast.read_ground_truth_fast(gt) is not None
    assert _arrays(pt.evaluate_coco(tagged, res)) == _arrays(pt.evaluate_coco(gt, res))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"a": [1, 2, 3], "b": "x"}]', False),
        ('[{"a": [1, "2", 3]}]', True),
        ('[ {\n  "a" : "b" ,\n  "c" : [ 1 ,\n "2" ] } ]', True),
        ('{"k": {"c": "v"}, "e": [{"f": "g"}]}', False),
        ('[{"a": 1}, "s"]', True),
        ('{"a": "x\\"y"}', True),  # an escaped quote: the strings' bounds are not followed
        ("[]", False),
    ],
)
def test_strings_in_arrays_reads_every_chunking_alike(
    tmp_path: Path, text: str, expected: bool
) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    assert [_io.strings_in_arrays(path, chunk) for chunk in (1, 2, 3, 7, 1 << 20)] == [expected] * 5


def test_a_whole_float_image_id_is_the_integer_as_in_pycocotools(
    small_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    gt, res = small_pair
    results = json.loads(res.read_text())
    expected = pt.evaluate_coco(gt, res)
    for r in results:
        r["image_id"] = float(r["image_id"])
    as_floats = write_json(tmp_path / "floats.json", results)
    assert _arrays(pt.evaluate_coco(gt, as_floats)) == _arrays(expected)


def _one_annotation_file(tmp_path: Path, change: dict[str, Any], drop: str = "") -> Path:
    doc = _doc()
    doc["annotations"] = copy.deepcopy(doc["annotations"])
    doc["annotations"][2].update(change)
    if drop:
        del doc["annotations"][2][drop]
    return write_json(tmp_path / "gt.json", doc)


def test_a_missing_area_is_filled_by_both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    path = _one_annotation_file(tmp_path, {}, drop="area")
    fast = _gt_fast.read_ground_truth_fast(path)
    assert fast is not None
    plain = _io._read_ground_truth(path)
    assert fast.area.tobytes() == plain.area.tobytes()
    box = plain.box[2]
    assert plain.area[2] == box[2] * box[3] * 0.53


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"area": None}, r"'area' must be a finite number, got None"),
        ({"iscrowd": "0"}, r"'iscrowd' must be a finite number, got '0'"),
        ({"num_keypoints": False}, r"'num_keypoints' must be a finite number, got False"),
        ({"id": 7.5}, r"'id' must be an integer or string id, got 7.5"),
    ],
)
def test_a_mistyped_annotation_field_is_named_by_the_plain_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], message: str
) -> None:
    monkeypatch.setattr(_gt_fast, "MIN_BYTES", 0)
    path = _one_annotation_file(tmp_path, change)
    assert _gt_fast.read_ground_truth_fast(path) is None
    with pytest.raises(pt.errors.FormatError, match=message):
        _io.read_ground_truth(path)


# -- the peak ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_reading_two_files_peaks_at_a_small_multiple_of_their_size(
    large_pair: tuple[Path, Path],
) -> None:
    """Past the imports, reading both files into the engine's columns peaks at DuckDB's
    fixed cost plus ~2x the files' bytes (it was ~4x, the two readers' peaks adding up)."""
    gt, res = large_pair
    got = _fresh(
        f"""
        import json
        import posetable as pt
        from posetable.eval import api
        import duckdb

        def peak():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

        before = peak()
        inputs = api._prepare_files({str(gt)!r}, {str(res)!r}, sigmas=None)
        print(json.dumps({{"before": before, "peak": peak(), "rows": len(inputs.dt)}}))
        """
    )
    size = gt.stat().st_size + res.stat().st_size
    grown = got["peak"] - got["before"]
    assert got["rows"] == len(json.loads(res.read_text()))
    assert grown < (64 << 20) + 2 * size, (grown / 2**20, size / 2**20)
