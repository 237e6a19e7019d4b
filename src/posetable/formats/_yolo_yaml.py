"""An Ultralytics pose ``data.yaml``: reading, resolving splits, the schema it describes.

``path`` resolves as DESIGN says: absent -> the YAML's folder; absolute -> as is; relative
-> against the YAML's folder, then the working directory. A split entry (``train``,
``val``, ``test``) is a folder (searched recursively for images), a ``.txt`` list of image
paths (``./x`` and other relative lines are relative to the list file), a glob, an image
file, or a list of those. Label files follow Ultralytics' rule: the last ``/images/`` of an
image path becomes ``/labels/`` and the suffix ``.txt``.

Hostile layouts are bounded: folders are walked following symlinks (as Ultralytics'
recursive glob does) but each real folder once, and a symlink back to the split folder or
above it is not followed (a loop); a file reached by several paths (symlinks, hard links,
list entries) is imported once, with a warning; a list file entry outside the dataset root
and the list file's folder is a FormatError naming the list file and line. The YAML is
read with a safe loader that refuses aliases (``*x``: a few hundred bytes of aliases can
expand to gigabytes), naming the line; posetable writes its data.yaml without them.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import yaml

from posetable._coco_constants import COCO_KEYPOINT_NAMES, COCO_OKS_SIGMAS
from posetable.errors import FormatError, SchemaError
from posetable.formats._errors import MissingFileError
from posetable.formats._images import is_image_name
from posetable.formats._notes import Notes, count_text, first_few
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


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses aliases (``*name``, ``<<: *name``).

    An alias repeats a node without repeating its text, so a few hundred bytes can expand
    into gigabytes ("billion laughs"); a data.yaml never needs one.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases are not allowed in a data.yaml, found *{event.anchor}; write the "
                "value out instead",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _NoAliasDumper(yaml.SafeDumper):
    """PyYAML's safe dumper writing every value out (no ``&id001`` / ``*id001``), so that
    the data.yaml posetable writes is one that it (and any alias-refusing reader) reads."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Any, stream: Any) -> None:
    """Write a data.yaml without aliases."""
    yaml.dump(
        document,
        stream,
        Dumper=_NoAliasDumper,
        sort_keys=False,
        default_flow_style=None,
        allow_unicode=True,
    )


def safe_yaml(text: str) -> Any:
    """A YAML document read with the alias-refusing safe loader (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_NoAliasLoader)


def load_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping; FormatError with the line on a syntax error or an alias."""
    try:
        data = safe_yaml(path.read_text(encoding="utf-8-sig"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = str(exc.problem)
        text = problem if problem.startswith("aliases") else f"not valid YAML: {problem}"
        raise FormatError(text, path=path, line=line) from None
    except RecursionError:
        raise FormatError(
            "YAML nested too deeply (past Python's recursion limit); a data.yaml needs 3 levels",
            path=path,
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise FormatError(f"cannot read the YAML: {exc}"[:300], path=path) from None
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


class _Images:
    """The image files of one split, each file once however many paths reach it.

    Folders are walked following symlinks (as Ultralytics' recursive glob does) but each
    real folder only once, so a link back to a parent cannot loop; a file reached again
    (through a symlink, a hard link, a folder linked twice, a repeated list entry) keeps
    its first path in sorted order and the others are counted for a note.
    """

    def __init__(self) -> None:
        self.found: list[tuple[str, object]] = []  # (path, file identity or the path)
        self.folders: set[tuple[int, int]] = set()
        self.folders_again = 0

    def add_file(self, path: str) -> None:
        try:
            st = os.stat(path)
            key: object = (st.st_dev, st.st_ino)
        except OSError:  # missing: reported (or skipped) with the other missing images
            key = path
        self.found.append((path, key))

    def add_folder(self, top: str) -> None:
        real_top = os.path.join(os.path.realpath(top), "")
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                st = os.stat(folder)
                entries = list(os.scandir(folder))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in self.folders:
                self.folders_again += 1
                continue
            self.folders.add((st.st_dev, st.st_ino))
            for entry in entries:
                if entry.name.startswith("."):  # glob's '*' skips hidden names too
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir and entry.is_symlink():
                    target = os.path.join(os.path.realpath(entry.path), "")
                    if real_top.startswith(target):  # a link to the split folder or above it
                        self.folders_again += 1
                        continue
                if is_dir:
                    stack.append(entry.path)
                elif is_image_name(entry.name):
                    path = os.path.normpath(entry.path)
                    if entry.is_symlink():
                        self.add_file(path)
                    else:
                        self.found.append((path, (st.st_dev, entry.inode())))

    def unique(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Sorted unique paths, and (dropped path, kept path) for files reached twice."""
        first: dict[object, str] = {}
        again: list[tuple[str, str]] = []
        for path, key in sorted(set(self.found), key=itemgetter(0)):
            kept = first.setdefault(key, path)
            if kept != path:
                again.append((path, kept))
        return sorted(first.values()), again


def _inside(path: str, folder: Path) -> bool:
    return path == str(folder) or path.startswith(os.path.join(str(folder), ""))


def _list_file(p: Path, root: Path, images: _Images) -> None:
    """The image paths a ``.txt`` list file names (``./x`` and relative lines are relative
    to the list file); each must lie under the dataset root or the list file's folder."""
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the list file: {exc}", path=p) from None
    near_root = Path(os.path.normpath(p.parent.absolute()))
    for number, text in enumerate((t.strip() for t in lines), 1):
        if not text or not is_image_name(text):
            continue
        item = Path(text[2:] if text.startswith("./") else text).expanduser()
        if not item.is_absolute():
            near = p.parent / item
            item = near if near.exists() or not item.exists() else item.absolute()
        path = os.path.normpath(item.absolute())
        if not (_inside(path, root) or _inside(path, near_root)):
            raise FormatError(
                f"the list entry {text!r} is {path}, outside the dataset root {root} and the "
                "list file's folder; list images under the root (or set 'path' in the "
                "data.yaml to a folder that holds them)",
                path=p,
                line=number,
            )
        images.add_file(path)


def _entry_images(root: Path, entry: Any, yaml_path: Path, split: str, images: _Images) -> None:
    if isinstance(entry, (list, tuple)):
        for item in entry:
            _entry_images(root, item, yaml_path, split, images)
        return
    if not isinstance(entry, (str, os.PathLike)):
        raise FormatError(
            f"'{split}' must be a folder, a list file or a list of them, found {entry!r}"[:300],
            path=yaml_path,
            line=key_line(yaml_path, split),
        )
    p = Path(entry).expanduser()
    p = p if p.is_absolute() else root / p
    if p.is_dir():
        images.add_folder(str(p))
    elif p.is_file() and p.suffix.lower() == ".txt":
        _list_file(p, root, images)
    elif p.is_file() and is_image_name(p.name):
        images.add_file(os.path.normpath(p))
    elif any(c in str(entry) for c in "*?["):
        _glob(p, images)
    else:
        raise MissingFileError(
            f"{yaml_path}: split '{split}' names {p}, which does not exist (resolved against "
            f"the dataset root {root})"
        )


def _glob(pattern: Path, images: _Images) -> None:
    """The images a glob pattern matches; ``**`` matches any folders, walked as a folder
    split is (each real folder once, so symlink loops end)."""
    parts = pattern.parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in "*?["))
    base = Path(*parts[:fixed])
    wanted = list(parts[fixed:])
    walked = _Images()
    walked.add_folder(str(base))
    for path, key in walked.found:
        relative = Path(path).relative_to(base).parts
        if _matches(list(relative), wanted):
            images.found.append((path, key))
    images.folders_again += walked.folders_again


def _matches(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _matches(parts[1:], rest)


def split_images(
    data: dict[str, Any], yaml_path: Path, split: str, notes: Notes | None = None
) -> tuple[Path, list[str]]:
    """The dataset root and the sorted image paths of one split, each file once.

    Files reached by several paths (symlinks, hard links, repeated list entries) are
    imported once, under their first path in sorted order, with a note.
    """
    if split not in data or data[split] in (None, ""):
        given = [s for s in (*SPLITS, "minival") if data.get(s) not in (None, "")]
        raise FormatError(
            f"the data.yaml has no '{split}' split; it has {given or 'none'}",
            path=yaml_path,
        )
    root = dataset_root(data, yaml_path)
    found = _Images()
    _entry_images(root, data[split], yaml_path, split, found)
    images, again = found.unique()
    if not images:
        raise FormatError(
            f"split '{split}' ({data[split]!r} under {root}) holds no images "
            f"(suffixes: .jpg, .png, ...)",
            path=yaml_path,
            line=key_line(yaml_path, split),
        )
    if notes is not None and again:
        shown = first_few(f"{a} (same file as {b})" for a, b in again)
        verb = "reaches" if len(again) == 1 else "reach"
        notes.add(
            f"split '{split}': {count_text(len(again), 'image path')} {verb} a file already "
            f"listed (through symlinks, hard links or list entries); each file is imported "
            f"once: {shown}"
        )
    if notes is not None and found.folders_again:
        notes.add(
            f"split '{split}': {count_text(found.folders_again, 'symlinked folder')} "
            "(a loop back to the split folder or above it, or a folder linked twice) "
            "not read again"
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
    """The class names. As in Ultralytics (``check_class_names``), a list or a mapping of
    class ids (``0`` or ``"0"``) to names, and a number or boolean name becomes its text
    (``5`` -> ``"5"``, ``true`` -> ``"True"``); a null, list or mapping as a name is refused.
    """
    names = data.get("names")
    line = key_line(path, "names")
    if isinstance(names, dict):
        ids = {_class_id(k): v for k, v in names.items()}
        if None in ids or len(ids) != len(names) or sorted(ids) != list(range(len(ids))):  # type: ignore[type-var]
            raise FormatError(
                f"'names' must map the class ids 0..{len(names) - 1} to names, found keys "
                f"{list(names)[:8]}",
                path=path,
                line=line,
            )
        return [_class_name(ids[i], i, path, line) for i in range(len(ids))]
    if isinstance(names, (list, tuple)) and names:
        return [_class_name(n, i, path, line) for i, n in enumerate(names)]
    if names is None and isinstance(data.get("nc"), int) and not isinstance(data["nc"], bool):
        return [f"class{i}" for i in range(int(data["nc"]))]
    raise FormatError(
        f"'names' must be a list or a mapping of class names, found {names!r}"[:300],
        path=path,
        line=line,
    )


def _class_id(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return None


def _class_name(value: Any, class_id: Any, path: Path, line: int | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)  # what Ultralytics' check_class_names does
    raise FormatError(
        f"'names': class {class_id} must be named by a string, found "
        + ("null" if value is None else f"a {type(value).__name__} {value!r}"[:200]),
        path=path,
        line=line,
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
