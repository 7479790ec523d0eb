"""The paper's tail-index bounds for homogenized SGD (Jiao & Keller-Ressel 2024, Theorems 3.2-3.4).

Notation and units are the paper's: data matrix ``A`` (n x d) with nonzero singular values
``lambda_1 >= ... >= lambda_r > 0``, batch size ``B``, step size ``gamma``, ridge ``delta`` on
``L_reg(x) = |Ax - b|^2/(2n) + delta |x|^2/(2n)``. In the rotated coordinates ``Z^i`` hSGD reads
``dZ^i = -theta_i (Z^i - mu_i) dt + sqrt(2 theta_i phi_i (|Z|^2 + chi)) dB^i`` with

- ``theta_i = gamma (lambda_i^2 + delta) / n``,
- ``phi_i = gamma lambda_i^4 / (2 n B (lambda_i^2 + delta))``,

and the decoupled Pearson diffusions (``|Z|^2`` replaced by ``(Z^i)^2``) have stationary tail index
``nu_i = 1 + 1/phi_i``. The paper's results:

- Thm 3.2 (upper bound): ``eta <= eta^* = nu_1 = 1 + 2nB(lambda_1^2 + delta) / (gamma lambda_1^4)``.
- Thm 3.3 (lower bound): if ``gamma < gamma_bar = 2nB(lambda_1^2 + delta) / (lambda_1^2 sum_i lambda_i^2)``,
  ``eta >= eta_* = eta^* - sum_{i>=2} lambda_i^2 / lambda_1^2``.
- Thm 3.4 (W2 convergence): if ``gamma < gamma' = (nB/2) (sum_i lambda_i^4 / (lambda_i^2 + delta))^(-1)``,
  ``sum_i lambda_i^4 / (lambda_i^2 + delta - n rho / gamma) = nB / (2 gamma)`` has a unique root
  ``rho_* > 0`` and ``W2(pi_t, pi) <= C exp(-rho_* t)``; then ``eta > 2``.

Hessian units: ``s_i = lambda_i^2 / n`` (eigenvalues of ``A'A/n``) and ``delta' = delta / n``
(:func:`paper_units` converts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from sgdtails._core.validation import check_int, check_sgd_args
from sgdtails.linear.datasets import FiniteDataset
from sgdtails.linear.designs import check_spectrum

__all__ = ["JKRBounds", "jkr_bounds", "jkr_bounds_hessian", "paper_units", "rho_star_equation"]


@dataclass(frozen=True)
class JKRBounds:
    """The paper's quantities at one ``(gamma, B, delta)`` (paper's units).

    ``eta_upper`` (Thm 3.2, ``nu_1``), ``eta_lower`` (Thm 3.3), ``gamma_bar`` and ``lower_valid``
    (``gamma < gamma_bar``: only then is ``eta_lower`` a proven bound), ``gamma_prime`` and ``rho_star``
    (Thm 3.4; ``nan`` when ``gamma >= gamma_prime``), ``nu`` the Pearson indices ``nu_i``, ``theta`` and
    ``phi`` per component, and the inputs.
    """

    eta_upper: float
    eta_lower: float
    gamma_bar: float
    lower_valid: bool
    gamma_prime: float
    rho_star: float
    nu: np.ndarray
    theta: np.ndarray
    phi: np.ndarray
    singular_values: np.ndarray
    n: int
    gamma: float
    batch_size: int
    delta: float

    @property
    def lambda_1(self) -> float:
        return float(self.singular_values[0])


def paper_units(hessian_eigenvalues: Any, n: int, delta_hessian: float = 0.0) -> tuple[np.ndarray, float]:
    """Singular values ``lambda_i = sqrt(n s_i)`` and ridge ``delta = n delta'`` from the Hessian
    eigenvalues ``s_i`` of ``A'A/n`` and the per-unit ridge ``delta'``."""
    s = check_spectrum(hessian_eigenvalues, name="hessian_eigenvalues")
    n = check_int("n", n, low=1)
    if not delta_hessian >= 0 or not math.isfinite(delta_hessian):
        raise ValueError(f"delta_hessian must be finite and >= 0, got {delta_hessian!r}")
    return np.sqrt(n * s), float(n * delta_hessian)


def rho_star_equation(rho: float, singular_values: Any, n: int, gamma: float, batch_size: int,
                      delta: float = 0.0) -> float:
    """``sum_i lambda_i^4 / (lambda_i^2 + delta - n rho / gamma) - nB / (2 gamma)`` (zero at ``rho_*``)."""
    lam2 = np.asarray(singular_values, dtype=np.float64) ** 2
    return float(np.sum(lam2**2 / (lam2 + delta - n * rho / gamma)) - n * batch_size / (2.0 * gamma))


def _rho_star(lam2: np.ndarray, n: int, gamma: float, b: int, delta: float) -> float:
    """Unique root of :func:`rho_star_equation` in ``(0, gamma (lambda_r^2 + delta) / n)``: the sum
    increases from its value at 0 (below ``nB/(2 gamma)`` iff ``gamma < gamma'``) to its first pole."""
    pole = gamma * (float(lam2.min()) + delta) / n
    sv = np.sqrt(lam2)

    def f(rho: float) -> float:
        return rho_star_equation(rho, sv, n, gamma, b, delta)

    hi = pole * (1.0 - 1e-15)
    while f(hi) <= 0:  # the sum blows up at the pole; move closer in floating point
        hi = pole - (pole - hi) / 16.0
        if hi >= pole:
            return float(pole)
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500))


def jkr_bounds(singular_values: Any, n: int | None = None, gamma: float | None = None,
               batch_size: int = 1, delta: float = 0.0) -> JKRBounds:
    """The paper's bounds (Theorems 3.2-3.4) for singular values ``lambda_i`` of ``A`` (n rows).

    ``singular_values`` may also be a :class:`~sgdtails.linear.datasets.FiniteDataset`; its nonzero
    singular values and ``n`` are used. ``gamma`` (> 0) is required; ``batch_size`` >= 1;
    ``delta`` >= 0 is the paper's ridge.
    """
    if isinstance(singular_values, FiniteDataset):
        if n is not None and n != singular_values.n:
            raise ValueError(f"n={n} disagrees with the data set's n={singular_values.n}")
        n = singular_values.n
        singular_values = singular_values.singular_values
    if n is None or gamma is None:
        raise ValueError("n and gamma are required (n > 0 rows, gamma > 0 the step size)")
    sv = check_spectrum(singular_values, name="singular_values")
    n = check_int("n", n, low=1)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    lam2 = sv**2
    theta = gamma * (lam2 + delta) / n
    phi = gamma * lam2**2 / (2.0 * n * b * (lam2 + delta))
    nu = 1.0 + 1.0 / phi
    eta_upper = float(nu[0])
    eta_lower = eta_upper - float(lam2[1:].sum() / lam2[0])
    gamma_bar = 2.0 * n * b * (lam2[0] + delta) / (lam2[0] * lam2.sum())
    gamma_prime = 0.5 * n * b / float(np.sum(lam2**2 / (lam2 + delta)))
    rho = _rho_star(lam2, n, gamma, b, delta) if gamma < gamma_prime else math.nan
    return JKRBounds(eta_upper=eta_upper, eta_lower=eta_lower, gamma_bar=float(gamma_bar),
                     lower_valid=bool(gamma < gamma_bar), gamma_prime=float(gamma_prime),
                     rho_star=float(rho), nu=nu, theta=theta, phi=phi, singular_values=sv, n=n,
                     gamma=gamma, batch_size=b, delta=delta)


def jkr_bounds_hessian(spectrum: Any, gamma: float, batch_size: int = 1, delta: float = 0.0) -> JKRBounds:
    """The paper's bounds from the Hessian eigenvalues ``s_i`` (of ``A'A/n``, or ``Sigma`` of an online
    Gaussian design) and the per-unit ridge ``delta'`` of ``x - gamma (grad L + delta' x)``:
    ``eta^* = 1 + 2B(s_1 + delta')/(gamma s_1^2)``, ``eta_* = eta^* - sum_{i>=2} s_i / s_1``,
    ``gamma_bar = 2B(s_1 + delta')/(s_1 tr H)``. The bounds do not depend on ``n`` in these units
    (``n = 1`` is used: ``lambda_i = sqrt(s_i)``, ``delta = delta'``)."""
    sv, delta_paper = paper_units(spectrum, 1, delta)
    return jkr_bounds(sv, 1, gamma, batch_size, delta_paper)
