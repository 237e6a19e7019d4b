"""``Table.from_<format>`` and ``table.export_<format>``: thin entries to :mod:`posetable.formats`.

A mixin of :class:`posetable.table.Table`, kept apart so the class reads as storage, reading
and editing; every method here hands over to one format module (DESIGN §3: formats never
import ``Table``; these methods are the only crossing).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from posetable.store import StoreLike, check_if_exists, resolve_store

if TYPE_CHECKING:
    from posetable.table import Table


class TableFormats:
    """The format entries of :class:`~posetable.table.Table` (see each format module)."""

    # -- formats (implemented in posetable.formats) --------------------------------------
    @classmethod
    def from_coco(
        cls,
        annotation_file: str | os.PathLike[str],
        image_folder: str | os.PathLike[str] | None = None,
        *,
        name: str,
        store: StoreLike = None,
        **options: Any,
    ) -> Table:
        """Import a COCO keypoints JSON (see :func:`posetable.formats.coco.table_from_coco`)."""
        from posetable.formats.coco import table_from_coco

        return table_from_coco(annotation_file, image_folder, name=name, store=store, **options)

    @classmethod
    def from_yolo(
        cls,
        data_yaml: str | os.PathLike[str],
        *,
        split: str = "train",
        name: str,
        store: StoreLike = None,
        **options: Any,
    ) -> Table:
        """Import an Ultralytics YOLO-pose dataset.

        See :func:`posetable.formats.yolo.table_from_yolo`.
        """
        from posetable.formats.yolo import table_from_yolo

        return table_from_yolo(data_yaml, split=split, name=name, store=store, **options)

    def export_coco(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write this revision as COCO keypoints JSON.

        See :func:`posetable.formats.coco.export_coco`.
        """
        from posetable.formats.coco import export_coco

        return export_coco(_table(self), path, **options)

    def export_yolo(
        self, folder: str | os.PathLike[str], *, image_mode: str = "symlink", **options: Any
    ) -> Path:
        """Write this revision as an Ultralytics YOLO-pose folder.

        See :func:`posetable.formats.yolo.export_yolo`.
        """
        from posetable.formats.yolo import export_yolo

        return export_yolo(_table(self), folder, image_mode=image_mode, **options)

    # -- more formats: each reader returns Arrow + schema, each writer takes them --------
    @classmethod
    def _from_reader(
        cls,
        reader: Callable[..., Any],
        source: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike,
        if_exists: str,
        options: Mapping[str, Any],
    ) -> Table:
        """Check the name, read ``source`` with a format reader, write, then emit its notes."""
        check_if_exists(resolve_store(store), name, if_exists, f"the import of {source}")
        imported = reader(source, **options)
        table = cast("type[Table]", cls).from_arrow(
            imported.data,
            name=name,
            schema=imported.schema,
            store=store,
            metadata=imported.metadata,
            if_exists=if_exists,
            operation=imported.operation,
            arguments=imported.arguments,
        )
        imported.notes.emit(stacklevel=4)
        return table

    def _exported(self) -> Any:
        from posetable.formats._imported import Exported

        table = _table(self)
        return Exported(table.to_arrow(), table.schema, table.metadata, table.ref)

    @classmethod
    def from_dlc(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import DeepLabCut labeled data (a project folder or a ``CollectedData_*`` file).

        See :func:`posetable.formats.dlc.read_dlc` for ``config=`` and ``image_size=``.

        Example:
            >>> import posetable as pt, tempfile
            >>> from tests._data import data_path
            >>> t = pt.Table.from_dlc(data_path("dlc") / "multi_mouse", name="mice",
            ...                       store=tempfile.mkdtemp())
            >>> len(t), t.schema.keypoint_names[:2]
            (5, ('bodypart1', 'bodypart2'))
        """
        from posetable.formats.dlc import read_dlc

        return cls._from_reader(
            read_dlc, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_dlc(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write DeepLabCut labeled data (see :func:`posetable.formats.dlc.write_dlc`)."""
        from posetable.formats.dlc import write_dlc

        return write_dlc(self._exported(), path, **options)

    # -- Label Studio, CVAT, Ultralytics NDJSON (formats/label_studio.py, cvat.py, ndjson.py) --
    @classmethod
    def from_label_studio(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import a Label Studio JSON export with ``KeyPointLabels``.

        See :func:`posetable.formats.label_studio.read_label_studio` for
        ``keypoint_names=``, ``label_config=``, ``image_folder=`` and ``image_size=``.

        Example:
            >>> import posetable as pt, tempfile
            >>> from tests._data import data_path
            >>> folder = data_path("label_studio") / "sdk_yolo_keypoints"
            >>> t = pt.Table.from_label_studio(folder / "data_keypoints.json", name="ls",
            ...     label_config=folder / "label_config_keypoints.xml", store=tempfile.mkdtemp())
            >>> len(t), t.schema.keypoint_names[:2]
            (1, ('nose', 'left_eye'))
        """
        from posetable.formats.label_studio import read_label_studio

        return cls._from_reader(
            read_label_studio, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_label_studio(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a Label Studio JSON export.

        See :func:`posetable.formats.label_studio.write_label_studio`.
        """
        from posetable.formats.label_studio import write_label_studio

        return write_label_studio(self._exported(), path, **options)

    @classmethod
    def from_cvat(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import a CVAT for images 1.1 XML file with skeletons.

        See :func:`posetable.formats.cvat.read_cvat` for ``label=`` and ``image_folder=``.

        Example:
            >>> import posetable as pt, tempfile, warnings
            >>> from tests._data import data_path
            >>> with warnings.catch_warnings(record=True) as notes:
            ...     warnings.simplefilter("always")
            ...     t = pt.Table.from_cvat(data_path("cvat") / "datumaro" / "train.xml",
            ...                            name="c", store=tempfile.mkdtemp())
            >>> len(t), t.schema.keypoint_names, "other shapes are kept" in str(notes[0].message)
            (2, ('1', '2', '3', '4'), True)
        """
        from posetable.formats.cvat import read_cvat

        return cls._from_reader(
            read_cvat, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_cvat(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a CVAT for images 1.1 XML file (see :func:`posetable.formats.cvat.write_cvat`)."""
        from posetable.formats.cvat import write_cvat

        return write_cvat(self._exported(), path, **options)

    @classmethod
    def from_ndjson(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import an Ultralytics NDJSON pose dataset (an Ultralytics Platform export).

        See :func:`posetable.formats.ndjson.read_ndjson` for ``image_folder=`` and
        ``image_size=``.

        Example:
            >>> import posetable as pt, tempfile
            >>> from tests._data import data_path
            >>> t = pt.Table.from_ndjson(data_path("ndjson") / "coco8-pose.ndjson", name="n",
            ...                          store=tempfile.mkdtemp())
            >>> len(t), t.schema.num_keypoints
            (4, 17)
        """
        from posetable.formats.ndjson import read_ndjson

        return cls._from_reader(
            read_ndjson, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_ndjson(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write an Ultralytics NDJSON pose dataset.

        See :func:`posetable.formats.ndjson.write_ndjson` for ``split=`` and ``image_mode=``.
        """
        from posetable.formats.ndjson import write_ndjson

        return write_ndjson(self._exported(), path, **options)

    # -- SLEAP, PoseTrack, MPII (formats/sleap.py, posetrack.py, mpii.py) ---------------------
    @classmethod
    def from_sleap(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import a SLEAP ``.slp`` file (user and predicted instances, tracks, videos).

        See :func:`posetable.formats.sleap.read_sleap` for ``skeleton=`` and
        ``image_size=``; needs ``pip install "posetable[sleap]"`` (so this example runs in
        ``tests/test_formats_sleap.py``, where the extra is installed).

        Example:
            >>> import posetable as pt, tempfile
            >>> from tests._data import data_path
            >>> t = pt.Table.from_sleap(data_path("sleap") / "minimal_instance.pkg.slp",
            ...                         name="mice", store=tempfile.mkdtemp())  # doctest: +SKIP
            >>> len(t), t.schema.keypoint_names, t[0]["frame_index"]  # doctest: +SKIP
            (1, ('A', 'B'), 0)
        """
        from posetable.formats.sleap import read_sleap

        return cls._from_reader(
            read_sleap, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_sleap(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a SLEAP ``.slp`` file (see :func:`posetable.formats.sleap.write_sleap`)."""
        from posetable.formats.sleap import write_sleap

        return write_sleap(self._exported(), path, **options)

    @classmethod
    def from_posetrack(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import PoseTrack 2018 JSON (a file, or a folder of per-video files).

        See :func:`posetable.formats.posetrack.read_posetrack` for ``image_folder=``.

        Example:
            >>> import posetable as pt, tempfile, warnings
            >>> from tests._data import data_path
            >>> with warnings.catch_warnings():
            ...     warnings.simplefilter("ignore")
            ...     t = pt.Table.from_posetrack(
            ...         data_path("posetrack18") / "annotations/test_posetrack18_val.json",
            ...         name="pt", store=tempfile.mkdtemp())
            >>> len(t), t.schema.num_keypoints, t[0]["video"]
            (3, 17, '012834')
        """
        from posetable.formats.posetrack import read_posetrack

        return cls._from_reader(
            read_posetrack, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_posetrack(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write PoseTrack 2018 JSON (see :func:`posetable.formats.posetrack.write_posetrack`)."""
        from posetable.formats.posetrack import write_posetrack

        return write_posetrack(self._exported(), path, **options)

    @classmethod
    def from_mpii(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str,
        store: StoreLike = None,
        if_exists: str = "error",
        **options: Any,
    ) -> Table:
        """Import MPII Human Pose annotations (the official ``.mat``, or mmpose's JSON).

        See :func:`posetable.formats.mpii.read_mpii` for ``image_folder=`` and
        ``image_size=``; a ``.mat`` needs ``pip install "posetable[mpii]"``.

        Example:
            >>> import posetable as pt, tempfile
            >>> from tests._data import data_path
            >>> t = pt.Table.from_mpii(data_path("mpii") / "test_mpii.json", name="mpii",
            ...                        store=tempfile.mkdtemp())
            >>> len(t), t.schema.keypoint_names[:2], (t[1]["width"], t[1]["height"])
            (5, ('right_ankle', 'right_knee'), (854, 480))
        """
        from posetable.formats.mpii import read_mpii

        return cls._from_reader(
            read_mpii, path, name=name, store=store, if_exists=if_exists, options=options
        )

    def export_mpii(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write MPII in mmpose's JSON layout (see :func:`posetable.formats.mpii.write_mpii`).

        Writing MPII's ``.mat`` is not supported (an ``UnsupportedError`` says so).
        """
        from posetable.formats.mpii import write_mpii

        return write_mpii(self._exported(), path, **options)


def _table(mixin: TableFormats) -> Table:
    """The :class:`~posetable.table.Table` a mixin method runs on (the only class using it)."""
    return cast("Table", mixin)
