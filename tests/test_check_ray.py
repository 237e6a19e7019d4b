"""``pt.check`` and ``pt.find_label_errors`` with ``engine="ray"`` on a local Ray instance:
the local findings and suspects, row for row, on real tables with planted faults, on tables
of several Lance fragments and in many small tasks.

One Ray instance serves the module (2 CPUs, no dashboard). Its workers run a setup hook
(made here, sent by value) that wraps the work of the two task functions: with a ``mode``
file in the control folder, a task's worker dies (``once``: the first attempt across all
workers; ``always``: every attempt) or the task raises (``raise``: a ValueError; ``ours``:
one of our errors).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import posetable as pt
from posetable.errors import PosetableWarning
from posetable.sample import sample_table
from tests._core_tables import COCO_FOLDERS, coco_table
from tests._planted import bone_outlier_table, planted
from tests._predictions import noisy_predictions

pytestmark = [
    pytest.mark.integration,
    # Ray Data opens a log file per dataset and leaves it to the garbage collector
    pytest.mark.filterwarnings(r"ignore:unclosed file .*ray-data.*\.log:ResourceWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in.*ray-data.*\.log:pytest.PytestUnraisableExceptionWarning"
    ),
]
ray = pytest.importorskip("ray")
pytest.importorskip("lance_ray")

from posetable.diagnose import _ray_check, _ray_label_errors  # noqa: E402
from posetable.diagnose._sources import Source, _coco_lines  # noqa: E402
from posetable.diagnose.check import check_rules  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _install_faults() -> None:  # runs in every worker (sent by value: it imports its own)
    import functools
    import os
    from pathlib import Path

    from posetable.diagnose import _ray_check, _ray_label_errors
    from posetable.errors import RowError

    control = Path(os.environ["POSETABLE_TEST_FAULTS"])

    def wrap(module, name):
        original = getattr(module, name)

        @functools.wraps(original)
        def maybe_fail(*args, **kwargs):
            mode_file = control / "mode"
            mode = mode_file.read_text().strip() if mode_file.exists() else ""
            if mode == "always":
                os._exit(1)
            if mode == "raise":
                raise ValueError("a task that fails")
            if mode == "ours":
                raise RowError("row 7 of the task is bad")
            if mode == "once":
                try:
                    fd = os.open(control / "died", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return original(*args, **kwargs)
                os.close(fd)
                os._exit(1)
            return original(*args, **kwargs)

        setattr(module, name, maybe_fail)

    wrap(_ray_check, "check_task")
    wrap(_ray_label_errors, "label_errors_task")


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """The control folder of the workers' faults (write ``mode``)."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module", autouse=True)
def local_ray(faults):
    env = {
        "worker_process_setup_hook": _install_faults,
        "env_vars": {"PYTHONPATH": str(REPO), "POSETABLE_TEST_FAULTS": str(faults)},
    }
    with warnings.catch_warnings():  # Ray execs the processes it forks
        warnings.filterwarnings("ignore", message="lance is not fork-safe")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        ray.init(num_cpus=2, include_dashboard=False, runtime_env=env, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(autouse=True)
def no_faults(faults):
    for name in ("mode", "died"):
        (faults / name).unlink(missing_ok=True)
    yield faults
    for name in ("mode", "died"):
        (faults / name).unlink(missing_ok=True)


def _quiet_table(real_data, store, folder: str) -> pt.Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        return coco_table(real_data(folder), name=folder, store=store)


def source_of(table: pt.Table) -> Source:
    return Source(table, source_lines=_coco_lines(table))


def assert_same_findings(got, want) -> None:
    want = want.replace_schema_metadata(None)
    got = got.replace_schema_metadata(None)
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()  # same rows, same order, same messages
    assert got.equals(want)


def test_ray_check_of_the_bundled_sample_is_the_local_check(store):
    table = sample_table(store=store)
    local = pt.check(table)
    assert local.num_rows > 0
    got = pt.check(table, engine="ray")
    assert got.schema.metadata == local.schema.metadata
    assert_same_findings(got, local)
    names = check_rules(None)
    assert_same_findings(_ray_check.check_ray(source_of(table), names, batch_rows=1), local)


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_ray_check_of_planted_faults_is_the_local_check(real_data, store, folder):
    table = planted(_quiet_table(real_data, store, folder))
    assert len(table.dataset.get_fragments()) > 1  # the edited rows lie in a new fragment
    local = pt.check(table)
    fired = set(local.column("rule").to_pylist())
    assert len(fired) >= 3, fired
    assert_same_findings(pt.check(table, engine="ray"), local)
    names = check_rules(None)
    for batch_rows in (1, 3):  # many tasks, each row of a task's batch its own
        got = _ray_check.check_ray(source_of(table), names, batch_rows=batch_rows)
        assert_same_findings(got, local)


def test_ray_check_finds_bone_outliers_across_tasks(store):
    """The one table-wide rule on rows: its statistics (per class and line, over the table)
    come from every task's lengths; 48 rows of jittered sample people in 16 tasks, some with
    a point moved far off."""
    table = bone_outlier_table(store)
    local = pt.check(table, rules="bone_length_outlier")
    assert local.num_rows >= 3 and local.column("row").null_count == 0
    for batch_rows in (3, 10):
        got = _ray_check.check_ray(source_of(table), ["bone_length_outlier"], batch_rows=batch_rows)
        assert_same_findings(got, local)
    assert_same_findings(pt.check(table, engine="ray"), pt.check(table))


@pytest.mark.parametrize(
    "rules",
    [
        ["outside_image", "sigmas_missing"],
        ["left_right_swap", "skeleton_invalid"],
        ["collapsed_instance"],
    ],
)
def test_ray_check_of_some_rules(real_data, store, rules):
    table = planted(_quiet_table(real_data, store, "crowdpose"))
    assert_same_findings(pt.check(table, rules=rules, engine="ray"), pt.check(table, rules=rules))


@pytest.mark.parametrize("folder", ["coco_kpts", "ap10k", "onehand10k"])
def test_ray_check_of_an_imported_coco_table_and_its_file(real_data, store, folder):
    path = real_data(folder) / "annotations.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        table = pt.Table.from_coco(path, name=folder, store=store)
    edited = planted(table)
    assert_same_findings(pt.check(edited, engine="ray"), pt.check(edited))
    from_file = pt.check(path, engine="ray")  # a temporary store: the file names findings
    assert_same_findings(from_file, pt.check(path))
    assert set(from_file.column("file").to_pylist()) == {str(path)}


def test_ray_check_of_a_table_without_labeled_points_or_rows_is_empty(store):
    gt = pt.Keypoints2DInstances.create_empty(image_width=8, image_height=8, num_keypoints=3)
    rows = [{"image": f"{i}.jpg", "width": 8, "height": 8, "keypoints": gt} for i in range(3)]
    table = pt.Table.from_rows(rows, name="empty", schema=pt.Keypoints2DSchema(3), store=store)
    assert pt.check(table).num_rows == 0
    assert_same_findings(pt.check(table, engine="ray"), pt.check(table))
    none = pt.Table.from_rows([], name="none", schema=pt.Keypoints2DSchema(3), store=store)
    assert len(none.dataset.get_fragments()) == 0  # no fragment: no task
    assert_same_findings(pt.check(none, engine="ray"), pt.check(none))


def test_ray_check_refuses_an_unknown_engine_and_a_yolo_dataset(real_data, store):
    table = sample_table(store=store)
    with pytest.raises(pt.errors.UnsupportedError, match=r"engine must be 'local' or 'ray'"):
        pt.check(table, engine="dask")
    with pytest.raises(pt.errors.UnsupportedError, match=r"YOLO-pose dataset"):
        pt.check(real_data("coco8_pose_yolo"), engine="ray")


def test_a_worker_dying_mid_check_is_retried_to_the_same_findings(real_data, store, no_faults):
    table = planted(_quiet_table(real_data, store, "coco_kpts"))
    (no_faults / "mode").write_text("once")
    got = _ray_check.check_ray(source_of(table), check_rules(None), batch_rows=2)
    assert (no_faults / "died").exists(), "no worker died: the test tested nothing"
    assert_same_findings(got, pt.check(table))


def test_a_worker_dying_every_time_fails_the_check_with_our_error(store, no_faults):
    table = sample_table(store=store)
    (no_faults / "mode").write_text("always")
    with pytest.raises(pt.errors.PosetableError, match=r"Ray check .* failed and gave no res") as e:
        _ray_check.check_ray(source_of(table), check_rules(None), max_retries=1)
    assert "(WorkerCrashedError: The worker died" in str(e.value)


@pytest.mark.parametrize(
    ("mode", "error"), [("raise", pt.errors.PosetableError), ("ours", pt.errors.RowError)]
)
def test_a_task_that_raises_fails_the_check(store, no_faults, mode, error):
    table = sample_table(store=store)
    (no_faults / "mode").write_text(mode)
    with pytest.raises(error) as caught:
        pt.check(table, engine="ray")
    text = str(caught.value)
    if mode == "raise":
        assert "failed and gave no result (ValueError: a task that fails)" in text, text
    else:
        assert text == "row 7 of the task is bad"


# -- label errors ------------------------------------------------------------------------


def table_and_run(real_data, store, folder: str, seed: int = 5) -> tuple[pt.Table, pt.Run]:
    table = _quiet_table(real_data, store, folder)
    predictions = noisy_predictions(table, seed=seed, noise=0.08)
    return table, pt.Run.from_predictions(table, predictions, name=f"{folder}-m")


def assert_same_suspects(got, want) -> None:
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()


@pytest.mark.parametrize("folder", COCO_FOLDERS)
def test_ray_label_errors_are_the_local_ones(real_data, store, folder):
    table, run = table_and_run(real_data, store, folder)
    edited = planted(table)  # the run of the parent revision still applies
    assert len(edited.dataset.get_fragments()) > 1
    for target in (table, edited):
        assert_same_suspects(
            pt.find_label_errors(target, run, engine="ray"), pt.find_label_errors(target, run)
        )
    local = pt.find_label_errors(edited, run)
    assert local.num_rows > 0  # the planted faults are suspects
    got = _ray_label_errors.find_label_errors_ray(
        edited,
        run,
        top=None,
        instance_confidence_threshold=0.5,
        keypoint_confidence_threshold=0.5,
        kinds=pt.label_errors.KINDS,
        batch_rows=1,
    )
    assert_same_suspects(got, local)


def test_ray_label_errors_with_top_thresholds_and_kinds(real_data, store):
    table, run = table_and_run(real_data, store, "crowdpose")
    edited = planted(table)
    options = [
        {"top": 5},
        {"top": 0},
        {"instance_confidence_threshold": 0.8, "keypoint_confidence_threshold": 0.2},
        {"kinds": ("missing_annotation", "misplaced_keypoint"), "top": 7},
    ]
    for kwargs in options:
        local = pt.find_label_errors(edited, run, **kwargs)
        assert_same_suspects(pt.find_label_errors(edited, run, engine="ray", **kwargs), local)


def test_ray_label_errors_refuse_what_the_local_path_refuses(real_data, store):
    table, run = table_and_run(real_data, store, "coco_kpts")
    with pytest.raises(pt.errors.RunError, match="top must be"):
        pt.find_label_errors(table, run, top=-1, engine="ray")
    with pytest.raises(pt.errors.UnsupportedError, match="engine must be"):
        pt.find_label_errors(table, run, engine="spark")
    other = sample_table(store=store)
    with pytest.raises(pt.errors.RunError, match="not an ancestor"):
        pt.find_label_errors(other, run, engine="ray")


def test_a_worker_dying_mid_search_is_retried_and_a_raising_task_fails_it(
    real_data, store, no_faults
):
    table, run = table_and_run(real_data, store, "aic")
    local = pt.find_label_errors(table, run)
    (no_faults / "mode").write_text("once")
    got = _ray_label_errors.find_label_errors_ray(
        table,
        run,
        top=None,
        instance_confidence_threshold=0.5,
        keypoint_confidence_threshold=0.5,
        kinds=pt.label_errors.KINDS,
        batch_rows=2,
    )
    assert (no_faults / "died").exists(), "no worker died: the test tested nothing"
    assert_same_suspects(got, local)
    (no_faults / "mode").write_text("raise")
    with pytest.raises(pt.errors.PosetableError, match=r"Ray label errors .* gave no result"):
        pt.find_label_errors(table, run, engine="ray")


def test_a_batch_of_sample_ids_maps_to_its_rows_sorted(real_data, store):
    table = planted(_quiet_table(real_data, store, "onehand10k"))
    row_map = _ray_check.RowMap.of(table)
    ids = table.sample_ids()
    batch = table.take([2, 0], columns=["sample_id"])
    assert row_map.rows_of(batch).tolist() == [0, 2]
    assert ids[row_map.rows_of(batch)].tolist() == ids[[0, 2]].tolist()
