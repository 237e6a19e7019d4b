"""``posetable demo``, ``info`` and ``list`` through ``posetable.cli.main``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import posetable as pt
from posetable.cli import main
from tests._core_tables import coco_table

HAS_COCO_IMPORT = importlib.util.find_spec("posetable.formats.coco") is not None


@pytest.mark.skipif(
    not HAS_COCO_IMPORT, reason="demo needs Table.from_coco (posetable.formats.coco)"
)
def test_demo_builds_the_sample_table_and_summarises_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "coco-sample@1" in out
    assert "images     4" in out and "instances  14" in out
    assert "K=17" in out and "nose" in out
    table = pt.Table.open("coco-sample", store=store)
    assert len(table) == 4 and sum(len(r["keypoints"]) for r in table) == 14


def test_info_prints_schema_counts_and_lineage(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = coco_table(real_data("coco_kpts"), name="coco", store=store)
    edited = table.with_rows({0: {"width": 1}})
    edited.with_schema(
        edited.schema.replace(oks_sigmas=pt.COCO_OKS_SIGMAS), operation="edit_oks_sigmas"
    )
    assert main(["info", "coco", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "table      coco@3" in out
    assert "3 (edit_oks_sigmas) <- 2 (edit_rows) <- 1 (create)" in out
    assert "images     4 (0 without instances)" in out
    assert "instances  14" in out and "person: 14" in out
    assert "sigmas: COCO" in out and "0.0260" in out  # where they came from; the nose's
    assert main(["info", "coco@1", "--store", str(store)]) == 0
    assert "sigmas: uniform 1/K" in capsys.readouterr().out
    latest = pt.Table.open("coco", store=store)
    latest.with_schema(latest.schema.replace(oks_sigmas=[0.05] * 17))
    assert main(["info", "coco", "--store", str(store)]) == 0
    assert "sigmas: user" in capsys.readouterr().out


def test_info_of_an_unknown_table_is_an_error_naming_the_known_ones(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coco_table(real_data("coco_kpts"), name="coco", store=store)
    assert main(["info", "nope", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "no table named 'nope'" in err and "known tables: coco" in err


def test_list_shows_every_table_with_revision_rows_and_k(
    real_data, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--store", str(store)]) == 0
    assert "no tables in the store" in capsys.readouterr().out
    coco_table(real_data("coco_kpts"), name="coco", store=store).delete_rows([0])
    coco_table(real_data("onehand10k"), name="hands", store=store)
    assert main(["list", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["table", "revision", "rows", "K"]
    assert lines[1].split() == ["coco", "2", "3", "17"]
    assert lines[2].split() == ["hands", "1", "4", "21"]


def test_list_uses_posetable_home_by_default(
    real_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSETABLE_HOME", str(tmp_path / "home"))
    coco_table(real_data("horse10"), name="horses", store=tmp_path / "home")
    assert main(["list"]) == 0
    assert "horses" in capsys.readouterr().out
