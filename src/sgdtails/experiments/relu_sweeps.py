r"""Chapter "Index against step size, batch size and dimension" (``book/relu_sweeps.py``): the sweep figures
``fig-relu-sweeps-hill`` and ``fig-relu-sweeps-mmo`` (:func:`sweeps`) and ``fig-relu-noiseless-k``
(:func:`noiseless_k`).

Three sweeps (eta, b, d) around one base point for SGD and the variant (Karmakar & Mukherjee's
"Algorithm 2" as reconstructed in the chapter "A ReLU gate") on noiseless realizable, noisy realizable
and binary data (:class:`~sgdtails.experiments.relu_points.GridParams`), measured with the protocol;
the variant's exact index (root of :math:`\Lambda(\alpha) = 0` by population Monte Carlo) where its
iterates have a stationary law; and the lognormal prediction of what Hill reports on noiseless data
(this project's derivation): for :math:`\log|w_K - w^*|` Gaussian with standard deviation :math:`s`,
Hill at :math:`k = pn` tends to :math:`1/(s(\varphi(z_p)/p - z_p))`, :math:`z_p = \Phi^{-1}(1 - p)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sgdtails._core.cache import device_entry
from sgdtails._core.seeding import derive_seed
from sgdtails._core.validation import check_choice, check_int
from sgdtails.experiments.relu_points import (
    DATA_SETTINGS,
    TREND_WORDS,
    GridParams,
    exact_frame,
    grid_frame,
    run_sweep,
    spearman_trend,
)
from sgdtails.relu.law import ALGORITHMS

__all__ = [
    "SWEEPS",
    "NoiselessK",
    "NoiselessKSummary",
    "Sweeps",
    "SweepsParams",
    "SweepsSummary",
    "lognormal_hill",
    "noiseless_k",
    "sweeps",
]

#: the three sweeps, in the order of the figures' rows
SWEEPS = ("eta", "b", "d")
#: exact indices above this are left out of the agreement count (the protocol cannot resolve them)
EXACT_AGREEMENT_MAX = 8.0


@dataclass(frozen=True)
class SweepsParams(GridParams):
    """:class:`~sgdtails.experiments.relu_points.GridParams` plus the population Monte Carlo of the exact
    index (``exact_walkers`` per replica, ``exact_steps``, ``exact_replicas``, ``exact_sampler``) and the
    numbers of iterations of the noiseless runs of :func:`noiseless_k`."""

    exact_walkers: int = 300
    exact_steps: int = 100
    exact_replicas: int = 4
    exact_sampler: str = "reduced"
    noiseless_iters: tuple[int, ...] = (250, 500, 1000, 2000, 4000)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("exact_walkers", self.exact_walkers, low=2)
        check_int("exact_steps", self.exact_steps, low=3)
        check_int("exact_replicas", self.exact_replicas, low=2)
        check_choice("exact_sampler", self.exact_sampler, ["direct", "reduced"])
        iters = tuple(sorted({check_int("noiseless_iters", k, low=2) for k in self.noiseless_iters}))
        if len(iters) < 2:
            raise ValueError(f"noiseless_iters must hold at least two distinct values, got "
                             f"{self.noiseless_iters!r}")
        object.__setattr__(self, "noiseless_iters", iters)


def lognormal_hill(sd: Any, frac: float) -> Any:
    """Hill index at ``k = frac n`` of a lognormal law with log-standard-deviation ``sd`` (large-n limit):
    ``1 / (sd (phi(z)/frac - z))``, ``z = Phi^{-1}(1 - frac)``."""
    z = stats.norm.isf(frac)
    return 1.0 / (np.asarray(sd, dtype=float) * (stats.norm.pdf(z) / frac - z))


@dataclass(frozen=True)
class SweepsSummary:
    """Numbers the chapter quotes.

    ``n_points``: points of the three sweeps (the base point counted in each); ``n_diverged``: runs
    excluded over them; ``n_underflow``: runs near the underflow range of their number format;
    ``base_alpha["{algorithm}_{data}"]``: Hill index of the last iterates at the base point;
    ``base_exact[data]``: the variant's exact index there (noisy, binary); ``offset[algorithm]`` and
    ``spread[algorithm]``: |median over runs of w_K - w*| and median |w_K - w*| at the noisy base point;
    ``nl_min_norm``: smallest final distance over the noiseless runs; ``exact_n`` points (variant, noisy
    and binary, exact index ok and below 8) of which ``exact_within2`` have the simulated index within
    two combined standard errors of the exact one, median ratio ``exact_median_rel``; ``nl_n`` noiseless
    points, median ratio measured/lognormal prediction ``nl_median_ratio``;
    ``trends["{sweep}_{algorithm}_{data}"]``: "rises", "falls", "shows no clear trend" or
    "is undetermined" (Spearman |rho| > 0.5 on the Hill index of the last iterates)."""

    n_points: int
    n_diverged: int
    n_underflow: int
    nl_min_norm: float
    exact_n: int
    exact_within2: int
    exact_median_rel: float
    nl_n: int
    nl_median_ratio: float
    base_alpha: dict[str, float] = field(default_factory=dict)
    base_exact: dict[str, float] = field(default_factory=dict)
    offset: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    trends: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sweeps:
    """``frame``: one row per point, iterate and estimator
    (:func:`~sgdtails.experiments.relu_points.grid_frame`) plus ``exact``, ``exact_se``,
    ``exact_status`` (the variant's exact index at the point's data, d, b, eta) and ``lognormal``
    (:func:`lognormal_hill` of the point's log-norm spread); ``summary``: :class:`SweepsSummary`."""

    frame: pd.DataFrame
    summary: SweepsSummary


def _summary(df: pd.DataFrame, p: SweepsParams) -> SweepsSummary:
    last_hill = df[(df.iterate == "last") & (df.estimator == "hill_norm")]
    points = df[(df.iterate == "last") & (df.estimator == "mmo")]  # one row per point
    base = last_hill[(last_hill.d == p.d) & (last_hill.b == p.batch) & (last_hill.eta == p.eta)
                     & (last_hill.sweep == "eta")]
    base_alpha = {f"{r.algorithm}_{r.data}": float(r.alpha) for r in base.itertuples()}
    ex_base = base[base.algorithm == "variant"].set_index("data")
    noisy_base = points[(points.d == p.d) & (points.b == p.batch) & (points.eta == p.eta)
                        & (points.sweep == "eta") & (points.data == "noisy")].set_index("algorithm")
    var = last_hill[(last_hill.algorithm == "variant") & (last_hill.data != "noiseless")
                    & (last_hill.exact_status == "ok") & np.isfinite(last_hill.alpha)
                    & (last_hill.exact < EXACT_AGREEMENT_MAX)]
    var = var.drop_duplicates(subset=["data", "d", "b", "eta"])
    z = (var.alpha - var.exact) / np.hypot(var.se, var.exact_se)
    nl = last_hill[(last_hill.data == "noiseless") & np.isfinite(last_hill.alpha)
                   & (last_hill.n_used > 0)].drop_duplicates(subset=["algorithm", "d", "b", "eta"])
    trends = {}
    for sw in SWEEPS:
        for alg in ALGORITHMS:
            for data in DATA_SETTINGS:
                s = last_hill[(last_hill.sweep == sw) & (last_hill.algorithm == alg)
                              & (last_hill.data == data)]
                trends[f"{sw}_{alg}_{data}"] = TREND_WORDS[spearman_trend(s.x, s.alpha)]
    return SweepsSummary(
        n_points=len(points), n_diverged=int(points.n_diverged.sum()),
        n_underflow=int(points.n_underflow.sum()),
        nl_min_norm=float(points[points.data == "noiseless"].final_min_norm.min()),
        exact_n=len(var), exact_within2=int((np.abs(z) < 2).sum()),
        exact_median_rel=float(np.median(var.alpha / var.exact)) if len(var) else float("nan"),
        nl_n=len(nl),
        nl_median_ratio=float(np.median(nl.alpha / nl.lognormal)) if len(nl) else float("nan"),
        base_alpha=base_alpha,
        base_exact={k: float(ex_base.loc[k, "exact"]) for k in ("noisy", "binary")},
        offset={a: float(noisy_base.loc[a, "median_offset"]) for a in ALGORITHMS},
        spread={a: float(noisy_base.loc[a, "final_median_norm"]) for a in ALGORITHMS},
        trends=trends,
    )


def sweeps(params: SweepsParams, *, seed: int, cache_dir: Any = None) -> Sweeps:
    """Figures ``fig-relu-sweeps-hill`` and ``fig-relu-sweeps-mmo``: the three sweeps measured with the
    protocol, the variant's exact index and the lognormal prediction (:class:`Sweeps`)."""
    df = grid_frame(params, seed=seed, cache_dir=cache_dir)
    ex = exact_frame(params.grid(seed), seed=seed, cache_dir=cache_dir, n_walkers=params.exact_walkers,
                     n_steps=params.exact_steps, n_replicas=params.exact_replicas,
                     sampler=params.exact_sampler)
    df = df.merge(ex, on=["data", "d", "b", "eta"], how="left")
    df["lognormal"] = lognormal_hill(df["log_norm_sd"], params.hill_fraction)
    return Sweeps(df, _summary(df, params))


@dataclass(frozen=True)
class NoiselessKSummary:
    """Numbers the chapter quotes: the smallest and largest K, the variant's Hill index at both, their
    ratio against the factor ``sqrt(k_max/k_min)`` of the K^(-1/2) law, and the runs diverged."""

    k_min: int
    k_max: int
    alpha_k_min: float
    alpha_k_max: float
    ratio: float
    sqrt_ratio: float
    n_diverged: int


@dataclass(frozen=True)
class NoiselessK:
    """``frame``: one row per (algorithm, K): Hill index of the last iterates with its interval, the
    lognormal prediction and the runs diverged; ``summary``: :class:`NoiselessKSummary`."""

    frame: pd.DataFrame
    summary: NoiselessKSummary


def noiseless_k(params: SweepsParams, *, seed: int, cache_dir: Any = None) -> NoiselessK:
    """Figure ``fig-relu-noiseless-k``: the protocol's Hill index on noiseless realizable data at the base
    point for each K in ``noiseless_iters`` (seeds ``derive_seed(seed, "relu-noiseless-K", algorithm,
    K)``, cached with the sweep points)."""
    points = [dict(algorithm=alg, setup="realizable", label_noise=0.0, d=params.d, batch=params.batch,
                   eta=params.eta, n_chains=params.n_chains, n_iters=int(k), n_boot=params.n_boot,
                   n_boot_average=0, hill_k=params.hill_fraction, dtype=params.dtype_noiseless,
                   n_trajectories=0, sampler=params.sampler,
                   seed=derive_seed(seed, "relu-noiseless-K", alg, int(k))) | device_entry(params.device)
              for alg in ALGORITHMS for k in params.noiseless_iters]
    res = run_sweep(cache_dir, points, desc="noiseless, K")
    kdf = pd.DataFrame([dict(algorithm=p["algorithm"], K=p["n_iters"],
                             alpha=float(r["last.hill_norm.alpha"]),
                             ci_low=float(r["last.hill_norm.ci_low"]),
                             ci_high=float(r["last.hill_norm.ci_high"]),
                             lognormal=float(lognormal_hill(float(r["log_norm_sd"]), params.hill_fraction)),
                             n_diverged=int(r["n_diverged"]))
                        for p, r in zip(points, res, strict=True)])
    kv = kdf[kdf.algorithm == "variant"].set_index("K")
    k_min, k_max = min(params.noiseless_iters), max(params.noiseless_iters)
    a_min, a_max = float(kv.loc[k_min, "alpha"]), float(kv.loc[k_max, "alpha"])
    return NoiselessK(kdf, NoiselessKSummary(
        k_min=k_min, k_max=k_max, alpha_k_min=a_min, alpha_k_max=a_max, ratio=a_min / a_max,
        sqrt_ratio=float(np.sqrt(k_max / k_min)), n_diverged=int(kdf.n_diverged.sum())))
