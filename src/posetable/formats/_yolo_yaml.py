"""An Ultralytics pose ``data.yaml``: reading, resolving splits, the schema it describes.

``path`` resolves as DESIGN says: absent -> the YAML's folder; absolute -> as is; relative
-> against the YAML's folder, then the working directory. A split entry (``train``,
``val``, ``test``) is a folder (searched recursively for images), a ``.txt`` list of image
paths (``./x`` and other relative lines are relative to the list file), a glob, an image
file, or a list of those. Label files follow Ultralytics' rule: the last ``/images/`` of an
image path becomes ``/labels/`` and the suffix ``.txt``.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from posetable._coco_constants import COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS
from posetable.errors import FormatError, SchemaError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import is_image_name
from posetable.schema import Keypoints2DSchema

SPLITS = ("train", "val", "test")
LAYOUT_KEYS = ("path", "train", "val", "test", "minival")


def find_yaml(path: str | os.PathLike[str]) -> Path:
    """The data.yaml itself, or the only ``*.yaml`` in a folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        if len(found) != 1:
            raise MissingFileError(
                f"{p} is a folder with {len(found)} YAML files; give the data.yaml itself"
            )
        return found[0]
    if not p.exists():
        raise MissingFileError(f"data.yaml {p} does not exist")
    return p


def load_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping; FormatError with the line on a syntax error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise FormatError(f"not valid YAML: {exc.problem}", path=path, line=line) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise FormatError(f"cannot read the YAML: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise FormatError(
            f"a data.yaml must be a mapping of keys, found {type(data).__name__}", path=path
        )
    return data


def key_line(path: Path, key: str) -> int | None:
    """The line where a top-level key is written (for messages)."""
    try:
        for number, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if text.startswith(f"{key}:"):
                return number
    except OSError:
        return None
    return None


def dataset_root(data: dict[str, Any], yaml_path: Path) -> Path:
    """The folder the split entries are relative to (see the module docstring)."""
    base = yaml_path.parent.absolute()
    value = data.get("path")
    if value in (None, ""):
        return base
    root = Path(str(value)).expanduser()
    if root.is_absolute():
        return Path(os.path.normpath(root))
    if (base / root).exists() or not (Path.cwd() / root).exists():
        return Path(os.path.normpath(base / root))
    return Path(os.path.normpath(Path.cwd() / root))


def _entry_images(root: Path, entry: Any, yaml_path: Path, split: str) -> list[str]:
    if isinstance(entry, (list, tuple)):
        return [p for item in entry for p in _entry_images(root, item, yaml_path, split)]
    if not isinstance(entry, (str, os.PathLike)):
        raise FormatError(
            f"'{split}' must be a folder, a list file or a list of them, found {entry!r}",
            path=yaml_path,
            line=key_line(yaml_path, split),
        )
    p = Path(entry).expanduser()
    p = p if p.is_absolute() else root / p
    if p.is_dir():
        found = glob.glob(str(Path(glob.escape(str(p))) / "**" / "*.*"), recursive=True)
        return [os.path.normpath(f) for f in found if is_image_name(f)]
    if p.is_file() and p.suffix.lower() == ".txt":
        lines = p.read_text(encoding="utf-8-sig").strip().splitlines()
        out = []
        for text in (t.strip() for t in lines):
            if not text or not is_image_name(text):
                continue
            item = Path(text[2:] if text.startswith("./") else text).expanduser()
            if not item.is_absolute():
                near = p.parent / item
                item = near if near.exists() or not item.exists() else item.absolute()
            out.append(os.path.normpath(item))
        return out
    if p.is_file() and is_image_name(p.name):
        return [os.path.normpath(p)]
    if any(c in str(entry) for c in "*?["):
        return [os.path.normpath(f) for f in glob.glob(str(p), recursive=True) if is_image_name(f)]
    raise MissingFileError(
        f"{yaml_path}: split '{split}' names {p}, which does not exist (resolved against "
        f"the dataset root {root})"
    )


def split_images(data: dict[str, Any], yaml_path: Path, split: str) -> tuple[Path, list[str]]:
    """The dataset root and the sorted image paths of one split."""
    if split not in data or data[split] in (None, ""):
        given = [s for s in (*SPLITS, "minival") if data.get(s) not in (None, "")]
        raise FormatError(
            f"the data.yaml has no '{split}' split; it has {given or 'none'}",
            path=yaml_path,
        )
    root = dataset_root(data, yaml_path)
    images = sorted(set(_entry_images(root, data[split], yaml_path, split)))
    if not images:
        raise FormatError(
            f"split '{split}' ({data[split]!r} under {root}) holds no images "
            f"(suffixes: .jpg, .png, ...)",
            path=yaml_path,
            line=key_line(yaml_path, split),
        )
    return root, images


def label_paths(images: list[str]) -> list[str]:
    """Ultralytics' label file of each image (``/images/`` -> ``/labels/``, ``.txt``).

    Example:
        >>> label_paths(["/d/images/train/a.jpg"])
        ['/d/labels/train/a.txt']
    """
    a, b = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return [b.join(p.rsplit(a, 1)).rsplit(".", 1)[0] + ".txt" for p in images]


@dataclass(frozen=True)
class YoloLayout:
    """What a data.yaml says about the keypoints."""

    schema: Keypoints2DSchema
    num_keypoints: int
    ndim: int
    class_count: int


def _names(data: dict[str, Any], path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict):
        keys = sorted(names)
        if any(not isinstance(k, int) for k in keys) or keys != list(range(len(keys))):
            raise FormatError(
                f"'names' must map the class ids 0..{len(keys) - 1} to names, found keys "
                f"{keys[:8]}",
                path=path,
                line=key_line(path, "names"),
            )
        return [str(names[k]) for k in keys]
    if isinstance(names, (list, tuple)) and names:
        return [str(n) for n in names]
    if names is None and isinstance(data.get("nc"), int):
        return [f"class{i}" for i in range(int(data["nc"]))]
    raise FormatError(
        f"'names' must be a list or a mapping of class names, found {names!r}",
        path=path,
        line=key_line(path, "names"),
    )


def _kpt_shape(data: dict[str, Any], path: Path) -> tuple[int, int]:
    shape = data.get("kpt_shape")
    ok = (
        isinstance(shape, (list, tuple))
        and len(shape) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
        and shape[0] >= 1
        and shape[1] in (2, 3)
    )
    if not ok:
        raise FormatError(
            f"'kpt_shape' must be [K, 2] or [K, 3] (K keypoints of x, y[, visibility]), found "
            f"{shape!r}; a pose dataset needs it",
            path=path,
            line=key_line(path, "kpt_shape"),
        )
    return int(shape[0]), int(shape[1])  # type: ignore[index]


def _keypoint_names(data: dict[str, Any], k: int, path: Path) -> list[str] | None:
    value = data.get("kpt_names")
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get(0, next(iter(value.values()), None)) if value else None
    if not isinstance(value, (list, tuple)) or len(value) != k:
        found = len(value) if isinstance(value, (list, tuple)) else repr(value)
        raise FormatError(
            f"'kpt_names' must name the K={k} keypoints (kpt_shape), found {found}",
            path=path,
            line=key_line(path, "kpt_names"),
        )
    return [str(n) for n in value]


def yolo_layout(data: dict[str, Any], path: Path) -> YoloLayout:
    """The schema a data.yaml describes; errors name the key and its line."""
    classes = _names(data, path)
    k, ndim = _kpt_shape(data, path)
    names = _keypoint_names(data, k, path)
    flip = data.get("flip_idx")
    sigmas = data.get("kpt_oks_sigmas")
    is_coco = k == 17 and (
        tuple(names or ()) == COCO_KEYPOINT_NAMES or (names is None and ndim == 3)
    )
    if sigmas is None and is_coco:
        sigmas = COCO_OKS_SIGMAS  # what Ultralytics uses for [17, 3] data
    lines = data.get("skeleton")
    for key, value in (("flip_idx", flip), ("kpt_oks_sigmas", sigmas), ("skeleton", lines)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise FormatError(
                f"'{key}' must be a list, found {value!r}", path=path, line=key_line(path, key)
            )
    try:
        schema = Keypoints2DSchema(
            k,
            keypoint_names=names,
            lines=lines,
            flip_indices=flip,
            oks_sigmas=sigmas,
            classes=classes,
        )
    except SchemaError as exc:
        text = str(exc)
        culprit = next(
            (
                name
                for name, word in (
                    ("flip_idx", "flip_indices"),
                    ("kpt_oks_sigmas", "oks_sigmas"),
                    ("skeleton", "lines"),
                    ("kpt_names", "keypoint_names"),
                )
                if text.startswith(word)
            ),
            None,
        )
        label = culprit or "data.yaml"
        raise FormatError(
            f"'{label}': {text.replace('flip_indices', 'flip_idx')} (kpt_shape {[k, ndim]})",
            path=path,
            line=key_line(path, culprit) if culprit else None,
        ) from None
    return YoloLayout(schema, k, ndim, len(classes))
