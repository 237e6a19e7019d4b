"""The round-trip contract every format module keeps, run on real files of each tool.

Import -> table -> export gives back the file's content: byte for byte where the format is
text that posetable writes the way the tool does (DeepLabCut's CSV), else the same points,
visibility, names and skeleton. Conversion through a table between formats gives the
original labels back (DeepLabCut -> COCO -> DeepLabCut).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import posetable as pt
from tests._data import data_path

pd = pytest.importorskip("pandas")


def _tables_installed() -> bool:
    try:
        import tables  # noqa: F401
    except ImportError:
        return False
    return True


needs_tables = pytest.mark.skipif(not _tables_installed(), reason='needs "posetable[dlc]"')


def _sleap_installed() -> bool:
    try:
        import sleap_io  # noqa: F401
    except ImportError:
        return False
    return True


needs_sleap = pytest.mark.skipif(not _sleap_installed(), reason='needs "posetable[sleap]"')


@dataclass(frozen=True)
class Case:
    """One real file: how to import it, where export puts it, how to compare."""

    name: str
    source: Callable[[], Path]
    original: str  # the file inside the source that export must give back
    options: dict[str, Any]
    compare: str  # "bytes" or "frame"; "json", "ndjson" (see _same_content)
    fmt: str = "dlc"  # Table.from_<fmt> / table.export_<fmt>


def _dlc_frame(path: Path) -> Any:
    if path.suffix == ".h5":
        return pd.read_hdf(path)
    head = path.read_text().splitlines()
    levels = 4 if head[1].startswith("individuals") else 3
    index = 1
    cells = head[0].split(",")
    while index < len(cells) and cells[index] == "":
        index += 1
    return pd.read_csv(path, header=list(range(levels)), index_col=list(range(index)))


CASES = [
    Case(
        "dlc-single-csv",
        lambda: data_path("dlc") / "openfield",
        "labeled-data/m4s1/CollectedData_Pranav.csv",
        {"image_size": (640, 480)},
        "bytes",
    ),
    Case(
        "dlc-multi-csv",
        lambda: data_path("dlc") / "multi_mouse",
        "labeled-data/m3v1mp4short/CollectedData_dlc_team.csv",
        {},
        "bytes",
    ),
    pytest.param(
        Case(
            "dlc-multi-h5",
            lambda: (
                data_path("dlc")
                / "multi_mouse"
                / "labeled-data/m3v1mp4short"
                / "CollectedData_dlc_team.h5"
            ),
            "labeled-data/m3v1mp4short/CollectedData_dlc_team.h5",
            {},
            "frame",
        ),
        marks=needs_tables,
        id="dlc-multi-h5",
    ),
    pytest.param(
        Case(
            "dlc-single-h5",
            lambda: data_path("dlc") / "openfield" / "labeled-data/m4s1/CollectedData_Pranav.h5",
            "labeled-data/m4s1/CollectedData_Pranav.h5",
            {"image_size": (640, 480)},
            "frame",
        ),
        marks=needs_tables,
        id="dlc-single-h5",
    ),
    # Label Studio, CVAT, Ultralytics NDJSON: ``source`` is the file, ``original`` unused
    Case(
        "label-studio-sleap-io",
        lambda: data_path("label_studio") / "sleap_io" / "multi_animal_from_dlc.json",
        "",
        {},
        "json",
        "label_studio",
    ),
    Case(
        "label-studio-sdk-parent-id",
        lambda: data_path("label_studio") / "sdk_yolo_keypoints" / "data_keypoints.json",
        "",
        {
            "label_config": data_path("label_studio")
            / "sdk_yolo_keypoints"
            / "label_config_keypoints.xml"
        },
        "json",
        "label_studio",
    ),
    Case(
        "label-studio-sdk-unparented",
        lambda: data_path("label_studio") / "sdk_coco" / "data.json",
        "",
        {"label_config": data_path("label_studio") / "sdk_coco" / "label_config.xml"},
        "json",
        "label_studio",
    ),
    Case(
        "cvat-datumaro",
        lambda: data_path("cvat") / "datumaro" / "train.xml",
        "",
        {},
        "bytes",
        "cvat",
    ),
    Case(
        "cvat-docs-example",
        lambda: data_path("cvat") / "cvat_docs" / "annotations.xml",
        "",
        {},
        "bytes",
        "cvat",
    ),
    Case(
        "ndjson-coco8-pose",
        lambda: data_path("ndjson") / "coco8-pose.ndjson",
        "",
        {},
        "ndjson",
        "ndjson",
    ),
    # SLEAP, PoseTrack, MPII, COCO-WholeBody / Halpe: ``source`` is the file (or folder)
    *[
        pytest.param(
            Case(
                f"sleap-{name}",
                lambda name=name: data_path("sleap") / name,
                "",
                opts,
                "sleap",
                "sleap",
            ),
            marks=needs_sleap,
            id=f"sleap-{name}",
        )
        for name, opts in [
            ("typical.slp", {"image_size": (384, 384)}),
            ("minimal_instance.pkg.slp", {}),
            ("predictions_1.2.7_provenance_and_tracking.slp", {"image_size": (1024, 1024)}),
            ("labels.v002.slp", {"image_size": (384, 384)}),
            ("multiview.slp", {"image_size": (1280, 1024)}),
            ("flies13_first20.slp", {"image_size": (1024, 1024)}),
        ]
    ],
    Case(
        "posetrack-merged-val",
        lambda: data_path("posetrack18") / "annotations/test_posetrack18_val.json",
        "",
        {"image_folder": data_path("posetrack18")},
        "json",
        "posetrack",
    ),
    Case(
        "posetrack-video-folder",
        lambda: data_path("posetrack18") / "annotations/val",
        "",
        {},
        "json-files",
        "posetrack",
    ),
    Case("mpii-mmpose-json", lambda: data_path("mpii") / "test_mpii.json", "", {}, "bytes", "mpii"),
    Case(
        "coco-wholebody-merged",
        lambda: data_path("coco_wholebody") / "annotations.json",
        "",
        {"merge_parts": True},
        "json",
        "coco",
    ),
    Case("halpe-136", lambda: data_path("halpe") / "test_halpe.json", "", {}, "json", "coco"),
]


def _ndjson_records(path: Path) -> list[Any]:
    """The records, with a local dataset's ``path`` resolved against the file's folder."""
    import json

    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if "path" in records[0]:
        records[0]["path"] = str((path.parent / records[0]["path"]).resolve())
    return records


def _same_content(kind: str, written: Path, original: Path) -> None:
    """bytes: byte for byte; json: the same JSON document; ndjson: the same records."""
    import json

    if kind == "bytes":
        assert written.read_bytes() == original.read_bytes()
    elif kind == "json":
        assert json.loads(written.read_text()) == json.loads(original.read_text())
    elif kind == "json-files":  # a folder of files (PoseTrack's one file per video)
        for file in sorted(original.glob("*.json")):
            _same_content("json", written / file.name, file)
    elif kind == "sleap":  # what sleap-io reads back (the .slp is HDF5)
        from tests.test_formats_sleap import assert_same_labels, load_labels

        assert_same_labels(load_labels(original), load_labels(written))
    else:
        assert _ndjson_records(written) == _ndjson_records(original)


def _round_trip(case: Case, source: Path, store: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        table = getattr(pt.Table, f"from_{case.fmt}")(source, name="t", store=store, **case.options)
        written = getattr(table, f"export_{case.fmt}")(tmp_path / "out" / source.name)
    _same_content(case.compare, written, source)


def _project_root(source: Path) -> Path:
    return source if source.is_dir() else source.parents[2]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_import_then_export_gives_the_file_back(case: Case, store: Path, tmp_path: Path) -> None:
    source = case.source()
    if case.fmt != "dlc":
        _round_trip(case, source, store, tmp_path)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        table = pt.Table.from_dlc(source, name="t", store=store, **case.options)
    out = table.export_dlc(tmp_path / "out")
    original = _project_root(source) / case.original
    written = out / case.original
    if case.compare == "bytes":
        assert written.read_bytes() == original.read_bytes()
        assert (out / "config.yaml").read_bytes() == (
            _project_root(source) / "config.yaml"
        ).read_bytes()
    else:
        pd.testing.assert_frame_equal(_dlc_frame(written), _dlc_frame(original))


def test_dlc_points_become_visible_and_empty_cells_unlabeled(store: Path) -> None:
    folder = data_path("dlc") / "multi_mouse"
    table = pt.Table.from_dlc(folder, name="mice", store=store)
    frame = _dlc_frame(folder / "labeled-data/m3v1mp4short/CollectedData_dlc_team.csv")
    assert table.schema.keypoint_names == (
        "bodypart1", "bodypart2", "bodypart3", "corner1", "corner2"
    )  # fmt: skip
    assert table.schema.lines == ((0, 1), (1, 2), (0, 2))
    row = next(i for i, r in enumerate(frame.index) if r[2] == "img11.png")
    value = table[row]
    instances = value["keypoints"]
    names = list(instances.instance_extras["individual"])
    # img11: individual2 has no labels at all -> no instance; "single" holds the corners
    assert names == ["individual1", "individual3", "single"]
    single = instances.keypoints[2]
    assert single[3].tolist() == [
        frame.iloc[row][("dlc_team", "single", "corner1", "x")],
        frame.iloc[row][("dlc_team", "single", "corner1", "y")],
    ]
    assert instances.keypoint_visibilities.tolist()[2] == [0, 0, 0, 2, 2]
    assert instances.keypoint_visibilities.tolist()[0] == [2, 2, 2, 0, 0]
    assert (value["width"], value["height"]) == (640, 480)  # from the PNG header
    assert value["video"] == "m3v1mp4short"


@pytest.mark.filterwarnings("ignore::posetable.errors.PosetableWarning")
def test_dlc_to_coco_to_dlc_gives_the_labels_back(store: Path, tmp_path: Path) -> None:
    folder = data_path("dlc") / "openfield"
    table = pt.Table.from_dlc(folder, name="dlc", store=store, image_size=(640, 480))
    coco_file = table.export_coco(tmp_path / "coco.json")
    coco = pt.Table.from_coco(coco_file, name="coco", store=store)
    back = coco.export_dlc(tmp_path / "back", scorer="Pranav")
    original = _dlc_frame(folder / "labeled-data/m4s1/CollectedData_Pranav.csv")
    again = _dlc_frame(back / "labeled-data/m4s1/CollectedData_Pranav.csv")
    assert list(again.columns) == list(original.columns)
    assert ["/".join(i) for i in again.index] == list(original.index)
    np.testing.assert_array_equal(again.to_numpy(), original.to_numpy())
    config = (back / "config.yaml").read_text()
    assert "bodyparts:\n- snout\n- leftear\n- rightear\n- tailbase" in config


@pytest.mark.filterwarnings("ignore::posetable.errors.PosetableWarning")
def test_coco_to_dlc_to_dlc_keeps_points_and_visibility(
    real_data, store: Path, tmp_path: Path
) -> None:
    folder = real_data("horse10")
    coco = pt.Table.from_coco(folder / "annotations.json", folder / "images", name="h", store=store)
    out = coco.export_dlc(tmp_path / "dlc")
    again = pt.Table.from_dlc(out, name="h2", store=store)
    assert again.schema.keypoint_names == coco.schema.keypoint_names
    for a, b in zip(coco, again, strict=True):
        ia, ib = a["keypoints"], b["keypoints"]
        keep = ia.keypoint_visibilities > 0
        np.testing.assert_array_equal(ib.keypoints[keep], ia.keypoints[keep])
        np.testing.assert_array_equal(ib.keypoint_visibilities > 0, keep)
