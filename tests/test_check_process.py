"""The dashboard's check of a large revision in a child process, its findings kept in files
(``posetable.dashboard._check_process``, ``_findings_files``): the same findings as
``pt.check``, row for row and message for message, from the files alone; kept for a later
server; checked again from the parent's files after an edit; a failed child is an error."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.dashboard._check_process import check_in_process, findings_folder
from posetable.dashboard._findings_files import FilesFindings, is_written, write_findings
from posetable.diagnose._sources import open_sources
from posetable.diagnose.check import RULES, check_findings
from posetable.errors import PosetableError, PosetableWarning
from tests._core_tables import coco_table
from tests._planted import planted


def _planted(real_data, store: Path, folder: str = "coco_kpts") -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return planted(coco_table(real_data(folder), name=folder, store=store))


@pytest.mark.parametrize("folder", ["coco_kpts", "crowdpose", "ap10k"])
def test_files_give_the_check_back_finding_for_finding(real_data, store, tmp_path, folder):
    table = _planted(real_data, store, folder)
    found = check_findings(table)
    assert len(found) > 0
    kept = FilesFindings(write_findings(found, tmp_path / "found"))
    assert kept.full().to_table().equals(found.to_table())
    assert kept.rule_names == found.rule_names and len(kept) == len(found)
    assert np.array_equal(kept.row, found.row) and np.array_equal(kept.rule, found.rule)
    some = np.asarray([len(found) - 1, 0, len(found) // 2], np.int64)
    assert kept.take(some).to_table().equals(found.take(some).to_table())


def test_label_files_of_a_yolo_dataset_are_kept(real_data, tmp_path):
    with open_sources(real_data("coco8_pose_yolo") / "coco8-pose.yaml", split="val") as sources:
        found = check_findings(sources[0])
    assert found.files is not None and len(found)
    kept = FilesFindings(write_findings(found, tmp_path / "found"))
    assert kept.full().to_table().equals(found.to_table())


def test_no_findings_are_kept_too(real_data, store, tmp_path):
    table = _planted(real_data, store)
    empty = check_findings(table).take(np.zeros(0, np.int64))
    kept = FilesFindings(write_findings(empty, tmp_path / "found"))
    assert len(kept) == 0 and kept.full().to_table().equals(empty.to_table())


def test_a_child_process_checks_and_a_later_one_reads_its_files(real_data, store, tmp_path):
    table = _planted(real_data, store)
    root = tmp_path / "checks"
    first = check_in_process(table, root)
    assert not first.kept and first.peak_rss_mb > 0 and first.seconds > 0
    assert first.findings.full().to_table().to_pylist() == pt.check(table).to_pylist()
    again = check_in_process(table, root)
    assert again.kept and again.findings.folder == first.findings.folder
    # other rules are other findings: a folder of their own
    some = ("outside_image", "bone_length_outlier")
    assert findings_folder(table, root, some) != first.findings.folder
    chosen = check_in_process(table, root, rules=some)
    assert chosen.findings.rule_names == some
    want = pt.check(table, rules=list(some))
    assert chosen.findings.full().to_table().to_pylist() == want.to_pylist()


def test_an_edit_is_checked_from_the_parents_files(real_data, store, tmp_path):
    table = _planted(real_data, store)
    root = tmp_path / "checks"
    parent = check_in_process(table, root).findings
    gt = table[2]["keypoints"].copy()
    gt.keypoints[0, 3] = [-50.0, 7.0]
    edited = table.with_rows({2: {"keypoints": gt}, 3: {"keypoints": table[3]["keypoints"]}})
    changed = np.asarray([2, 3], np.int64)
    done = check_in_process(edited, root, previous=parent, changed_rows=changed)
    assert not done.kept
    want = pt.check(edited).to_pylist()
    assert done.findings.full().to_table().to_pylist() == want
    assert any(f["rule"] == "outside_image" and f["row"] == 2 for f in want)


def test_a_child_that_fails_is_an_error_and_leaves_no_folder(real_data, store, tmp_path):
    table = _planted(real_data, store)
    root = tmp_path / "checks"
    gone = pt.Table.open(table.ref, store=store)
    assert gone.info.timestamp is not None  # read now: the folder's name needs it
    shutil.rmtree(Path(store) / "tables")  # the child finds no table to open
    with pytest.raises(PosetableError, match=r"checking coco_kpts@\d+ in a child process failed"):
        check_in_process(gone, root)
    folder = findings_folder(gone, root, tuple(RULES))
    assert not is_written(folder)
    assert not any(root.rglob("*.npy"))
    # what a child killed while writing leaves is removed when the next one fails
    (root / f".{folder.name}.999.deadbeef.tmp").mkdir()
    with pytest.raises(PosetableError, match="in a child process failed"):
        check_in_process(gone, root)
    assert list(root.iterdir()) == []


def test_other_rule_code_never_reads_kept_findings(real_data, store, tmp_path, monkeypatch):
    """The folder's key holds a hash of the check's source: code with other rules (another
    version, an edited rule) checks again instead of reading what older code found."""
    from posetable.dashboard import _check_process

    table = _planted(real_data, store)
    root = tmp_path / "checks"
    first = check_in_process(table, root)
    assert _check_process._CODE_KEY  # computed once, then kept for the process
    monkeypatch.setattr(_check_process, "_CODE_KEY", ["0123456789abcdef"])
    assert findings_folder(table, root, tuple(RULES)) != first.findings.folder
    assert not check_in_process(table, root).kept
