"""The C scanner (``posetable.eval._jsonscan``) reads COCO files as the Python readers do.

Every file it accepts gives the same arrays, bit for bit, as the plain reader; every file it
cannot vouch for (invalid JSON, odd types, a duplicate key...) returns None, so the readers
that name problems read it; and its numbers are Python's ``float`` of the text.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from posetable.eval import _coco_scan, _io
from tests._coco_reference import perturbed_results, write_json

DATASETS = ["coco_kpts", "coco_wholebody", "crowdpose", "aic", "onehand10k", "horse10", "ap10k"]

pytestmark = pytest.mark.skipif(
    not _coco_scan.AVAILABLE and os.environ.get("POSETABLE_REQUIRE_KERNEL") != "1",
    reason="posetable.eval._jsonscan was not built (no C compiler)",
)


def test_the_scanner_was_built_where_ci_requires_it():
    """CI sets POSETABLE_REQUIRE_KERNEL=1: a build without the scanner is a failure there."""
    if os.environ.get("POSETABLE_REQUIRE_KERNEL") != "1":
        pytest.skip("POSETABLE_REQUIRE_KERNEL is not set")
    assert _coco_scan.AVAILABLE, "posetable.eval._jsonscan was not built"


def _same(a: Any, b: Any) -> None:
    for field in b.__dataclass_fields__:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(y, np.ndarray):
            assert x.dtype == y.dtype, field
            assert x.shape == y.shape, field
            if y.dtype == object:
                assert x.tolist() == y.tolist(), field
            else:
                assert x.tobytes() == y.tobytes(), field  # the same bits, -0.0 and all
        elif y is None:
            assert x is None, field
        else:
            assert x == y, field


def _base() -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2}],
        "categories": [{"id": 1, "name": "p", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 2, 2, 3.5, 4, 1],
             "bbox": [0, 0, 10, 10], "area": 50.5, "iscrowd": 0, "num_keypoints": 2},
            {"id": 2, "image_id": 2, "category_id": 1, "keypoints": [0, 0, 0, 7, 8, 2]},
        ],
    }  # fmt: skip


@pytest.mark.parametrize("name", DATASETS)
def test_real_ground_truth_reads_as_the_plain_reader(real_data, name):
    path = real_data(name) / "annotations.json"
    scanned = _coco_scan.read_ground_truth_scan(path)
    assert scanned is not None, "a real file the scanner should read"
    _same(scanned, _io._read_ground_truth(path))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("with_bbox", [False, True])
def test_results_read_as_the_plain_reader(real_data, tmp_path, name, with_bbox):
    doc = json.loads((real_data(name) / "annotations.json").read_text())
    k = len(doc["annotations"][0]["keypoints"]) // 3
    results = perturbed_results(doc, seed=3, with_bbox=with_bbox)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))  # Python's own repr of every float
    scanned = _coco_scan.read_results_scan(path, k, True)
    assert scanned is not None
    _same(scanned, _io._results_plain(path, k))


def _accepted(tmp_path: Path, doc: Any, text: str | None = None) -> None:
    path = tmp_path / "gt.json"
    path.write_text(text if text is not None else json.dumps(doc), encoding="utf-8")
    scanned = _coco_scan.read_ground_truth_scan(path)
    assert scanned is not None
    _same(scanned, _io._read_ground_truth(path))


def test_what_the_scanner_reads_like_the_plain_reader(tmp_path):
    base = _base()
    _accepted(tmp_path, base)
    # categories last, keys in another order, nested extras, strings of every kind
    doc = {
        "info": {"x": [1, {"y": [True, False, None, -0.0, 1e300, "z\u00e9\u4e2d\U0001f600"]}]},
        "annotations": [{**a, "segmentation": [[1.5, 2e-3, 3e+2]], "extra": {"a": []}}
                        for a in base["annotations"]],
        "images": base["images"],
        "categories": [{**base["categories"][0], "name": "per\"son\\\n\t/\u0001"}],
    }  # fmt: skip
    _accepted(tmp_path, doc)
    _accepted(tmp_path, doc, json.dumps(doc, ensure_ascii=False, indent=2))  # raw UTF-8
    _accepted(tmp_path, doc, json.dumps(doc, ensure_ascii=True))  # \u escapes, surrogate pairs
    # missing box / area / iscrowd / num_keypoints are derived; a null box is no box
    bare = _base()
    first = bare["annotations"][0]
    for key in ("area", "iscrowd", "num_keypoints"):
        del first[key]
    first["bbox"] = None
    _accepted(tmp_path, bare)
    # numbers as Python reads them: -0 is the integer 0, exponents, 17 digits, big ints
    nums = _base()
    nums["annotations"][0]["keypoints"] = [-0, -0.0, 2, 1e2, 123.45678901234567, 1.0]
    nums["annotations"][0]["bbox"] = [0.1, 2.5e-7, 12345678901234567890, 1e-320]
    _accepted(tmp_path, nums)
    # K from the first annotation when no category names its keypoints
    unnamed = _base()
    unnamed["categories"] = [{"id": 1, "name": "p", "keypoints": []}]
    _accepted(tmp_path, unnamed)


def test_unknown_images_and_duplicate_ids_as_the_plain_reader(tmp_path, caplog):
    doc = _base()
    doc["annotations"].append({**doc["annotations"][0], "id": 3, "image_id": 99})
    doc["annotations"].append({**doc["annotations"][1], "id": 1})
    with caplog.at_level(logging.WARNING):
        _accepted(tmp_path, doc)
    assert "left out" in caplog.text and "share an id" in caplog.text


def _edit(change: Any) -> str:
    doc = _base()
    change(doc)
    return json.dumps(doc)


REFUSED = {
    "string id": _edit(lambda d: d["annotations"][0].update(id="a1")),
    "float id": _edit(lambda d: d["annotations"][0].update(image_id=1.0)),
    "bool id": _edit(lambda d: d["images"][0].update(id=True)),
    "null area": _edit(lambda d: d["annotations"][0].update(area=None)),
    "string area": _edit(lambda d: d["annotations"][0].update(area="5")),
    "string in keypoints": _edit(
        lambda d: d["annotations"][0].update(keypoints=[1, "2", 2, 3, 4, 1])
    ),
    "bool in keypoints": _edit(
        lambda d: d["annotations"][0].update(keypoints=[1, True, 2, 3, 4, 1])
    ),
    "keypoints of another K": _edit(lambda d: d["annotations"][0].update(keypoints=[1, 2, 2])),
    "visibility 3": _edit(lambda d: d["annotations"][0].update(keypoints=[1, 2, 3, 3, 4, 1])),
    "no keypoints": _edit(lambda d: d["annotations"][0].pop("keypoints")),
    "box of 3": _edit(lambda d: d["annotations"][0].update(bbox=[1, 2, 3])),
    "no image id": _edit(lambda d: d["images"][0].pop("id")),
    "images not a list": _edit(lambda d: d.update(images={"id": 1})),
    "no categories": _edit(lambda d: d.pop("categories")),
    "huge id": _edit(lambda d: d["annotations"][0].update(id=2**70)),
    "NaN": _edit(lambda d: d["annotations"][0].update(area=float("nan"))),
    "Infinity": _edit(lambda d: d["annotations"][0].update(area=float("inf"))),
    "overflowing number": _edit(lambda d: d["annotations"][0].update(area=1)).replace(
        '"area": 1', '"area": 1e999'
    ),
    "trailing comma": _edit(lambda d: None).replace("]}", "],}", 1),
    "comma in a list": _edit(lambda d: None).replace("[1, 2, 2,", "[1, 2, 2,,", 1),
    "leading zero": _edit(lambda d: None).replace("3.5", "03.5", 1),
    "bare fraction": _edit(lambda d: None).replace("3.5", "3.", 1),
    "duplicate key": _edit(lambda d: None).replace('"area": 50.5', '"area": 50.5, "area": 7', 1),
    "escaped key": _edit(lambda d: None).replace('"area"', '"\\u0061rea"', 1),
    "lone surrogate": _edit(lambda d: d["images"][0].update(file_name="x")).replace(
        '"x"', '"\\ud800"'
    ),
    "bad escape": _edit(lambda d: d["images"][0].update(file_name="x")).replace('"x"', '"\\x41"'),
    "control byte": _edit(lambda d: d["images"][0].update(file_name="x")).replace('"x"', '"a\tb"'),
    "BOM": "\ufeff" + _edit(lambda d: None),
    "text after": _edit(lambda d: None) + " {}",
    "a list": "[" + _edit(lambda d: None) + "]",
    "deep nesting": _edit(lambda d: d.update(info="X")).replace('"X"', "[" * 1100 + "]" * 1100),
    "truncated": _edit(lambda d: None)[:-5],
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_scanner_leaves_to_the_readers_that_name_problems(tmp_path, case):
    path = tmp_path / "gt.json"
    path.write_text(REFUSED[case], encoding="utf-8")
    assert _coco_scan.read_ground_truth_scan(path) is None
    try:
        plain = _io._read_ground_truth(path)
    except pt.errors.FormatError as exc:  # the public reader names it the same way
        with pytest.raises(pt.errors.FormatError) as raised:
            _io.read_ground_truth(path)
        assert str(raised.value) == str(exc)
    else:
        _same(_io.read_ground_truth(path), plain)


def test_invalid_utf8_is_left_to_the_reader_that_names_the_byte(tmp_path):
    path = tmp_path / "gt.json"
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"):
        path.write_bytes(_edit(lambda d: d["images"][0].update(file_name="x")).encode()
                         .replace(b'"x"', b'"' + bad + b'"'))  # fmt: skip
        assert _coco_scan.read_ground_truth_scan(path) is None
        with pytest.raises(pt.errors.FormatError, match="UTF-8"):
            _io.read_ground_truth(path)


RESULT = {"image_id": 1, "category_id": 1, "keypoints": [1, 2, 0.5, 3, 4, 0.9], "score": 0.8}
RESULTS_REFUSED = {
    "empty": [],
    "string score": [{**RESULT, "score": "0.8"}],
    "no score": [{k: v for k, v in RESULT.items() if k != "score"}],
    "string image id": [{**RESULT, "image_id": "1"}],
    "box on the first only": [{**RESULT, "bbox": [1, 2, 3, 4]}, RESULT],
    "empty box later": [{**RESULT, "bbox": [1, 2, 3, 4]}, {**RESULT, "bbox": []}],
    "keypoints of another K": [{**RESULT, "keypoints": [1, 2, 3]}],
    "an object": {"image_id": 1},
}


@pytest.mark.parametrize("case", sorted(RESULTS_REFUSED))
def test_results_the_scanner_leaves_to_the_plain_reader(tmp_path, case):
    path = write_json(tmp_path / "r.json", RESULTS_REFUSED[case])
    assert _coco_scan.read_results_scan(path, 2, True) is None


def test_results_accepted_with_and_without_boxes(tmp_path):
    for results in (
        [RESULT, {**RESULT, "bbox": [1, 2, 3, 4]}],  # no box first: every area from points
        [{**RESULT, "bbox": [1, 2, 3, 4]}, {**RESULT, "bbox": [5, 6, 7, 8], "x": [{}]}],
        [{**RESULT, "bbox": None}, RESULT],
    ):
        path = write_json(tmp_path / "r.json", results)
        scanned = _coco_scan.read_results_scan(path, 2, True)
        assert scanned is not None
        _same(scanned, _io._results_plain(path, 2))
        no_conf = _coco_scan.read_results_scan(path, 2, False)
        assert no_conf is not None and no_conf.confidences is None


def test_numbers_are_pythons_floats():
    from posetable.eval import _jsonscan

    rng = random.Random(7)
    texts = []
    for _ in range(20_000):
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(bits):
            texts.append(repr(bits))
        x = rng.uniform(-5000, 5000)
        texts += [repr(x), f"{x:.{rng.randint(0, 20)}f}", f"{x:.{rng.randint(0, 20)}e}"]
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        texts.append(f"{digits.lstrip('0') or '0'}.{rng.getrandbits(80)}e{rng.randint(-30, 30)}")
    texts += ["0", "-0", "-0.0", "1e400", "-1e400", "5e-324", "2.2250738585072014e-308",
              "9007199254740993", "9223372036854775808", "-9223372036854775809"]  # fmt: skip
    for text in texts:
        got = _jsonscan.parse_number(text.encode())
        want = float(json.loads(text))
        assert got is not None and struct.pack("d", got) == struct.pack("d", want), text
    for bad in ["01", "1.", ".5", "+1", "1e", "--1", "0x10", "1_000", "NaN", ""]:
        assert _jsonscan.parse_number(bad.encode()) is None, bad


def test_a_file_larger_than_a_dropped_window_reads_the_same(tmp_path):
    """Past 8 MB the scanned pages of the mmap are handed back as it goes; same values."""
    rng = np.random.default_rng(0)
    n = 40_000
    kp = rng.uniform(0, 640, (n, 17, 3)).round(3)
    results = [
        {"image_id": int(i % 500), "category_id": 1, "keypoints": kp[i].ravel().tolist(),
         "score": float(rng.uniform())}
        for i in range(n)
    ]  # fmt: skip
    path = write_json(tmp_path / "r.json", results)
    assert path.stat().st_size > 9 << 20
    scanned = _coco_scan.read_results_scan(path, 17, True)
    assert scanned is not None
    _same(scanned, _io._results_plain(path, 17))


def _many_results(n: int, seed: int, note: str | None = None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(0, 6, (n, 17, 3))  # 0 to 5 decimals
    kp = np.round(rng.uniform(-20, 640, (n, 17, 3)) * scale) / scale
    out = []
    for i in range(n):
        result = {"image_id": int(i // 3), "category_id": 1, "keypoints": kp[i].ravel().tolist(),
                  "score": float(rng.uniform()), "bbox": rng.uniform(0, 9, 4).tolist()}  # fmt: skip
        if note is not None:
            result["note"] = note  # a string holding what looks like an element's boundary
        out.append(result)
    return out


@pytest.mark.parametrize("parts", [2, 3, 7])
@pytest.mark.parametrize("note", [None, '}, {"image_id": 1}', "}\n,\t{"])
def test_results_scanned_in_parts_equal_one_scan(tmp_path, monkeypatch, parts, note):
    """A large results file is scanned in pieces on every core, split where one element
    ends and the next begins. A split guessed inside a string is refused by the piece
    before it and the file is scanned whole: the same arrays, bit for bit, either way."""
    monkeypatch.setattr(_coco_scan, "PART_BYTES", 0)
    monkeypatch.setattr(_coco_scan, "PARTS", parts)
    monkeypatch.setattr(_coco_scan, "_cores", lambda: parts)
    for indent in (None, 1):
        path = tmp_path / "r.json"
        path.write_text(json.dumps(_many_results(200, seed=parts, note=note), indent=indent))
        scanned = _coco_scan.read_results_scan(path, 17, True, parts=True)
        assert scanned is not None
        _same(scanned, _io._results_plain(path, 17))


def test_a_part_must_end_where_an_element_starts(tmp_path):
    """The C scanner's parts: a stop that is not where an element starts, a stop past the
    list's last element and a bad part of the file give None; bad bounds are an error."""
    import mmap

    from posetable.eval import _jsonscan

    text = json.dumps([RESULT, {**RESULT, "image_id": 2}, {**RESULT, "image_id": 3}])
    data = text.encode()
    second = data.index(b'{"image_id": 2')
    third = data.index(b'{"image_id": 3')
    path = tmp_path / "r.json"
    path.write_bytes(data)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        whole = _jsonscan.results(m, False)
        head = _jsonscan.results(m, False, 0, third)
        tail = _jsonscan.results(m, False, third, -1)
        assert whole is not None and head is not None and tail is not None
        for name in whole:
            joined = bytes(memoryview(head[name])) + bytes(memoryview(tail[name]))
            assert joined == bytes(memoryview(whole[name])), name
        assert np.frombuffer(head["image_ids"], np.int64).tolist() == [1, 2]
        assert _jsonscan.results(m, False, 0, third + 1) is None  # inside an element
        assert _jsonscan.results(m, False, second, third - 3) is None
        assert _jsonscan.results(m, False, third + 2, -1) is None  # not at an element
        with pytest.raises(ValueError, match="start < stop"):
            _jsonscan.results(m, False, third, second)
        with pytest.raises(ValueError, match="only a results list"):
            _jsonscan.ground_truth(m, False, 0, third)


def test_joined_columns_hold_every_piece_in_order(tmp_path):
    """``join`` grows the first column in place by the others' bytes (left empty); a column
    someone reads through a buffer, or one given twice, is refused."""
    import mmap

    from posetable.eval import _jsonscan

    data = json.dumps([{**RESULT, "image_id": i} for i in range(1, 6)]).encode()
    path = tmp_path / "r.json"
    path.write_bytes(data)
    cut = data.index(b'{"image_id": 4')
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        head, tail = _jsonscan.results(m, False, 0, cut), _jsonscan.results(m, False, cut, -1)
        joined = _jsonscan.join([head["image_ids"], tail["image_ids"]])
        assert joined is head["image_ids"]
        assert np.frombuffer(joined, np.int64).tolist() == [1, 2, 3, 4, 5]
        assert len(memoryview(tail["image_ids"])) == 0
        view = memoryview(head["xy"])
        with pytest.raises(ValueError, match="read through a buffer"):
            _jsonscan.join([head["xy"], tail["xy"]])
        view.release()
        with pytest.raises(ValueError, match="joined to itself"):
            _jsonscan.join([head["xy"], head["xy"]])
        with pytest.raises(TypeError, match="columns of the scanner"):
            _jsonscan.join([head["xy"], b"bytes"])
