"""A writer killed with SIGKILL mid-write leaves the previous revision readable and no
partial revision visible (Lance commits atomically: the manifest comes last)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import posetable as pt
from posetable.errors import NotFoundError
from tests._core_tables import coco_rows, files_under, versions

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

REPO = Path(__file__).resolve().parents[1]

# A child that streams a large table into the store and says how far it got.
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import posetable as pt

    store, name, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)

    def rows():
        for i in range(total):
            if i and i % 10000 == 0:
                print(f"rows {i}", flush=True)
            kp = pt.Keypoints2DInstances(
                rng.uniform(0, 600, (2, 17, 2)), keypoint_visibilities=np.full((2, 17), 2)
            )
            yield {"image": f"big/{i}.jpg", "width": 640, "height": 480, "keypoints": kp}

    pt.Table.from_rows(
        rows(),
        name=name,
        schema=pt.Keypoints2DSchema.coco_person(),
        store=store,
        if_exists="new_revision",
    )
    print("committed", flush=True)
    """
)

# A child that rewrites every row of a table in one edit, and says when it starts.
EDITOR = textwrap.dedent(
    """
    import sys
    import posetable as pt

    store, name = sys.argv[1], sys.argv[2]
    table = pt.Table.open(name, store=store)
    rows = {i: {"width": 7} for i in range(len(table))}
    print("editing", flush=True)
    table.with_rows(rows)
    print("committed", flush=True)
    """
)


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _kill_when(child: subprocess.Popen[str], marker: str, delay: float = 0.0) -> list[str]:
    """Read the child's lines until ``marker``, wait ``delay``, SIGKILL it (if still running).

    Returns the lines it printed; a child killed mid-way never prints ``committed``.
    """
    seen = []
    assert child.stdout is not None
    for line in child.stdout:
        seen.append(line.strip())
        if line.startswith(marker):
            break
    time.sleep(delay)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    seen += [line.strip() for line in child.stdout]
    child.stdout.close()
    assert child.returncode in (0, -signal.SIGKILL)
    return seen


def test_a_killed_first_write_leaves_no_table(store: Path) -> None:
    child = _spawn(WRITER, str(store), "big", "2000000")
    seen = _kill_when(child, "rows 30000")
    assert child.returncode == -signal.SIGKILL and "committed" not in seen
    assert pt.list_tables(store=store) == []
    with pytest.raises(NotFoundError, match="no table named 'big'"):
        pt.Table.open("big", store=store)
    again = pt.Table.from_rows(
        [{"image": "a.jpg", "width": 2, "height": 2}],
        name="big",
        schema=pt.Keypoints2DSchema(17),
        store=store,
    )
    assert again.revision == 1 and len(again) == 1  # the store is usable after the crash


def test_a_killed_new_revision_leaves_the_previous_one_readable(real_data, store: Path) -> None:
    schema, rows = coco_rows(real_data("coco_kpts"))
    first = pt.Table.from_rows(rows, name="coco", schema=schema, store=store)
    uri = first.store.table_uri("coco")
    committed, files = versions(uri), files_under(uri)
    child = _spawn(WRITER, str(store), "coco", "2000000")
    seen = _kill_when(child, "rows 30000")
    assert child.returncode == -signal.SIGKILL and "committed" not in seen
    assert set(files_under(uri)) > set(files)  # it was killed mid-write: data files were on disk
    assert versions(uri) == committed  # ... but no new revision
    latest = pt.Table.open("coco", store=store)
    assert latest.revision == 1 and len(latest) == len(rows)
    for got, want in zip(latest, rows, strict=True):
        assert got["image"] == want["image"]
        assert got["keypoints"].to_row() == want["keypoints"].to_row()
    assert latest.with_rows({0: {"width": 5}}).revision == 2  # and editable


@pytest.mark.parametrize("delay", [0.1, 0.35, 0.5, 0.7])
def test_a_killed_edit_is_all_or_nothing(store: Path, delay: float) -> None:
    rows = ({"image": f"{i}.jpg", "width": 640, "height": 480} for i in range(60000))
    base = pt.Table.from_rows(rows, name="edit", schema=pt.Keypoints2DSchema(3), store=store)
    uri = base.store.table_uri("edit")
    committed = versions(uri)
    child = _spawn(EDITOR, str(store), "edit")
    seen = _kill_when(child, "editing", delay)
    latest = pt.Table.open("edit", store=store)
    widths = set(latest.to_arrow(columns=["width"]).column("width").to_pylist())
    if versions(uri) == committed:
        assert child.returncode == -signal.SIGKILL and "committed" not in seen
        assert latest.revision == 1 and widths == {640}
    else:  # the commit made it before the kill: then all of it did
        assert latest.revision == 2 and widths == {7}
    assert len(latest) == 60000
    assert (
        pt.Table.open("edit@1", store=store)
        .to_arrow(columns=["width"])
        .column("width")
        .to_pylist()[:3]
        == [640] * 3
    )
