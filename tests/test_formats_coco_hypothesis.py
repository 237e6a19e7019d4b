"""Generated COCO documents survive import and export exactly (values, number types, order)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posetable as pt
from posetable.errors import PosetableWarning
from tests._formats_support import json_difference

# Whole numbers written as ints or as floats, and values with decimals, as real files mix them.
whole = st.integers(min_value=0, max_value=4000)
number = st.one_of(
    whole,
    whole.map(float),
    st.floats(min_value=-50, max_value=5000, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=5000, places=2).map(float),
)
extra_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=8), number),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
extra_fields = st.dictionaries(
    st.sampled_from(["segmentation", "attributes", "face_kpts", "license", "note", "x-y"]),
    extra_value,
    max_size=3,
)


@st.composite
def coco_documents(draw: st.DrawFn) -> dict[str, Any]:
    k = draw(st.integers(min_value=1, max_value=6))
    names = [f"p{i}" for i in range(k)]
    n_categories = draw(st.integers(min_value=1, max_value=2))
    categories = []
    for c in range(n_categories):
        category: dict[str, Any] = {"id": c + 1, "name": f"thing{c}", "keypoints": names}
        if draw(st.booleans()):
            pairs = draw(st.lists(st.tuples(st.integers(1, k), st.integers(1, k)), max_size=3))
            category["skeleton"] = [list(p) for p in pairs]
        category.update(draw(st.dictionaries(st.just("supercategory"), st.text(max_size=5))))
        categories.append(category)
    image_ids = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=5, unique=True))
    images = []
    for image_id in image_ids:
        image = {
            "id": image_id,
            "file_name": f"{image_id}.jpg",
            "width": draw(st.integers(1, 4000)),
            "height": draw(st.integers(1, 4000)),
        }
        image.update(draw(extra_fields))
        images.append(draw(st.permutations(list(image.items()))))
    ann_ids = draw(st.lists(st.integers(1, 2**40), max_size=8, unique=True))
    annotations = []
    for ann_id in ann_ids:
        visibility = draw(st.sampled_from([0, 1, 2, 0.0, 1.0, 2.0]))
        keypoints: list[Any] = []
        for _ in range(k):
            keypoints += [draw(number), draw(number), draw(st.sampled_from([visibility, 0, 2]))]
        ann: dict[str, Any] = {
            "id": ann_id,
            "image_id": draw(st.sampled_from(image_ids)),
            "category_id": draw(st.integers(1, n_categories)),
            "keypoints": keypoints,
        }
        if draw(st.booleans()):
            x, y = draw(number), draw(number)
            # a box's width and height are >= 0 (a negative one is refused: test_input_edges)
            ann["bbox"] = [x, y, abs(draw(number)), abs(draw(number))]
        for key, value in (
            ("area", number | st.none()),
            ("iscrowd", st.sampled_from([0, 1, None])),
            ("num_keypoints", st.integers(0, k) | st.none()),
        ):
            if draw(st.booleans()):
                ann[key] = draw(value)
        ann.update(draw(extra_fields))
        annotations.append(draw(st.permutations(list(ann.items()))))
    document: dict[str, Any] = {
        "images": [dict(items) for items in images],
        "annotations": [dict(items) for items in annotations],
        "categories": categories,
    }
    if draw(st.booleans()):
        document["info"] = {"year": 2026, "description": draw(st.text(max_size=10))}
    if draw(st.booleans()):
        document["licenses"] = []
    return dict(draw(st.permutations(list(document.items()))))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=coco_documents(), indent=st.sampled_from([None, 1]))
def test_generated_documents_round_trip_exactly(
    document: dict[str, Any], indent: int | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.json"
        path.write_text(json.dumps(document, indent=indent))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PosetableWarning)  # assumed sigmas, filled fields
            table = pt.Table.from_coco(path, name="g", store=Path(folder) / "store")
        assert len(table) == len(document["images"])
        assert sum(len(row["keypoints"]) for row in table) == len(document["annotations"])
        written = json.loads(table.export_coco(Path(folder) / "out.json").read_text())
        assert json_difference(document, written) is None
        assert list(written) == list(document)
