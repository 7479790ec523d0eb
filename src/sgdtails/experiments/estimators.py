r"""Chapter "How well can a tail index be measured?" (``book/estimators.py``): the Hill plots
(``fig-estimators-hill-plot``, :func:`hill_plots`), the Monte Carlo accuracy study
(``fig-estimators-accuracy``, ``fig-estimators-rmse`` and the table at the largest sample size,
:func:`accuracy_study`) and Hill against the ``powerlaw`` package (:func:`powerlaw_comparison`).

Convention: :math:`\alpha` is the tail index, :math:`P(|X| > x) \sim x^{-\alpha}`, :math:`\xi = 1/\alpha`.
Samples with a known index come from :func:`sgdtails.estimators.accuracy.sample_law` (symmetric Pareto,
Student-t with :math:`\nu = \alpha`, symmetric :math:`\alpha`-stable); the estimators are those of
:mod:`sgdtails.estimators.tailindex` with their automatic tuning. ``powerlaw``'s ``alpha`` is the density
exponent :math:`\alpha + 1`; it is converted here, at the boundary.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import powerlaw

from sgdtails._core.parallel import map_processes
from sgdtails._core.seeding import derive_seed
from sgdtails._core.validation import check_in_interval, check_int, check_positive
from sgdtails.estimators import accuracy
from sgdtails.estimators import tailindex as ti

__all__ = [
    "LAW_LABELS",
    "POWERLAW_CASES",
    "AccuracyNumbers",
    "AccuracyStudy",
    "EstimatorsParams",
    "HillPlots",
    "PowerlawComparison",
    "accuracy_study",
    "hill_plots",
    "powerlaw_comparison",
]

_NAME = "estimators"
#: display names of the laws
LAW_LABELS = {"pareto": "Pareto", "student_t": "Student-t", "stable": r"symmetric $\alpha$-stable"}
#: (law, alpha) of the samples compared with ``powerlaw``
POWERLAW_CASES = (("pareto", 1.5), ("student_t", 1.5), ("student_t", 3.0), ("student_t", 5.0),
                  ("stable", 1.5))


@dataclass(frozen=True)
class EstimatorsParams:
    """Sizes of the chapter (defaults: the ``default`` profile). ``sample_sizes`` and ``n_reps``: the
    accuracy study's n and samples per cell; ``alphas`` (Pareto and Student-t) and ``stable_alphas`` its
    true indices; ``n_dbs``: resamples of each double-bootstrap stage; ``plot_n``: size of the Hill-plot
    samples (Student-t with ``hill_plot_nu``, stable with ``hill_plot_stable_alpha``); ``n_boot``:
    bootstrap resamples of their intervals; ``powerlaw_n``: size of the samples compared with
    ``powerlaw``."""

    sample_sizes: tuple[int, ...] = (250, 1000, 4000)
    n_reps: int = 20
    alphas: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0)
    stable_alphas: tuple[float, ...] = (1.2, 1.5, 1.8)
    n_dbs: int = 200
    plot_n: int = 5000
    hill_plot_nu: float = 3.0
    hill_plot_stable_alpha: float = 1.5
    n_boot: int = 200
    powerlaw_n: int = 2000

    def __post_init__(self) -> None:
        sizes = tuple(sorted({check_int("sample_sizes", n, low=100) for n in self.sample_sizes}))
        if not sizes:
            raise ValueError("sample_sizes must hold at least one size >= 100, got ()")
        object.__setattr__(self, "sample_sizes", sizes)
        check_int("n_reps", self.n_reps, low=2)
        alphas = tuple(check_positive("alphas", a) for a in self.alphas)
        if not alphas:
            raise ValueError("alphas must hold at least one positive index, got ()")
        object.__setattr__(self, "alphas", alphas)
        st = tuple(check_in_interval("stable_alphas", a, 0.0, 2.0, closed_low=False)
                   for a in self.stable_alphas)
        if not st:
            raise ValueError("stable_alphas must hold at least one index in (0, 2], got ()")
        object.__setattr__(self, "stable_alphas", st)
        check_int("n_dbs", self.n_dbs, low=1)
        check_int("plot_n", self.plot_n, low=200)
        check_positive("hill_plot_nu", self.hill_plot_nu)
        check_in_interval("hill_plot_stable_alpha", self.hill_plot_stable_alpha, 0.0, 2.0, closed_low=False)
        check_int("n_boot", self.n_boot, low=0)
        check_int("powerlaw_n", self.powerlaw_n, low=100)

    def cells(self) -> list[tuple[str, float]]:
        """(law, alpha) of the accuracy study: Pareto and Student-t at ``alphas``, stable at
        ``stable_alphas``."""
        return ([("pareto", a) for a in self.alphas] + [("student_t", a) for a in self.alphas]
                + [("stable", a) for a in self.stable_alphas])


# --------------------------------------------------------------------------------------------------
# Hill plots
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HillPlots:
    """The two Hill-plot samples (``"student_t"``, ``"stable"``): ``truth[law]``; ``curves[law]`` the Hill
    curve (:class:`~sgdtails.estimators.tailindex.HillCurve`) for k = 5..n/2; ``ks`` and
    ``moments[law]``, ``pickands[law]``: the moments estimator at each k and Pickands at k/4 (40
    log-spaced k); ``estimates[law]``: Hill with its double-bootstrap k and bootstrap interval; ``table``:
    one row per law (true alpha and the estimate's fields)."""

    n: int
    truth: dict[str, float]
    curves: dict[str, ti.HillCurve]
    estimates: dict[str, ti.TailIndexEstimate]
    ks: np.ndarray
    moments: dict[str, np.ndarray]
    pickands: dict[str, np.ndarray]
    table: pd.DataFrame


def hill_plots(params: EstimatorsParams, *, seed: int) -> HillPlots:
    """Figure ``fig-estimators-hill-plot``: Hill, moments and Pickands along k on one Student-t and one
    stable sample of size ``plot_n`` (seeds ``derive_seed(seed, "estimators", "hill-plot", law)``)."""
    n = params.plot_n
    truth = {"student_t": params.hill_plot_nu, "stable": params.hill_plot_stable_alpha}
    samples = {law: accuracy.sample_law(law, a, n, seed=derive_seed(seed, _NAME, "hill-plot", law))
               for law, a in truth.items()}
    est = {law: ti.hill(x, n_boot=params.n_boot, n_dbs=params.n_dbs,
                        seed=derive_seed(seed, _NAME, "hill", law)) for law, x in samples.items()}
    ks = np.unique(np.geomspace(8, n // 4, 40).astype(int))
    curves = {law: ti.hill_curve(x, ks=range(5, n // 2)) for law, x in samples.items()}
    mom = {law: np.array([ti.moments(x, int(k), n_boot=0).alpha for k in ks]) for law, x in samples.items()}
    pick = {law: np.array([ti.pickands(x, int(k), n_boot=0).alpha for k in ks // 4])
            for law, x in samples.items()}
    table = pd.DataFrame([{"law": law, "true alpha": truth[law], **e.as_dict()} for law, e in est.items()])
    return HillPlots(n=n, truth=truth, curves=curves, estimates=est, ks=ks, moments=mom, pickands=pick,
                     table=table)


# --------------------------------------------------------------------------------------------------
# Accuracy study
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyNumbers:
    """Numbers the chapter quotes, at the largest sample size ``n_max`` (rates in percent):
    Hill's median and relative bias on Student-t with the largest index ``nu_hi``, its relative bias on
    the stable law with the largest index ``a_st_max``; relative RMSE in xi averaged over the Pareto
    indices for Hill, moments and Pickands (and Pickands/Hill); moments' share of infinite estimates and
    median on Student-t with ``nu_hi``; MMO's median there, its and Hill's RMSE in xi averaged over the
    stable indices, and its median on Pareto with the smallest index ``nu_lo``."""

    n_max: int
    nu_hi: float
    nu_lo: float
    a_st_max: float
    hill_t_hi_median: float
    hill_t_hi_bias: float
    hill_st_bias: float
    hill_p_rmse: float
    pick_p_rmse: float
    pick_hill_ratio: float
    mom_t_hi_inf: float
    mom_t_hi_median: float
    mom_p_rmse: float
    mmo_t_hi_median: float
    mmo_st_rmse: float
    hill_st_rmse: float
    mmo_p_lo_median: float


@dataclass(frozen=True)
class AccuracyStudy:
    """``raw``: one row per (law, alpha, n, method, rep)
    (:func:`sgdtails.estimators.accuracy.estimator_accuracy`); ``summary``:
    :func:`sgdtails.estimators.accuracy.summarize_accuracy` of it; ``bands``: the 10%, 50% and 90%
    quantiles of alpha_hat/alpha per (law, alpha, n, method) (columns ``q10, q50, q90``); ``table``:
    relative bias, relative RMSE and share of infinite estimates at the largest n, per law, index and
    method (rounded to 2 decimals); ``numbers``: :class:`AccuracyNumbers`."""

    raw: pd.DataFrame
    summary: pd.DataFrame
    bands: pd.DataFrame
    table: pd.DataFrame
    numbers: AccuracyNumbers
    sample_sizes: tuple[int, ...] = field(default=())


def _numbers(summary: pd.DataFrame, params: EstimatorsParams) -> AccuracyNumbers:
    n_max = max(params.sample_sizes)

    def at(law: str, alpha: float, method: str, column: str) -> float:
        row = summary[(summary["law"] == law) & (summary["alpha"] == alpha) & (summary["n"] == n_max)
                      & (summary["method"] == method)]
        return float(row[column].iloc[0])

    def mean(law: str, alphas: Sequence[float], method: str, column: str) -> float:
        return float(np.mean([at(law, a, method, column) for a in alphas]))

    nu_hi, nu_lo, a_st = max(params.alphas), min(params.alphas), max(params.stable_alphas)
    hill_p = mean("pareto", params.alphas, "hill", "rel_rmse_xi")
    pick_p = mean("pareto", params.alphas, "pickands", "rel_rmse_xi")
    return AccuracyNumbers(
        n_max=n_max, nu_hi=nu_hi, nu_lo=nu_lo, a_st_max=a_st,
        hill_t_hi_median=at("student_t", nu_hi, "hill", "median"),
        hill_t_hi_bias=100 * at("student_t", nu_hi, "hill", "rel_bias"),
        hill_st_bias=100 * at("stable", a_st, "hill", "rel_bias"),
        hill_p_rmse=100 * hill_p, pick_p_rmse=100 * pick_p, pick_hill_ratio=pick_p / hill_p,
        mom_t_hi_inf=100 * at("student_t", nu_hi, "moments", "frac_inf"),
        mom_t_hi_median=at("student_t", nu_hi, "moments", "median"),
        mom_p_rmse=100 * mean("pareto", params.alphas, "moments", "rel_rmse_xi"),
        mmo_t_hi_median=at("student_t", nu_hi, "mmo", "median"),
        mmo_st_rmse=100 * mean("stable", params.stable_alphas, "mmo", "rel_rmse_xi"),
        hill_st_rmse=100 * mean("stable", params.stable_alphas, "hill", "rel_rmse_xi"),
        mmo_p_lo_median=at("pareto", nu_lo, "mmo", "median"),
    )


def _accuracy_cell(law: str, alpha: float, n: int, n_reps: int, seed: int, n_dbs: int, cache_dir: Any
                   ) -> pd.DataFrame:
    """One cell of the accuracy study (module level: it runs in a worker process)."""
    return accuracy.estimator_accuracy(law, alpha, n, n_reps, seed=seed, n_dbs=n_dbs,
                                       cache_dir=None if cache_dir is None else str(cache_dir))


def accuracy_study(params: EstimatorsParams, *, seed: int, cache_dir: Any = None,
                   workers: int | None = None) -> AccuracyStudy:
    """Figures ``fig-estimators-accuracy`` and ``fig-estimators-rmse`` and the table at the largest n:
    every estimator with its automatic tuning on ``n_reps`` samples per (law, alpha, n), each cell
    cached by :func:`sgdtails.estimators.accuracy.estimator_accuracy` and computed on ``workers`` processes
    (:func:`sgdtails._core.parallel.map_processes`; default: every core; the numbers do not depend on it).
    Largest samples first, so that no core is left with a big cell at the end."""
    items = [(law, a, n, params.n_reps, seed, params.n_dbs, cache_dir)
             for law, a in params.cells() for n in params.sample_sizes]
    order = sorted(range(len(items)), key=lambda i: -items[i][2])
    frames = map_processes(_accuracy_cell, [items[i] for i in order], workers=workers, desc="accuracy cells")
    by_item = dict(zip(order, frames, strict=True))
    raw = pd.concat([by_item[i] for i in range(len(items))], ignore_index=True)
    summary = accuracy.summarize_accuracy(raw)
    rel = raw.assign(ratio=np.clip(raw["alpha_hat"], 0, 1e6) / raw["alpha"])
    bands = (rel.groupby(["law", "alpha", "n", "method"])["ratio"].quantile([0.1, 0.5, 0.9])
             .unstack().rename(columns={0.1: "q10", 0.5: "q50", 0.9: "q90"}).reset_index())
    n_max = max(params.sample_sizes)
    table = (summary[summary["n"] == n_max]
             .pivot_table(index=["law", "alpha"], columns="method",
                          values=["rel_bias", "rel_rmse", "frac_inf"])
             .round(2))
    return AccuracyStudy(raw=raw, summary=summary, bands=bands, table=table,
                         numbers=_numbers(summary, params), sample_sizes=params.sample_sizes)


# --------------------------------------------------------------------------------------------------
# Hill against powerlaw
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerlawComparison:
    """``table``: one row per case of :data:`POWERLAW_CASES`: Hill's double-bootstrap k, x_min = X_(k),
    Hill, ``powerlaw``'s estimate converted to a tail index at the same x_min, the same times k/(k+1),
    their absolute difference, and ``powerlaw`` at its own KS-chosen x_min; ``max_difference`` over the
    cases; ``cap``: ``powerlaw``'s default upper bound of its density exponent (a tail index of
    ``cap - 1``)."""

    table: pd.DataFrame
    max_difference: float
    cap: float
    n: int


def powerlaw_comparison(params: EstimatorsParams, *, seed: int) -> PowerlawComparison:
    """The powerlaw table: Hill against ``powerlaw.Fit`` (continuous power-law maximum likelihood of
    Clauset, Shalizi & Newman) on samples of size ``powerlaw_n``; the two satisfy
    alpha_H = (alpha_powerlaw - 1) k/(k+1) exactly at the same threshold."""
    rows = []
    for law, alpha in POWERLAW_CASES:
        x = accuracy.sample_law(law, alpha, params.powerlaw_n,
                                seed=derive_seed(seed, _NAME, "powerlaw", law, alpha))
        est = ti.hill(x, n_boot=0, n_dbs=params.n_dbs, seed=derive_seed(seed, _NAME, "powerlaw-hill", law))
        ax_ = np.sort(np.abs(x))[::-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # powerlaw 2.0 bounds the density exponent to [0, 3] by default (our alpha <= 2)
            fit = powerlaw.Fit(np.abs(x), xmin=ax_[est.k], discrete=False, verbose=False,
                               parameter_ranges={"alpha": [1.0, 100.0]})
            auto = powerlaw.Fit(np.abs(x), discrete=False, verbose=False,
                                parameter_ranges={"alpha": [1.0, 100.0]})
        a_pl = fit.power_law.alpha - 1.0
        rows.append({"law": law, "true alpha": alpha, "k": est.k, "x_min": ax_[est.k],
                     "Hill": est.alpha, "powerlaw (alpha+1)-1": a_pl,
                     "powerlaw * k/(k+1)": a_pl * est.k / (est.k + 1),
                     "|difference|": abs(est.alpha - a_pl * est.k / (est.k + 1)),
                     "powerlaw own x_min": auto.power_law.xmin,
                     "powerlaw at own x_min": auto.power_law.alpha - 1.0})
    table = pd.DataFrame(rows)
    cap = float(powerlaw.Power_Law.DEFAULT_PARAMETER_RANGES["alpha"][1])
    return PowerlawComparison(table=table, max_difference=float(table["|difference|"].max()), cap=cap,
                              n=params.powerlaw_n)
