"""The repository tests itself: its real data travels with it, and a missing folder says so once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests._data import DATASETS, REPO, data_root

SOURCES = REPO / "tests" / "data" / "SOURCES.md"


def test_every_dataset_folder_is_in_the_repository_and_has_its_provenance():
    sources = SOURCES.read_text()
    for name in DATASETS:
        folder = data_root() / name
        assert any(folder.iterdir()), f"{folder} is empty"
        assert f"`{name}`" in sources, f"{name} has no entry in {SOURCES}"


def test_nothing_in_the_project_reads_the_folder_beside_the_repository():
    pattern = re.compile(r"\.\./shared|parents\[2\] / \"shared\"|parent / \"shared\"")
    suffixes = {".py", ".sh", ".md", ".toml", ".cfg", ".yaml", ".yml", ".js", ".html"}
    offenders = []
    for path in REPO.rglob("*"):
        parts = set(path.relative_to(REPO).parts)
        if parts & {".git", ".venv", "build", "node_modules", "__pycache__"} or ".egg" in str(path):
            continue
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        if path.suffix in suffixes or path.parent.name == ".ci":
            text = path.read_text(errors="replace")
            offenders += [f"{path.relative_to(REPO)}" for _ in pattern.finditer(text)][:1]
    assert offenders == []


def test_a_missing_data_folder_stops_the_suite_with_one_message_naming_it(tmp_path):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    env = {**os.environ, "POSETABLE_TEST_DATA": str(empty)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_schema.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert str(empty) in output
    assert "coco_kpts" in output and "POSETABLE_TEST_DATA" in output
    assert "Traceback" not in output and " passed" not in output and " failed" not in output
