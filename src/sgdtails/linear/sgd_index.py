"""The exact tail index of linear SGD iterates (Kesten--Goldie), online and offline.

``x_{k+1} - x* = M_k (x_k - x*) + q_k``, ``M = (1 - gamma delta) I - (gamma/B) sum_{i in Omega} a_i a_i'``;
the index ``alpha`` solves ``Lambda(alpha) = 0`` (:mod:`sgdtails.kesten`). Isotropic Gaussian data: a
one-step quadrature formula; otherwise population Monte Carlo.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy import integrate, special

from sgdtails._core.validation import check_int, check_positive, check_sgd_args
from sgdtails.kesten import ApplyRandomMatrix, KestenIndex, kesten_index_mc, root_of_convex_lambda
from sgdtails.linear.datasets import FiniteDataset
from sgdtails.linear.designs import GaussianDesign, check_spectrum

__all__ = [
    "isotropic_one_step_lambda",
    "linear_sgd_random_matrix",
    "sgd_alpha2_gamma",
    "sgd_tail_index",
]


# --------------------------------------------------------------------------------------------
# Exact SGD index: isotropic one-step formula and population Monte Carlo
# --------------------------------------------------------------------------------------------


def sgd_alpha2_gamma(lam: float, d: int, batch_size: int, delta: float = 0.0) -> float:
    """The learning rate at which the SGD index equals 2 exactly for ``Sigma = lam I``:
    root ``gamma > 0`` of ``(1-g delta)^2 - 2(1-g delta) g lam + g^2 lam^2 (1+(d+1)/B) = 1``."""
    lam = check_positive("lam", lam)
    d = check_int("d", d, low=1)
    b = check_int("batch_size", batch_size, low=1)
    delta = check_positive("delta", delta, allow_zero=True)
    # expand: g^2 [delta^2 + 2 delta lam + lam^2 (1 + (d+1)/B)] - 2 g (delta + lam) = 0
    a2 = delta**2 + 2 * delta * lam + lam**2 * (1 + (d + 1) / b)
    return float(2 * (delta + lam) / a2)


def _inner_chi2_moment(a: float, b: float, k: float, p: float) -> float:
    """``E (a + b C)^p`` for ``C ~ chi2_{2k}`` (Gamma(k, scale 2)), ``a, b >= 0``.

    Generalised Gauss--Laguerre quadrature in ``C/2`` (weight ``x^(k-1) e^(-x)``); the integrand
    ``(a + 2 b x)^p`` is smooth on ``x >= 0`` since its branch point ``-a/(2b)`` is ``<= 0``."""
    if b <= 0:
        return a**p
    x, w = _genlaguerre(k)
    return float(np.dot(w, (a + 2.0 * b * x) ** p))


_GL_CACHE: dict[float, tuple[np.ndarray, np.ndarray]] = {}


def _genlaguerre(k: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    if k not in _GL_CACHE:
        x, w = special.roots_genlaguerre(n, k - 1.0)
        _GL_CACHE[k] = (x, w / math.exp(special.gammaln(k)))
    return _GL_CACHE[k]


def isotropic_one_step_lambda(alpha: float, lam: float, d: int, gamma: float, batch_size: int,
                              delta: float = 0.0) -> float:
    """``Lambda(alpha) = log E|M e_1|^alpha`` for ``Sigma = lam I`` by quadrature.

    ``|M e_1|^2 = (1 - gamma delta - gamma S/B)^2 + (gamma/B)^2 lam S C`` with
    ``S = lam chi2_B`` and ``C ~ chi2_{d-1}`` independent; the inner expectation over ``C`` is a
    Tricomi confluent hypergeometric function, the outer one is adaptive quadrature in ``S``.
    """
    alpha = check_positive("alpha", alpha, allow_zero=True)
    if alpha == 0:
        return 0.0
    lam = check_positive("lam", lam)
    d = check_int("d", d, low=1)
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    c0 = 1.0 - gamma * delta
    p = alpha / 2.0
    k = (d - 1) / 2.0

    def integrand(x: float) -> float:  # x = S / lam ~ chi2_B
        s = lam * x
        a = (c0 - gamma * s / b) ** 2
        bb = (gamma / b) ** 2 * lam * s
        val = a**p if d == 1 else _inner_chi2_moment(a, bb, k, p)
        return val * math.exp((b / 2 - 1) * math.log(x) - x / 2 - (b / 2) * math.log(2)
                              - special.gammaln(b / 2)) if x > 0 else 0.0

    x_zero = b * c0 / (gamma * lam)  # where the first coordinate vanishes
    upper = max(b + 60.0 * math.sqrt(2.0 * b) + 200.0, 2 * abs(x_zero))
    pts = [x_zero] if 0 < x_zero < upper else []
    total = 0.0
    edges = [0.0, *pts, upper]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        with warnings.catch_warnings():  # accuracy is checked against Monte Carlo in the tests
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            val, _ = integrate.quad(integrand, lo, hi, limit=200, epsabs=0.0, epsrel=1e-10)
        total += val
    return float(math.log(total))


def linear_sgd_random_matrix(
    spectrum: Any | None,
    gamma: float,
    batch_size: int,
    delta: float = 0.0,
    *,
    rows: Any | None = None,
) -> ApplyRandomMatrix:
    """``apply_random_matrix`` for linear SGD: ``U -> (1 - gamma delta) U - (gamma/B) A'(A U)``.

    Online: the ``B`` rows ``a_i ~ N(0, diag(spectrum))``. Offline: pass ``rows`` (n, d) and the
    rows are sampled uniformly with replacement (``spectrum`` is then ignored)."""
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    c0 = 1.0 - gamma * delta
    if rows is not None:
        data = torch.as_tensor(np.asarray(rows, dtype=np.float64))

        def apply_offline(u: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            x = data.to(device=u.device, dtype=u.dtype)
            idx = torch.randint(0, x.shape[0], (u.shape[0], b), generator=gen, device=u.device)
            a = x[idx]  # (n, B, d)
            au = torch.einsum("nbd,nd->nb", a, u)
            return c0 * u - (gamma / b) * torch.einsum("nbd,nb->nd", a, au)

        return apply_offline
    lam_t = torch.as_tensor(check_spectrum(spectrum))

    def apply_online(u: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # Exact in law and O(B + d) per walker: given c_i = a_i . u ~ N(0, q), q = u' Sigma u,
        # a_i = c_i Sigma u / q + e_i with e_i ~ N(0, Sigma - Sigma u u' Sigma / q), so
        # A'A u = (sum c_i^2) Sigma u / q + sqrt(sum c_i^2) e with one e ~ that same law.
        lam = lam_t.to(device=u.device, dtype=u.dtype)
        n, d = u.shape
        su = u * lam
        q = (u * su).sum(1, keepdim=True)
        c2 = q * torch.randn(n, b, generator=gen, device=u.device, dtype=u.dtype).square().sum(
            1, keepdim=True)
        e = torch.randn(n, d, generator=gen, device=u.device, dtype=u.dtype) * lam.sqrt()
        e = e - (e * u).sum(1, keepdim=True) * su / q
        ata_u = c2 * su / q + c2.sqrt() * e
        return c0 * u - (gamma / b) * ata_u

    return apply_online


def sgd_tail_index(
    problem: Any,
    gamma: float,
    batch_size: int,
    delta: float = 0.0,
    *,
    method: str = "auto",
    alpha_bracket: tuple[float, float] = (0.05, 20.0),
    n_walkers: int = 2048,
    n_steps: int = 200,
    burn_in: int = 50,
    n_replicas: int = 8,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> KestenIndex:
    """Exact tail index of linear SGD iterates (Kesten--Goldie root of ``Lambda``).

    ``problem`` is a :class:`sgdtails.linear.designs.GaussianDesign` (online) or
    :class:`sgdtails.linear.datasets.FiniteDataset` (offline, rows with replacement), or a 1-d spectrum.
    ``method="isotropic"`` uses the one-step quadrature formula (``Sigma = lam I`` only, se 0);
    ``"mc"`` population Monte Carlo; ``"auto"`` picks the formula for isotropic Gaussian data.
    """

    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    method = method if method in ("auto", "isotropic", "mc") else _bad_method(method)
    rows = None
    if isinstance(problem, FiniteDataset):
        rows = problem.features
        lam = problem.spectrum
    elif isinstance(problem, GaussianDesign):
        lam = problem.spectrum
    else:
        lam = check_spectrum(problem, name="problem")
    iso = rows is None and bool(np.allclose(lam, lam[0], rtol=1e-12, atol=0))
    if method == "auto":
        method = "isotropic" if iso else "mc"
    if method == "isotropic":
        if not iso:
            raise ValueError("method='isotropic' needs an isotropic Gaussian design "
                             "(all eigenvalues equal, online data)")
        d = lam.size
        alpha, status, n_ev = root_of_convex_lambda(
            lambda a: isotropic_one_step_lambda(a, float(lam[0]), d, gamma, b, delta),
            alpha_bracket, 1e-8)
        return KestenIndex(alpha=alpha, se=0.0, method="isotropic-one-step", status=status,
                           n_evaluations=n_ev)
    apply = linear_sgd_random_matrix(lam, gamma, b, delta, rows=rows)
    res = kesten_index_mc(apply, int(lam.size), n_walkers=n_walkers, n_steps=n_steps,
                          burn_in=burn_in, n_replicas=n_replicas, alpha_bracket=alpha_bracket,
                          seed=seed, device=device, dtype=dtype)
    return res


def _bad_method(method: str) -> str:
    raise ValueError(f"method must be one of ['auto', 'isotropic', 'mc'], got {method!r}")
