"""Revisions never lose work (DESIGN §1b): racing writers, a commit in the middle of an edit,
kills, same-name creates, readers on many threads, and the leftovers of killed writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import posetable as pt
import posetable.table as table_module
from posetable._commit import STAGING_DIR
from posetable.errors import ConflictError, RevisionError
from tests._core_tables import coco_table
from tests.test_crash_safety import WRITER  # streams a large table, says how far it got

REPO = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


@pytest.fixture
def coco(real_data, store: Path) -> pt.Table:
    return coco_table(real_data("coco_kpts"), name="coco", store=store)


def assert_parents_true(table: pt.Table) -> None:
    """Every revision's recorded parent is the revision it was committed on top of."""
    for info in table.revisions():
        expected = None if info.revision == 1 else info.revision - 1
        assert info.parent == expected, (info.revision, info.operation, info.parent)


# -- a writer that commits while an edit is being computed ------------------------------------
def commit_meanwhile(monkeypatch: pytest.MonkeyPatch, other: Any) -> list[pt.Table]:
    """Make ``other()`` commit once, right before the next edit's own commit."""
    real = table_module.commit_on
    done: list[pt.Table] = []
    armed = [True]

    def hooked(*args: Any, **kwargs: Any) -> Any:
        if armed[0]:
            armed[0] = False  # the other writer's own commit goes straight through
            done.append(other())
        return real(*args, **kwargs)

    monkeypatch.setattr(table_module, "commit_on", hooked)
    return done


def test_a_commit_of_other_rows_during_an_edit_is_kept_and_the_edit_lands_on_top(
    coco: pt.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = pt.Table.open("coco", store=coco.store)
    meanwhile = commit_meanwhile(monkeypatch, lambda: other.with_rows({1: {"width": 111}}))
    mine = coco.with_rows({2: {"width": 222}})
    assert meanwhile[0].revision == 2
    assert (mine.revision, mine.parent) == (3, 2)
    latest = mine.latest()
    assert (latest[1]["width"], latest[2]["width"]) == (111, 222)
    assert_parents_true(latest)


@pytest.mark.parametrize(
    ("theirs", "mine"),
    [
        (lambda t: t.with_rows({1: {"width": 111}}), lambda t: t.with_rows({1: {"width": 222}})),
        (
            lambda t: t.with_schema(t.schema.replace(oks_sigmas=[0.05] * 17)),
            lambda t: t.with_schema(t.schema.replace(oks_sigmas=[0.07] * 17)),
        ),
        (lambda t: t.delete_rows([3]), lambda t: t.with_rows({1: {"width": 222}})),
        (lambda t: t.with_rows({1: {"width": 111}}), lambda t: t.delete_rows([3])),
        (lambda t: t.with_rows({1: {"width": 111}}), lambda t: t.add_column("w", [1.0] * 4)),
    ],
    ids=["same-row", "two-sigma-edits", "delete-then-row", "row-then-delete", "row-then-column"],
)
def test_a_conflicting_commit_during_an_edit_is_kept_and_the_edit_refused(
    coco: pt.Table, monkeypatch: pytest.MonkeyPatch, theirs: Any, mine: Any
) -> None:
    other = pt.Table.open("coco", store=coco.store)
    meanwhile = commit_meanwhile(monkeypatch, lambda: theirs(other))
    with pytest.raises(ConflictError, match="based on revision 1, but revision 2"):
        mine(coco)
    latest = pt.Table.open("coco", store=coco.store)
    assert latest.revision == 2 == meanwhile[0].revision  # theirs is the latest, nothing else
    assert_parents_true(latest)


# -- two processes racing through a barrier ---------------------------------------------------
ROUNDS = 200


def _racer(store: str, worker: int, barrier: Any, results: Any) -> None:
    import posetable as pt
    from posetable.errors import ConflictError

    for round_ in range(ROUNDS):
        table = pt.Table.open("coco", store=store)  # both start from the same revision
        value = round_ * 10 + worker + 1  # a width > 0 and a sigma > 0
        barrier.wait()
        try:
            if round_ % 3 == 0:  # the same row: exactly one may win
                saved = table.with_rows({0: {"width": value}})
            elif round_ % 3 == 1:  # different rows: both must land
                saved = table.with_rows({1 + worker: {"width": value}})
            else:  # two sigma edits: exactly one may win
                saved = table.with_schema(table.schema.replace(oks_sigmas=[value / 1e4] * 17))
            results.put((round_, worker, "ok", saved.revision))
        except ConflictError:
            results.put((round_, worker, "conflict", None))
        barrier.wait()  # both have written (or failed) before the round is checked
        if worker == 0:
            latest = pt.Table.open("coco", store=store)
            widths = [latest[i]["width"] for i in range(3)]
            results.put((round_, -1, widths, float(latest.schema.sigmas[0])))
        barrier.wait()


@pytest.mark.slow
def test_two_processes_racing_200_rounds_lose_no_update(coco: pt.Table) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2, timeout=60)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_racer, args=(str(coco.store.root), w, barrier, results)) for w in (0, 1)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=90) for _ in range(ROUNDS * 3)]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    lost = 0
    for round_ in range(ROUNDS):
        outcomes = {w: (status, rev) for r, w, status, rev in got if r == round_ and w >= 0}
        widths, sigma0 = next((s, x) for r, w, s, x in got if r == round_ and w == -1)
        winners = [w for w, (status, _) in outcomes.items() if status == "ok"]
        if round_ % 3 == 1:
            assert sorted(winners) == [0, 1], (round_, outcomes)
            lost += sum(widths[1 + w] != round_ * 10 + w + 1 for w in (0, 1))
        else:
            assert len(winners) == 1, (round_, outcomes)  # one wins, one is told
            value = round_ * 10 + winners[0] + 1
            seen = widths[0] if round_ % 3 == 0 else round(sigma0 * 1e4)
            lost += seen != value
    assert lost == 0
    latest = pt.Table.open("coco", store=coco.store)
    assert_parents_true(latest)
    won = sum(1 for _, w, status, _ in got if w >= 0 and status == "ok")
    assert latest.revision == 1 + won  # one revision per edit that won, nothing more


# -- same-name creates racing -----------------------------------------------------------------
def _creator(store: str, worker: int, rounds: int, barrier: Any, results: Any) -> None:
    import posetable as pt
    from posetable.errors import ConflictError, RevisionError

    schema = pt.Keypoints2DSchema(1)
    for round_ in range(rounds):
        rows = [{"image": f"w{worker}-{i}.jpg", "width": 8, "height": 8} for i in range(50)]
        barrier.wait()
        try:
            pt.Table.from_rows(
                rows, name=f"race-{round_}", schema=schema, store=store, if_exists="error"
            )
            results.put((round_, worker, "ok"))
        except (ConflictError, RevisionError) as exc:
            results.put((round_, worker, type(exc).__name__))


def test_same_name_creates_racing_make_one_whole_table_and_one_typed_error(store: Path) -> None:
    rounds = 12
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2, timeout=60)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_creator, args=(str(store), w, rounds, barrier, results)) for w in (0, 1)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=300) for _ in range(rounds * 2)]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    for round_ in range(rounds):
        statuses = sorted(s for r, _, s in got if r == round_)
        assert statuses[-1] == "ok"
        assert statuses[0] in ("ConflictError", "TableExistsError")  # both ours, typed
        assert statuses.count("ok") == 1
        winner = next(w for r, w, s in got if r == round_ and s == "ok")
        table = pt.Table.open(f"race-{round_}", store=store)
        assert (table.revision, len(table)) == (1, 50)
        assert table[0]["image"] == f"w{winner}-0.jpg"
    staging = store / "tables" / STAGING_DIR
    assert not staging.exists() or not any(staging.iterdir())


def test_run_names_are_checked_before_any_path_is_built(coco: pt.Table) -> None:
    for name in ("../..", "../tables/coco.lance", "/etc", ""):
        with pytest.raises(RevisionError, match="run name"):
            pt.Run.open(name, store=coco.store)


def test_a_run_name_taken_meanwhile_is_a_typed_error(coco: pt.Table) -> None:
    from tests._predictions import noisy_predictions

    predictions = noisy_predictions(coco, seed=0)
    pt.Run.from_predictions(coco, predictions, name="r1")
    with pytest.raises(pt.errors.RunError, match="already exists"):
        pt.Run.from_predictions(coco, predictions, name="r1")


# -- readers on many threads while a writer commits -------------------------------------------
def test_one_table_object_read_from_eight_threads_while_edits_commit(coco: pt.Table) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                coco.rows([0, 3, 1])
                coco.take([2], columns=["image"])
                coco.sql("SELECT count(*) FROM t")
                assert len(coco.to_arrow(columns=["width"])) == 4
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    latest = coco
    for i in range(15):
        latest = latest.with_rows({i % 4: {"width": 100 + i}})
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert latest.revision == 16


# -- kills, then the store and its leftovers --------------------------------------------------
EDITOR = textwrap.dedent(
    """
    import sys
    import posetable as pt

    store = sys.argv[1]
    stale = pt.Table.open("coco", store=store)
    print("editing", flush=True)
    for i in range(100000):
        latest = pt.Table.open("coco", store=store)
        latest.with_rows({i % 4: {"width": 1000 + i}})
        stale.with_rows({(i + 1) % 4: {"height": 2000 + i}}) if i % 7 else None
        if i % 5 == 0:
            pt.Table.open("coco", store=store).with_schema(
                latest.schema.replace(oks_sigmas=[0.01 + (i % 50) / 1000] * 17)
            )
    """
)


@posix_only
@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2, 2.0])
def test_a_writer_killed_mid_edit_leaves_every_revision_whole_with_true_parents(
    coco: pt.Table, delay: float
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", EDITOR, str(coco.store.root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "editing"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    latest = pt.Table.open("coco", store=coco.store)
    assert_parents_true(latest)
    for info in latest.revisions():
        revision = pt.Table.open(f"coco@{info.revision}", store=coco.store)
        assert len(revision.rows(range(4))) == 4
        assert revision.schema.num_keypoints == 17
    again = latest.with_rows({0: {"width": 5}})  # the store takes edits again
    assert again.parent == latest.revision


def _kill_writer(store: Path, name: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store), name, str(10**7)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # the writer streams rows; wait until it is well into it
            if line.startswith("rows 20000"):
                break
        time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)


@posix_only
def test_gc_removes_what_killed_writers_left_and_keeps_every_revision(
    coco: pt.Table, capsys: pytest.CaptureFixture[str]
) -> None:
    from posetable.cli import main

    store = coco.store.root
    edited = coco.with_rows({0: {"width": 9}})
    _kill_writer(store, "never-made")  # a new table: its staging folder is left
    pt.Table.from_rows(
        [{"image": "a.jpg", "width": 4, "height": 4}],
        name="big",
        schema=pt.Keypoints2DSchema.coco_person(),
        store=store,
    )
    _kill_writer(store, "big")  # a new revision of big: its data files are left
    assert pt.list_tables(store=store) == ["big", "coco"]
    staged = list((store / "tables" / STAGING_DIR).iterdir())
    assert len(staged) == 1
    data_before = sorted((store / "tables" / "big.lance" / "data").iterdir())
    assert len(data_before) > 1
    assert pt.collect_garbage(store=store).removed == []  # young leftovers may be in use
    assert main(["gc", "--min-age", "0", "--dry-run", "--store", str(store)]) == 0
    assert "would remove" in capsys.readouterr().out and staged[0].exists()
    report = pt.collect_garbage(store=store, min_age_s=0)
    assert staged[0] in report.removed and report.bytes_freed > 0
    assert len(list((store / "tables" / "big.lance" / "data").iterdir())) == 1
    assert len(pt.Table.open("big", store=store)) == 1
    assert pt.Table.open("coco", store=store)[0]["width"] == 9 == edited[0]["width"]
    assert len(pt.Table.open("coco@1", store=store)) == 4
    with pytest.raises(RevisionError, match="min_age_s"):
        pt.collect_garbage(store=store, min_age_s=-1)
