"""SLEAP ``.slp`` reader and writer, checked against sleap-io's own reading of real files.

The files are sleap-io's test data (``tests/data/sleap``, provenance in SOURCES.md). The
reference is ``sleap_io.load_slp``: every frame, instance, point, flag, score and track the
table holds must be what sleap-io reads, and what posetable writes must read back the same.
"""

from __future__ import annotations

import doctest
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.cli import main
from tests._data import data_path

pytestmark = pytest.mark.integration
sio = pytest.importorskip("sleap_io")

# file -> the image size to give (None: sleap-io knows it from the embedded frames)
FILES = {
    "typical.slp": (384, 384),
    "minimal_instance.pkg.slp": None,
    "predictions_1.2.7_provenance_and_tracking.slp": (1024, 1024),
    "labels.v002.slp": (384, 384),
    "multiview.slp": (1280, 1024),
    "flies13_first20.slp": (1024, 1024),
}


def _path(name: str) -> Path:
    return data_path("sleap") / name


def load_labels(path: Path) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sleap-io's own warnings about absent video files
        return sio.load_slp(str(path), open_videos=False)


def _import(name: str, store: Path, table: str = "s", **options) -> pt.Table:
    size = FILES.get(name)
    if size is not None:
        options.setdefault("image_size", size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.Table.from_sleap(_path(name), name=table, store=store, **options)


def _track(instance: object) -> str:
    track = instance.track  # type: ignore[attr-defined]
    return "" if track is None else track.name


def assert_same_labels(a: object, b: object) -> None:
    """Two sleap-io Labels hold the same frames, instances, points, flags, scores, tracks."""
    assert len(a.labeled_frames) == len(b.labeled_frames)  # type: ignore[attr-defined]
    for fa, fb in zip(a.labeled_frames, b.labeled_frames, strict=True):  # type: ignore[attr-defined]
        assert fa.frame_idx == fb.frame_idx
        assert a.videos.index(fa.video) == b.videos.index(fb.video)  # type: ignore[attr-defined]
        assert len(fa.instances) == len(fb.instances)
        for ia, ib in zip(fa.instances, fb.instances, strict=True):
            assert type(ia) is type(ib)
            np.testing.assert_array_equal(ia.points["xy"], ib.points["xy"])
            np.testing.assert_array_equal(ia.points["visible"], ib.points["visible"])
            np.testing.assert_array_equal(ia.points["complete"], ib.points["complete"])
            assert _track(ia) == _track(ib)
            assert (ia.from_predicted is None) == (ib.from_predicted is None)
            if isinstance(ia, sio.PredictedInstance):
                assert np.float32(ia.score) == np.float32(ib.score)
                np.testing.assert_array_equal(ia.points["score"], ib.points["score"])
    sa, sb = a.skeletons[0], b.skeletons[0]  # type: ignore[attr-defined]
    assert sa.node_names == sb.node_names
    assert [(e.source.name, e.destination.name) for e in sa.edges] == [
        (e.source.name, e.destination.name) for e in sb.edges
    ]
    pairs = [{n.name for n in s.nodes} for s in sa.symmetries]
    assert sorted(map(sorted, pairs)) == sorted(
        sorted({n.name for n in s.nodes}) for s in sb.symmetries
    )
    assert [t.name for t in a.tracks] == [t.name for t in b.tracks]  # type: ignore[attr-defined]
    assert [(s.frame_idx, a.videos.index(s.video)) for s in a.suggestions] == [  # type: ignore[attr-defined]
        (s.frame_idx, b.videos.index(s.video))
        for s in b.suggestions  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("name", FILES)
def test_the_table_holds_what_sleap_io_reads(name: str, store: Path) -> None:
    table = _import(name, store)
    labels = load_labels(_path(name))
    skeleton = labels.skeletons[0]
    assert table.schema.keypoint_names == tuple(skeleton.node_names)
    assert len(table) == len(labels.labeled_frames)
    for row, frame in zip(table, labels.labeled_frames, strict=True):
        assert row["frame_index"] == frame.frame_idx
        assert row["video"] in (
            frame.video.filename,
            getattr(frame.video.source_video, "filename", None),
        )
        instances = row["keypoints"]
        extras = instances.instance_extras
        assert len(instances.keypoints) == len(frame.instances)
        for t, inst in enumerate(frame.instances):
            xy = inst.points["xy"]  # NaN where a point is missing (numpy() hides invisible)
            missing = np.isnan(xy).any(axis=1)
            vis = instances.keypoint_visibilities[t]
            np.testing.assert_array_equal(vis == 0, missing)
            np.testing.assert_array_equal(instances.keypoints[t][~missing], xy[~missing])
            np.testing.assert_array_equal(instances.keypoints[t][missing], 0)
            visible = inst.points["visible"]
            np.testing.assert_array_equal(vis[~missing], np.where(visible[~missing], 2, 1))
            predicted = isinstance(inst, sio.PredictedInstance)
            assert extras["instance_kind"][t] == ("predicted" if predicted else "user")
            assert extras["track"][t] == _track(inst)
            expected_id = labels.tracks.index(inst.track) if inst.track is not None else -1
            assert extras["track_id"][t] == expected_id
            if predicted:
                assert np.float32(extras["score"][t]) == np.float32(inst.score)
                np.testing.assert_allclose(
                    np.array(extras["point_scores"][t], dtype=float), inst.points["score"]
                )
            else:
                assert extras["point_scores"][t] is None
            if inst.from_predicted is not None:
                source = frame.instances.index(inst.from_predicted)
                assert extras["from_predicted"][t] == source


@pytest.mark.parametrize("name", FILES)
def test_export_reads_back_in_sleap_io_as_the_original(
    name: str, store: Path, tmp_path: Path
) -> None:
    out = _import(name, store).export_sleap(tmp_path / "out.slp")
    assert_same_labels(load_labels(_path(name)), load_labels(out))


def test_symmetries_become_flip_indices(store: Path) -> None:
    table = _import("flies13_first20.slp", store)
    names = table.schema.keypoint_names
    flip = table.schema.flip_indices
    labels = load_labels(_path("flies13_first20.slp"))
    for sym in labels.skeletons[0].symmetries:
        a, b = (names.index(n.name) for n in sym.nodes)
        assert flip[a] == b and flip[b] == a
    assert all(flip[flip[i]] == i for i in range(len(names)))
    assert flip[names.index("head")] == names.index("head")
    assert table.schema.lines == tuple(
        (names.index(e.source.name), names.index(e.destination.name))
        for e in labels.skeletons[0].edges
    )


def test_missing_points_marked_visible_keep_their_flag(store: Path, tmp_path: Path) -> None:
    table = _import("flies13_first20.slp", store)
    flags = np.array(
        [list(map(int, s)) for r in table for s in r["keypoints"].instance_extras["sleap_points"]]
    )
    vis = np.concatenate([r["keypoints"].keypoint_visibilities for r in table])
    assert ((vis == 0) & (flags & 1 == 1) & (flags & 4 == 4)).any()  # SLEAP: NaN yet "visible"
    out = table.export_sleap(tmp_path / "out.slp")
    assert_same_labels(load_labels(_path("flies13_first20.slp")), load_labels(out))


def _two_skeletons(tmp_path: Path) -> Path:
    """A real file with a second real skeleton (and its instances) added by sleap-io."""
    first = load_labels(_path("typical.slp"))
    second = load_labels(_path("predictions_1.2.7_provenance_and_tracking.slp"))
    video = first.videos[0]
    frame = second.labeled_frames[0]
    extra = sio.LabeledFrame(video=video, frame_idx=7, instances=list(frame.instances))
    both = sio.Labels(
        labeled_frames=[*first.labeled_frames, extra],
        videos=[video],
        skeletons=[first.skeletons[0], second.skeletons[0]],
        tracks=[*first.tracks, *second.tracks],
    )
    path = tmp_path / "two.slp"
    sio.save_slp(both, str(path), embed=False, verbose=False)
    return path


def test_two_skeletons_need_a_choice_named_in_the_error(store: Path, tmp_path: Path) -> None:
    path = _two_skeletons(tmp_path)
    names = [s.name for s in load_labels(path).skeletons]
    with pytest.raises(
        pt.errors.FormatError, match=r"2 skeletons .*skeleton=NAME or INDEX"
    ) as caught:
        pt.Table.from_sleap(path, name="two", store=store, image_size=(384, 384))
    assert all(repr(n) in str(caught.value) for n in names)
    assert pt.list_tables(store=store) == []
    others = sum(len(f.instances) for f in load_labels(_path("typical.slp")).labeled_frames)
    with pytest.warns(pt.errors.PosetableWarning, match=rf"{others} instances of the other skel"):
        table = pt.Table.from_sleap(
            path, name="two", store=store, image_size=(384, 384), skeleton=1
        )
    assert table.schema.num_keypoints == 13
    assert [len(r["keypoints"].keypoints) for r in table] == [0, 2]
    with pytest.raises(pt.errors.FormatError, match="skeleton='nope' is none of"):
        pt.Table.from_sleap(path, name="x", store=store, image_size=(384, 384), skeleton="nope")


def test_a_node_in_two_symmetries_is_an_error(store: Path, tmp_path: Path) -> None:
    labels = load_labels(_path("typical.slp"))
    skeleton = labels.skeletons[0]
    third = sio.Skeleton(
        nodes=["A", "B", "C"], edges=[("A", "B")], symmetries=[("A", "B"), ("A", "C")]
    )
    for frame in labels.labeled_frames:
        for inst in frame.instances:
            points = np.concatenate([inst.numpy(), [[np.nan, np.nan]]])
            inst.points = type(inst).from_numpy(points, skeleton=third).points
            inst.skeleton = third
    labels.skeletons = [third]
    path = tmp_path / "bad.slp"
    sio.save_slp(labels, str(path), embed=False, verbose=False)
    assert skeleton.name is not None
    with pytest.raises(pt.errors.FormatError, match="node 'A' is in two symmetries"):
        pt.Table.from_sleap(path, name="bad", store=store, image_size=(384, 384))


def test_an_unknown_video_size_needs_image_size(store: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"size of 1 video is unknown.*image_size"):
        pt.Table.from_sleap(_path("typical.slp"), name="t", store=store)
    assert pt.list_tables(store=store) == []
    embedded = _import("minimal_instance.pkg.slp", store, table="pkg")
    assert (embedded[0]["width"], embedded[0]["height"]) == (384, 384)  # from the package


def test_what_posetable_does_not_keep_is_named(store: Path) -> None:
    with pytest.warns(pt.errors.PosetableWarning, match=r"not kept .*sessions_json \(1\)"):
        pt.Table.from_sleap(_path("multiview.slp"), name="mv", store=store, image_size=(1, 1))


def test_an_edited_visibility_is_exported_as_sleap_s_flag(store: Path, tmp_path: Path) -> None:
    table = _import("typical.slp", store)
    instances = table[0]["keypoints"]
    vis = instances.keypoint_visibilities.copy()
    vis[0, 1] = 1  # labeled, not visible
    vis[1, 0] = 0  # not labeled
    changed = pt.Keypoints2DInstances(
        keypoints=instances.keypoints,
        keypoint_visibilities=vis,
        instance_bbs=instances.instance_bbs,
        instance_labels=instances.instance_labels,
        instance_extras=instances.instance_extras,
    )
    out = table.with_rows({0: {"keypoints": changed}}).export_sleap(tmp_path / "out.slp")
    first, second = load_labels(out).labeled_frames[0].instances[:2]
    assert first.points["visible"].tolist() == [True, False]
    np.testing.assert_array_equal(first.points["xy"][1], instances.keypoints[0, 1])
    assert np.isnan(second.points["xy"][0]).all() and not second.points["visible"][0]


def test_a_coco_table_becomes_user_instances_of_an_image_sequence(
    coco_table: pt.Table, store: Path, tmp_path: Path
) -> None:
    out = coco_table.export_sleap(tmp_path / "coco.slp")
    labels = load_labels(out)
    files = [Path(f).name for v in labels.videos for f in v.filename]
    assert sorted(files) == sorted(Path(r["image"]).name for r in coco_table)
    back = pt.Table.from_sleap(out, name="back", store=store)  # sizes kept per video
    assert [(r["width"], r["height"]) for r in back] == [
        (r["width"], r["height"]) for r in coco_table
    ]
    assert back.schema.keypoint_names == coco_table.schema.keypoint_names
    assert back.schema.flip_indices == coco_table.schema.flip_indices
    for a, b in zip(coco_table, back, strict=True):
        ia, ib = a["keypoints"], b["keypoints"]
        keep = ia.keypoint_visibilities > 0
        np.testing.assert_array_equal(ib.keypoint_visibilities, ia.keypoint_visibilities)
        np.testing.assert_array_equal(ib.keypoints[keep], ia.keypoints[keep])
        assert set(ib.instance_extras["instance_kind"]) <= {"user"}


def test_sleap_to_coco_to_sleap_gives_the_labels_back(store: Path, tmp_path: Path) -> None:
    table = _import("flies13_first20.slp", store)
    coco_file = table.export_coco(tmp_path / "flies.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pt.errors.PosetableWarning)
        coco = pt.Table.from_coco(coco_file, name="coco", store=store)
    back = load_labels(coco.export_sleap(tmp_path / "back.slp"))
    original = load_labels(_path("flies13_first20.slp"))
    for fa, fb in zip(original.labeled_frames, back.labeled_frames, strict=True):
        for ia, ib in zip(fa.instances, fb.instances, strict=True):
            np.testing.assert_array_equal(ia.points["xy"], ib.points["xy"])


def test_cli_imports_and_exports_sleap(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _path("typical.slp")
    args = ["import", "sleap", str(path), "--name", "s", "--store", str(store)]
    assert main([*args, "--image-size", "384", "384"]) == 0
    captured = capsys.readouterr()
    assert "1 images, 3 instances, K=2 -> s@1" in captured.out
    assert "posetable: note:" in captured.err
    assert main(["export", "sleap", "s", str(tmp_path / "o.slp"), "--store", str(store)]) == 0
    assert_same_labels(load_labels(path), load_labels(tmp_path / "o.slp"))


def test_the_docstring_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples that need the [sleap] extra (``Table.from_sleap``'s is skipped in core)."""
    import posetable.formats.sleap as module
    from posetable.table import Table

    monkeypatch.chdir(tmp_path)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert doctest.testmod(module, optionflags=flags).failed == 0
    test = doctest.DocTestFinder().find(Table.from_sleap, "from_sleap", globs={})[0]
    for example in test.examples:
        example.options.pop(doctest.SKIP, None)
    runner = doctest.DocTestRunner(optionflags=flags)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_deeplabcut_frames_become_frames_of_their_video(store: Path, tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    dlc = pt.Table.from_dlc(data_path("dlc") / "multi_mouse", name="dlc", store=store)
    out = dlc.export_sleap(tmp_path / "mice.slp")
    back = pt.Table.from_sleap(out, name="back", store=store)  # sizes kept with the video
    assert back.schema.keypoint_names == dlc.schema.keypoint_names
    assert back.to_arrow().column("video").to_pylist() == dlc.to_arrow().column("video").to_pylist()
    assert [(r["width"], r["height"]) for r in back] == [(r["width"], r["height"]) for r in dlc]
    for a, b in zip(dlc, back, strict=True):
        ia, ib = a["keypoints"], b["keypoints"]
        np.testing.assert_array_equal(ib.keypoint_visibilities, ia.keypoint_visibilities)
        keep = ia.keypoint_visibilities > 0
        np.testing.assert_array_equal(ib.keypoints[keep], ia.keypoints[keep])
