"""UMAP and PaCMAP behind ``image_embeddings_reducer`` (the ``[tlc]`` extra), as 3LC uses them:
one reducer per training, fitted on the first collection and applied to every later one, so
the points of all epochs live in one space."""

from __future__ import annotations

import numpy as np
import pytest

from posetable.integrations._embeddings import EmbeddingReducer, reduce_embeddings

pytestmark = pytest.mark.integration


def _clusters(seed: int, n: int = 60, d: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Backbone-like vectors of three well separated groups, and each vector's group."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(3, d))
    group = np.arange(n) % 3
    return centres[group] + rng.normal(size=(n, d)), group


def _separated(points: np.ndarray, group: np.ndarray) -> bool:
    """Every point is nearer its own group's centre than any other group's."""
    centres = np.stack([points[group == g].mean(axis=0) for g in range(3)])
    nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    return bool((nearest == group).all())


@pytest.mark.parametrize(("method", "module"), [("umap", "umap"), ("pacmap", "pacmap")])
@pytest.mark.parametrize("dim", [2, 3])
def test_the_reducer_fits_once_and_places_later_collections_in_the_same_space(
    method: str, module: str, dim: int
) -> None:
    pytest.importorskip(module)
    first, first_group = _clusters(0)
    seeded = {"random_state": 0, "n_jobs": 1} if method == "umap" else {}
    reducer = EmbeddingReducer(dim, method, seeded)
    points = reducer(first, name="val-epoch-0001")
    assert points.shape == (len(first), dim) and np.isfinite(points).all()
    assert reducer.fitted_method == method and reducer.fitted_on == "val-epoch-0001"
    assert _separated(points, first_group)
    # a later epoch: the same groups, new samples; transform, not a new fit
    rng = np.random.default_rng(1)
    later = first[:30] + rng.normal(scale=0.1, size=(30, first.shape[1]))
    placed = reducer(later, name="val-epoch-0002")
    assert placed.shape == (30, dim) and reducer.refits == 0
    assert reducer.fitted_on == "val-epoch-0001"
    # near copies of fitted samples land in their groups' regions of the first fit
    centres = np.stack([points[first_group == g].mean(axis=0) for g in range(3)])
    nearest = np.argmin(((placed[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == first_group[:30]).mean() >= 0.9


@pytest.mark.parametrize("method", ["umap", "pacmap"])
def test_too_few_samples_fall_back_to_pca_with_a_warning(method: str) -> None:
    pytest.importorskip(method)
    from posetable.errors import PosetableWarning

    with pytest.warns(PosetableWarning, match="needs at least 5 samples, got 4; reduced with PCA"):
        out = reduce_embeddings(np.random.default_rng(0).normal(size=(4, 8)), 2, method=method)
    assert out.shape == (4, 2)
