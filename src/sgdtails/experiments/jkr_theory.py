r"""Chapter "The paper's theory" (``book/jkr_theory.py``): the bounds of Jiao & Keller-Ressel (2024) and this
project's own derivations for homogenized SGD.

The paper's results (:mod:`sgdtails.linear.bounds`; paper's units: singular values ``lambda_i`` of the data
matrix ``A`` with ``n`` rows, ridge ``delta`` on ``delta |x|^2 / (2n)``):

- Thm 3.2: ``eta <= eta^* = nu_1 = 1 + 2nB(lambda_1^2 + delta) / (gamma lambda_1^4)``;
- Thm 3.3: if ``gamma < gamma_bar = 2nB(lambda_1^2 + delta) / (lambda_1^2 sum_i lambda_i^2)``,
  ``eta >= eta_* = eta^* - sum_{i>=2} lambda_i^2 / lambda_1^2``;
- Thm 3.4: if ``gamma < gamma' = (nB/2) (sum_i lambda_i^4 / (lambda_i^2 + delta))^(-1)``, W2 convergence at
  rate ``rho_*`` and ``eta > 2``;
- Cor 3.5: both bounds increase with ``B`` and ``delta``, decrease with ``gamma`` and ``lambda_1``.

This project's own (:mod:`sgdtails.linear.radial`; Hessian units ``s_i = lambda_i^2 / n``,
``delta' = delta / n``):

- the exact isotropic law (``Sigma = lambda I``): multivariate Student-t with
  ``nu = 2 - d + 2B(lambda + delta') / (gamma lambda^2)`` (the paper's ``eta_*``), checked against hSGD
  simulated by Euler--Maruyama (:func:`isotropic_check`);
- the radial range ``2 + [min phi, max phi]``, ``phi(s) = 2B(s + delta')/(gamma s^2) - tr(H)/s``: both ends
  bound the index; :func:`radial_upper_end` compares the upper end with the paper's ``nu_1`` on an
  anisotropic design, against the exact index at even integers (moment closure,
  :func:`sgdtails.linear.radial.hsgd_moment_threshold`) and against simulated hSGD.

Figures: the paper's bounds on its data sets against ``gamma / gamma_bar`` (:func:`bounds_vs_gamma`),
Corollary 3.5 (:func:`corollary_curves`), ``2 + phi(s)`` (:func:`radial_curves`, :func:`radial_table`), the
isotropic law (:func:`isotropic_check`) and the radial upper end (:func:`radial_upper_end`); the table of the
paper's settings (:func:`paper_settings_table`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from sgdtails import data, theory
from sgdtails._core.parallel import cached_sweep
from sgdtails._core.seeding import derive_seed
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_in_interval, check_int, check_positive
from sgdtails.estimators import fits, tailindex
from sgdtails.linear.hsgd import run_hsgd
from sgdtails.linear.radial import hsgd_em_index, hsgd_moment_threshold

__all__ = [
    "IsotropicCheck",
    "IsotropicSummary",
    "TheoryParams",
    "UpperEnd",
    "UpperEndSummary",
    "bounds_vs_gamma",
    "corollary_curves",
    "isotropic_check",
    "paper_settings_table",
    "radial_curves",
    "radial_table",
    "radial_upper_end",
]

NAME = "jkr_theory"
#: seed and cache key of the isotropic runs, kept from the chapter's former name so that its numbers stay
LEGACY_NAME = "hsgd_theory"


def _floats(name: str, values: Any, *, low: float = 0.0) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except TypeError:
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty")
    for v in out:
        if not (math.isfinite(v) and v > low):
            raise ValueError(f"{name} must hold finite numbers > {low}, got {values!r}")
    return out


@dataclass(frozen=True)
class TheoryParams:
    """Sizes of the chapter (defaults: the ``default`` profile).

    The paper's bounds: ``gamma_points`` values of ``gamma / gamma_bar`` in ``gamma_range`` (log-spaced),
    batch sizes ``1..max_batch`` and ``delta / lambda_1^2`` up to ``max_delta_ratio`` (Cor 3.5).
    ``2 + phi(s)``: power-law spectrum ``s_j = j^(-pl_exponent)``, ``j <= pl_d``, ridge ``pl_delta``,
    learning rates ``phi_fracs`` times ``2B / tr Sigma``. The isotropic law: ``n_chains`` runs of ``n_iter``
    iterations of hSGD on ``Sigma = I_{iso_d}`` at ``iso_gammas`` (batch ``iso_batch``), Euler--Maruyama
    steps ``gamma lambda dt <= em_max_step`` (and ``coarse_step`` for the step comparison). The radial upper
    end: spectrum ``s_j = j^(-an_exponent)``, ``j <= an_d``, moment orders ``moment_orders``, ``an_n_chains``
    runs of ``an_n_iter`` iterations at ``an_gamma_fracs`` times ``gamma_bar``; Hill with
    ``k = hill_fraction n``.
    """

    gamma_points: int = 241
    gamma_range: tuple[float, float] = (0.05, 2.0)
    max_batch: int = 16
    max_delta_ratio: float = 2.0
    pl_d: int = 10
    pl_exponent: float = 1.0
    pl_delta: float = 0.5
    phi_fracs: tuple[float, ...] = (0.5, 1.0, 3.0)
    n_chains: int = 20000
    n_iter: int = 80
    iso_d: int = 5
    iso_batch: int = 1
    iso_gammas: tuple[float, ...] = (0.2, 0.25, 0.3333, 0.4)
    em_max_step: float = 0.02
    coarse_step: float = 0.05
    an_d: int = 5
    an_exponent: float = 0.5
    moment_orders: tuple[int, ...] = (2, 4, 6, 8)
    an_gamma_fracs: tuple[float, ...] = (0.6, 0.8, 1.0, 1.15)
    an_n_chains: int = 20000
    an_n_iter: int = 60
    hill_fraction: float = 0.01

    def __post_init__(self) -> None:
        check_int("gamma_points", self.gamma_points, low=3, high=100_000)
        rng = _floats("gamma_range", self.gamma_range)
        if len(rng) != 2 or not rng[0] < rng[1]:
            raise ValueError(f"gamma_range must be two numbers 0 < low < high, got {self.gamma_range!r}")
        object.__setattr__(self, "gamma_range", rng)
        check_int("max_batch", self.max_batch, low=1, high=4096)
        check_positive("max_delta_ratio", self.max_delta_ratio)
        check_int("pl_d", self.pl_d, low=2, high=10_000)
        check_positive("pl_exponent", self.pl_exponent)
        check_positive("pl_delta", self.pl_delta, allow_zero=True)
        object.__setattr__(self, "phi_fracs", _floats("phi_fracs", self.phi_fracs))
        check_int("n_chains", self.n_chains, low=100)
        check_int("n_iter", self.n_iter, low=1)
        check_int("iso_d", self.iso_d, low=1, high=1000)
        check_int("iso_batch", self.iso_batch, low=1)
        gammas = _floats("iso_gammas", self.iso_gammas)
        for g in gammas:  # the isotropic law needs nu > 0
            theory.hsgd_isotropic_index(1.0, self.iso_d, g, self.iso_batch)
        object.__setattr__(self, "iso_gammas", gammas)
        check_in_interval("em_max_step", self.em_max_step, 0.0, 1.0, closed_low=False)
        check_in_interval("coarse_step", self.coarse_step, 0.0, 1.0, closed_low=False)
        check_int("an_d", self.an_d, low=2, high=12)
        check_positive("an_exponent", self.an_exponent)
        orders = tuple(check_int("moment_orders", p, low=2, high=12) for p in self.moment_orders)
        if not orders or any(p % 2 for p in orders):
            raise ValueError(f"moment_orders must be even integers in [2, 12], got {self.moment_orders!r}")
        object.__setattr__(self, "moment_orders", orders)
        object.__setattr__(self, "an_gamma_fracs", _floats("an_gamma_fracs", self.an_gamma_fracs))
        check_int("an_n_chains", self.an_n_chains, low=100)
        check_int("an_n_iter", self.an_n_iter, low=1)
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)


# ------------------------------------------------------------------------------------------------
# The paper's bounds on its three data sets
# ------------------------------------------------------------------------------------------------
@functools.cache
def _paper_data(name: str) -> tuple[np.ndarray, int, int, int]:
    """Singular values, ``n``, ``d`` and rank of the paper's data set ``name`` (one SVD per process)."""
    ds = data.jkr_dataset(name)
    sv = ds.singular_values
    sv.setflags(write=False)
    return sv, ds.n, ds.d, ds.rank


def paper_settings_table() -> pd.DataFrame:
    """One row per data set of the paper (``X``, ``Y``, ``Z``) at its settings (Table 3): ``n``, ``d``, rank
    ``r``, ``lambda_1``, ``gamma``, ``K``, ``gamma_bar``, ``gamma'``, ``gamma/gamma_bar``, ``lower_valid``,
    ``rho_*``, ``eta_*``, ``eta^*``, the published ``lambda_1``, ``eta^*``, ``eta_*``, ``gamma_bar`` and the
    largest relative difference between computed and published values."""
    rows = []
    for name in data.JKR_DATASETS:
        sv, n, d, rank = _paper_data(name)
        st = data.jkr_settings(name)
        b = theory.jkr_bounds(sv, n, st.gamma, st.batch_size, st.delta)
        pub = data.JKR_PUBLISHED[name]
        rel = max(abs(b.lambda_1 / pub.lambda_1 - 1), abs(b.eta_upper / pub.eta_upper - 1),
                  abs(b.eta_lower / pub.eta_lower - 1), abs(b.gamma_bar / pub.gamma_bar - 1))
        rows.append({"data set": name, "n": n, "d": d, "r": rank, "lambda_1": b.lambda_1,
                     "gamma": st.gamma, "K": st.n_iterations, "gamma_bar": b.gamma_bar,
                     "gamma'": b.gamma_prime, "gamma/gamma_bar": st.gamma / b.gamma_bar,
                     "lower_valid": b.lower_valid, "rho_*": b.rho_star, "eta_*": b.eta_lower,
                     "eta^*": b.eta_upper, "published lambda_1": pub.lambda_1,
                     "published eta^*": pub.eta_upper, "published eta_*": pub.eta_lower,
                     "published gamma_bar": pub.gamma_bar, "max rel. difference": rel})
    return pd.DataFrame(rows)


def bounds_vs_gamma(params: TheoryParams | None = None) -> pd.DataFrame:
    """The paper's ``eta^*`` and ``eta_*`` on each data set as ``gamma`` varies (``B = 1``, ``delta = 0``).

    One row per (data set, ``gamma``): ``gamma``, ``gamma/gamma_bar`` (log-spaced in ``params.gamma_range``),
    ``eta^*``, ``eta_*``, ``lower_valid`` (``gamma < gamma_bar``), ``rho_*`` (Thm 3.4, ``nan`` beyond
    ``gamma'``), and per data set ``gamma_bar``, ``gamma'/gamma_bar`` and the paper's ``gamma/gamma_bar``."""
    params = params or TheoryParams()
    ratios = np.geomspace(*params.gamma_range, params.gamma_points)
    rows = []
    for name in data.JKR_DATASETS:
        sv, n, _, _ = _paper_data(name)
        st = data.jkr_settings(name)
        gbar = theory.jkr_bounds(sv, n, st.gamma).gamma_bar
        for r in ratios:
            b = theory.jkr_bounds(sv, n, float(r * gbar))
            rows.append({"data set": name, "gamma": b.gamma, "gamma/gamma_bar": float(r),
                         "eta^*": b.eta_upper, "eta_*": b.eta_lower, "lower_valid": b.lower_valid,
                         "rho_*": b.rho_star, "gamma_bar": gbar, "gamma'/gamma_bar": b.gamma_prime / gbar,
                         "paper gamma/gamma_bar": st.gamma / gbar})
    return pd.DataFrame(rows)


def corollary_curves(params: TheoryParams | None = None) -> pd.DataFrame:
    """Corollary 3.5 at the paper's ``gamma`` on each data set: the bounds as the batch size ``B`` runs over
    ``1..max_batch`` (``delta = 0``) and as ``delta / lambda_1^2`` runs over ``[0, max_delta_ratio]``
    (``B = 1``). One row per point: ``data set``, ``vary`` (``"B"`` or ``"delta"``), ``B``, ``delta``,
    ``delta/lambda_1^2``, ``eta^*``, ``eta_*``, ``lower_valid``, ``gamma/gamma_bar``."""
    params = params or TheoryParams()
    rows = []
    for name in data.JKR_DATASETS:
        sv, n, _, _ = _paper_data(name)
        st = data.jkr_settings(name)
        lam1_sq = float(sv[0] ** 2)
        points = ([("B", b, 0.0) for b in range(1, params.max_batch + 1)]
                  + [("delta", 1, float(x) * lam1_sq)
                     for x in np.linspace(0.0, params.max_delta_ratio, 41)])
        for vary, b, delta in points:
            res = theory.jkr_bounds(sv, n, st.gamma, b, delta)
            rows.append({"data set": name, "vary": vary, "B": b, "delta": delta,
                         "delta/lambda_1^2": delta / lam1_sq, "eta^*": res.eta_upper, "eta_*": res.eta_lower,
                         "lower_valid": res.lower_valid, "gamma/gamma_bar": st.gamma / res.gamma_bar})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# This project's radial derivation: 2 + phi(s)
# ------------------------------------------------------------------------------------------------
def radial_curves(params: TheoryParams | None = None, n_points: int = 400) -> pd.DataFrame:
    """``2 + phi(s)`` on ``s in [s_d, s_1]`` for the power-law spectrum at ``gamma = frac * 2B/tr Sigma``
    (``B = 1``, ``delta = params.pl_delta``), one row per (``frac``, ``s``)."""
    params = params or TheoryParams()
    lam = data.power_law(params.pl_d, exponent=params.pl_exponent).spectrum
    g_tilde = theory.lr_threshold(lam, 1)
    s = np.geomspace(lam[-1], lam[0], check_int("n_points", n_points, low=2))
    frames = [pd.DataFrame({"gamma/gamma~": frac, "gamma": frac * g_tilde, "s": s,
                            "2 + phi": 2 + theory.hsgd_phi(s, lam, frac * g_tilde, 1, params.pl_delta)})
              for frac in params.phi_fracs]
    return pd.concat(frames, ignore_index=True)


def radial_table(params: TheoryParams | None = None) -> pd.DataFrame:
    """The radial range and the paper's bounds at each ``gamma = frac * 2B/tr Sigma`` of
    :func:`radial_curves`: ``radial lower = 2 + min phi`` (and the ``s`` where it is attained),
    ``radial upper = 2 + max phi``, ``phi monotone``, the paper's ``eta_*``, ``eta^* = nu_1`` and
    ``lower_valid``; also ``gamma~``, ``lambda_1``, ``lambda_d``."""
    params = params or TheoryParams()
    lam = data.power_law(params.pl_d, exponent=params.pl_exponent).spectrum
    g_tilde = theory.lr_threshold(lam, 1)
    rows = []
    for frac in params.phi_fracs:
        g = frac * g_tilde
        rr = theory.radial_index_range(lam, g, 1, params.pl_delta)
        jb = theory.jkr_bounds_hessian(lam, g, 1, params.pl_delta)
        rows.append({"gamma/gamma~": frac, "gamma/gamma_bar": g / jb.gamma_bar, "radial lower": rr.lower,
                     "s at radial lower": rr.s_at_lower, "radial upper": rr.upper,
                     "s at radial upper": rr.s_at_upper, "phi monotone": rr.monotone,
                     "eta_* (paper)": jb.eta_lower, "lower_valid": jb.lower_valid,
                     "eta^* = nu_1 (paper)": jb.eta_upper, "gamma~": g_tilde,
                     "lambda_1": float(lam[0]), "lambda_d": float(lam[-1])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# This project's exact isotropic law, against simulated hSGD
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IsotropicSummary:
    """Numbers the chapter quotes: the largest ``|z|``-score, and the Student-t fit at the heaviest tail with
    the coarse step (``coarse_est`` +- ``coarse_se``) and the chapter's step (``fine_est`` +- ``fine_se``)
    against the exact ``coarse_nu`` and the exact index of the Euler--Maruyama scheme at each step
    (``coarse_em``, ``fine_em``)."""

    max_abs_z: float
    coarse_nu: float
    coarse_step: float
    coarse_est: float
    coarse_se: float
    fine_est: float
    fine_se: float
    coarse_em: float
    fine_em: float
    n_diverged: int


@dataclass(frozen=True)
class IsotropicCheck:
    """``frame``: one row per ``gamma`` (exact ``nu``, Student-t MLE ``nu`` +- se over 8 groups of chains,
    ``z``-score, diverged chains, sub-steps ``m``, the exact index of the Euler--Maruyama scheme at that
    ``m``, the law's ``scale``); ``samples``: first coordinate of the final iterates per ``gamma`` (for the
    ccdf); ``summary``."""

    frame: pd.DataFrame
    samples: dict[float, np.ndarray] = field(repr=False)
    summary: IsotropicSummary


def _student_t_groups(z: np.ndarray, n_groups: int = 8) -> tuple[float, float]:
    ests = np.array([fits.student_t(grp.ravel()).nu for grp in np.array_split(z, n_groups)])
    return float(ests.mean()), float(ests.std(ddof=1) / np.sqrt(n_groups))


def _iso_key(params: TheoryParams, seed: int, gamma: float, max_step: float) -> dict[str, Any]:
    return {"d": params.iso_d, "B": params.iso_batch, "gamma": gamma, "n_chains": params.n_chains,
            "n_iter": params.n_iter, "seed": seed, "max_step": max_step}


def _iso_compute(key: Mapping[str, Any]) -> dict[str, Any]:
    with single_thread():
        res = run_hsgd(data.isotropic(key["d"]), key["gamma"], key["B"], n_chains=key["n_chains"],
                       n_iter=key["n_iter"], max_step=key["max_step"],
                       seed=derive_seed(key["seed"], LEGACY_NAME, "iso", key["gamma"]))
    z = res.centered()
    return {"z1": z[:, 0], "z": z, "n_diverged": res.n_diverged, "substeps": res.substeps}


def isotropic_check(params: TheoryParams | None = None, *, seed: int, cache_dir: Any = None,
                    workers: int | None = None) -> IsotropicCheck:
    """hSGD on ``Sigma = I_d``, ``x_true = 0``, ``sigma = 1`` by Euler--Maruyama against the exact
    multivariate Student-t law: a Student-t fit to the coordinates of the final iterates (pooled over
    chains; mean +- se over 8 groups of independent chains) at each ``gamma``, and at the heaviest tail the
    same with the coarse step ``coarse_step``. The runs are cached per ``gamma`` and computed on ``workers``
    threads (the numbers do not depend on ``workers``)."""
    params = params or TheoryParams()
    g_heavy = max(params.iso_gammas)
    keys = [_iso_key(params, seed, g, params.em_max_step) for g in params.iso_gammas]
    *outs, coarse = cached_sweep(cache_dir, f"{LEGACY_NAME}-iso",
                                  [*keys, _iso_key(params, seed, g_heavy, params.coarse_step)], _iso_compute,
                                  workers=workers)
    rows, samples = [], {}
    for g, out in zip(params.iso_gammas, outs, strict=True):
        nu = theory.hsgd_isotropic_index(1.0, params.iso_d, g, params.iso_batch)
        est, se = _student_t_groups(out["z"])
        samples[g] = np.asarray(out["z1"])
        rows.append({"gamma": g, "nu (exact)": nu, "nu (Student-t MLE)": est, "se": se,
                     "z-score": (est - nu) / se, "diverged": int(out["n_diverged"]),
                     "sub-steps m": int(out["substeps"]),
                     "nu (EM scheme)": hsgd_em_index(1.0, params.iso_d, g, params.iso_batch,
                                                     substeps=int(out["substeps"])),
                     "scale": theory.hsgd_isotropic_scale(1.0, params.iso_d, g, params.iso_batch, 1.0)})
    frame = pd.DataFrame(rows)
    c_est, c_se = _student_t_groups(coarse["z"])
    heavy = frame.loc[frame["gamma"].idxmax()]
    summary = IsotropicSummary(
        max_abs_z=float(np.abs(frame["z-score"]).max()),
        coarse_nu=theory.hsgd_isotropic_index(1.0, params.iso_d, g_heavy, params.iso_batch),
        coarse_step=params.coarse_step, coarse_est=c_est, coarse_se=c_se,
        fine_est=float(heavy["nu (Student-t MLE)"]), fine_se=float(heavy["se"]),
        coarse_em=hsgd_em_index(1.0, params.iso_d, g_heavy, params.iso_batch,
                                substeps=int(coarse["substeps"])),
        fine_em=float(heavy["nu (EM scheme)"]),
        n_diverged=int(frame["diverged"].sum()))
    return IsotropicCheck(frame=frame, samples=samples, summary=summary)


# ------------------------------------------------------------------------------------------------
# Is the radial upper end an upper bound? (anisotropic design)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpperEndSummary:
    """Numbers the chapter quotes about the radial upper end ``2 + max phi`` against the paper's ``nu_1``.

    ``crossing``: ``gamma/gamma_bar`` above which the radial upper end is below ``nu_1`` (``nan`` if never on
    the grid); ``n_exact`` exact points (moment closure) and how many lie at or below the radial upper end,
    at or below ``nu_1``, at or above the paper's ``eta_*`` where it is guaranteed; ``n_sim`` simulated
    points and how many Hill intervals reach the radial range and lie entirely below ``nu_1``; strictly above
    ``gamma_bar`` (``n_sim_beyond``), how many Hill estimates (``sim_beyond_below_lower``) and whole intervals
    (``sim_beyond_ci_below_lower``) lie below the paper's ``eta_*``; ``nu1_at_gamma_bar = 1 + tr(H)/s_1``,
    the paper's upper bound where the exact index is 2."""

    crossing: float
    n_exact: int
    exact_below_radial: int
    exact_below_nu1: int
    exact_above_lower: int
    n_exact_lower_valid: int
    n_sim: int
    sim_meets_radial: int
    sim_below_nu1: int
    n_sim_beyond: int
    sim_beyond_below_lower: int
    sim_beyond_ci_below_lower: int
    nu1_at_gamma_bar: float
    trace_over_s1: float
    s_d_over_s1: float


@dataclass(frozen=True)
class UpperEnd:
    """``curves``: one row per ``gamma/gamma_bar`` on a grid with the paper's ``eta_*``, ``eta^* = nu_1``,
    ``lower_valid`` and the radial range; ``exact``: ``gamma_p`` where the index is exactly ``p`` (moment
    closure) with the bounds there; ``simulated``: Hill estimates from hSGD runs at ``an_gamma_fracs``;
    ``summary``; ``spectrum``."""

    curves: pd.DataFrame
    exact: pd.DataFrame
    simulated: pd.DataFrame
    summary: UpperEndSummary
    spectrum: np.ndarray = field(repr=False)


def _bounds_row(lam: np.ndarray, gamma: float, gbar: float) -> dict[str, Any]:
    jb = theory.jkr_bounds_hessian(lam, gamma)
    rr = theory.radial_index_range(lam, gamma, 1)
    return {"gamma": gamma, "gamma/gamma_bar": gamma / gbar, "eta_*": jb.eta_lower, "eta^*": jb.eta_upper,
            "lower_valid": jb.lower_valid and gamma < gbar * (1 - 1e-9),  # gamma = gamma_bar is not "<"
            "radial lower": rr.lower, "radial upper": rr.upper}


def _upper_end_compute(key: Mapping[str, Any]) -> dict[str, Any]:
    design = data.power_law(key["d"], exponent=key["exponent"])
    gamma = key["gamma/gamma_bar"] * theory.jkr_bounds_hessian(design.spectrum, 1.0).gamma_bar
    with single_thread():
        res = run_hsgd(design, gamma, 1, n_chains=key["n_chains"], n_iter=key["n_iter"],
                       max_step=key["max_step"],
                       seed=derive_seed(key["seed"], NAME, "upper-end", key["gamma/gamma_bar"]))
    norms = np.linalg.norm(res.centered(), axis=1)
    est = tailindex.hill(norms, k=max(10, int(key["hill_fraction"] * norms.size)), seed=0, n_boot=100)
    return {"hill": est.alpha, "hill_lo": est.ci_low, "hill_hi": est.ci_high, "n_diverged": res.n_diverged,
            "substeps": res.substeps}


def radial_upper_end(params: TheoryParams | None = None, *, seed: int, cache_dir: Any = None,
                     workers: int | None = None) -> UpperEnd:
    """The radial upper end ``2 + max phi`` against the paper's ``nu_1`` on the anisotropic Gaussian design
    ``s_j = j^(-an_exponent)`` (``B = 1``, ``delta = 0``, ``sigma = 1``, ``x_true = 0``).

    Evidence of two kinds: the exact index at even integers ``p`` (``eta = p`` at ``gamma = gamma_p``,
    :func:`sgdtails.linear.radial.hsgd_moment_threshold`), and Hill estimates on the norms of simulated hSGD
    (Euler--Maruyama, ``gamma s_1 dt <= em_max_step``; ``k = hill_fraction n``)."""
    params = params or TheoryParams()
    design = data.power_law(params.an_d, exponent=params.an_exponent)
    lam = design.spectrum
    gbar = theory.jkr_bounds_hessian(lam, 1.0).gamma_bar
    grid = np.geomspace(0.25, 1.3, 300)
    curves = pd.DataFrame([_bounds_row(lam, float(r * gbar), gbar) for r in grid])
    exact = pd.DataFrame([{"p": p} | _bounds_row(lam, hsgd_moment_threshold(lam, p), gbar)
                          for p in params.moment_orders])
    keys = [{"d": params.an_d, "exponent": params.an_exponent, "gamma/gamma_bar": frac,
             "n_chains": params.an_n_chains, "n_iter": params.an_n_iter, "max_step": params.em_max_step,
             "hill_fraction": params.hill_fraction, "seed": seed} for frac in params.an_gamma_fracs]
    outs = cached_sweep(cache_dir, f"{NAME}-upper-end", keys, _upper_end_compute, workers=workers)
    sim_rows = []
    for frac, out in zip(params.an_gamma_fracs, outs, strict=True):
        sim_rows.append(_bounds_row(lam, frac * gbar, gbar) | {
            "Hill": float(out["hill"]), "Hill lo": float(out["hill_lo"]), "Hill hi": float(out["hill_hi"]),
            "diverged": int(out["n_diverged"]), "sub-steps m": int(out["substeps"])})
    simulated = pd.DataFrame(sim_rows)

    gap = curves["eta^*"] - curves["radial upper"]
    below = np.flatnonzero(gap.to_numpy() > 0)
    crossing = math.nan
    if below.size and below[0] > 0:
        def diff(r: float) -> float:
            row = _bounds_row(lam, r * gbar, gbar)
            return row["eta^*"] - row["radial upper"]

        crossing = float(optimize.brentq(diff, grid[below[0] - 1], grid[below[0]], xtol=1e-10))
    valid = exact["lower_valid"].to_numpy()
    beyond = simulated[simulated["gamma/gamma_bar"] > 1 + 1e-9]  # strictly above gamma_bar
    summary = UpperEndSummary(
        crossing=crossing, n_exact=len(exact),
        exact_below_radial=int((exact["p"] <= exact["radial upper"] * (1 + 1e-9)).sum()),
        exact_below_nu1=int((exact["p"] <= exact["eta^*"] * (1 + 1e-9)).sum()),
        exact_above_lower=int((exact["p"][valid] >= exact["eta_*"][valid] * (1 - 1e-9)).sum()),
        n_exact_lower_valid=int(valid.sum()), n_sim=len(simulated),
        sim_meets_radial=int(((simulated["Hill lo"] <= simulated["radial upper"])
                              & (simulated["Hill hi"] >= simulated["radial lower"])).sum()),
        sim_below_nu1=int((simulated["Hill hi"] < simulated["eta^*"]).sum()),
        n_sim_beyond=len(beyond),
        sim_beyond_below_lower=int((beyond["Hill"] < beyond["eta_*"]).sum()),
        sim_beyond_ci_below_lower=int((beyond["Hill hi"] < beyond["eta_*"]).sum()),
        nu1_at_gamma_bar=theory.jkr_bounds_hessian(lam, gbar).eta_upper,
        trace_over_s1=float(lam.sum() / lam[0]), s_d_over_s1=float(lam[-1] / lam[0]))
    return UpperEnd(curves=curves, exact=exact, simulated=simulated, summary=summary, spectrum=lam)
