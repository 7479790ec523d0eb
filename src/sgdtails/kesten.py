"""The Kesten--Goldie tail index of a random linear recursion, by population Monte Carlo.

For ``x_{k+1} = M_k x_k + q_k`` with iid random matrices ``M_k`` the stationary law has tail index
``alpha``, the positive root of ``Lambda(alpha) = lim_k (1/k) log E|M_k ... M_1 u|^alpha``
(Kesten 1973, Goldie 1991; Gurbuzbalaban, Simsekli & Zhu 2021 for SGD). ``Lambda`` is convex with
``Lambda(0) = 0``. Shared by Part I (linear SGD) and Part II (the ReLU-gate variant): a model supplies
``apply_random_matrix(U, gen)`` mapping walkers ``U`` (n, d) to ``M_i U_i``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import optimize

from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import check_int, check_positive

ApplyRandomMatrix = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

__all__ = [
    "ApplyRandomMatrix",
    "KestenIndex",
    "KestenLambda",
    "kesten_index_mc",
    "kesten_lambda_mc",
    "root_of_convex_lambda",
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


def root_of_convex_lambda(
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

    alpha, status, _ = root_of_convex_lambda(lambda a: float(reps_at(a).mean()), alpha_bracket,
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

