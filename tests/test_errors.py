"""The error tree, and each bad input of the core issue raising its typed error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable import errors
from tests._core_tables import coco_table

REFINES = {
    errors.SchemaError: ValueError,
    errors.InstancesError: ValueError,
    errors.RowError: ValueError,
    errors.RowIndexError: IndexError,
    errors.FormatError: ValueError,
    errors.NotFoundError: LookupError,
    errors.RevisionError: ValueError,
    errors.ConflictError: errors.RevisionError,
    errors.RunError: ValueError,
    errors.MissingDependencyError: ImportError,
}


@pytest.mark.parametrize(("error", "builtin"), REFINES.items(), ids=lambda v: v.__name__)
def test_every_error_is_ours_and_the_builtin_it_refines(error: type, builtin: type) -> None:
    assert issubclass(error, errors.PosetableError)
    assert issubclass(error, builtin)
    assert error.__doc__


def test_all_names_every_error_class() -> None:
    classes = {name for name in dir(errors) if isinstance(getattr(errors, name), type)}
    ours = {n for n in classes if issubclass(getattr(errors, n), (errors.PosetableError, Warning))}
    assert ours <= set(errors.__all__)


def test_format_error_names_the_file_and_line() -> None:
    error = errors.FormatError("expected 51 numbers, got 50", path=Path("labels/a.txt"), line=3)
    assert str(error) == "labels/a.txt:3: expected 51 numbers, got 50"
    assert (error.path, error.line) == (Path("labels/a.txt"), 3)
    assert str(errors.FormatError("bad", path="x.json")) == "x.json: bad"
    assert str(errors.FormatError("bad")) == "bad"


def test_missing_extra_names_the_pip_command() -> None:
    error = errors.missing_extra("torch", "torch")
    assert isinstance(error, errors.MissingDependencyError)
    assert 'pip install "posetable[torch]"' in str(error)


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


def _k3(**kwargs: object) -> pt.Keypoints2DSchema:
    return pt.Keypoints2DSchema(3, **kwargs)  # type: ignore[arg-type]


# The core issue's list of bad inputs: each raises its typed error with the numbers involved.
ISSUE_CASES: list[tuple[str, type, str, Callable[..., object]]] = [
    (
        "sigmas of wrong length",
        errors.SchemaError,
        "length K=3, got 2",
        lambda: _k3(oks_sigmas=[0.1, 0.2]),
    ),
    (
        "sigmas non-positive",
        errors.SchemaError,
        r"> 0, got 0.0 at index 0",
        lambda: _k3(oks_sigmas=[0, 1, 1]),
    ),
    (
        "sigmas NaN",
        errors.SchemaError,
        r"got nan at index 1",
        lambda: _k3(oks_sigmas=[1, float("nan"), 1]),
    ),
    (
        "line index out of range",
        errors.SchemaError,
        r"in \[0, 2\] \(K=3\), got 5",
        lambda: _k3(lines=[0, 5]),
    ),
    (
        "flip indices not a permutation",
        errors.SchemaError,
        "own inverse",
        lambda: _k3(flip_indices=[0, 0, 0]),
    ),
    (
        "flip indices not their own inverse",
        errors.SchemaError,
        r"flip\[0\]=1 but flip\[1\]=2",
        lambda: _k3(flip_indices=[1, 2, 0]),
    ),
    (
        "keypoints of wrong shape",
        errors.InstancesError,
        r"\(N, K, 2\), got \(4, 6\)",
        lambda: pt.Keypoints2DInstances(np.zeros((4, 6))),
    ),
    (
        "keypoints of wrong K",
        errors.InstancesError,
        r"\(K=3, 2\) or \(K=3, 3\), got \(4, 2\)",
        lambda: pt.Keypoints2DInstances.create_empty(num_keypoints=3).add_instance(
            np.zeros((4, 2))
        ),
    ),
    (
        "visibility outside 0/1/2",
        errors.InstancesError,
        "must be 0, 1 or 2, got 3",
        lambda: pt.Keypoints2DInstances(np.zeros((1, 2, 2)), keypoint_visibilities=[[3, 0]]),
    ),
    (
        "NaN coordinates",
        errors.InstancesError,
        r"finite, got \[nan, 0.0\]",
        lambda: pt.Keypoints2DInstances([[[np.nan, 0.0]]]),
    ),
    (
        "inf coordinates",
        errors.InstancesError,
        r"finite, got \[0.0, inf\]",
        lambda: pt.Keypoints2DInstances([[[0.0, np.inf]]]),
    ),
]


@pytest.mark.parametrize(
    ("what", "error", "message", "call"), ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES]
)
def test_each_bad_input_of_the_issue_raises_its_typed_error(
    what: str, error: type, message: str, call: Callable[[], object]
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_table_level_bad_inputs_of_the_issue(coco: pt.Table, store: Path) -> None:
    with pytest.raises(errors.NotFoundError, match=r"no table named 'nope'.*known tables: coco"):
        pt.Table.open("nope", store=store)
    with pytest.raises(errors.NotFoundError, match="no revision 9; known revisions: 1"):
        pt.Table.open("coco@9", store=store)
    for missing in ("width", "height"):
        row = {"image": "a.jpg", "width": 1, "height": 1}
        del row[missing]
        with pytest.raises(errors.RowError, match=f"row 0: missing '{missing}'"):
            pt.Table.from_rows([row], name="x", schema=coco.schema, store=store)
    with pytest.raises(
        errors.RowError, match=r"row 2: keypoints must have shape \(N, K=17, 2\), got \(1, 3, 2\)"
    ):
        coco.with_rows({2: {"keypoints": pt.Keypoints2DInstances(np.zeros((1, 3, 2)))}})
    kp = coco[1]["keypoints"]
    kp.keypoint_visibilities[0, 4] = 7
    with pytest.raises(
        errors.RowError,
        match="row 1, instance 0: keypoint_visibilities must be 0, 1 or 2, got 7 at keypoint 4",
    ):
        coco.with_rows({1: {"keypoints": kp}})
