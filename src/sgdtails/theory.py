"""Theory for Part I: hSGD tail-index bounds (this project's derivation) and the Kesten index of SGD.

Notation (Jiao & Keller-Ressel 2024): learning rate ``gamma``, batch size ``B``, ridge ``delta``,
dimension ``d``, Hessian spectrum ``lambda_1 >= ... >= lambda_d`` of ``Sigma``.

* hSGD: ``dX = -gamma grad f(X) dt + gamma sqrt(2 L(X) Sigma / B) dW``. With ``Z = X - x*`` and the
  Rayleigh quotient ``s = Z' Sigma Z / |Z|^2``, the radial part behaves like a Pearson diffusion with
  ccdf tail index ``2 + phi(s)``, ``phi(s) = 2B(s + delta)/(gamma s^2) - tr(Sigma)/s``.
  Bounds ``eta_* = 2 + min phi``, ``eta^* = 2 + max phi`` over ``s in [lambda_d, lambda_1]``.
* SGD: ``x_{k+1} - x* = M_k (x_k - x*) + q_k`` with ``M = (1 - gamma delta) I - (gamma/B) sum a_i a_i'``;
  the Kesten--Goldie index ``alpha`` solves ``Lambda(alpha) = 0``,
  ``Lambda(alpha) = lim (1/k) log E |M_k ... M_1 u|^alpha``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import integrate, optimize, special

from sgdtails._validation import check_int, check_positive
from sgdtails.seeding import derive_seed, torch_generator

ApplyRandomMatrix = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

__all__ = [
    "HSGDBounds",
    "KestenIndex",
    "KestenLambda",
    "check_spectrum",
    "hsgd_isotropic_index",
    "hsgd_isotropic_scale",
    "hsgd_phi",
    "hsgd_tail_bounds",
    "isotropic_one_step_lambda",
    "kesten_index_mc",
    "kesten_lambda_mc",
    "linear_sgd_random_matrix",
    "lr_threshold",
    "sgd_alpha2_gamma",
    "sgd_tail_index",
]


# --------------------------------------------------------------------------------------------
# Generic population Monte Carlo for the Kesten exponent (shared API, also used by Part II)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KestenLambda:
    """``Lambda(alpha)`` estimated by population Monte Carlo.

    ``value`` is the mean over ``n_replicas`` independent populations, ``se`` its standard error
    (std over replicas / sqrt(n_replicas)); ``replicas`` holds the per-replica estimates.
    """

    alpha: float
    value: float
    se: float
    replicas: np.ndarray
    n_walkers: int
    n_steps: int
    burn_in: int


@dataclass(frozen=True)
class KestenIndex:
    """Kesten--Goldie tail index ``alpha`` (root of ``Lambda(alpha) = 0``).

    ``se`` is the delta-method standard error ``se(Lambda(alpha)) / Lambda'(alpha)`` from
    independent replicas; ``status`` is ``"ok"``, ``"above_bracket"`` (``Lambda < 0`` on the
    whole bracket: ``alpha = inf`` reported, lighter than any power in the bracket) or
    ``"below_bracket"`` (``Lambda >= 0`` at the lower end: the chain is not contracting in the
    mean-log sense; ``alpha = 0`` reported). ``method`` names how ``Lambda`` was computed.
    """

    alpha: float
    se: float
    method: str
    status: str = "ok"
    slope: float = math.nan
    n_walkers: int = 0
    n_steps: int = 0
    burn_in: int = 0
    n_replicas: int = 0
    n_evaluations: int = 0


def _check_mc_sizes(n_walkers: int, n_steps: int, burn_in: int, n_replicas: int
                    ) -> tuple[int, int, int, int]:
    n_walkers = check_int("n_walkers", n_walkers, low=2)
    n_steps = check_int("n_steps", n_steps, low=1)
    burn_in = check_int("burn_in", burn_in, low=0, high=n_steps - 1)
    n_replicas = check_int("n_replicas", n_replicas, low=2)
    return n_walkers, n_steps, burn_in, n_replicas


def _population_log_growth(
    apply_random_matrix: ApplyRandomMatrix,
    d: int,
    alpha: float,
    n_walkers: int,
    n_steps: int,
    burn_in: int,
    n_replicas: int,
    seed: int,
    device: str | torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    """Per-replica mean log growth of ``E|M u|^alpha`` after burn-in (population Monte Carlo)."""
    dev = torch.device(device)
    gen = torch_generator(derive_seed(seed, "kesten-matrices"), dev)
    gen_rs = torch_generator(derive_seed(seed, "kesten-resample"), dev)
    n = n_walkers * n_replicas
    u = torch.randn(n, d, generator=gen, device=dev, dtype=dtype)
    u = u / torch.linalg.vector_norm(u, dim=1, keepdim=True)
    acc = torch.zeros(n_replicas, device=dev, dtype=torch.float64)
    offsets = (torch.arange(n_replicas, device=dev) * n_walkers).unsqueeze(1)
    grid = torch.arange(n_walkers, device=dev, dtype=torch.float64).unsqueeze(0)
    log_nw = math.log(n_walkers)
    for step in range(n_steps):
        v = apply_random_matrix(u, gen)
        r = torch.linalg.vector_norm(v, dim=1).to(torch.float64)
        if not bool(torch.all(torch.isfinite(r))):
            raise ValueError("apply_random_matrix returned non-finite values")
        r = torch.clamp(r, min=1e-300)
        logw = (alpha * torch.log(r)).reshape(n_replicas, n_walkers)
        lse = torch.logsumexp(logw, dim=1)
        if step >= burn_in:
            acc += lse - log_nw
        # systematic resampling within each replica (one uniform per replica and step)
        w = torch.exp(logw - lse.unsqueeze(1))
        cdf = torch.cumsum(w, dim=1)
        cdf[:, -1] = 1.0
        u0 = torch.rand(n_replicas, 1, generator=gen_rs, device=dev, dtype=torch.float64)
        pos = (u0 + grid) / n_walkers
        idx = torch.searchsorted(cdf, pos).clamp_(max=n_walkers - 1) + offsets
        idx = idx.reshape(-1)
        u = (v / r.to(v.dtype).unsqueeze(1))[idx]
    return (acc / (n_steps - burn_in)).cpu().numpy()


def kesten_lambda_mc(
    apply_random_matrix: ApplyRandomMatrix,
    d: int,
    alpha: float,
    *,
    n_walkers: int = 2048,
    n_steps: int = 200,
    burn_in: int = 50,
    n_replicas: int = 8,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> KestenLambda:
    """Estimate ``Lambda(alpha) = lim (1/k) log E|M_k ... M_1 u|^alpha`` by population Monte Carlo.

    ``apply_random_matrix(U, gen)`` maps walkers ``U`` of shape ``(n, d)`` to ``M_i U_i`` with a
    fresh i.i.d. random matrix ``M_i`` per walker drawn from ``gen``. Walkers carry unit vectors;
    each step they are weighted by ``|M u|^alpha``, renormalised and resampled (systematic
    resampling within each of ``n_replicas`` independent populations of ``n_walkers``). The
    estimate is the mean, over steps after ``burn_in``, of the log of the average weight.
    The same ``seed`` gives the same matrix draws for every ``alpha`` (common random numbers).
    """
    d = check_int("d", d, low=1)
    alpha = check_positive("alpha", alpha, allow_zero=True)
    n_walkers, n_steps, burn_in, n_replicas = _check_mc_sizes(n_walkers, n_steps, burn_in,
                                                               n_replicas)
    reps = _population_log_growth(apply_random_matrix, d, alpha, n_walkers, n_steps, burn_in,
                                  n_replicas, int(seed), device, dtype)
    return KestenLambda(alpha=alpha, value=float(reps.mean()),
                        se=float(reps.std(ddof=1) / math.sqrt(n_replicas)), replicas=reps,
                        n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in)


def _root_of_convex_lambda(
    lam: Callable[[float], float],
    alpha_bracket: tuple[float, float],
    xtol: float,
) -> tuple[float, str, int]:
    """Positive root of a convex ``Lambda`` with ``Lambda(0) = 0``; returns (alpha, status, evals)."""
    lo, hi = (float(a) for a in alpha_bracket)
    if not 0 < lo < hi:
        raise ValueError(f"alpha_bracket must satisfy 0 < low < high, got {alpha_bracket!r}")
    cache: dict[float, float] = {}

    def f(a: float) -> float:
        if a not in cache:
            cache[a] = lam(a)
        return cache[a]

    # geometric scan from alpha = 2 to a bracket [a, b] with f(a) < 0 <= f(b), then brentq
    start = min(max(2.0, lo), hi)
    if f(start) < 0.0:
        a = start
        while True:
            b = min(a * 2.0, hi)
            if f(b) >= 0.0:
                break
            if b >= hi:
                return math.inf, "above_bracket", len(cache)
            a = b
    else:
        b = start
        while True:
            a = max(b / 2.0, lo)
            if f(a) < 0.0:
                break
            if a <= lo:
                return 0.0, "below_bracket", len(cache)
            b = a
    root = optimize.brentq(f, a, b, xtol=xtol, rtol=1e-6)
    return float(root), "ok", len(cache)


def kesten_index_mc(
    apply_random_matrix: ApplyRandomMatrix,
    d: int,
    *,
    n_walkers: int = 2048,
    n_steps: int = 200,
    burn_in: int = 50,
    n_replicas: int = 8,
    alpha_bracket: tuple[float, float] = (0.05, 20.0),
    xtol: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> KestenIndex:
    """Kesten--Goldie index: root ``alpha`` of ``Lambda(alpha) = 0`` by population Monte Carlo.

    ``Lambda`` is estimated by :func:`kesten_lambda_mc` with the same ``seed`` for every ``alpha``
    (common random numbers, so ``Lambda`` is smooth in ``alpha``); the root of the convex
    ``Lambda`` (``Lambda(0) = 0``) is bracketed by a geometric scan in ``alpha_bracket`` and found
    by ``brentq``. The standard error is ``se(Lambda(alpha)) / Lambda'(alpha)`` with ``se`` from
    ``n_replicas`` independent populations and ``Lambda'`` a common-random-numbers central
    difference.
    """
    d = check_int("d", d, low=1)
    n_walkers, n_steps, burn_in, n_replicas = _check_mc_sizes(n_walkers, n_steps, burn_in,
                                                               n_replicas)
    check_positive("xtol", xtol)
    evals: dict[float, np.ndarray] = {}

    def reps_at(a: float) -> np.ndarray:
        if a not in evals:
            evals[a] = _population_log_growth(apply_random_matrix, d, a, n_walkers, n_steps,
                                              burn_in, n_replicas, int(seed), device, dtype)
        return evals[a]

    alpha, status, _ = _root_of_convex_lambda(lambda a: float(reps_at(a).mean()), alpha_bracket,
                                              xtol)
    common: dict[str, Any] = dict(n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in,
                                  n_replicas=n_replicas)
    if status != "ok":
        return KestenIndex(alpha=alpha, se=math.nan, method="population-mc", status=status,
                           n_evaluations=len(evals), **common)
    h = max(0.02 * alpha, 1e-3)
    slope = float((reps_at(alpha + h).mean() - reps_at(max(alpha - h, 1e-6)).mean())
                  / (alpha + h - max(alpha - h, 1e-6)))
    reps = reps_at(alpha)
    se_lam = float(reps.std(ddof=1) / math.sqrt(n_replicas))
    se = se_lam / slope if slope > 0 else math.inf
    return KestenIndex(alpha=alpha, se=float(se), method="population-mc", status="ok",
                       slope=slope, n_evaluations=len(evals), **common)


# --------------------------------------------------------------------------------------------
# Spectrum checks, threshold and hSGD bounds
# --------------------------------------------------------------------------------------------


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


def _check_sgd_args(gamma: Any, batch_size: Any, delta: Any) -> tuple[float, int, float]:
    return (check_positive("gamma", gamma), check_int("batch_size", batch_size, low=1),
            check_positive("delta", delta, allow_zero=True))


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
    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
    s = np.asarray(s, dtype=np.float64)
    return 2.0 * b * (s + delta) / (gamma * s**2) - lam.sum() / s


@dataclass(frozen=True)
class HSGDBounds:
    """hSGD tail-index bounds ``eta_* <= eta <= eta^*`` and where phi attains them."""

    eta_lower: float
    eta_upper: float
    s_at_lower: float
    s_at_upper: float
    gamma_threshold: float
    monotone: bool


def hsgd_tail_bounds(spectrum: Any, gamma: float, batch_size: int, delta: float = 0.0
                     ) -> HSGDBounds:
    """``eta_* = 2 + min phi(s)``, ``eta^* = 2 + max phi(s)`` over ``s in [lambda_d, lambda_1]``.

    Exact optimisation: with ``t = 1/s``, ``phi = (2B/gamma - tr Sigma) t + (2B delta/gamma) t^2``
    is a convex (``delta > 0``) or linear (``delta = 0``) function of ``t`` on
    ``[1/lambda_1, 1/lambda_d]``: its maximum is at an end point, its minimum at an end point or
    at the vertex ``t0 = -(2B/gamma - tr Sigma) gamma / (4 B delta)``. ``monotone`` says whether
    phi is decreasing in ``s`` on the interval (always so for ``gamma <= gamma~``).
    """
    lam = check_spectrum(spectrum)
    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
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
    return HSGDBounds(eta_lower=2.0 + float(ph[i_min]), eta_upper=2.0 + float(ph[i_max]),
                      s_at_lower=float(s[i_min]), s_at_upper=float(s[i_max]),
                      gamma_threshold=2.0 * b / tr, monotone=bool(slope_lo_t >= 0))


def hsgd_isotropic_index(lam: float, d: int, gamma: float, batch_size: int,
                         delta: float = 0.0) -> float:
    """Exact hSGD index for ``Sigma = lam I`` (and ``x_true = 0`` or ``delta = 0``):
    ``nu = 2 - d + 2B(lam + delta)/(gamma lam^2)`` (Student-t degrees of freedom).

    Raises ValueError when ``nu <= 0`` (no stationary Student-t law)."""
    lam = check_positive("lam", lam)
    d = check_int("d", d, low=1)
    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
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
    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
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
    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
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

    ``problem`` is a :class:`sgdtails.data.GaussianDesign` (online) or
    :class:`sgdtails.data.FiniteDataset` (offline, rows with replacement), or a 1-d spectrum.
    ``method="isotropic"`` uses the one-step quadrature formula (``Sigma = lam I`` only, se 0);
    ``"mc"`` population Monte Carlo; ``"auto"`` picks the formula for isotropic Gaussian data.
    """
    from sgdtails.data import FiniteDataset, GaussianDesign  # local: avoid an import cycle

    gamma, b, delta = _check_sgd_args(gamma, batch_size, delta)
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
        alpha, status, n_ev = _root_of_convex_lambda(
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
