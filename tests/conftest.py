"""Shared fixtures: the real datasets in tests/data (``tests/_data.py``), a store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._data import data_path, missing_datasets, missing_message


def pytest_sessionstart(session: pytest.Session) -> None:
    """A missing test data folder stops the run with one message, not hundreds of errors."""
    if missing_datasets():
        raise pytest.UsageError(missing_message())


@pytest.fixture
def real_data():
    """``real_data("coco_kpts")`` -> Path of a real dataset folder under ``tests/data``."""
    return data_path


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
def coco_table(real_data, store):
    """The real COCO person excerpt (``coco_kpts``) imported as table ``coco`` (revision 1)."""
    import warnings

    import posetable as pt
    from posetable.errors import PosetableWarning

    folder = real_data("coco_kpts")
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


@pytest.fixture(scope="module")
def ultralytics(tmp_path_factory):
    """Ultralytics imported offline: no settings sync, no downloads, its config in a temp dir
    (skipped where the ``[ultralytics]`` extra is not installed)."""
    from tests._integration_tables import installed_or_skip

    patch = pytest.MonkeyPatch()
    patch.setenv("YOLO_OFFLINE", "1")
    patch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("yolo-config")))
    module = installed_or_skip("ultralytics")
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    yield module
    patch.undo()
