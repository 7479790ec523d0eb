"""Online Gaussian designs: ``a ~ N(0, Sigma)``, ``Sigma = diag(lambda_1 >= ... >= lambda_d)``,
``y = a . x_true + sigma eps``; the loss is ``L(x) = 1/2 (x - x_true)' Sigma (x - x_true) + sigma^2/2``.

Designs and finite data sets (:mod:`sgdtails.linear.datasets`) expose the same description of the
quadratic loss used by SGD, hSGD and the theory: ``spectrum`` (decreasing), ``eigvecs`` (``None`` for a
diagonal Sigma), ``x_ref``, ``noise2 = 2 L_min``, and ``x_star(delta) = (Sigma + delta I)^-1 Sigma x_ref``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sgdtails._core.seeding import numpy_rng
from sgdtails._core.validation import check_choice, check_int, check_positive

__all__ = [
    "GaussianDesign",
    "check_spectrum",
    "gaussian_design",
    "isotropic",
    "power_law",
]


def check_spectrum(spectrum: Any, *, name: str = "spectrum") -> np.ndarray:
    """Eigenvalues of ``Sigma`` as a float64 array sorted decreasingly; all finite and > 0."""
    lam = np.atleast_1d(np.asarray(spectrum, dtype=np.float64))
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of eigenvalues, got shape "
                         f"{lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {lam!r}")
    if np.any(lam <= 0):
        raise ValueError(f"{name} must contain eigenvalues > 0, got min {lam.min()!r}")
    return np.sort(lam)[::-1].copy()



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
    lam = check_spectrum(spectrum)
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
