"""DeepLabCut labeled data (``CollectedData_<scorer>.csv`` / ``.h5`` + ``config.yaml``).

Read with pandas (``read_csv(header=[0, 1, 2(, 3)], index_col=...)``; ``.h5`` with
``read_hdf``, which needs PyTables: ``pip install "posetable[dlc]"``).

* **Rows**: one per labeled frame, in file order; ``image`` the absolute path (project
  folder / the index path), ``width``/``height`` from the image header (or ``image_size=``
  for frames whose image is not at hand), user column ``video`` (the ``labeled-data``
  subfolder).
* **Instances**: one per individual with at least one labeled point (single-animal files:
  one per frame). DeepLabCut has no visibility: a labeled point is v=2, an empty (NaN) one
  v=0 with x = y = 0. Multi-animal projects use one K = ``multianimalbodyparts`` +
  ``uniquebodyparts`` layout; the unique parts belong to the individual ``single``. The
  instance extra ``individual`` keeps the name.
* **Schema**: keypoint names from ``config.yaml`` (``bodyparts``, or the multi-animal
  lists), lines from ``skeleton``; a file whose bodyparts disagree with the config is a
  :class:`~posetable.errors.FormatError` naming both.
* **Metadata** ``metadata["dlc"]``: the config text, and per file its path, kind, scorer,
  header levels, column order and index form, so export writes the same file back (CSV:
  byte for byte as DeepLabCut's pandas writes it).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from posetable._arrow import keypoints_column
from posetable.errors import FormatError, UnsupportedError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import image_sizes_or_given
from posetable.formats._imported import Exported, Imported, as_path, require, rows_table
from posetable.formats._notes import Notes, first_few
from posetable.schema import Keypoints2DSchema

__all__ = ["read_dlc", "write_dlc"]

SINGLE = "single"  # DeepLabCut's individual holding the unique bodyparts


def _pandas() -> Any:
    return require("pandas", "dlc", "reading DeepLabCut files")


def _find_files(path: Path) -> tuple[list[Path], Path | None]:
    """The CollectedData files and the config.yaml of a file or project folder."""
    if path.is_dir():
        config = path / "config.yaml"
        found: list[Path] = []
        for video in sorted((path / "labeled-data").glob("*")):
            csvs = sorted(video.glob("CollectedData_*.csv"))
            found += csvs or sorted(video.glob("CollectedData_*.h5"))
        if not found:
            raise MissingFileError(f"{path}: no labeled-data/*/CollectedData_*.csv or .h5 found")
        return found, config if config.is_file() else None
    if not path.is_file():
        raise MissingFileError(f"{path}: no such DeepLabCut file")
    candidate = path.parent.parent.parent / "config.yaml"
    return [path], candidate if candidate.is_file() else None


def _load_config(config: Path | None) -> tuple[dict[str, Any], str]:
    if config is None:
        return {}, ""
    text = config.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(
            f"not valid YAML: {exc}", path=config, line=None if mark is None else mark.line + 1
        ) from None
    if not isinstance(data, dict):
        raise FormatError("a DeepLabCut config.yaml must be a mapping", path=config)
    return data, text


def _header_levels(path: Path) -> tuple[int, int]:
    """(header rows, index columns) of a CollectedData CSV, from its first lines."""
    with open(path, encoding="utf-8") as handle:
        head = [handle.readline().rstrip("\r\n").split(",") for _ in range(4)]
    if not head[0] or head[0][0] != "scorer":
        raise FormatError(
            f"the first header row must start with 'scorer', got {head[0][0]!r}", path=path, line=1
        )
    levels = 4 if len(head) > 1 and head[1] and head[1][0] == "individuals" else 3
    expected = (
        ["scorer", "individuals", "bodyparts", "coords"][:levels]
        if levels == 4
        else [
            "scorer",
            "bodyparts",
            "coords",
        ]
    )
    for i, name in enumerate(expected):
        if not head[i] or head[i][0] != name:
            found = head[i][0] if head[i] else ""
            raise FormatError(
                f"header row {i + 1} must start with {name!r}, got {found!r}", path=path, line=i + 1
            )
    index = 1
    while index < len(head[0]) and head[0][index] == "":
        index += 1
    return levels, index


def _read_frame(path: Path) -> tuple[Any, str, str | None]:
    """The DataFrame of one file, its kind and (for .h5) its key."""
    pd = _pandas()
    if path.suffix == ".h5":
        require("tables", "dlc", f"reading {path.name} (DeepLabCut .h5)")
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
        if not keys:
            raise FormatError("the HDF5 file holds no DataFrame", path=path)
        key = keys[0].lstrip("/")
        return pd.read_hdf(path, key=key), "h5", key
    levels, index = _header_levels(path)
    try:
        frame = pd.read_csv(path, header=list(range(levels)), index_col=list(range(index)))
    except (ValueError, pd.errors.ParserError) as exc:
        raise FormatError(f"not a DeepLabCut CSV: {exc}", path=path) from None
    return frame, "csv", None


def _parts(config: dict[str, Any], multi: bool) -> tuple[list[str], list[str]]:
    if multi:
        return list(config.get("multianimalbodyparts") or []), list(
            config.get("uniquebodyparts") or []
        )
    parts = config.get("bodyparts")
    return (list(parts) if isinstance(parts, list) else []), []


def _check_parts(
    path: Path, config_path: Path | None, file_parts: list[str], names: list[str]
) -> None:
    extra = [p for p in file_parts if p not in names]
    lacking = [p for p in names if p not in file_parts]
    if extra or lacking:
        said = []
        if extra:
            said.append(f"bodyparts not in the config: {first_few(extra)}")
        if lacking:
            said.append(f"config bodyparts missing from the file: {first_few(lacking)}")
        raise FormatError(
            f"the file's bodyparts disagree with {config_path}: {'; '.join(said)} "
            f"(config: {names}, file: {file_parts}); fix the config or the file",
            path=path,
        )


class _File:
    """One CollectedData file decoded into flat arrays."""

    def __init__(
        self, path: Path, root: Path, names: list[str], unique: list[str], config: Path | None
    ) -> None:
        pd = _pandas()
        frame, self.kind, self.key = _read_frame(path)
        self.path = path
        columns = frame.columns
        self.level_names = [str(n) for n in columns.names]
        multi = "individuals" in self.level_names
        if not isinstance(columns, pd.MultiIndex) or self.level_names[-1] != "coords":
            raise FormatError(
                f"expected column levels scorer/[individuals/]bodyparts/coords, got "
                f"{self.level_names}",
                path=path,
            )
        coords = [str(c) for c in columns.get_level_values("coords")]
        bad = sorted({c for c in coords if c not in ("x", "y")})
        if bad:
            raise FormatError(
                f"coords must be x and y (labeled data), got {bad}; machine-label files with "
                "'likelihood' are predictions, not supported by this reader",
                path=path,
            )
        parts = [str(p) for p in columns.get_level_values("bodyparts")]
        if multi:
            individuals = [str(i) for i in columns.get_level_values("individuals")]
        else:
            individuals = [""] * len(parts)
        self.scorer = str(columns.get_level_values("scorer")[0])
        self.columns = [[str(v) for v in col] for col in columns.to_list()]
        self.individuals = list(dict.fromkeys(individuals))
        all_names = names + unique
        if names:
            _check_parts(path, config, list(dict.fromkeys(parts)), list(dict.fromkeys(all_names)))
        else:
            all_names = list(dict.fromkeys(parts))
        self.names = all_names
        k = len(all_names)
        part_index = {n: j for j, n in enumerate(all_names)}
        ind_index = {n: i for i, n in enumerate(self.individuals)}
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        m = values.shape[0]
        full = np.full((m, len(self.individuals), k, 2), np.nan)
        ii = np.array([ind_index[i] for i in individuals], dtype=np.int64)
        jj = np.array([part_index[p] for p in parts], dtype=np.int64)
        cc = np.array([0 if c == "x" else 1 for c in coords], dtype=np.int64)
        full[:, ii, jj, cc] = values
        self.points = full
        index = frame.index
        if isinstance(index, pd.MultiIndex):
            self.index = [[str(v) for v in t] for t in index.to_list()]
            self.index_form = "levels"
            rel = ["/".join(t) for t in self.index]
        else:
            self.index = [[str(v)] for v in index.to_list()]
            self.index_form = "path"
            rel = [t[0] for t in self.index]
        prefix = str(root).rstrip("/") + "/"
        self.images = [prefix + r for r in rel]  # string joins: no Path per frame
        self.video = path.parent.name


def read_dlc(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> Imported:
    """Read DeepLabCut labeled data into posetable's row layout (see the module docstring).

    Args:
        path: a ``CollectedData_<scorer>.csv``/``.h5`` or a project folder (its
            ``labeled-data/*/CollectedData_*`` files, CSV preferred).
        config: the project's ``config.yaml`` (default: found beside ``labeled-data``).
        image_size: ``(width, height)`` for frames whose image file is not at hand.

    Raises:
        FormatError: a malformed file or bodyparts that disagree with the config.
        MissingFileError: the file, or an image without ``image_size``, is missing.
        MissingDependencyError: an ``.h5`` file without PyTables installed.

    Example:
        >>> from tests._data import data_path
        >>> imported = read_dlc(data_path("dlc") / "openfield", image_size=(640, 480))
        >>> imported.data.num_rows, imported.schema.keypoint_names
        (116, ('snout', 'leftear', 'rightear', 'tailbase'))
    """
    source = as_path(path)
    files, found_config = _find_files(source)
    config_path = as_path(config) if config is not None else found_config
    if config_path is not None and not config_path.is_file():
        raise MissingFileError(f"{config_path}: no such config.yaml")
    settings, config_text = _load_config(config_path)
    root = config_path.parent if config_path is not None else files[0].parent.parent.parent
    notes = Notes(source)
    multi = bool(settings.get("multianimalproject"))
    names, unique = _parts(settings, multi) if settings else ([], [])
    decoded: list[_File] = []
    for file in files:
        decoded.append(_File(file, root, names, unique, config_path))
    if config_path is None:
        notes.add("no config.yaml found: keypoint names from the file, no skeleton")
    all_names = decoded[0].names
    for f in decoded[1:]:
        if f.names != all_names:
            raise FormatError(f"bodyparts {f.names} differ from {decoded[0].path}'s {all_names}")
    k = len(all_names)
    index = {n: j for j, n in enumerate(all_names)}
    lines = []
    for pair in settings.get("skeleton") or []:
        if not isinstance(pair, list) or len(pair) != 2 or any(p not in index for p in pair):
            raise FormatError(
                f"skeleton entry {pair!r} must name two bodyparts of {all_names}", path=config_path
            )
        lines.append((index[pair[0]], index[pair[1]]))
    images = [img for f in decoded for img in f.images]
    widths, heights = image_sizes_or_given(
        images, image_size, notes, hint="pass image_size=(width, height) to give their size"
    )
    counts: list[np.ndarray] = []
    points: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    individual: list[np.ndarray] = []
    for f in decoded:
        labeled = np.asarray(~np.isnan(f.points).any(axis=3))  # (M, I, K)
        present = labeled.any(axis=2)  # (M, I)
        counts.append(present.sum(axis=1))
        pts = f.points[present]
        points.append(np.where(np.isnan(pts), 0.0, pts))
        vis.append(np.where(labeled[present], 2, 0))
        names_i = np.array(f.individuals, dtype=object)
        individual.append(names_i[np.nonzero(present)[1]])
    flat_points = np.concatenate(points) if points else np.zeros((0, k, 2))
    column = keypoints_column(
        np.concatenate(counts),
        flat_points.reshape(-1, k, 2),
        widths=widths,
        heights=heights,
        visibilities=np.concatenate(vis).reshape(-1, k),
        extras={"individual": np.concatenate(individual).astype(object)},
        extra_types={"individual": pa.string()},
        num_keypoints=k,
    )
    videos = pa.array([f.video for f in decoded for _ in f.images], pa.string())
    data = rows_table(images, widths, heights, column, {"video": videos})
    schema = Keypoints2DSchema(
        k, keypoint_names=all_names, lines=lines, classes=(str(settings.get("Task") or "animal"),)
    )
    meta = {
        "dlc": {
            "config_text": config_text,
            "config_path": None if config_path is None else str(config_path),
            "multianimal": multi,
            "keypoint_names": all_names,
            "lines": [list(p) for p in lines],
            "files": [
                {
                    "path": os.path.relpath(f.path, root),
                    "video": f.video,
                    "kind": f.kind,
                    "key": f.key,
                    "scorer": f.scorer,
                    "levels": f.level_names,
                    "columns": f.columns,
                    "individuals": f.individuals,
                    "index_form": f.index_form,
                }
                for f in decoded
            ],
        },
        "image_roots": [str(root)],
    }
    arguments = {"path": str(source), "files": len(decoded)}
    return Imported(data, schema, meta, notes, "import_dlc", arguments)


def write_dlc(
    table: Exported,
    path: str | os.PathLike[str],
    *,
    scorer: str | None = None,
    kind: str | None = None,
) -> Path:
    """Write DeepLabCut labeled data: a project folder (config.yaml + labeled-data) or a file.

    Args:
        table: the revision to write.
        path: a folder (the project: ``config.yaml`` and
            ``labeled-data/<video>/CollectedData_<scorer>.csv``) or one ``.csv``/``.h5`` file.
        scorer: the scorer (default: the imported file's, else ``"posetable"``).
            A table that did not come from DeepLabCut is laid out as DeepLabCut keeps a
            project: ``labeled-data/<video>/<image name>``, the images linked there.
        kind: ``"csv"`` or ``"h5"`` (default: as imported, else CSV).

    Raises:
        UnsupportedError: what DeepLabCut cannot hold (visibility 1 points, several
            instances of one individual in a frame, a unique bodypart on an animal).

    Returns:
        The folder or file written.
    """
    target = as_path(path)
    meta = dict(table.metadata.get("dlc") or {})
    schema = table.schema
    names = list(schema.keypoint_names)
    k = schema.num_keypoints
    flat = table.flat()
    vis = flat.visibilities
    occluded = int((vis == 1).sum())
    if occluded:
        raise UnsupportedError(
            f"{table.ref}: {occluded} points have visibility 1 (labeled, not visible); "
            "DeepLabCut labels have no visibility: set them to 2 or 0 first"
        )
    individual = table.extra(flat, "individual")
    files = meta.get("files") or []
    imported_multi = bool(meta.get("multianimal"))
    same_names = meta.get("keypoint_names") == names
    multi = imported_multi if same_names else False
    if individual is None:
        most = int(flat.counts.max()) if len(flat.counts) else 0
        multi = multi or most > 1
        rank = np.arange(len(vis)) - np.repeat(flat.offsets[:-1], flat.counts)
        individual = np.array([f"individual{r + 1}" if multi else "" for r in rank], object)
    roots = list(table.metadata.get("image_roots") or [])
    root = Path(roots[0]) if roots else None
    images = table.column("image") or []
    rel = [_relative(img, root) for img in images]
    videos = table.column("video") or [Path(r).parent.name or "posetable" for r in rel]
    links: list[tuple[Path, Path]] = []
    if not files and not target.suffix:  # not from DeepLabCut: lay the frames out as it does
        rel = [f"labeled-data/{v}/{Path(img).name}" for v, img in zip(videos, images, strict=True)]
        links = [(target / r, Path(img)) for r, img in zip(rel, images, strict=True)]
    by_video: dict[str, list[int]] = {}
    for row, video in enumerate(videos):
        by_video.setdefault(str(video), []).append(row)
    file_meta = {f["video"]: f for f in files} if same_names else {}
    single_file = target.suffix in (".csv", ".h5")
    if single_file and len(by_video) > 1:
        by_video = {next(iter(by_video)): list(range(len(images)))}
    written: list[tuple[Path, Any, str, str | None]] = []
    for video, rows in by_video.items():
        info = file_meta.get(video, {})
        who = scorer or info.get("scorer") or str(meta.get("scorer") or "posetable")
        frame = _frame(rows, flat, individual, rel, names, k, who, info, multi, table.ref)
        out_kind = kind or (target.suffix.lstrip(".") if single_file else info.get("kind", "csv"))
        if single_file:
            out = target
        else:
            out = target / "labeled-data" / video / f"CollectedData_{who}.{out_kind}"
        written.append((out, frame, out_kind, info.get("key")))
    for out, frame, out_kind, key in written:  # everything was built: now write
        out.parent.mkdir(parents=True, exist_ok=True)
        if out_kind == "h5":
            require("tables", "dlc", "writing DeepLabCut .h5 files")
            frame.to_hdf(out, key=key or "df_with_missing", mode="w")
        else:
            frame.to_csv(out)
    for link, image in links:  # the frames, linked beside their labels as DeepLabCut keeps them
        if image.is_file() and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(image.absolute())
    if not single_file:
        _write_config(target, meta, schema, same_names)
    return target


def _relative(image: str, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(image).relative_to(root).as_posix()
        except ValueError:
            pass
    return image


def _frame(
    rows: list[int],
    flat: Any,
    individual: np.ndarray,
    rel: list[str],
    names: list[str],
    k: int,
    scorer: str,
    info: dict[str, Any],
    multi: bool,
    ref: str,
) -> Any:
    pd = _pandas()
    columns = info.get("columns")
    if columns:
        columns = [list(c) for c in columns]
        for c in columns:
            c[0] = scorer
        levels = list(info["levels"])
    else:
        found = [str(i) for i in dict.fromkeys(individual.tolist())] or [""]
        if multi:
            columns = [[scorer, ind, p, c] for ind in found for p in names for c in ("x", "y")]
            levels = ["scorer", "individuals", "bodyparts", "coords"]
        else:
            columns = [[scorer, p, c] for p in names for c in ("x", "y")]
            levels = ["scorer", "bodyparts", "coords"]
    has_ind = "individuals" in levels
    inds = list(dict.fromkeys(c[1] for c in columns)) if has_ind else [""]
    ind_index = {n: i for i, n in enumerate(inds)}
    part_index = {n: j for j, n in enumerate(names)}
    values = np.full((len(rows), len(inds), k, 2), np.nan)
    for out_row, row in enumerate(rows):
        start, stop = int(flat.offsets[row]), int(flat.offsets[row + 1])
        for t in range(start, stop):
            who = str(individual[t]) if has_ind else ""
            if who not in ind_index:
                raise UnsupportedError(
                    f"{ref} row {row}: instance of individual {who!r}, which the DeepLabCut "
                    f"header does not have ({inds})"
                )
            slot = values[out_row, ind_index[who]]
            if not np.isnan(slot).all():
                raise UnsupportedError(
                    f"{ref} row {row}: two instances of individual {who!r}; DeepLabCut holds "
                    "one per individual and frame"
                )
            labeled = flat.visibilities[t] > 0
            slot[labeled] = flat.keypoints[t][labeled]
    ii, jj, cc = [], [], []
    for c in columns:
        ii.append(ind_index[c[1]] if has_ind else 0)
        part = c[-2]
        if part not in part_index:
            raise UnsupportedError(f"{ref}: bodypart {part!r} is not a keypoint of the table")
        jj.append(part_index[part])
        cc.append(0 if c[-1] == "x" else 1)
    covered = np.zeros((len(inds), k), bool)
    covered[ii, jj] = True
    lost = ~np.isnan(values).all(axis=3) & ~covered[None]
    if lost.any():
        r, i, j = (int(v) for v in np.argwhere(lost)[0])
        raise UnsupportedError(
            f"{ref} row {rows[r]}: individual {inds[i]!r} has keypoint {names[j]!r} labeled, "
            "which its DeepLabCut columns do not hold (a unique bodypart on an animal, or an "
            "animal part on 'single')"
        )
    data = values[:, ii, jj, cc]
    col_index = pd.MultiIndex.from_tuples([tuple(c) for c in columns], names=levels)
    form = info.get("index_form", "levels")
    if form == "path":
        index: Any = pd.Index([rel[r] for r in rows])
    else:
        index = pd.MultiIndex.from_tuples([tuple(rel[r].split("/")) for r in rows])
    return pd.DataFrame(data, index=index, columns=col_index)


def _write_config(
    target: Path, meta: dict[str, Any], schema: Keypoints2DSchema, same: bool
) -> None:
    text = meta.get("config_text") or ""
    lines_same = meta.get("lines") == [list(p) for p in schema.lines]
    if text and same and lines_same:
        (target / "config.yaml").write_text(text, encoding="utf-8")
        return
    config: dict[str, Any] = yaml.safe_load(io.StringIO(text)) if text else {}
    names = list(schema.keypoint_names)
    if config.get("multianimalproject") and same:
        pass
    else:
        config["multianimalproject"] = False
        config["bodyparts"] = names
    config["skeleton"] = [[names[a], names[b]] for a, b in schema.lines]
    (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
