"""The public namespace: an explicit, sorted ``__all__`` and a docstring on every callable."""

from __future__ import annotations

import inspect
import types

import pytest

import posetable as pt
from posetable import errors

ISSUE_NAMES = {
    "COCO_FLIP_INDICES",
    "COCO_KEYPOINT_DEFAULT_POSE",
    "COCO_KEYPOINT_NAMES",
    "COCO_OKS_SIGMAS",
    "COCO_SKELETON",
    "COCO_SKELETON_COLORS",
    "KeypointHelper",
    "Keypoints2DInstances",
    "Keypoints2DSchema",
    "Table",
    "TableWriter",
    "errors",
    "list_tables",
}


@pytest.mark.parametrize("module", [pt, errors], ids=lambda m: m.__name__)
def test_all_is_sorted_unique_and_importable(module: types.ModuleType) -> None:
    names = list(module.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(module, name), name


def test_the_core_issue_names_are_public() -> None:
    assert set(pt.__all__) >= ISSUE_NAMES


def test_no_public_name_is_left_out_of_all() -> None:
    public = {
        name
        for name, value in vars(pt).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "posetable").startswith("posetable")
    }
    assert public <= set(pt.__all__), sorted(public - set(pt.__all__))


def _public_members(cls: type) -> list[tuple[str, object]]:
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property) or inspect.isfunction(member):
            out.append((name, member))
    return out


def test_every_public_callable_has_a_docstring() -> None:
    missing = []
    for name in pt.__all__:
        value = getattr(pt, name)
        if isinstance(value, types.ModuleType) or not callable(value):
            continue
        if not (value.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(value):
            for member_name, member in _public_members(value):
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{member_name}")
    assert missing == []


def test_public_classes_and_functions_have_an_example() -> None:
    lacking = [
        name
        for name in sorted(ISSUE_NAMES)
        if inspect.isclass(getattr(pt, name)) or inspect.isfunction(getattr(pt, name))
        if ">>>" not in (getattr(pt, name).__doc__ or "")
    ]
    assert lacking == []


CORE_MODULES = [
    "posetable",
    "posetable.errors",
    "posetable.schema",
    "posetable.instances",
    "posetable._arrow",
    "posetable._arrow_decode",
    "posetable._rows",
    "posetable.store",
    "posetable.table",
    "posetable._table_formats",
    "posetable.writer",
    "posetable.helper",
    "posetable.summary",
    "posetable.sample",
    "posetable.gc",
    "posetable._lance_local",
    "posetable.map_element",
    "posetable.split",
    "posetable.runs",
    "posetable.accept",
    "posetable.tlc",
    "posetable.tlc._table",
    "posetable.tlc._run",
    "posetable.diagnose.check",
    "posetable.diagnose.run_fixes",
    "posetable._text_columns",
    "posetable._run_suspects",
    "posetable.dashboard._frames",
    "posetable.dashboard._new_pose",
    "posetable.dashboard._review",
    "posetable.dashboard._weights",
    "posetable.dashboard._charts",
    "posetable.dashboard._compare",
    "posetable.dashboard._diff",
    "posetable.dashboard._explore",
    "posetable.dashboard._findings_files",
    "posetable.dashboard._check_process",
    "posetable.eval.keypoint_metrics",
    "posetable.eval.partial",
    "posetable.formats.label_studio",
    "posetable.formats._label_studio_tasks",
    "posetable.formats._label_studio_write",
    "posetable.formats.cvat",
    "posetable.formats.ndjson",
    "posetable.formats._labeling_common",
    "posetable.formats._images",
    "posetable.formats._imported",
    "posetable.formats.posetrack",
    "posetable.formats.mpii",
    "posetable.skeleton",
    "posetable.layouts",
    "posetable._flip_names",
    "posetable.sigmas",
    "posetable._gather",
]


@pytest.mark.parametrize("name", CORE_MODULES)
def test_core_docstring_examples_run(name: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples also run here, since the suite's paths (``tests``) do not reach ``src``."""
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)  # an example that uses the default store writes here
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0
    if name != "posetable._rows":
        assert result.attempted > 0, f"{name} has no example"


@pytest.mark.parametrize(
    "module", ["posetable._arrow_decode", "posetable._gather", "posetable._arrow"]
)
def test_a_low_level_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """The package is lazy, so a module may be the first thing imported: no import cycle."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
