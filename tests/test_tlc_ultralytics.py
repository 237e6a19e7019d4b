"""3LC's ``tlc_ultralytics`` on posetable: YOLO-pose training collects per-sample
predictions, metrics, losses and embeddings into 3LC runs; weights steer the sampler.

CPU, one tiny epoch (imgsz 64) on ``tests/data``; the 3LC examples run from
``tests/tlc_examples/`` with only their imports and data paths changed.
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import posetable as pt
from posetable.errors import MissingDependencyError, PosetableWarning, RunError, SchemaError
from tests._data import data_path
from tests._integration_tables import yolo_table

pytestmark = pytest.mark.integration

TINY = {"epochs": 1, "imgsz": 64, "batch": 4, "workers": 0, "device": "cpu", "verbose": False}
EXAMPLES = Path(__file__).parent / "tlc_examples"
LOSSES = ["box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss", "loss"]


@pytest.fixture
def home(ultralytics, tmp_path, monkeypatch):
    monkeypatch.setenv("POSETABLE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


@pytest.fixture(scope="module")
def coco8(ultralytics, tmp_path_factory):
    store = tmp_path_factory.mktemp("c8")
    folder = data_path("coco8_pose_yolo")
    train = yolo_table(folder, "train", name="c8/ds/train", store=store)
    val = yolo_table(folder, "val", name="c8/ds/val", store=store)
    return train, val


def _yolo():
    from posetable.tlc_ultralytics import YOLO

    return YOLO("yolo11n-pose.yaml")


@pytest.fixture(scope="module")
def collected(coco8):
    """One training collecting after epoch 1 and after training, losses and 3-D embeddings."""
    import posetable.tlc as tlc
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    settings = Settings(
        project_name="c8",
        run_name="collect",
        collect_loss=True,
        image_embeddings_dim=3,
        image_embeddings_reducer="pca",
        collection_epoch_start=1,
    )
    model = _yolo()
    model.train(
        tables={"train": train, "val": tlc.Table.from_native(val)}, settings=settings, **TINY
    )
    return model, tlc.active_run(), train, val


def test_every_collected_pass_is_a_native_run_of_the_3lc_run(collected):
    _, run, train, _ = collected
    assert run.collections == [
        "c8/collect/train-epoch-0001",
        "c8/collect/val-epoch-0001",
        "c8/collect/val-final",
        "c8/collect/train-final",
    ]
    listed = {r.name if hasattr(r, "name") else r for r in pt.list_runs(store=train.store)}
    assert set(run.collections) <= {str(getattr(r, "name", r)) for r in listed}
    infos = [r.model_info for r in run.collection_runs()]
    assert [(i["stream"], i["epoch"], i["phase"]) for i in infos] == [
        ("train", 1, "training"),
        ("val", 1, "training"),
        ("val", 1, "final"),
        ("train", 1, "final"),
    ]
    assert all(i["tlc_run"] == "c8/collect" for i in infos)


def test_collected_losses_differ_across_samples_and_embeddings_have_the_asked_dimension(
    collected,
):
    _, run, _, _ = collected
    for native in run.collection_runs():
        samples = native.per_sample.to_pydict()
        rows = len(samples["row"])
        for loss in LOSSES:
            values = np.asarray(samples[loss], dtype=float)
            assert np.isfinite(values).all() and (values >= 0).all(), (native.name, loss)
        total = np.asarray(samples["loss"])
        assert len(np.unique(np.round(total, 8))) > 1, native.name  # one loss per image
        np.testing.assert_allclose(
            total, np.sum([samples[k] for k in LOSSES[:-1]], axis=0), rtol=1e-9
        )
        points = np.stack([samples[f"embeddings_{j}"] for j in range(3)], axis=1)
        assert "embeddings_3" not in samples
        assert points.shape == (rows, 3) and np.isfinite(points).all()
        assert len(np.unique(np.round(points, 8), axis=0)) == rows  # one point per sample


def test_every_collection_of_a_training_is_reduced_by_the_first_ones_fit(collected):
    _, run, _, _ = collected
    fits = {r.name: r.model_info["collected"]["image_embeddings_fitted_on"]
            for r in run.collection_runs()}  # fmt: skip
    assert set(fits.values()) == {"c8/collect/train-epoch-0001"}, fits


def test_a_later_collection_is_projected_by_the_reducer_the_first_fitted(coco8, tmp_path):
    from posetable.integrations._ultralytics_data import SampleCapture
    from posetable.integrations.ultralytics import Collection, reduce_embeddings

    train, val = coco8
    store = pt.Store(tmp_path / "shared")
    written: list[pt.Run] = []
    collect = Collection(
        "c8/shared", epochs=[1, 2], image_embeddings_dim=2, on_run=written.append, store=store
    )
    plan = collect.plan(train, val, train.schema.sigmas)
    rng = np.random.default_rng(3)
    first = rng.normal(size=(len(train), 16)) * np.linspace(4, 0.1, 16)
    later = rng.normal(size=(len(val), 16))
    later[0] = first[1]  # the same raw feature in both collections
    for stream, epoch, vectors in (("train", 1, first), ("val", 1, later), ("val", 2, later)):
        capture = SampleCapture(embeddings=True)
        capture.embeddings = {row: vectors[row] for row in range(len(vectors))}
        plan.write(stream, epoch, "training", capture)
    points = [
        np.stack([r.per_sample.to_pydict()[f"embeddings_{j}"] for j in range(2)], axis=1)
        for r in written
    ]
    reducer = collect.reducer
    assert reducer is not None and reducer.fitted_on == "c8/shared/train-epoch-0001"
    assert reducer.mean.shape == (16,) and reducer.components.shape == (2, 16)
    np.testing.assert_allclose(points[0], reduce_embeddings(first, 2))  # the fit itself
    np.testing.assert_allclose(points[1], (later - reducer.mean) @ reducer.components.T)
    np.testing.assert_allclose(points[1][0], points[0][1])  # same feature, same point
    np.testing.assert_allclose(points[2], points[1])
    # reduced alone, the later collection would land elsewhere
    assert not np.allclose(reduce_embeddings(later, 2), points[1])


def test_final_metrics_equal_evaluate_on_the_same_predictions(collected):
    val = collected[3]
    final = pt.Run.open("c8/collect/val-final", store=val.store)
    predictions = final.all_predictions()
    assert len(predictions) == len(val)
    for item in predictions:
        assert item.keypoint_confidences is not None and item.instance_confidences is not None
        assert item.keypoint_confidences.shape == (len(item), 17)
    expected = pt.evaluate(val, predictions, sigmas=val.schema.sigmas)
    assert final.metrics["ap"] == pytest.approx(expected.ap)
    assert final.metrics["ar"] == pytest.approx(expected.ar)


def test_collection_val_only_and_disable_follow_the_settings(coco8):
    import posetable.tlc as tlc
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    _yolo().train(
        tables={"train": train, "val": val},
        settings=Settings(project_name="c8", run_name="valonly", collection_val_only=True),
        **TINY,
    )
    assert tlc.active_run().collections == ["c8/valonly/val-final"]
    _yolo().train(
        tables={"train": train, "val": val},
        settings=Settings(project_name="c8", run_name="none", collection_disable=True),
        **TINY,
    )
    assert tlc.active_run().name == "none" and tlc.active_run().collections == []


def test_sample_weights_change_how_often_samples_are_drawn(coco8, tmp_path):
    from posetable.integrations._ultralytics_data import weighted_sampler
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    four = pt.Table.from_rows(
        train.rows(list(range(len(train)))) * (4 // len(train)),
        name="c8/ds/train4",
        schema=train.schema,
        store=train.store,
    )
    weights = np.array([8.0, 1.0, 1.0, 0.0])
    weighted = four.add_column("weight", weights)
    model = _yolo()
    settings = Settings(
        project_name="c8",
        run_name="weights",
        sampling_weights=True,
        exclude_zero_weight_training=True,
        collection_disable=True,
    )
    model.train(tables={"train": weighted, "val": val}, settings=settings, **TINY)
    sampler = model.trainer.train_loader.sampler
    assert list(np.asarray(sampler.weights)) == list(weights)
    draws = np.bincount(
        list(weighted_sampler(weights, weighted=True, exclude_zero=True, seed=1)) * 1
        + [
            i
            for _ in range(300)
            for i in weighted_sampler(weights, weighted=True, exclude_zero=True, seed=_)
        ],
        minlength=4,
    )
    assert draws[3] == 0 and draws[0] > 4 * draws[1] and draws[1] > 0
    uniform = np.bincount(
        [
            i
            for s in range(300)
            for i in weighted_sampler(np.ones(4), weighted=True, exclude_zero=False, seed=s)
        ],
        minlength=4,
    )
    assert uniform.min() > 0.5 * uniform.max()
    excluded = list(weighted_sampler(weights, weighted=False, exclude_zero=True))
    assert sorted(excluded) == [0, 1, 2]


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_a_negative_or_nan_weight_is_refused_before_training(coco8, bad):
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    copy = pt.Table.from_rows(
        train.rows(list(range(len(train)))),
        name=f"c8/ds/bad-{'nan' if bad != bad else 'negative'}",
        schema=train.schema,
        store=train.store,
    )
    table = copy.add_column("weight", [1.0, bad] + [1.0] * (len(train) - 2))
    model = _yolo()
    with pytest.raises(SchemaError, match=r"sampling_weights=True.*row 1"):
        model.train(
            tables={"train": table, "val": val},
            settings=Settings(project_name="c8", run_name="bad", sampling_weights=True),
            **TINY,
        )
    assert model.trainer is None


def test_settings_that_cannot_be_honoured_are_typed_errors_before_training(coco8, monkeypatch):
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    model = _yolo()
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    with pytest.raises(MissingDependencyError, match=r"umap.*posetable\[tlc\]"):
        model.train(
            tables={"train": train, "val": val},
            settings=Settings(image_embeddings_dim=2, image_embeddings_reducer="umap"),
            **TINY,
        )
    with pytest.raises(RunError, match="image_embeddings_dim must be 0, 2 or 3, got 5"):
        model.train(tables={"train": train, "val": val}, settings=Settings(image_embeddings_dim=5))
    with pytest.raises(RunError, match="collection_epoch_start must be >= 1, got 0"):
        model.train(
            tables={"train": train, "val": val}, settings=Settings(collection_epoch_start=0)
        )
    assert model.trainer is None


def test_val_refuses_a_table_whose_k_differs_from_the_models(collected, tmp_path):
    from posetable.tlc_ultralytics import Settings

    model = collected[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        hands = pt.Table.from_coco(
            data_path("onehand10k") / "annotations.json",
            data_path("onehand10k") / "images",
            name="hands",
            store=tmp_path,
        )
    with pytest.raises(RunError, match="K=17 keypoints, but table hands@1 has K=21"):
        model.val(table=hands, settings=Settings(project_name="h"), imgsz=64)


def test_collect_writes_one_native_run_per_table_under_one_3lc_run(collected):
    import posetable.tlc as tlc
    from posetable.tlc_ultralytics import Settings

    model, _, train, val = collected
    settings = Settings(
        project_name="c8",
        run_name="collect-only",
        collect_loss=True,
        image_embeddings_dim=2,
        image_embeddings_reducer="pca",
    )
    runs = model.collect(tables={"train": train, "val": val}, settings=settings, imgsz=64)
    run = tlc.active_run()
    assert run.name == "collect-only" and run.status_name.lower().startswith("complet")
    assert run.collections == ["c8/collect-only/train-final", "c8/collect-only/val-final"]
    # 3LC's return: Ultralytics' metrics per split, carrying the run's url
    assert set(runs) == {"train", "val"}
    assert runs["train"].run_url == runs["val"].run_url == run.url
    assert "metrics/mAP50-95(P)" in runs["val"].results_dict
    samples = runs["val"].posetable_run.per_sample.to_pydict()
    assert {"embeddings_0", "embeddings_1", *LOSSES} <= set(samples)
    assert "embeddings_2" not in samples


def test_an_interrupted_training_leaves_the_collected_epochs_readable(coco8):
    import posetable.tlc as tlc
    from posetable.tlc_ultralytics import Settings

    train, val = coco8
    model = _yolo()

    def stop(trainer):
        if trainer.epoch == 0:
            raise KeyboardInterrupt

    model.add_callback("on_fit_epoch_end", stop)
    settings = Settings(project_name="c8", run_name="stopped", collection_epoch_start=1)
    with pytest.raises(KeyboardInterrupt):
        model.train(tables={"train": train, "val": val}, settings=settings, **{**TINY, "epochs": 3})
    run = (
        tlc.Run.from_names("stopped", "c8", root_url=str(train.store.root))
        if hasattr(tlc.Run, "from_names")
        else tlc.active_run()
    )
    assert run.collections == ["c8/stopped/train-epoch-0001", "c8/stopped/val-epoch-0001"]
    for native in run.collection_runs():
        assert len(native.all_predictions()) == len(train if "train" in native.name else val)


# -- 3LC's examples --------------------------------------------------------------------------------
def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (posetable[tlc])")


def _run_example(name: str, monkeypatch, **env: object) -> dict:
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__tlc_example__")


def _check_run(run, k: int, dim: int = 2) -> None:
    assert run.collections, run.name
    for native in run.collection_runs():
        samples = native.per_sample.to_pydict()
        assert {f"embeddings_{j}" for j in range(dim)} <= set(samples)
        assert f"embeddings_{dim}" not in samples
        assert set(LOSSES) <= set(samples)
        assert native.sigmas.shape == (k,)


def test_example_pose_train_runs_to_the_end(home, monkeypatch):
    import posetable.tlc as tlc

    _need("umap")
    folder = data_path("coco8_pose_yolo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run_example(
            "ultralytics_pose_train", monkeypatch, TLC_EXAMPLE_YAML=folder / "coco8-pose.yaml"
        )
    run = tlc.active_run()
    assert run.project_name == "3lc-yolo-examples"
    assert run.name == "3lc-yolo-pose-train-example-yolo11n"
    _check_run(run, 17)
    from ultralytics.utils.metrics import OKS_SIGMA

    table = run.collection_runs()[0].table()
    np.testing.assert_allclose(table.schema.sigmas, OKS_SIGMA)


def test_example_train_hands_runs_and_warns_about_the_line_beyond_k(home, monkeypatch, tmp_path):
    import posetable.tlc as tlc

    _need("pacmap")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        hands = pt.Table.from_coco(
            data_path("onehand10k") / "annotations.json",
            data_path("onehand10k") / "images",
            name="hands-src",
            store=tmp_path / "src",
        )
    data_yaml = hands.export_yolo(tmp_path / "hands-yolo", split="train")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_example("ultralytics_pose_train_hands", monkeypatch, TLC_EXAMPLE_YAML=data_yaml)
    dropped = [
        str(w.message)
        for w in caught
        if issubclass(w.category, PosetableWarning) and "(19, 29)" in str(w.message)
    ]
    assert dropped and "K=21" in dropped[0]
    run = tlc.active_run()
    assert (run.project_name, run.name) == ("3lc-yolo-hands", "train-hands-kpts-example")
    _check_run(run, 21)
    schema = run.collection_runs()[0].table().schema
    assert schema.keypoint_names[0] == "WRIST" and (19, 20) not in schema.lines
    assert (18, 19) in schema.lines and all(max(line) < 21 for line in schema.lines)


def test_example_animalpose_notebook_runs_to_the_end(home, monkeypatch, tmp_path):
    import posetable.tlc as tlc

    _need("pacmap")
    folder = data_path("animalpose")
    coco = json.loads((folder / "annotations.json").read_text())
    # the bundled sample has 2 images: each is listed 5 times (new ids) so the notebook's
    # 80/10/10 split has a train, val and test part and the reducer has enough samples
    images, annotations = [], []
    for copy in range(5):
        for image in coco["images"]:
            images.append({**image, "id": image["id"] * 10 + copy})
        for ann in coco["annotations"]:
            annotations.append(
                {**ann, "id": ann["id"] * 10 + copy, "image_id": ann["image_id"] * 10 + copy}
            )
    enlarged = tmp_path / "animalpose.json"
    enlarged.write_text(json.dumps({**coco, "images": images, "annotations": annotations}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        source = tlc.Table.from_coco(
            enlarged,
            folder / "images",
            table_name="initial",
            dataset_name="AnimalPose",
            project_name="3LC Tutorials - 2D Keypoints",
            task="pose",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        _run_example("ultralytics_animalpose_notebook", monkeypatch)
    run = tlc.active_run()
    assert (run.project_name, run.name) == ("3LC Tutorials - 2D Keypoints", "train-yolo-animalpose")
    _check_run(run, source.schema.num_keypoints)
