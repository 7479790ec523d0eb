"""This project's radial derivation for hSGD (not the paper's theorems; see :mod:`sgdtails.linear.bounds`).

Notation: learning rate ``gamma``, batch size ``B``, ridge ``delta`` (per unit of the Hessian),
Hessian spectrum ``s_1 >= ... >= s_d`` of ``Sigma``. With ``Z = X - x*`` and the Rayleigh quotient
``s = Z' Sigma Z / |Z|^2``, the radial part of hSGD behaves like a Pearson diffusion with ccdf tail index
``2 + phi(s)``, ``phi(s) = 2B(s + delta)/(gamma s^2) - tr(Sigma)/s``. Its minimum over
``s in [s_d, s_1]`` is the paper's lower bound ``eta_*``; its maximum is *not* the paper's ``eta^*``
(that is ``nu_1``, :func:`sgdtails.linear.bounds.jkr_bounds`): here it is called the radial range's
upper end. For ``Sigma = lam I`` both equal the exact index of the stationary multivariate Student-t law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sgdtails._core.validation import check_int, check_positive, check_sgd_args
from sgdtails.linear.designs import check_spectrum

__all__ = [
    "RadialRange",
    "hsgd_isotropic_index",
    "hsgd_isotropic_scale",
    "hsgd_phi",
    "lr_threshold",
    "radial_index_range",
]


def lr_threshold(spectrum: Any, batch_size: int) -> float:
    """Learning-rate threshold ``gamma~ = 2B / tr(Sigma)``; for ``gamma <= gamma~`` phi decreases."""
    lam = check_spectrum(spectrum)
    b = check_int("batch_size", batch_size, low=1)
    return 2.0 * b / float(lam.sum())


def hsgd_phi(s: Any, spectrum: Any, gamma: float, batch_size: int, delta: float = 0.0
             ) -> np.ndarray:
    """``phi(s) = 2B(s + delta)/(gamma s^2) - tr(Sigma)/s`` (ccdf tail index of the radial
    Pearson diffusion minus 2, along directions of Rayleigh quotient ``s``)."""
    lam = check_spectrum(spectrum)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    s = np.asarray(s, dtype=np.float64)
    return 2.0 * b * (s + delta) / (gamma * s**2) - lam.sum() / s


@dataclass(frozen=True)
class RadialRange:
    """Range ``[lower, upper] = 2 + [min phi, max phi]`` of the radial Pearson index over
    ``s in [s_d, s_1]`` (this project's derivation), and where ``phi`` attains its ends.

    ``lower`` equals the paper's ``eta_*`` when ``phi`` is decreasing (``monotone``, always so at
    ``delta = 0`` for ``gamma < 2B / tr Sigma``, the paper's ``gamma_bar``); ``upper`` is *not* the
    paper's ``eta^*``: it is ``2 + phi(s_d)``, governed by the smallest eigenvalue.
    """

    lower: float
    upper: float
    s_at_lower: float
    s_at_upper: float
    gamma_threshold: float
    monotone: bool


def radial_index_range(spectrum: Any, gamma: float, batch_size: int, delta: float = 0.0
                       ) -> RadialRange:
    """``2 + min phi(s)`` and ``2 + max phi(s)`` over ``s in [s_d, s_1]`` (Hessian eigenvalues).

    Exact optimisation: with ``t = 1/s``, ``phi = (2B/gamma - tr Sigma) t + (2B delta/gamma) t^2``
    is a convex (``delta > 0``) or linear (``delta = 0``) function of ``t`` on
    ``[1/s_1, 1/s_d]``: its maximum is at an end point, its minimum at an end point or
    at the vertex ``t0 = -(2B/gamma - tr Sigma) gamma / (4 B delta)``. ``monotone`` says whether
    phi is decreasing in ``s`` on the interval (always so for ``gamma <= 2B / tr Sigma``).
    """
    lam = check_spectrum(spectrum)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    tr = float(lam.sum())
    cands = [float(lam[-1]), float(lam[0])]
    if delta > 0:
        t0 = -(2.0 * b / gamma - tr) * gamma / (4.0 * b * delta)
        if 1.0 / lam[0] < t0 < 1.0 / lam[-1]:
            cands.append(1.0 / t0)
    s = np.array(cands)
    ph = hsgd_phi(s, lam, gamma, b, delta)
    i_min, i_max = int(np.argmin(ph)), int(np.argmax(ph))
    # phi decreasing in s  <=>  increasing in t on the interval
    slope_lo_t = (2.0 * b / gamma - tr) + 2.0 * (2.0 * b * delta / gamma) / lam[0]
    return RadialRange(lower=2.0 + float(ph[i_min]), upper=2.0 + float(ph[i_max]),
                       s_at_lower=float(s[i_min]), s_at_upper=float(s[i_max]),
                       gamma_threshold=2.0 * b / tr, monotone=bool(slope_lo_t >= 0))


def hsgd_isotropic_index(lam: float, d: int, gamma: float, batch_size: int,
                         delta: float = 0.0) -> float:
    """Exact hSGD index for ``Sigma = lam I`` (and ``x_true = 0`` or ``delta = 0``):
    ``nu = 2 - d + 2B(lam + delta)/(gamma lam^2)`` (Student-t degrees of freedom).

    Raises ValueError when ``nu <= 0`` (no stationary Student-t law)."""
    lam = check_positive("lam", lam)
    d = check_int("d", d, low=1)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    nu = 2.0 - d + 2.0 * b * (lam + delta) / (gamma * lam**2)
    if nu <= 0:
        raise ValueError(f"gamma={gamma} too large for d={d}, B={b}, lam={lam}, delta={delta}: "
                         f"nu = {nu:.4g} <= 0, so hSGD has no stationary Student-t law "
                         f"(need gamma < {2.0 * b * (lam + delta) / (lam**2 * (d - 2.0)):.4g})"
                         if d > 2 else f"nu = {nu:.4g} <= 0")
    return float(nu)


def hsgd_isotropic_scale(lam: float, d: int, gamma: float, batch_size: int, sigma: float,
                         delta: float = 0.0) -> float:
    """Scale ``sigma / sqrt(lam nu)`` of the stationary multivariate Student-t law."""
    nu = hsgd_isotropic_index(lam, d, gamma, batch_size, delta)
    sigma = check_positive("sigma", sigma)
    return float(sigma / math.sqrt(lam * nu))

