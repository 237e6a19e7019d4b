"""Image embeddings reduced to 2 or 3 dimensions, one reducer per training (3LC's rule).

:class:`EmbeddingReducer` is fitted on the first collection a training makes (the train
stream, or the first stream collected) and applied to every later one, so the points of
different epochs and streams are in one space and can be compared: PCA keeps the mean and the
components of that first collection and projects later ones; UMAP and PaCMAP use their
``transform`` (UMAP's always; PaCMAP's when fitted with ``save_tree=True``, which is set here),
and refit, with a logged warning, when a reducer cannot transform. :func:`reduce_embeddings`
reduces one set alone.

``"pca"`` needs only numpy; ``"umap"`` (umap-learn) and ``"pacmap"`` come with
``posetable[tlc]``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from posetable.errors import PosetableWarning, RunError
from posetable.integrations._common import require

__all__ = ["REDUCERS", "EmbeddingReducer", "check_embeddings", "reduce_embeddings"]

#: embedding reducers: name -> (module, the package that provides it)
REDUCERS = {
    "pca": ("numpy", "numpy"),
    "umap": ("umap", "umap-learn"),
    "pacmap": ("pacmap", "pacmap"),
}

logger = logging.getLogger(__name__)


def check_embeddings(dim: int, reducer: str) -> None:
    """Fail before any model work when embeddings cannot be reduced as asked.

    Example:
        >>> check_embeddings(2, "pca")
        >>> check_embeddings(4, "pca")
        Traceback (most recent call last):
        ...
        posetable.errors.RunError: image_embeddings_dim must be 0, 2 or 3, got 4
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim not in (0, 2, 3):
        raise RunError(f"image_embeddings_dim must be 0, 2 or 3, got {dim!r}")
    if dim == 0:
        return
    if reducer not in REDUCERS:
        raise RunError(
            f"image_embeddings_reducer must be one of {sorted(REDUCERS)}, got {reducer!r}"
        )
    module, package = REDUCERS[reducer]
    try:
        require(module, extra="tlc", package=package)
    except ImportError as exc:
        raise type(exc)(
            f"image_embeddings_reducer={reducer!r} needs {package}, which is not installed: "
            f'pip install "posetable[tlc]" (or image_embeddings_reducer="pca", always there)'
        ) from exc


class EmbeddingReducer:
    """One reducer for all the collections of a training.

    The first call with at least 2 vectors fits the reducer on them and returns their points
    (``fitted_on`` records the collection's name); every later call applies that fit. With
    PCA, ``mean`` ``(d,)`` and ``components`` ``(dim, d)`` are kept and a later collection
    ``x`` becomes ``(x - mean) @ components.T``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> reducer = EmbeddingReducer(2)
        >>> first = reducer(rng.normal(size=(6, 8)), name="train-epoch-0001")
        >>> later = rng.normal(size=(3, 8))
        >>> bool(np.allclose(reducer(later), (later - reducer.mean) @ reducer.components.T))
        True
    """

    def __init__(
        self, dim: int, method: str = "pca", reducer_args: Mapping[str, Any] | None = None
    ) -> None:
        check_embeddings(dim, method)
        if dim == 0:
            raise RunError("an embedding reducer needs image_embeddings_dim 2 or 3, got 0")
        self.dim = int(dim)
        self.method = method
        self.reducer_args = dict(reducer_args or {})
        #: the method actually fitted ("pca" when UMAP/PaCMAP had too few samples)
        self.fitted_method: str | None = None
        self.fitted_on: str | None = None
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.model: Any = None
        #: how many later collections had to be refitted (a reducer without ``transform``)
        self.refits = 0

    @property
    def fitted(self) -> bool:
        """Whether the first collection has been fitted."""
        return self.fitted_method is not None

    def __call__(self, vectors: np.ndarray, *, name: str | None = None) -> np.ndarray:
        """The ``(n, dim)`` points of ``(n, d)`` vectors: fit on the first call, then apply."""
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2:
            raise RunError(f"embeddings must be an (n, d) array, got shape {x.shape}")
        if self.fitted:
            return self.transform(x)
        if len(x) < 2:
            # nothing to fit a projection on: wait for a collection with >= 2 samples
            return np.zeros((len(x), self.dim))
        out = self._fit(x)
        self.fitted_on = name
        return out

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Apply the fitted reducer to ``(n, d)`` vectors."""
        x = np.asarray(vectors, dtype=np.float64)
        if not self.fitted:
            raise RunError("the embedding reducer is not fitted yet")
        if self.mean is not None and self.components is not None:
            if x.shape[1:] != self.mean.shape:
                raise RunError(
                    f"embeddings of dimension {x.shape[1:]} cannot be projected by a reducer "
                    f"fitted on dimension {self.mean.shape} (collection {self.fitted_on!r})"
                )
            return (x - self.mean) @ self.components.T
        transform = getattr(self.model, "transform", None)
        if callable(transform):
            try:
                return np.asarray(transform(x), dtype=np.float64)
            except (AttributeError, NotImplementedError, TypeError, ValueError) as exc:
                reason = f"its transform failed ({type(exc).__name__}: {exc})"
        else:
            reason = "it has no transform"
        # the reducer cannot place new points in the fitted space: refit on this collection
        # alone, so its points are NOT comparable with the first collection's
        self.refits += 1
        logger.warning(
            "image_embeddings_reducer=%r: %s; this collection is reduced by a new fit, not "
            "comparable with the points of %r",
            self.method,
            reason,
            self.fitted_on,
        )
        return self._fit_model(x)

    def _fit(self, x: np.ndarray) -> np.ndarray:
        method = self.method
        if method != "pca" and len(x) < 5:
            warnings.warn(
                f"image_embeddings_reducer={method!r} needs at least 5 samples, got {len(x)}; "
                "reduced with PCA instead",
                PosetableWarning,
                stacklevel=3,
            )
            method = "pca"
        self.fitted_method = method
        if method == "pca":
            self.mean = x.mean(axis=0)
            centred = x - self.mean
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            components = np.zeros((self.dim, x.shape[1]))
            take = min(self.dim, len(vt))
            components[:take] = vt[:take]
            self.components = components
            return centred @ components.T
        out = self._fit_model(x)
        return out

    def _fit_model(self, x: np.ndarray) -> np.ndarray:
        args = dict(self.reducer_args)
        n = len(x)
        default = 15 if self.method == "umap" else 10
        neighbours = max(2, min(int(args.pop("n_neighbors", default)), n - 1))
        if self.method == "umap":
            umap = require("umap", extra="tlc", package="umap-learn")
            init = args.pop("init", "spectral" if n > self.dim + 10 else "random")
            model = umap.UMAP(n_components=self.dim, n_neighbors=neighbours, init=init, **args)
        else:
            pacmap = require("pacmap", extra="tlc")
            args.setdefault("save_tree", True)  # PaCMAP's transform needs the fitted tree
            model = pacmap.PaCMAP(n_components=self.dim, n_neighbors=neighbours, **args)
        out = np.asarray(model.fit_transform(x), dtype=np.float64)
        if self.model is None:
            self.model = model
        return out


def reduce_embeddings(
    vectors: np.ndarray,
    dim: int,
    *,
    method: str = "pca",
    reducer_args: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """``(n, d)`` embeddings reduced to ``(n, dim)`` alone, with PCA, UMAP or PaCMAP.

    UMAP and PaCMAP need more samples than neighbours: their ``n_neighbors`` is capped at
    ``n - 1``; below 5 samples they cannot run, and PCA is used with a warning. To put several
    collections in one space, use one :class:`EmbeddingReducer` for all.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(6, 8))
        >>> reduce_embeddings(x, 2).shape
        (6, 2)
    """
    return EmbeddingReducer(dim, method, reducer_args)(vectors)
