"""The README's two commands are the ones a new user pastes: keep them working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_starts_with_the_two_commands():
    blocks = _bash_blocks()
    assert len(blocks) >= 2
    assert "pip install" in blocks[0] and "posetable" in blocks[0]
    assert blocks[1].strip() == "bash .ci/run"


def _run_posetable(args: list[str], store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posetable", *args, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.integration
def test_readme_main_command_runs_on_the_bundled_sample(tmp_path):
    """Runs the main command's posetable part (the install is what CI itself does); the
    dashboard is started, fetched over HTTP and stopped (``--check``)."""
    pytest.importorskip("uvicorn")
    command = _bash_blocks()[0].split("&&")[-1].split()
    assert command[:3] == ["posetable", "serve", "--sample"]
    done = _run_posetable([*command[1:], "--port", "0", "--check"], tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "coco-sample" in done.stdout
    assert "dashboard check passed" in done.stdout


def test_demo_runs_on_the_bundled_sample_without_extras(tmp_path):
    done = _run_posetable(["demo"], tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "coco-sample" in done.stdout
    assert "nose" in done.stdout
