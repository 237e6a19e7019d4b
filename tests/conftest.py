"""Shared fixtures: the real datasets in ../shared/data and a fresh store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POSETABLE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data_path(name: str) -> Path:
    """The folder ``../shared/data/<name>``; fails with a clear message when missing."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(
            f"real test data {path} is missing: the tests read the datasets in ../shared/data "
            "beside the project root (or set POSETABLE_SHARED_DATA)"
        )
    return path


@pytest.fixture
def shared_data():
    """``shared_data("coco_kpts")`` -> Path of a real dataset folder."""
    return shared_data_path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A fresh, empty store directory for the test."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _isolated_store_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never write to ./posetable-data: the default store is per test."""
    monkeypatch.setenv("POSETABLE_HOME", str(tmp_path / "default-store"))


@pytest.fixture
def coco_table(shared_data, store):
    """The real COCO person excerpt (``coco_kpts``) imported as table ``coco`` (revision 1)."""
    import warnings

    import posetable as pt
    from posetable.errors import PosetableWarning

    folder = shared_data("coco_kpts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return pt.Table.from_coco(
            folder / "annotations.json", folder / "images", name="coco", store=store
        )


@pytest.fixture(params=["native", "numpy"])
def eval_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test on each evaluation engine: the C kernel and the numpy reference.

    Where the kernel was not built (no C compiler at install time) the native run is skipped,
    unless ``POSETABLE_REQUIRE_KERNEL=1`` (CI sets it), where that is a failure.
    """
    from posetable.eval import _native

    if request.param == "native" and not _native.AVAILABLE:
        if os.environ.get("POSETABLE_REQUIRE_KERNEL") == "1":
            pytest.fail("POSETABLE_REQUIRE_KERNEL=1 but posetable.eval._kernel was not built")
        pytest.skip("the C kernel was not built (no C compiler at install time)")
    monkeypatch.setenv("POSETABLE_EVAL_ENGINE", request.param)
    return request.param
