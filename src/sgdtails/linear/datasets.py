"""Finite data sets for offline SGD: the paper's three (``X``, ``Y``, ``Z``) and digits random features.

Offline SGD samples rows, so ``Sigma = A'A/n`` and ``L`` are the empirical ones:
``L(x) = |Ax - b|^2 / (2n) = 1/2 (x - x_ref)' Sigma (x - x_ref) + L_min`` with ``x_ref`` the
least-squares solution.

The paper's data sets (Jiao & Keller-Ressel 2024, Section 4 and Table 3) are built exactly as the
published runs build them (:func:`jkr_dataset`), seeds included; :func:`jkr_settings` gives the
paper's SGD settings and :data:`JKR_PUBLISHED` the values the paper's runs printed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

from sgdtails._core.seeding import numpy_rng
from sgdtails._core.validation import check_int, check_positive

__all__ = [
    "JKR_DATASETS",
    "JKR_PUBLISHED",
    "FiniteDataset",
    "JKRPublished",
    "JKRSettings",
    "digits_features",
    "jkr_dataset",
    "check_jkr_names",
    "jkr_settings",
    "min_max",
]


@dataclass(frozen=True, eq=False)
class FiniteDataset:
    """A finite data set ``(features, targets)`` for offline SGD (rows sampled with replacement).

    ``Sigma = A'A/n``; ``spectrum``/``eigvecs`` its eigendecomposition (decreasing, eigenvalues
    below ``1e-10 lambda_1`` clipped to that floor so that hSGD and the bounds are defined);
    ``x_ref`` the least-squares solution, ``noise2 = 2 L_min`` the mean squared residual.
    """

    features: np.ndarray
    targets: np.ndarray
    name: str = "finite"

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def d(self) -> int:
        return int(self.features.shape[1])

    @property
    def online(self) -> bool:
        return False

    @cached_property
    def sigma_matrix(self) -> np.ndarray:
        return self.features.T @ self.features / self.n

    @cached_property
    def _eig(self) -> tuple[np.ndarray, np.ndarray]:
        w, v = np.linalg.eigh(self.sigma_matrix)
        order = np.argsort(w)[::-1]
        w, v = w[order], v[:, order]
        w = np.maximum(w, 1e-10 * w[0])
        return w, v

    @property
    def spectrum(self) -> np.ndarray:
        return self._eig[0]

    @property
    def eigvecs(self) -> np.ndarray:
        return self._eig[1]

    @property
    def trace(self) -> float:
        return float(np.trace(self.sigma_matrix))

    @cached_property
    def singular_values(self) -> np.ndarray:
        """Nonzero singular values ``lambda_1 >= ... >= lambda_r > 0`` of the data matrix ``A`` (the
        paper's notation; ``lambda_i^2 / n`` are the nonzero eigenvalues of ``Sigma``). Rank ``r``:
        values above ``max(n, d) * eps * lambda_1``, numpy's ``matrix_rank`` rule."""
        sv = np.linalg.svd(self.features, compute_uv=False)
        tol = sv[0] * max(self.features.shape) * np.finfo(np.float64).eps
        return sv[sv > tol].copy()

    @property
    def rank(self) -> int:
        return int(self.singular_values.size)

    @cached_property
    def x_ref(self) -> np.ndarray:
        return np.linalg.lstsq(self.features, self.targets, rcond=None)[0]

    @cached_property
    def noise2(self) -> float:
        r = self.features @ self.x_ref - self.targets
        return float(np.mean(r**2))

    def x_star(self, delta: float = 0.0) -> np.ndarray:
        """Ridge minimiser ``(Sigma + delta I)^-1 A'y/n``."""
        delta = check_positive("delta", delta, allow_zero=True)
        if delta == 0:  # rank-deficient A: the minimum-norm least-squares solution
            return self.x_ref
        rhs = self.features.T @ self.targets / self.n
        return np.linalg.solve(self.sigma_matrix + delta * np.eye(self.d), rhs)

    def loss(self, x: Any) -> np.ndarray:
        r = np.asarray(x, dtype=np.float64) @ self.features.T - self.targets
        return 0.5 * np.mean(r**2, axis=-1)


def digits_features(n_features: int = 32, *, seed: int = 0, standardize: bool = True
                    ) -> FiniteDataset:
    """Random ReLU features of scikit-learn's bundled digits (1797 images, 8x8, no download).

    Pixels are standardised (constant pixels set to 0); features ``relu(x W)`` with
    ``W ~ N(0, 1/64)`` (from ``seed``), so every feature is active on about half of the images;
    with ``standardize`` each feature is centred and scaled to unit variance (so
    ``tr Sigma = n_features``). Target: the digit label, centred and scaled to unit variance.
    These choices are this project's (the paper's are not known).
    """
    n_features = check_int("n_features", n_features, low=1, high=4096)
    x, label = load_digits(return_X_y=True)
    x = x.astype(np.float64)
    sd = x.std(axis=0)
    x = np.where(sd > 0, (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    rng = numpy_rng(seed)
    w = rng.standard_normal((x.shape[1], n_features)) / np.sqrt(x.shape[1])
    feats = np.maximum(x @ w, 0.0)
    if standardize:
        fsd = feats.std(axis=0)
        fsd[fsd == 0] = 1.0
        feats = (feats - feats.mean(axis=0)) / fsd
    y = label.astype(np.float64)
    y = (y - y.mean()) / y.std()
    return FiniteDataset(features=feats, targets=y, name="digits-relu")


# ------------------------------------------------------------------------------------------------
# The paper's data sets (Jiao & Keller-Ressel 2024, Section 4)
# ------------------------------------------------------------------------------------------------
#: the paper's data sets: synthetic, digits pixels, random features of the digits
JKR_DATASETS = ("X", "Y", "Z")


def min_max(data: Any) -> np.ndarray:
    """``(data - min data) / (max data - min data)`` with one global minimum and maximum (the paper's
    scaling of the whole data matrix)."""
    arr = np.asarray(data, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if not hi > lo:
        raise ValueError("data must not be constant: min-max scaling divides by max - min")
    return (arr - lo) / (hi - lo)


def _check_jkr_name(name: str, argument: str = "name") -> str:
    if name not in JKR_DATASETS:
        raise ValueError(f"{argument} must be one of {list(JKR_DATASETS)} (synthetic, digits pixels, random "
                         f"features), got {name!r}")
    return name


def check_jkr_names(names: Any, argument: str = "datasets") -> tuple[str, ...]:
    """A non-empty selection of the paper's data sets, as a tuple; a clear error naming ``argument``."""
    names = tuple(names)
    if not names:
        raise ValueError(f"{argument} must name at least one of {list(JKR_DATASETS)}")
    return tuple(_check_jkr_name(n, argument) for n in names)


def _digits_responses(labels: np.ndarray) -> np.ndarray:
    """``b_i = label_i / 10``; the published runs leave the last sample's response at 0."""
    b = labels.astype(np.float64) / 10.0
    b[-1] = 0.0
    return b


@functools.cache
def jkr_dataset(name: str) -> FiniteDataset:
    """One of the paper's three data sets, built exactly as the published runs build it.

    - ``"X"`` (synthetic): ``np.random.seed(1)``; ``raw = randn(2000, 200)`` drawn first and min-max
      scaled to ``A``; then, from the same stream, ``x_true = 3 randn(200)`` and
      ``b = A x_true + 3 randn(2000)``.
    - ``"Y"`` (digits pixels): scikit-learn's bundled ``load_digits`` (n = 1797, 64 pixels), min-max over
      all pixels; ``b_i = label_i / 10``, the last sample's response left at 0 as in the published runs.
    - ``"Z"`` (random features): ``np.random.seed(1)``; ``W = randn(64, 200)``;
      ``A = minmax(relu(D W / 8))`` with ``D`` the unscaled pixels (the paper's affine rescaling of
      relu is removed by the min-max); ``b`` as for ``Y``.

    ``np.random.RandomState(1)`` reproduces the stream of the published ``np.random.seed(1)`` without
    touching numpy's global state. Built once per process (the result is shared: do not modify its arrays).
    """
    _check_jkr_name(name)
    if name == "X":
        stream = np.random.RandomState(1)  # the stream of np.random.seed(1), without touching global state
        a = min_max(stream.randn(2000, 200))
        x_true = 3.0 * stream.randn(200)
        b = a @ x_true + 3.0 * stream.randn(2000)
        return FiniteDataset(features=a, targets=b, name="X: synthetic")
    pixels, labels = load_digits(return_X_y=True)
    pixels = pixels.astype(np.float64)
    if name == "Y":
        return FiniteDataset(features=min_max(pixels), targets=_digits_responses(labels),
                             name="Y: digits pixels")
    w = np.random.RandomState(1).randn(64, 200)
    a = min_max(np.maximum(pixels @ w / 8.0, 0.0))
    return FiniteDataset(features=a, targets=_digits_responses(labels), name="Z: random features")


@dataclass(frozen=True)
class JKRSettings:
    """The paper's SGD settings for one data set (Table 3): step size ``gamma``, iterations ``K`` (each
    run performs ``K - 1`` updates, as published), batch size ``B``, ridge ``delta`` (the paper's, on
    ``delta |x|^2 / (2n)``), initial point ``x_0 ~ init_scale N(0, I)``, and ``n_runs`` runs."""

    name: str
    gamma: float
    n_iterations: int
    batch_size: int = 1
    delta: float = 0.0
    init_scale: float = 0.5
    n_runs: int = 1000

    @property
    def n_updates(self) -> int:
        """``K - 1``: the published runs update ``K - 1`` times."""
        return self.n_iterations - 1


_JKR_SETTINGS = {
    "X": JKRSettings("X", gamma=0.02, n_iterations=1000, init_scale=0.5),
    "Y": JKRSettings("Y", gamma=0.1, n_iterations=10_000, init_scale=0.5),
    "Z": JKRSettings("Z", gamma=0.2, n_iterations=10_000, init_scale=0.1),
}


def jkr_settings(name: str) -> JKRSettings:
    """The paper's settings (Table 3) for data set ``name`` in ``("X", "Y", "Z")``."""
    return _JKR_SETTINGS[_check_jkr_name(name)]


@dataclass(frozen=True)
class JKRPublished:
    """Values printed by the paper's published runs (Jiao & Keller-Ressel 2024, Table 3 and the
    authors' notebooks): top singular value ``lambda_1`` of ``A``, the bounds ``eta^*`` (Thm 3.2) and
    ``eta_*`` (Thm 3.3), and ``gamma_bar`` (the step-size condition of Thm 3.3). Quoted, not computed:
    the book shows them next to the values the library computes."""

    lambda_1: float
    eta_upper: float
    eta_lower: float
    gamma_bar: float


#: the paper's published values (source: Jiao & Keller-Ressel 2024, arXiv 2402.01382, Table 3 runs)
JKR_PUBLISHED = {
    "X": JKRPublished(319.83131714104155, 2.955185746221347, 2.9089065027387946, 0.03737407118416092),
    "Y": JKRPublished(137.069958552038, 2.9129054736665863, 2.476868300004667, 0.13320723925193698),
    "Z": JKRPublished(93.48564024773313, 3.056166426902537, 2.7017259215895226, 0.30361856705213514),
}
