"""This project's radial derivation for hSGD (not the paper's theorems; see :mod:`sgdtails.linear.bounds`).

Notation: learning rate ``gamma``, batch size ``B``, ridge ``delta`` (per unit of the Hessian),
Hessian spectrum ``s_1 >= ... >= s_d`` of ``Sigma``. With ``Z = X - x*`` and the Rayleigh quotient
``s = Z' Sigma Z / |Z|^2``, the radial part of hSGD behaves like a Pearson diffusion with ccdf tail index
``2 + phi(s)``, ``phi(s) = 2B(s + delta)/(gamma s^2) - tr(Sigma)/s``. Its minimum over
``s in [s_d, s_1]`` is the paper's lower bound ``eta_*`` when ``phi`` decreases; its maximum is *not* the
paper's ``eta^*`` (that is ``nu_1``, :func:`sgdtails.linear.bounds.jkr_bounds`): here it is called the radial
range's upper end. Both ends bound the index (``E|Z_t|^p = |z_0|^p E~ exp(int g_p(s_u) du)`` with
``g_p(s) = (p gamma^2 s^2 / 2B) (p - 2 - phi(s))``, a Feynman--Kac identity for the leading part of hSGD), so
``eta <= min(nu_1, 2 + max phi)``. For ``Sigma = lam I`` both ends equal the exact index of the stationary
multivariate Student-t law.

Even moments close (:func:`hsgd_moment_threshold`): the drift of hSGD is linear and its diffusion matrix
quadratic, so the generator maps polynomials of degree ``2k`` to polynomials of degree ``<= 2k`` and
``E|Z_t|^(2k)`` stays bounded iff a Metzler matrix is stable. That gives the learning rate ``gamma_p`` at
which the paper's tail index ``eta`` equals an even integer ``p`` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import eigs

from sgdtails._core.validation import check_int, check_positive, check_sgd_args
from sgdtails.kesten import root_of_convex_lambda
from sgdtails.linear.designs import check_spectrum

__all__ = [
    "RadialRange",
    "hsgd_isotropic_index",
    "MomentGenerator",
    "hsgd_em_index",
    "hsgd_isotropic_scale",
    "hsgd_moment_generator",
    "hsgd_moment_threshold",
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



def _even_monomials(d: int, k: int) -> list[tuple[int, ...]]:
    """Exponent vectors ``beta`` (``|beta| = k``, ``d`` parts) of the monomials ``z^(2 beta)``."""
    if d == 1:
        return [(k,)]
    return [(j, *rest) for j in range(k, -1, -1) for rest in _even_monomials(d - 1, k - j)]


@dataclass(frozen=True)
class MomentGenerator:
    """Top-degree part of hSGD's generator on the even moments ``m_beta = E z^(2 beta)`` (``|beta| = p/2``),
    in the eigenbasis of ``Sigma``, per unit ``gamma``: ``d m / dt = gamma (-A + gamma C) m``.

    ``basis`` lists the exponent vectors ``beta``; ``a`` the diagonal of ``A``; ``c`` the nonnegative
    matrix ``C`` (sparse)."""

    basis: tuple[tuple[int, ...], ...]
    a: np.ndarray
    c: csr_matrix

    def matrix(self, gamma: float) -> np.ndarray:
        """``gamma (-A + gamma C)`` as a dense array: ``d m / dt`` for the homogeneous hSGD at ``gamma``."""
        gamma = check_positive("gamma", gamma)
        return gamma * (gamma * self.c.toarray() - np.diag(self.a))


def hsgd_moment_generator(spectrum: Any, order: int, batch_size: int = 1, delta: float = 0.0
                          ) -> MomentGenerator:
    """The moment closure of hSGD at even ``order`` ``p = 2k`` (this project's derivation).

    With ``a_i = gamma (s_i + delta)`` and ``q = sum_j s_j z_j^2`` (the leading part of ``2L``), the
    generator ``-sum_i a_i z_i d_i + (gamma^2 q / 2B) sum_i s_i d_i^2`` maps ``z^(2 beta)`` to
    ``-gamma A_beta z^(2 beta) + gamma^2 sum_{i,j} C z^(2 (beta - e_i + e_j))`` with
    ``A_beta = 2 sum_i (s_i + delta) beta_i`` and ``C = s_i s_j beta_i (2 beta_i - 1) / B``; the terms of
    ``2L`` below degree two (noise, ``x* != x_ref``) only add lower-degree forcing.
    """
    lam = check_spectrum(spectrum)
    p = check_int("order", order, low=2, high=40)
    if p % 2:
        raise ValueError(f"order must be an even integer in [2, 40] (moments of even order close), got {p}")
    b = check_int("batch_size", batch_size, low=1)
    delta = check_positive("delta", delta, allow_zero=True)
    d, k = lam.size, p // 2
    size = math.comb(k + d - 1, d - 1)
    if size > 200_000:
        raise ValueError(f"order={p} with d={d} needs {size} even monomials; choose order and d with "
                         "C(order/2 + d - 1, d - 1) <= 200000")
    basis = _even_monomials(d, k)
    index = {beta: r for r, beta in enumerate(basis)}
    a = np.array([2.0 * float(np.dot(lam + delta, beta)) for beta in basis])
    rows, cols, vals = [], [], []
    for r, beta in enumerate(basis):
        for i in range(d):
            if beta[i] == 0:
                continue
            f = lam[i] * beta[i] * (2 * beta[i] - 1) / b
            for j in range(d):
                nb = list(beta)
                nb[i] -= 1
                nb[j] += 1
                rows.append(r)
                cols.append(index[tuple(nb)])
                vals.append(f * lam[j])
    c = csr_matrix((vals, (rows, cols)), shape=(size, size))
    c.sum_duplicates()
    return MomentGenerator(basis=tuple(basis), a=a, c=c)


def hsgd_moment_threshold(spectrum: Any, order: int, batch_size: int = 1, delta: float = 0.0) -> float:
    """Learning rate ``gamma_p`` at which the tail index of hSGD equals the even integer ``p = order``
    (this project's moment closure, :func:`hsgd_moment_generator`): ``E|X_t|^p`` stays bounded iff
    ``gamma < gamma_p``.

    ``-A + gamma C`` is a Metzler matrix whose spectral abscissa increases with ``gamma``; it is stable iff
    ``gamma rho(A^-1 C) < 1``, so ``gamma_p = 1 / rho(A^-1 C)`` (Perron root). ``p = 2``:
    ``gamma_2 = 2B / sum_i s_i^2 / (s_i + delta)``; ``Sigma = lam I``:
    ``gamma_p = 2B (lam + delta) / (lam^2 (p + d - 2))``, where the Student-t index equals ``p``.
    """
    gen = hsgd_moment_generator(spectrum, order, batch_size, delta)
    m = csr_matrix(gen.c.multiply(1.0 / gen.a[:, None]))
    if m.shape[0] <= 400:
        rho = float(np.max(np.abs(np.linalg.eigvals(m.toarray()))))
    else:
        rho = float(np.abs(eigs(m, k=1, which="LM", v0=np.ones(m.shape[0]),
                                return_eigenvectors=False)[0]))
    return 1.0 / rho


def hsgd_em_index(lam: float, d: int, gamma: float, batch_size: int, delta: float = 0.0, *,
                  substeps: int) -> float:
    """Exact tail index of the Euler--Maruyama scheme of :func:`sgdtails.linear.hsgd.run_hsgd` for
    ``Sigma = lam I`` (this project's one-step formula; compare :func:`hsgd_isotropic_index`).

    With ``dt = 1/substeps``, the leading part of one sub-step is the random linear map
    ``Z -> (1 - kappa dt) Z + gamma lam sqrt(dt/B) |Z| xi`` (``kappa = gamma (lam + delta)``,
    ``xi ~ N(0, I_d)``), whose law is invariant under rotations, so
    ``Lambda(alpha) = log E[((a + c xi_1)^2 + c^2 C)^(alpha/2)]`` exactly, ``a = 1 - kappa dt``,
    ``c = gamma lam sqrt(dt/B)``, ``C ~ chi2_{d-1}`` (Gauss--Hermite times generalised Gauss--Laguerre
    quadrature); the index is its positive root. It tends to the diffusion's ``nu`` as ``dt -> 0``.
    """
    lam = check_positive("lam", lam)
    d = check_int("d", d, low=1)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    m = check_int("substeps", substeps, low=1)
    dt = 1.0 / m
    a = 1.0 - gamma * (lam + delta) * dt
    c = gamma * lam * math.sqrt(dt / b)
    xh, wh = special.roots_hermitenorm(201)
    wh = wh / math.sqrt(2.0 * math.pi)
    first = (a + c * xh) ** 2
    if d > 1:
        k = (d - 1) / 2.0
        xl, wl = special.roots_genlaguerre(120, k - 1.0)
        wl = wl / math.exp(special.gammaln(k))
        ratio = first[:, None] + c**2 * 2.0 * xl[None, :]
        weights = wh[:, None] * wl[None, :]
    else:
        ratio, weights = first, wh

    def log_moment(alpha: float) -> float:
        return float(math.log(np.sum(weights * ratio ** (alpha / 2.0))))

    alpha, status, _ = root_of_convex_lambda(log_moment, (1e-3, 400.0), 1e-10)
    if status != "ok":
        raise ValueError(f"no tail index in (0.001, 400) for gamma={gamma}, d={d}, substeps={m} "
                         f"(status {status!r})")
    return float(alpha)
