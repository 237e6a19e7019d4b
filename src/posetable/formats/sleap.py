"""SLEAP labels (``.slp``, ``.pkg.slp``) through sleap-io, the SLEAP team's I/O library.

Read with sleap-io's own readers (``pip install "posetable[sleap]"``): its videos,
skeletons, tracks, suggestions and provenance, and the file's point and instance tables
as whole arrays (``sleap_io.io.slp.read_points`` / ``read_pred_points`` and the
``frames`` / ``instances`` datasets), so no object is made per instance or point.

* **Rows**: one per labeled frame, in file order. Row columns ``video`` (the video's file
  name as sleap-io gives it; for an embedded ``.pkg.slp`` video, its source video's) and
  ``frame_index`` (int64, SLEAP's 0-based frame number). ``image`` is the frame's file
  for an image-sequence video, else ``<video>#frame=<n>``. ``width``/``height`` from the
  video's shape (known when the video file or the embedded images are at hand), else
  ``image_size=``.
* **Instances**: user and predicted instances of the chosen skeleton, in file order, with
  the extras ``instance_kind`` (``"user"`` / ``"predicted"``), ``score`` and
  ``tracking_score`` (float64, as the file has them), ``point_scores`` (the predicted
  points' scores; null for user instances), ``track_id`` (int64, -1 untracked), ``track``
  (its name, "" untracked), ``from_predicted`` (the position, in the same frame, of the
  prediction a user instance was made from; -1 none) and ``sleap_points`` (per point one
  digit: visible + 2 x complete + 4 x missing, SLEAP's own point flags). A point with
  coordinates is v=2 when visible, v=1 when not; a missing (NaN) point is v=0, x = y = 0.
* **Schema**: node names -> keypoint names, edges -> lines, symmetries -> flip indices
  (checked: a node in two symmetries is an error). A file with several skeletons needs
  ``skeleton=`` (name or index); the error names them.
* **Metadata** ``metadata["sleap"]``: the format id, the skeleton, the videos (sleap-io's
  JSON of each), the tracks, the suggestions and the provenance, so export writes them
  back. What posetable does not keep (sessions, identities, ROIs...) is named in the
  import's warning.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from posetable._arrow import keypoints_column
from posetable.errors import FormatError, UnsupportedError
from posetable.formats._errors import MissingFileError
from posetable.formats._imported import Exported, Imported, as_path, require, rows_table
from posetable.formats._notes import Notes, count_text, first_few
from posetable.schema import Keypoints2DSchema

__all__ = ["read_sleap", "write_sleap"]

USER, PREDICTED = 0, 1
KINDS = ("user", "predicted")
EXTRA_TYPES = {
    "instance_kind": pa.string(),
    "score": pa.float64(),
    "tracking_score": pa.float64(),
    "track_id": pa.int64(),
    "track": pa.string(),
    "from_predicted": pa.int64(),
    "sleap_points": pa.string(),
}
# HDF5 members posetable reads (or that only carry embedded images); others are named.
_KNOWN = {
    "metadata", "videos_json", "tracks_json", "frames", "instances", "points", "pred_points",
    "suggestions_json", "provenance_json", "video_crops",
}  # fmt: skip


def _sleap_io() -> Any:
    return require("sleap_io", "sleap", "reading and writing SLEAP .slp files")


def _slp() -> Any:
    _sleap_io()
    from sleap_io.io import slp

    return slp


def _dataset(path: Path, name: str) -> np.ndarray:
    from sleap_io.io.utils import read_hdf5_dataset

    try:
        return np.asarray(read_hdf5_dataset(str(path), name))
    except KeyError:
        return np.zeros(0)


def _unkept(path: Path, notes: Notes) -> None:
    """Name the file's members that posetable does not keep (nothing dropped silently)."""
    h5py = require("h5py", "sleap", "reading SLEAP .slp files")
    found = []
    with h5py.File(path, "r") as handle:
        for key in handle:
            if key in _KNOWN or key.startswith("video"):
                continue
            item = handle[key]
            size = getattr(item, "shape", None)
            if size is not None and (not size or size[0] == 0):
                continue
            if size is None and not len(item):
                continue
            found.append(key if size is None else f"{key} ({size[0]})")
    if found:
        notes.add(
            f"not kept (posetable has no place for them; export leaves them out): "
            f"{first_few(found)}"
        )


def _choose_skeleton(skeletons: list[Any], skeleton: str | int | None, path: Path) -> int:
    described = ", ".join(
        f"{i}: {s.name!r} ({len(s.nodes)} nodes)" for i, s in enumerate(skeletons)
    )
    if not skeletons:
        raise FormatError("the file has no skeleton, so its points have no names", path=path)
    if skeleton is None:
        if len(skeletons) > 1:
            raise FormatError(
                f"the file has {len(skeletons)} skeletons ({described}); a table holds one "
                "keypoint layout: pass skeleton=NAME or INDEX to import the instances of one",
                path=path,
            )
        return 0
    if isinstance(skeleton, int) and not isinstance(skeleton, bool):
        if 0 <= skeleton < len(skeletons):
            return skeleton
    else:
        named = [i for i, s in enumerate(skeletons) if s.name == skeleton]
        if len(named) == 1:
            return named[0]
    raise FormatError(
        f"skeleton={skeleton!r} is none of the file's skeletons ({described})", path=path
    )


def _flip(skeleton: Any, path: Path) -> list[int] | None:
    names = list(skeleton.node_names)
    index = {n: i for i, n in enumerate(names)}
    if not skeleton.symmetries:
        return None
    flip = list(range(len(names)))
    for sym in skeleton.symmetries:
        a, b = (index[n.name] for n in sym.nodes)
        if flip[a] != a or flip[b] != b:
            raise FormatError(
                f"skeleton {skeleton.name!r}: node {names[a] if flip[a] != a else names[b]!r} is "
                "in two symmetries, so they are no left/right flip (an involution)",
                path=path,
            )
        flip[a], flip[b] = b, a
    return flip


def _video_name(video: Any) -> str:
    source = getattr(video, "source_video", None)
    if source is not None:
        return _video_name(source)
    name = video.filename
    if isinstance(name, list):
        return os.path.dirname(name[0]) if name else ""
    return str(name)


def _video_size(video: Any) -> tuple[int, int] | None:
    """(width, height) from the video (open backend or recorded metadata), or None."""
    meta = dict(getattr(video, "backend_metadata", None) or {})
    if "width_" in meta and "height_" in meta:
        return int(meta["width_"]), int(meta["height_"])
    try:
        shape = video.shape
    except Exception:  # a backend that cannot read its file
        shape = None
    if shape is None and meta.get("shape"):
        shape = meta["shape"]
    if shape is None or len(shape) < 3:
        return None
    return int(shape[2]), int(shape[1])


def _gather(instances: np.ndarray, points: np.ndarray, k: int, path: Path) -> np.ndarray:
    """(T, K) indices of each instance's points in ``points``."""
    start = instances["point_id_start"].astype(np.int64)
    end = instances["point_id_end"].astype(np.int64)
    wrong = np.flatnonzero((end - start) != k)
    if wrong.size:
        i = int(wrong[0])
        raise FormatError(
            f"instance {int(instances['instance_id'][i])} has {int(end[i] - start[i])} points, "
            f"its skeleton {k} nodes",
            path=path,
        )
    if len(start) and (start.min() < 0 or end.max() > len(points)):
        raise FormatError(
            f"instances point past the end of the {len(points)} stored points", path=path
        )
    return start[:, None] + np.arange(k)[None, :]


def read_sleap(
    path: str | os.PathLike[str],
    *,
    skeleton: str | int | None = None,
    image_size: tuple[int, int] | None = None,
    open_videos: bool = True,
) -> Imported:
    """Read a SLEAP ``.slp`` file into posetable's row layout (see the module docstring).

    Args:
        path: the ``.slp`` (or ``.pkg.slp``) file.
        skeleton: the skeleton (name or index) whose instances to import, for a file with
            several; instances of the others are left out (and counted in the warning).
        image_size: ``(width, height)`` of videos whose size sleap-io does not know (the
            video file is not at hand).
        open_videos: let sleap-io open the video files to learn their size.

    Raises:
        FormatError: not a SLEAP file, several skeletons without ``skeleton=``, or
            symmetries that are no involution.
        MissingFileError: the file is missing, or a video's size is unknown.
        MissingDependencyError: sleap-io is not installed.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_sleap(data_path("sleap") / "typical.slp", image_size=(384, 384))
        >>> imported.data.num_rows, imported.schema.keypoint_names
        (1, ('A', 'B'))
    """
    slp = _slp()
    source = as_path(path)
    if not source.is_file():
        raise MissingFileError(f"{source}: no such SLEAP file")
    notes = Notes(source)
    try:
        videos = slp.read_videos(str(source), open_backend=open_videos)
        skeletons = slp.read_skeletons(str(source))
        tracks = slp.read_tracks(str(source))
        meta_json = slp.read_metadata(str(source))
        frames = _dataset(source, "frames")
        instances = _dataset(source, "instances")
        points = slp.read_points(str(source))
        pred = slp.read_pred_points(str(source))
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(
            f"not a SLEAP labels file sleap-io can read: {exc}", path=source
        ) from None
    from sleap_io.io.utils import read_hdf5_attrs

    format_id = float(read_hdf5_attrs(str(source), "metadata", "format_id"))
    _unkept(source, notes)
    chosen = _choose_skeleton(skeletons, skeleton, source)
    skel = skeletons[chosen]
    names = list(skel.node_names)
    k = len(names)
    flip = _flip(skel, source)
    index = {n: i for i, n in enumerate(names)}
    lines = [(index[e.source.name], index[e.destination.name]) for e in skel.edges]
    if len(frames) == 0:
        fields = ("video", "frame_idx", "instance_id_start", "instance_id_end")
        frames = np.zeros(0, dtype=[(f, "<i8") for f in fields])
    inst, frame_of, counts = _frame_instances(frames, instances, chosen, skeletons, notes, source)
    xy, vis, flags, scores = _points(inst, points, pred, k, format_id, source)
    extras = _extras(inst, tracks, frame_of, counts, flags, scores, notes, source)
    video_ids = frames["video"].astype(np.int64)
    frame_idx = frames["frame_idx"].astype(np.int64)
    if len(video_ids) and video_ids.max() >= len(videos):
        raise FormatError(f"frames name video {int(video_ids.max())} of {len(videos)}", path=source)
    names_v = _unique_names([_video_name(v) for v in videos])
    sizes = [_video_size(v) for v in videos]
    widths, heights = _frame_sizes(sizes, names_v, video_ids, image_size, notes, source)
    column = keypoints_column(
        counts,
        xy,
        widths=widths,
        heights=heights,
        visibilities=vis,
        extras=extras,
        extra_types=EXTRA_TYPES,
        num_keypoints=k,
    )
    data = rows_table(
        _images(videos, names_v, video_ids, frame_idx),
        widths,
        heights,
        column,
        {
            "video": pa.array([names_v[v] for v in video_ids.tolist()], pa.string()),
            "frame_index": pa.array(frame_idx, pa.int64()),
        },
    )
    schema = Keypoints2DSchema(
        k, keypoint_names=names, lines=lines, flip_indices=flip, classes=(skel.name or "animal",)
    )
    meta = {
        "sleap": {
            "source": str(source),
            "format_id": format_id,
            "skeleton": {
                "name": skel.name,
                "index": chosen,
                "names": names,
                "lines": [list(p) for p in lines],
                "flip_indices": flip,
                "all": [s.name for s in skeletons],
            },
            "videos": [
                {"name": n, "json": str(j.decode() if isinstance(j, bytes) else j), "size": s}
                for n, j, s in zip(
                    names_v, _dataset(source, "videos_json").tolist(), sizes, strict=False
                )
            ],
            "embedded": any(getattr(v, "source_video", None) is not None for v in videos),
            "tracks": [tr.name for tr in tracks],
            "suggestions": [json.loads(s) for s in _dataset(source, "suggestions_json").tolist()],
            "provenance": _provenance(slp, source, meta_json),
        }
    }
    arguments = {"path": str(source), "skeleton": skel.name}
    return Imported(data, schema, meta, notes, "import_sleap", arguments)


def _frame_instances(
    frames: np.ndarray,
    instances: np.ndarray,
    chosen: int,
    skeletons: list[Any],
    notes: Notes,
    source: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The instances of the chosen skeleton frame by frame, the frame of each, per-frame counts."""
    starts = frames["instance_id_start"].astype(np.int64)
    ends = frames["instance_id_end"].astype(np.int64)
    if len(frames) and (ends.max() > len(instances) or (ends < starts).any()):
        raise FormatError("frames point past the stored instances", path=source)
    per_frame = ends - starts
    order = np.repeat(starts - np.cumsum(np.r_[0, per_frame[:-1]]), per_frame) + np.arange(
        int(per_frame.sum())
    )  # the instances of each frame, frame by frame
    frame_of = np.repeat(np.arange(len(frames)), per_frame)
    inst = instances[order] if len(order) else instances[:0]
    keep = inst["skeleton"].astype(np.int64) == chosen if len(inst) else np.zeros(0, bool)
    if not keep.all():
        others = np.unique(inst["skeleton"][~keep]).tolist()
        notes.add(
            f"{count_text(int((~keep).sum()), 'instance')} of the other skeletons "
            f"({first_few(repr(skeletons[int(o)].name) for o in others)}) are not imported "
            f"(skeleton={skeletons[chosen].name!r})"
        )
    inst, frame_of = inst[keep], frame_of[keep]
    counts = np.bincount(frame_of, minlength=len(frames)) if len(frames) else np.zeros(0, np.int64)
    kind = inst["instance_type"].astype(np.int64) if len(inst) else np.zeros(0, np.int64)
    unknown = np.flatnonzero((kind != USER) & (kind != PREDICTED))
    if unknown.size:
        raise FormatError(
            f"instance {int(inst['instance_id'][unknown[0]])} has instance_type "
            f"{int(kind[unknown[0]])}; SLEAP's are 0 (user) and 1 (predicted)",
            path=source,
        )
    return inst, frame_of, counts


def _points(
    inst: np.ndarray, points: np.ndarray, pred: np.ndarray, k: int, format_id: float, source: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(T, K, 2) points (0 where missing), (T, K) visibility, the flags text, point scores."""
    t = len(inst)
    kind = inst["instance_type"].astype(np.int64) if t else np.zeros(0, np.int64)
    xy = np.full((t, k, 2), np.nan)
    visible = np.zeros((t, k), bool)
    complete = np.zeros((t, k), bool)
    scores = np.full((t, k), np.nan)
    for mask, table in ((kind == USER, points), (kind == PREDICTED, pred)):
        if not mask.any():
            continue
        rows = table[_gather(inst[mask], table, k, source)]
        xy[mask, :, 0], xy[mask, :, 1] = rows["x"], rows["y"]
        visible[mask], complete[mask] = rows["visible"], rows["complete"]
        if "score" in rows.dtype.names:
            scores[mask] = rows["score"]
    if format_id < 1.1:  # sleap-io's rule: old files put (0, 0) at a pixel's corner
        xy -= 0.5
    labeled = np.isfinite(xy).all(axis=2)
    vis = np.where(labeled, np.where(visible, 2, 1), 0).astype(np.int32)
    missing = (~labeled).astype(np.uint8)
    codes = (visible + 2 * complete.astype(np.uint8) + 4 * missing + ord("0")).astype(np.uint8)
    flags = np.ascontiguousarray(codes).view(f"S{k}").ravel().astype(str).astype(object)
    return np.where(labeled[..., None], xy, 0.0), vis, flags, scores


def _extras(
    inst: np.ndarray,
    tracks: list[Any],
    frame_of: np.ndarray,
    counts: np.ndarray,
    flags: np.ndarray,
    scores: np.ndarray,
    notes: Notes,
    source: Path,
) -> dict[str, np.ndarray]:
    """The instance extras (see the module docstring), as (T,) arrays."""
    t = len(inst)
    kind = inst["instance_type"].astype(np.int64) if t else np.zeros(0, np.int64)
    track = inst["track"].astype(np.int64) if t else np.zeros(0, np.int64)
    bad_track = np.flatnonzero(track >= len(tracks))
    if bad_track.size:
        raise FormatError(
            f"instance {int(inst['instance_id'][bad_track[0]])} has track "
            f"{int(track[bad_track[0]])}, the file {len(tracks)} tracks",
            path=source,
        )
    names = np.array(["", *(tr.name for tr in tracks)], dtype=object)
    position = np.arange(t) - np.repeat(np.cumsum(counts) - counts, counts)  # in its frame
    point_scores = np.empty(t, dtype=object)
    where = np.flatnonzero(kind == PREDICTED)
    given = scores[where].astype(object)
    given[np.isnan(scores[where])] = None  # a missing point's score is null
    for i, values in zip(where.tolist(), given.tolist(), strict=True):  # one list each
        point_scores[i] = values
    has_tracking = t and "tracking_score" in (inst.dtype.names or ())
    tracking = inst["tracking_score"] if has_tracking else None
    return {
        "instance_kind": np.array(KINDS, dtype=object)[kind],
        "score": inst["score"].astype(np.float64) if t else np.zeros(0),
        "tracking_score": np.full(t, np.nan) if tracking is None else tracking.astype(np.float64),
        "point_scores": point_scores,
        "track_id": track,
        "track": names[track + 1] if t else np.zeros(0, object),
        "from_predicted": _from_predicted(inst, frame_of, position, notes),
        "sleap_points": flags,
    }


def _frame_sizes(
    sizes: list[tuple[int, int] | None],
    names: list[str],
    video_ids: np.ndarray,
    image_size: tuple[int, int] | None,
    notes: Notes,
    source: Path,
) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's (width, height): its video's, else ``image_size``, else an error."""
    used = sorted(set(video_ids.tolist()))
    unknown = [names[v] for v in used if sizes[v] is None]
    if unknown and image_size is None:
        raise MissingFileError(
            f"{source}: the size of {count_text(len(unknown), 'video')} is unknown (the video "
            f"file is not at hand): {first_few(unknown)}; pass image_size=(width, height)"
        )
    if unknown and image_size is not None:
        notes.add(
            f"the size of {count_text(len(unknown), 'video')} ({first_few(unknown)}) is "
            f"unknown: the image_size given, {int(image_size[0])}x{int(image_size[1])}"
        )
    size_of = np.array(
        [s if s is not None else (image_size or (0, 0)) for s in sizes] or [(0, 0)], np.int64
    )
    if not len(video_ids):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return size_of[video_ids, 0], size_of[video_ids, 1]


def _provenance(slp: Any, source: Path, meta_json: dict[str, Any]) -> Any:
    try:
        value = slp.read_provenance(str(source), meta_json)
    except (OSError, KeyError, ValueError):
        return {}
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return {}


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in out:
            candidate, n = f"{name} [{n}]", n + 1
        out.append(candidate)
    return out


def _images(
    videos: list[Any], names: list[str], video_ids: np.ndarray, frame_idx: np.ndarray
) -> list[str]:
    out = []
    for v, f in zip(video_ids.tolist(), frame_idx.tolist(), strict=True):
        files = videos[v].filename
        if isinstance(files, list) and 0 <= f < len(files):
            out.append(str(files[f]))
        else:
            out.append(f"{names[v]}#frame={f}")
    return out


def _from_predicted(
    inst: np.ndarray, frame_of: np.ndarray, position: np.ndarray, notes: Notes
) -> np.ndarray:
    """Per instance, the position (in its frame) of the prediction it came from, or -1."""
    t = len(inst)
    out = np.full(t, -1, np.int64)
    if not t:
        return out
    source = inst["from_predicted"].astype(np.int64)
    linked = np.flatnonzero(source >= 0)
    if not linked.size:
        return out
    ids = inst["instance_id"].astype(np.int64)
    sorter = np.argsort(ids, kind="stable")
    at = np.clip(np.searchsorted(ids[sorter], source[linked]), 0, t - 1)
    found = sorter[at]
    same = (ids[found] == source[linked]) & (frame_of[found] == frame_of[linked])
    out[linked[same]] = position[found[same]]
    if (~same).any():
        notes.add(
            f"{count_text(int((~same).sum()), 'user instance')} came from a prediction in "
            "another frame (or not imported): that link is not kept"
        )
    return out


# -- writing ----------------------------------------------------------------------------------
def write_sleap(
    table: Exported, path: str | os.PathLike[str], *, embed: bool | str | None = None
) -> Path:
    """Write a SLEAP ``.slp`` file with sleap-io (see the module docstring for the layout).

    A table read from SLEAP gives back its frames, user and predicted instances, tracks,
    skeleton (symmetries from the flip indices), videos and suggestions. Any other table
    becomes user instances (``instance_kind`` says otherwise per instance) of one video
    per ``video`` (its ``frame_index`` numbers the frames), or one image-sequence video of
    its images when it has no ``video`` column. The file is written whole or not at all.

    Args:
        table: the revision to write.
        path: the ``.slp`` file to write.
        embed: passed to ``sleap_io.save_slp`` (``"user"``, ``True``...). Default: the
            frames of an imported ``.pkg.slp`` are embedded again (when its file is at
            hand), else none.

    Raises:
        UnsupportedError: an ``instance_kind`` other than ``"user"``/``"predicted"``.

    Returns:
        The file written.
    """
    sio = _sleap_io()
    target = as_path(path)
    meta = dict(table.metadata.get("sleap") or {})
    schema = table.schema
    names = list(schema.keypoint_names)
    flat = table.flat()
    skel_meta = meta.get("skeleton") or {}
    skel = sio.Skeleton(
        nodes=names,
        edges=[(int(a), int(b)) for a, b in schema.lines],
        symmetries=[(i, int(j)) for i, j in enumerate(schema.flip_indices or ()) if i < int(j)],
        name=skel_meta.get("name") if skel_meta.get("names") == names else None,
    )
    frames, tracks = _instances(sio, table, flat, skel)
    videos, video_of, frame_of = _videos(sio, table, meta)
    labeled = [
        sio.LabeledFrame(video=videos[video_of[r]], frame_idx=int(frame_of[r]), instances=items)
        for r, items in enumerate(frames)
    ]
    suggestions = [
        sio.SuggestionFrame(
            video=videos[int(s["video"])],
            frame_idx=int(s["frame_idx"]),
            metadata={"group": s.get("group", 0)},
        )
        for s in meta.get("suggestions") or []
        if str(s.get("video", "")).isdigit() and int(s["video"]) < len(videos)
    ]
    labels = sio.Labels(
        labeled_frames=labeled,
        videos=videos,
        skeletons=[skel],
        tracks=tracks,
        suggestions=suggestions,
        provenance=dict(meta.get("provenance") or {}),
    )
    if embed is None:
        original = Path(str(meta.get("source", "")))
        embed = "all" if meta.get("embedded") and original.is_file() else False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=".slp", dir=target.parent
    )
    os.close(handle)
    try:
        sio.save_slp(labels, temporary, embed=embed, verbose=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _instances(
    sio: Any, table: Exported, flat: Any, skel: Any
) -> tuple[list[list[Any]], list[Any]]:
    """Each row's sleap-io instances (sleap-io's model is one object per instance, built
    from whole-table arrays) and the tracks."""
    meta = dict(table.metadata.get("sleap") or {})
    k = table.schema.num_keypoints
    names = list(table.schema.keypoint_names)
    t = len(flat.keypoints)
    rows = np.repeat(np.arange(len(flat.counts)), flat.counts)

    def extra(name: str, default: Any) -> np.ndarray:
        found = flat.extras.get(name)
        values = np.full(t, default, dtype=object)
        if found is not None:
            lacking = np.repeat(found[1], flat.counts)
            given = np.asarray(found[0], dtype=object)
            values[~lacking] = given[~lacking]
        return values

    has_vis = flat.has_visibilities[rows] if t else np.zeros(0, bool)
    guessed: Any = np.where(flat.has_confidences[rows] & ~has_vis, "predicted", "user")
    kinds = extra("instance_kind", None)
    kinds = np.where(kinds == None, guessed, kinds)  # noqa: E711 (elementwise)
    bad = sorted({str(v) for v in kinds.tolist()} - set(KINDS))
    if bad:
        raise UnsupportedError(
            f"{table.ref}: instance_kind must be 'user' or 'predicted', found {first_few(bad)}"
        )
    tracks, track_of = _tracks(sio, meta, extra("track", ""), extra("track_id", -1))
    vis = np.where(has_vis[:, None], flat.visibilities, 2) if t else flat.visibilities
    xy = np.where((vis > 0)[..., None], flat.keypoints, np.nan)
    flags = _point_flags(extra("sleap_points", ""), vis, k)
    scores = _point_scores(extra("point_scores", None), flat, k)
    score = extra("score", np.nan)
    given_scores = flat.has_instance_confidences[rows] if t else np.zeros(0, bool)
    score[given_scores] = flat.instance_confidences[given_scores]
    tracking = extra("tracking_score", np.nan)
    source = extra("from_predicted", -1)
    from sleap_io.model.instance import PointsArray, PredictedPointsArray

    frames: dict[int, list[Any]] = {}
    for i in range(t):  # sleap-io's model holds one object per instance
        predicted = kinds[i] == "predicted"
        pts = (PredictedPointsArray if predicted else PointsArray).empty(k)
        pts["xy"] = xy[i]
        pts["visible"] = flags[i] & 1 > 0
        pts["complete"] = flags[i] & 2 > 0
        pts["name"] = names
        track = tracks[track_of[i]] if track_of[i] >= 0 else None
        tscore = None if _nan(tracking[i]) else float(tracking[i])
        if predicted:
            pts["score"] = scores[i]
            made = sio.PredictedInstance(
                pts, skeleton=skel, track=track, score=0.0 if _nan(score[i]) else float(score[i]),
                tracking_score=tscore,
            )  # fmt: skip
        else:
            made = sio.Instance(pts, skeleton=skel, track=track, tracking_score=tscore)
        frames.setdefault(int(rows[i]), []).append(made)
    out: list[list[Any]] = []
    for r in range(len(flat.counts)):  # a user instance made from a prediction of its frame
        items = frames.get(r, [])
        base = int(flat.offsets[r])
        for j, inst in enumerate(items):
            link = int(source[base + j])
            user = not isinstance(inst, sio.PredictedInstance)
            if user and 0 <= link < len(items) and isinstance(items[link], sio.PredictedInstance):
                inst.from_predicted = items[link]
        out.append(items)
    return out, tracks


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _point_flags(given: np.ndarray, vis: np.ndarray, k: int) -> np.ndarray:
    """(T, K) SLEAP point flags (bit 0 visible, bit 1 complete): the kept ones, with
    ``visible`` following the table's visibility (a point missing in the file, bit 2,
    keeps the file's ``visible``)."""
    t = len(given)
    flags = np.zeros((t, k), np.uint8)
    ok = np.array([isinstance(v, str) and len(v) == k for v in given.tolist()], dtype=bool)
    if ok.any():
        codes = np.frombuffer("".join(given[ok].tolist()).encode(), np.uint8).reshape(-1, k)
        flags[ok] = codes - ord("0")
    was_missing = flags & 4 > 0  # a missing point keeps the file's flag, an unlabeled one none
    visible = np.where(vis == 2, 1, np.where((vis == 0) & was_missing, flags & 1, 0))
    return (flags & 2) | visible.astype(np.uint8)


def _point_scores(given: np.ndarray, flat: Any, k: int) -> np.ndarray:
    t = len(given)
    out = np.full((t, k), np.nan)
    conf = getattr(flat, "confidences", None)
    has_conf = getattr(flat, "has_confidences", None)
    for i, value in enumerate(given.tolist()):
        if isinstance(value, list) and len(value) == k:
            out[i] = [np.nan if v is None else float(v) for v in value]
    if conf is not None and has_conf is not None:
        rows = np.repeat(np.arange(len(flat.counts)), flat.counts)
        use = has_conf[rows] & np.isnan(out).all(axis=1)
        out[use] = conf[use]
    return out


def _tracks(
    sio: Any, meta: dict[str, Any], names: np.ndarray, ids: np.ndarray
) -> tuple[list[Any], np.ndarray]:
    """The file's tracks (in order) plus new ones named by the table; the track of each."""
    known = list(meta.get("tracks") or [])
    order = {name: i for i, name in enumerate(known)}
    out = np.full(len(names), -1, np.int64)
    for i, (name, ident) in enumerate(zip(names.tolist(), ids.tolist(), strict=True)):
        label = str(name) if name not in (None, "") else ""
        ident = int(ident) if ident is not None else -1
        if not label and ident >= 0:
            label = known[ident] if ident < len(known) else str(ident)
        if not label:
            continue
        if label not in order:
            order[label] = len(known)
            known.append(label)
        out[i] = order[label]
    return [sio.Track(name=n) for n in known], out


def _image_sequences(
    sio: Any, table: Exported, images: list[str]
) -> tuple[list[Any], list[int], list[int]]:
    """Rows that are images: one image-sequence video per image size (SLEAP's videos have
    one frame size), its frames in row order."""
    widths, heights = table.column("width") or [], table.column("height") or []
    groups: dict[tuple[int, int], list[int]] = {}
    for r, size in enumerate(zip(widths, heights, strict=True)):
        groups.setdefault((int(size[0]), int(size[1])), []).append(r)
    videos, video_of, frame_of = [], [0] * len(images), [0] * len(images)
    for v, ((width, height), rows) in enumerate(groups.items()):
        files = [images[r] for r in rows]
        video = sio.Video(filename=files, open_backend=False)
        video.backend_metadata.update(
            {"filename": files[0], "filenames": files, "height_": height, "width_": width}
        )
        videos.append(video)
        for frame, r in enumerate(rows):
            video_of[r], frame_of[r] = v, frame
    return videos, video_of, frame_of


def _videos(
    sio: Any, table: Exported, meta: dict[str, Any]
) -> tuple[list[Any], list[int], list[int]]:
    """The videos of the file (as imported) and each row's video and frame number."""
    slp = _slp()
    m = table.data.num_rows
    kept = list(meta.get("videos") or [])
    names = table.column("video")
    frames = table.column("frame_index")
    images = table.column("image") or []
    videos: list[Any] = []
    by_name: dict[str, int] = {}
    original = str(meta.get("source", ""))
    reread: list[Any] = []
    if kept and Path(original).is_file():
        try:
            reread = slp.read_videos(original, open_backend=False)
        except (OSError, KeyError, ValueError):
            reread = []
    for i, entry in enumerate(kept):
        if i < len(reread):
            video = reread[i]
        else:
            video = slp.make_video(original, json.loads(entry["json"]), open_backend=False)
        by_name[entry["name"]] = len(videos)
        videos.append(video)
    if names is None:  # not from a video: image sequences, one per image size
        return _image_sequences(sio, table, images)
    video_of, frame_of = [], []
    seen: dict[int, int] = {}
    widths, heights = table.column("width") or [], table.column("height") or []
    made: dict[int, list[int]] = {}  # videos the file did not have: [frames, height, width]
    for r in range(m):
        name = str(names[r])
        if name not in by_name:
            by_name[name] = len(videos)
            videos.append(sio.Video(filename=name, open_backend=False))
            made[by_name[name]] = [0, int(heights[r]), int(widths[r])]
        v = by_name[name]
        position = seen.get(v, 0)
        seen[v] = position + 1
        frame = frames[r] if frames is not None and frames[r] is not None else position
        video_of.append(v)
        frame_of.append(int(frame))
        if v in made:
            made[v][0] = max(made[v][0], int(frame) + 1)
    for v, (count, height, width) in made.items():  # their size, for sleap-io's readers
        videos[v].backend_metadata.update(
            {"filename": videos[v].filename, "shape": [count, height, width, 3]}
        )
    return videos, video_of, frame_of
