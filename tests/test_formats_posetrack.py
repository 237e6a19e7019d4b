"""PoseTrack 2018 reader and writer on mmpose's real PoseTrack files (``posetrack18``)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path


def _root() -> Path:
    return data_path("posetrack18")


def _merged_file() -> Path:
    return _root() / "annotations/test_posetrack18_val.json"


def _import(path: Path, store: Path, name: str = "pt", **options) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        return pt.Table.from_posetrack(path, name=name, store=store, **options)


def _same_json(a: Path, b: Path) -> bool:
    return orjson.dumps(json.loads(a.read_text())) == orjson.dumps(json.loads(b.read_text()))


def test_frames_are_rows_of_their_video_and_people_keep_their_track(store: Path) -> None:
    table = _import(_merged_file(), store, image_folder=_root())
    data = json.loads(_merged_file().read_text())
    assert len(table) == len(data["images"])
    for row, image in zip(table, data["images"], strict=True):
        assert row["video"] == image["vid_id"]
        assert row["frame_index"] == int(Path(image["file_name"]).stem)
        assert row["image"] == str(_root() / image["file_name"])
        assert (row["width"], row["height"]) == (image["width"], image["height"])
        people = [a for a in data["annotations"] if a["image_id"] == image["id"]]
        instances = row["keypoints"]
        assert instances.instance_extras["track_id"].tolist() == [a["track_id"] for a in people]
        for t, ann in enumerate(people):
            given = np.asarray(ann["keypoints"], float).reshape(-1, 3)
            np.testing.assert_array_equal(instances.keypoints[t], given[:, :2])
            np.testing.assert_array_equal(instances.keypoint_visibilities[t], given[:, 2])


def test_the_schema_is_posetrack_s_17_slots_without_unmeasured_sigmas(store: Path) -> None:
    table = _import(_merged_file(), store)
    names = table.schema.keypoint_names
    category = json.loads(_merged_file().read_text())["categories"][0]
    assert names == tuple(category["keypoints"]) and len(names) == 17
    assert len(table.schema.lines) == len(category["skeleton"])  # the file's own skeleton
    flip = table.schema.flip_indices
    assert names[flip[names.index("left_wrist")]] == "right_wrist"
    assert flip[names.index("head_top")] == names.index("head_top")
    ears = [names.index("left_ear"), names.index("right_ear")]  # PoseTrack never labels them
    assert all((r["keypoints"].keypoint_visibilities[:, ears] == 0).all() for r in table)
    # PoseTrack is scored with PCKh and publishes no sigmas (mmpose's are COCO's, moved)
    assert table.schema.oks_sigmas_source == "uniform 1/K"
    found = pt.check(table, rules=["sigmas_missing"]).to_pylist()
    assert [f["rule"] for f in found] == ["sigmas_missing"]
    assert "pt.estimate_sigmas(table_a, table_b)" in found[0]["message"]
    sigmas = list(pt.KeypointHelper.COCO_OKS_SIGMAS)  # given ones are kept
    given = _import(_merged_file(), store, name="given", oks_sigmas=sigmas)
    assert given.schema.oks_sigmas == tuple(sigmas) and given.schema.oks_sigmas_source == "COCO"


@pytest.mark.parametrize("name", ["test_posetrack18_val.json", "val/009473_mpii_test.json"])
def test_a_file_comes_back_as_it_was(name: str, store: Path, tmp_path: Path) -> None:
    source = _root() / "annotations" / name
    out = _import(source, store, image_folder=_root()).export_posetrack(tmp_path / "out.json")
    assert _same_json(out, source)  # values, number types (iscrowd: false) and key order


def test_a_folder_of_video_files_comes_back_file_by_file(store: Path, tmp_path: Path) -> None:
    folder = _root() / "annotations/val"
    table = _import(folder, store)
    assert sorted(set(table.to_arrow().column("posetrack_file").to_pylist())) == sorted(
        p.name for p in folder.glob("*.json")
    )
    out = table.export_posetrack(tmp_path / "val")
    for original in folder.glob("*.json"):
        assert _same_json(out / original.name, original)
    with pytest.raises(pt.errors.UnsupportedError, match="came from 3 PoseTrack files"):
        table.export_posetrack(tmp_path / "one.json")


def test_an_edited_track_id_is_written(store: Path, tmp_path: Path) -> None:
    table = _import(_merged_file(), store)
    instances = table[0]["keypoints"]
    extras = dict(instances.instance_extras)
    extras["track_id"] = extras["track_id"] + 100
    edited = table.with_rows({0: {"keypoints": _replace_extras(instances, extras)}})
    written = json.loads(edited.export_posetrack(tmp_path / "out.json").read_text())
    image_id = table[0]["image_id"]
    tracks = [a["track_id"] for a in written["annotations"] if a["image_id"] == image_id]
    assert tracks == (instances.instance_extras["track_id"] + 100).tolist()


def _replace_extras(instances: pt.Keypoints2DInstances, extras: dict) -> pt.Keypoints2DInstances:
    return pt.Keypoints2DInstances(
        keypoints=instances.keypoints,
        keypoint_visibilities=instances.keypoint_visibilities,
        instance_bbs=instances.instance_bbs,
        instance_labels=instances.instance_labels,
        instance_extras=extras,
    )


def test_posetrack_to_coco_to_posetrack_gives_the_file_back(store: Path, tmp_path: Path) -> None:
    table = _import(_merged_file(), store)
    coco_file = table.export_coco(tmp_path / "coco.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        coco = pt.Table.from_coco(coco_file, name="coco", store=store)
    back = coco.export_posetrack(tmp_path / "back.json")
    assert _same_json(back, _merged_file())


def test_a_table_from_elsewhere_becomes_posetrack_frames_by_video(
    store: Path, tmp_path: Path
) -> None:
    source = _import(_merged_file(), store)
    rows = []
    for r, row in enumerate(source):
        instances = row["keypoints"]
        extras = {"track_id": instances.instance_extras["track_id"]}
        rows.append(
            {
                "image": f"clip/{r:06d}.jpg",
                "width": row["width"],
                "height": row["height"],
                "video": "clip",
                "frame_index": r,
                "keypoints": _replace_extras(instances, extras),
            }
        )
    plain = pt.Table.from_rows(rows, name="plain", schema=source.schema, store=store)
    with pytest.warns(pt.errors.PosetableWarning, match="videos are numbered 1..1"):
        out = plain.export_posetrack(tmp_path / "out.json")
    again = _import(out, store, name="again")
    assert again.to_arrow().column("video").to_pylist() == ["000001"] * len(source)
    assert again.to_arrow().column("frame_index").to_pylist() == list(range(len(source)))
    for a, b in zip(source, again, strict=True):
        np.testing.assert_array_equal(a["keypoints"].keypoints, b["keypoints"].keypoints)
        np.testing.assert_array_equal(
            a["keypoints"].instance_extras["track_id"], b["keypoints"].instance_extras["track_id"]
        )
    images = json.loads(out.read_text())["images"]
    assert [i["nframes"] for i in images] == [len(source)] * len(source)


def test_a_table_without_track_ids_is_refused_by_name(store: Path, tmp_path: Path) -> None:
    mpii = pt.Table.from_mpii(data_path("mpii") / "test_mpii.json", name="m", store=store)
    with pytest.raises(pt.errors.UnsupportedError, match="track_id"):
        mpii.export_posetrack(tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def test_a_malformed_file_names_file_line_and_annotation(store: Path, tmp_path: Path) -> None:
    data = json.loads(_merged_file().read_text())
    data["annotations"][3]["keypoints"] = data["annotations"][3]["keypoints"][:-3]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data, indent=1))
    ident = data["annotations"][3]["id"]
    with pytest.raises(pt.errors.FormatError, match=rf"broken.json:\d+: annotation id {ident}"):
        _import(broken, store)
    assert pt.list_tables(store=store) == []


def test_a_track_id_that_is_not_an_integer_stays_a_kept_field(store: Path, tmp_path: Path) -> None:
    data = json.loads(_merged_file().read_text())
    data["annotations"][0]["track_id"] = "a"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(data))
    with pytest.warns(pt.errors.PosetableWarning, match="integer 'track_id'"):
        table = pt.Table.from_posetrack(odd, name="odd", store=store)
    assert "track_id" not in table[0]["keypoints"].instance_extras
    assert _same_json(table.export_posetrack(tmp_path / "out.json"), odd)


def test_a_folder_whose_files_disagree_on_keypoints_names_the_file(
    store: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "val"
    shutil.copytree(_root() / "annotations/val", folder)
    path = folder / "012834_mpii_test.json"
    data = json.loads(path.read_text())
    data["categories"][0]["keypoints"][0] = "snout"
    path.write_text(json.dumps(data))
    with pytest.raises(pt.errors.FormatError, match=r"012834_mpii_test.json: its keypoints"):
        _import(folder, store)
    assert pt.list_tables(store=store) == []


def test_missing_images_are_named(store: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="1 of 1 image files"):
        _import(_root() / "annotations/val/003418_mpii_test.json", store, image_folder=tmp_path)


def test_cli_imports_and_exports_posetrack(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _root() / "annotations/val"
    args = ["import", "posetrack", str(folder), "--name", "p", "--store", str(store)]
    assert main([*args, "--images", str(_root())]) == 0
    captured = capsys.readouterr()
    assert "3 images, 14 instances, K=17 -> p@1" in captured.out
    assert (
        "posetable: note:" in captured.err and "003418_mpii_test.json: 1 annotation" in captured.err
    )
    assert main(["export", "posetrack", "p", str(tmp_path / "out"), "--store", str(store)]) == 0
    for original in folder.glob("*.json"):
        assert _same_json(tmp_path / "out" / original.name, original)


def test_a_folder_says_once_what_every_file_says_and_names_the_file_otherwise(
    store: Path,
) -> None:
    with pytest.warns(pt.errors.PosetableWarning) as caught:
        pt.Table.from_posetrack(_root() / "annotations" / "val", name="pt", store=store)
    text = "\n".join(str(w.message) for w in caught)
    assert text.count("uniform 1/K") == 1 and "every file: OKS sigmas: none given" in text
    for name in ("003418_mpii_test.json", "009473_mpii_test.json", "012834_mpii_test.json"):
        assert f"{name}: " in text and "had no 'area'" in text  # counts differ per file
    assert "PoseTrack publishes no OKS sigmas" in text
