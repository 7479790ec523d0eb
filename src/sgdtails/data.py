"""Data for Part I: Gaussian designs with a given spectrum and random ReLU features of digits.

Synthetic sets: ``a ~ N(0, Sigma)``, ``Sigma = diag(lambda_1 >= ... >= lambda_d)``,
``y = a . x_true + sigma eps``; the loss is ``L(x) = 1/2 (x - x_true)' Sigma (x - x_true) + sigma^2/2``.
Real set: random ReLU features of scikit-learn's bundled digits (no download); offline SGD samples
rows with replacement, so ``Sigma = A'A/n`` and ``L`` are the empirical ones:
``L(x) = 1/2 (x - x_ref)' Sigma (x - x_ref) + L_min`` with ``x_ref`` the least-squares solution.

Both kinds expose the same description of the quadratic loss used by :mod:`sgdtails.hsgd` and
:mod:`sgdtails.theory`: ``spectrum`` (decreasing), ``eigvecs`` (``None`` for a diagonal Sigma),
``x_ref``, ``noise2 = 2 L_min``, and ``x_star(delta) = (Sigma + delta I)^-1 Sigma x_ref``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch

from sgdtails._validation import check_choice, check_int, check_positive
from sgdtails.seeding import numpy_rng

__all__ = [
    "FiniteDataset",
    "GaussianDesign",
    "digits_features",
    "gaussian_design",
    "isotropic",
    "power_law",
]


def _spectrum(spectrum: Any) -> np.ndarray:
    from sgdtails.theory import check_spectrum

    return check_spectrum(spectrum)


@dataclass(frozen=True, eq=False)
class GaussianDesign:
    """Online data ``a ~ N(0, diag(spectrum))``, ``y = a . x_true + sigma eps``."""

    spectrum: np.ndarray
    x_true: np.ndarray
    sigma: float
    name: str = "gaussian"
    eigvecs: None = field(default=None, repr=False)

    @property
    def d(self) -> int:
        return int(self.spectrum.size)

    @property
    def trace(self) -> float:
        return float(self.spectrum.sum())

    @property
    def x_ref(self) -> np.ndarray:
        return self.x_true

    @property
    def noise2(self) -> float:
        """``2 L_min = sigma^2``."""
        return float(self.sigma**2)

    @property
    def online(self) -> bool:
        return True

    def x_star(self, delta: float = 0.0) -> np.ndarray:
        """Ridge minimiser ``(Sigma + delta I)^-1 Sigma x_true``."""
        delta = check_positive("delta", delta, allow_zero=True)
        return self.spectrum / (self.spectrum + delta) * self.x_true

    def loss(self, x: Any) -> np.ndarray:
        """Population loss ``L(x)`` for one point or rows of points."""
        z = np.asarray(x, dtype=np.float64) - self.x_true
        return 0.5 * (z**2 * self.spectrum).sum(axis=-1) + 0.5 * self.sigma**2

    def sample(self, shape: tuple[int, ...], gen: torch.Generator, *,
               dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``a`` of shape ``shape + (d,)`` and ``y`` of shape ``shape``."""
        dev = torch.device(device)
        sd = torch.as_tensor(np.sqrt(self.spectrum), dtype=dtype, device=dev)
        xt = torch.as_tensor(self.x_true, dtype=dtype, device=dev)
        a = torch.randn(*shape, self.d, generator=gen, dtype=dtype, device=dev) * sd
        y = a @ xt + self.sigma * torch.randn(*shape, generator=gen, dtype=dtype, device=dev)
        return a, y


def gaussian_design(spectrum: Any, *, sigma: float = 1.0, x_true: Any = "zero",
                    seed: int = 0, name: str = "gaussian") -> GaussianDesign:
    """Gaussian design with ``Sigma = diag(spectrum)`` (sorted decreasingly), noise ``sigma``.

    ``x_true``: ``"zero"``, ``"random"`` (``N(0, I/d)`` from ``seed``) or an array of length d.
    """
    lam = _spectrum(spectrum)
    sigma = check_positive("sigma", sigma, allow_zero=True)
    d = lam.size
    if isinstance(x_true, str):
        check_choice("x_true", x_true, ["zero", "random"])
        xt = (np.zeros(d) if x_true == "zero"
              else numpy_rng(seed).standard_normal(d) / np.sqrt(d))
    else:
        xt = np.asarray(x_true, dtype=np.float64)
        if xt.shape != (d,) or not np.all(np.isfinite(xt)):
            raise ValueError(f"x_true must be a finite array of shape ({d},), got {xt.shape}")
    return GaussianDesign(spectrum=lam, x_true=xt, sigma=sigma, name=name)


def isotropic(d: int, *, lam: float = 1.0, sigma: float = 1.0, x_true: Any = "zero",
              seed: int = 0) -> GaussianDesign:
    """``Sigma = lam I_d``."""
    d = check_int("d", d, low=1)
    lam = check_positive("lam", lam)
    return gaussian_design(np.full(d, lam), sigma=sigma, x_true=x_true, seed=seed,
                           name="isotropic")


def power_law(d: int, *, exponent: float = 1.0, lam_max: float = 1.0, sigma: float = 1.0,
              x_true: Any = "zero", seed: int = 0) -> GaussianDesign:
    """Anisotropic ``lambda_j = lam_max * j^(-exponent)``, ``j = 1..d``."""
    d = check_int("d", d, low=1)
    exponent = check_positive("exponent", exponent, allow_zero=True)
    lam_max = check_positive("lam_max", lam_max)
    lam = lam_max * np.arange(1, d + 1, dtype=np.float64) ** (-exponent)
    return gaussian_design(lam, sigma=sigma, x_true=x_true, seed=seed, name="power-law")


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
    def x_ref(self) -> np.ndarray:
        return np.linalg.lstsq(self.features, self.targets, rcond=None)[0]

    @cached_property
    def noise2(self) -> float:
        r = self.features @ self.x_ref - self.targets
        return float(np.mean(r**2))

    def x_star(self, delta: float = 0.0) -> np.ndarray:
        """Ridge minimiser ``(Sigma + delta I)^-1 A'y/n``."""
        delta = check_positive("delta", delta, allow_zero=True)
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
    from sklearn.datasets import load_digits

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
