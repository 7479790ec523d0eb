r"""Chapter "Where the bounds hold" (``book/bounds_hold.py``): SGD, homogenized SGD and the paper's bounds on
one axis as ``gamma``, ``B``, ``d`` and ``delta`` vary, on Gaussian designs and on random ReLU features of the
digits.

At each point: the paper's band ``[eta_*, eta^*]`` in Hessian units (Thms 3.2-3.3 of Jiao &
Keller-Ressel 2024, :func:`sgdtails.linear.bounds.jkr_bounds_hessian`; ``eta_*`` proven only for
``gamma < gamma_bar``), the exact hSGD index ``nu`` where it is known (isotropic data: the Student-t ``nu``,
equal to ``eta_*``), the exact SGD index ``alpha`` (Kesten--Goldie root of ``Lambda(alpha) = 0``,
``M = (1 - gamma delta) I - (gamma/B) sum a_i a_i'``: one-step quadrature for isotropic data, population
Monte Carlo otherwise), and Hill estimates on the norms of the centred final iterates of simulated SGD and
simulated hSGD (Euler--Maruyama).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdtails import data, theory
from sgdtails._core.cache import device_entry
from sgdtails._core.parallel import cached_sweep
from sgdtails._core.seeding import derive_seed
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_choice, check_device, check_in_interval, check_int, check_positive
from sgdtails.estimators import tailindex
from sgdtails.linear.hsgd import default_substeps, run_hsgd
from sgdtails.linear.radial import hsgd_em_index
from sgdtails.linear.sgd import run_sgd

__all__ = ["PANELS", "BoundsParams", "BoundsResult", "BoundsSummary", "make_problem", "panel_points", "run"]

NAME = "bounds_hold"
#: the six panels, in the figure's order
PANELS = ("gamma-iso", "gamma-pl", "B", "d", "delta", "gamma-digits")
#: the quadrature of the isotropic one-step formula runs in one thread at a time
_QUAD_LOCK = threading.Lock()


def _tuple(name: str, values: Any, cast: Any, **check: Any) -> tuple[Any, ...]:
    try:
        out = tuple(cast(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers, got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must not be empty")
    for v in out:
        (check_int if cast is int else check_positive)(name, v, **check)
    return out


@dataclass(frozen=True)
class BoundsParams:
    """Sizes of the chapter (defaults: the ``default`` profile).

    ``n_chains`` runs of ``n_iter`` iterations of SGD and of hSGD per point (hSGD sub-steps with
    ``gamma (s_1 + delta) dt <= hsgd_max_step``); Hill with ``k = hill_fraction n``; the exact SGD index by
    population Monte Carlo with ``kesten_walkers`` walkers, ``kesten_steps`` steps, in ``kesten_dtype``.
    Panels: isotropic ``d = iso_d`` at ``iso_gammas``; power law ``s_j = 1/j``, ``d = pl_d``, at
    ``pl_gamma_fracs`` times ``2B/tr Sigma``; batch sizes at ``0.6 * 2/tr Sigma``; isotropic dimensions
    ``dims`` at ``dim_gamma``; ridges ``deltas`` at ``0.8 * 2/tr Sigma``; digits features
    (``digits_features`` of them, ``delta = 0.1``) at ``digits_gamma_fracs`` times ``2/tr Sigma``.
    ``device``: where the runs of SGD and hSGD are simulated (``"cuda"`` on a GPU; the Kesten index stays
    on the CPU); off the CPU it enters every point's seed and cache key.
    """

    n_chains: int = 10000
    n_iter: int = 150
    hill_fraction: float = 0.01
    hsgd_max_step: float = 0.02
    kesten_walkers: int = 1024
    kesten_steps: int = 100
    kesten_dtype: str = "float32"
    iso_d: int = 5
    iso_gammas: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
    pl_d: int = 10
    pl_gamma_fracs: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    dims: tuple[int, ...] = (1, 5, 10, 15)
    dim_gamma: float = 0.1
    deltas: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0)
    digits_features: int = 16
    digits_gamma_fracs: tuple[float, ...] = (0.2, 0.5, 0.8)
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_int("n_chains", self.n_chains, low=200)
        check_int("n_iter", self.n_iter, low=1)
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)
        check_in_interval("hsgd_max_step", self.hsgd_max_step, 0.0, 1.0, closed_low=False)
        check_int("kesten_walkers", self.kesten_walkers, low=2)
        check_int("kesten_steps", self.kesten_steps, low=4)
        check_choice("kesten_dtype", self.kesten_dtype, ["float32", "float64"])
        check_int("iso_d", self.iso_d, low=1, high=10_000)
        check_int("pl_d", self.pl_d, low=2, high=10_000)
        check_int("digits_features", self.digits_features, low=1, high=4096)
        check_positive("dim_gamma", self.dim_gamma)
        for name in ("iso_gammas", "pl_gamma_fracs", "digits_gamma_fracs"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name), float))
        object.__setattr__(self, "deltas", _tuple("deltas", self.deltas, float, allow_zero=True))
        object.__setattr__(self, "batch_sizes", _tuple("batch_sizes", self.batch_sizes, int, low=1))
        object.__setattr__(self, "dims", _tuple("dims", self.dims, int, low=1, high=10_000))
        check_device("device", self.device)


@functools.cache
def make_problem(kind: str, d: int) -> Any:
    """The design of a point: ``"iso"`` (``Sigma = I_d``, ``x_true = 0``), ``"pl"`` (``s_j = 1/j``, random
    ``x_true``) or ``"digits"`` (random ReLU features of the digits, offline)."""
    check_choice("kind", kind, ["iso", "pl", "digits"])
    if kind == "iso":
        return data.isotropic(d, sigma=1.0)
    if kind == "pl":
        return data.power_law(d, exponent=1.0, sigma=1.0, x_true="random", seed=1)
    return data.digits_features(d, seed=1)


def panel_points(params: BoundsParams) -> dict[str, list[dict[str, Any]]]:
    """The points ``(kind, d, gamma, B, delta)`` of each panel (the keys of their seeds and cache entries)."""
    p = params
    g_pl = theory.lr_threshold(make_problem("pl", p.pl_d).spectrum, 1)
    g_dig = theory.lr_threshold(make_problem("digits", p.digits_features).spectrum, 1)
    return {
        "gamma-iso": [dict(kind="iso", d=p.iso_d, gamma=g, B=1, delta=0.0) for g in p.iso_gammas],
        "gamma-pl": [dict(kind="pl", d=p.pl_d, B=1, delta=0.0, gamma=f * g_pl) for f in p.pl_gamma_fracs],
        "B": [dict(kind="pl", d=p.pl_d, B=b, delta=0.0, gamma=0.6 * g_pl) for b in p.batch_sizes],
        "d": [dict(kind="iso", d=d, gamma=p.dim_gamma, B=1, delta=0.0) for d in p.dims],
        "delta": [dict(kind="pl", d=p.pl_d, B=1, delta=dl, gamma=0.8 * g_pl) for dl in p.deltas],
        "gamma-digits": [dict(kind="digits", d=p.digits_features, B=1, delta=0.1, gamma=f * g_dig)
                         for f in p.digits_gamma_fracs],
    }


def _common(params: BoundsParams, seed: int) -> dict[str, Any]:
    """The sizes every point carries in its seed and cache key (and the device, off the CPU: CPU keys stay as
    they are)."""
    return ({"n_chains": params.n_chains, "n_iter": params.n_iter, "hill_fraction": params.hill_fraction,
             "max_step": params.hsgd_max_step, "kw": params.kesten_walkers, "ks": params.kesten_steps,
             "seed": seed} | device_entry(params.device))


def _hill_of(res: Any, hill_fraction: float) -> tuple[float, float, float, int]:
    """Hill on the norms of the centred iterates of the chains that did not diverge."""
    norms = np.linalg.norm(res.centered(), axis=1)
    if norms.size < 200:
        return math.nan, math.nan, math.nan, int(res.n_diverged)
    est = tailindex.hill(norms, k=max(10, int(hill_fraction * norms.size)), seed=0, n_boot=100)
    return est.alpha, est.ci_low, est.ci_high, int(res.n_diverged)


def _compute(params: BoundsParams, seed: int, point: Mapping[str, Any]) -> dict[str, Any]:
    """One point: the seeds derive from the point and the common sizes (not from ``kesten_dtype``)."""
    p = {k: v for k, v in point.items() if k != "kesten_dtype"}
    prob = make_problem(p["kind"], p["d"])
    g, b, delta = p["gamma"], p["B"], p["delta"]
    s = derive_seed(seed, NAME, p)
    nu = math.nan
    if p["kind"] == "iso":
        try:
            nu = theory.hsgd_isotropic_index(float(prob.spectrum[0]), prob.d, g, b, delta)
        except ValueError:
            nu = 0.0
    with single_thread():
        if p["kind"] == "iso":
            with _QUAD_LOCK:
                kes = theory.sgd_tail_index(prob, g, b, delta, alpha_bracket=(0.01, 40.0))
        else:
            kes = theory.sgd_tail_index(prob, g, b, delta, n_walkers=params.kesten_walkers,
                                        n_steps=params.kesten_steps, burn_in=params.kesten_steps // 4, seed=s,
                                        alpha_bracket=(0.01, 40.0), dtype=getattr(torch, params.kesten_dtype))
        sgd = run_sgd(prob, g, b, delta=delta, n_chains=params.n_chains, n_iter=params.n_iter, seed=s + 1,
                      device=params.device)
        hs = run_hsgd(prob, g, b, delta=delta, n_chains=params.n_chains, n_iter=params.n_iter,
                      max_step=params.hsgd_max_step, seed=s + 2, device=params.device)
    a_s, lo_s, hi_s, div_s = _hill_of(sgd, params.hill_fraction)
    a_h, lo_h, hi_h, div_h = _hill_of(hs, params.hill_fraction)
    return {"nu": nu, "kesten": kes.alpha, "kesten_se": kes.se, "sgd": a_s, "sgd_lo": lo_s, "sgd_hi": hi_s,
            "sgd_diverged": div_s, "hsgd": a_h, "hsgd_lo": lo_h, "hsgd_hi": hi_h, "hsgd_diverged": div_h}


@dataclass(frozen=True)
class BoundsSummary:
    """Numbers the chapter quotes, all computed from the frame.

    Isotropic points with a stationary law for both (``iso_n``): how often the exact hSGD index exceeds
    the exact SGD index (``iso_nu_above``), the ratio ``nu/alpha`` range, the points at the smallest and
    the largest ``gamma/gamma_bar`` (``small``/``large``: ratio, ``nu``, ``alpha``, ``d``), how many have
    ``nu < alpha`` (``nu_below_n``) and their smallest ``d``, the largest ``d`` with ``nu >= alpha``. The
    exact SGD index against the paper's band at the ``n_points`` points with a finite positive index (up
    to twice its Monte Carlo se or 2 %): ``inside``, ``below`` the guaranteed ``eta_*`` (``below``), below
    the expression ``eta_*`` where it is not guaranteed (``below_unguaranteed``), ``above`` ``eta^*``;
    ``n_unguaranteed`` points have ``gamma >= gamma_bar``. Simulated estimates: SGD Hill intervals meeting
    the band (``sgd_hits`` of ``sgd_n``), covering the exact SGD index where ``1 < alpha < 4``
    (``sk_cover`` of ``sk_n``); hSGD Hill intervals meeting the band (``hsgd_hits`` of ``hsgd_n``; of the
    misses, ``hsgd_miss_light`` have ``eta_* >= 6``, where Hill at this ``k`` is biased low, and
    ``hsgd_miss_below`` lie below the band); SGD and hSGD intervals overlapping (``agree`` of ``both_n``;
    on the Gaussian designs ``agree_low`` of ``n_low`` points with ``gamma/gamma_bar < 0.5`` and
    ``agree_high`` of ``n_high`` above; ``agree_digits`` of ``n_digits`` on the digits) and the median
    ratio of the hSGD to the SGD estimate in those three groups (``ratio_low``, ``ratio_high``,
    ``ratio_digits``). ``unstable``: points with an SGD index below 0.01, from
    ``gamma/gamma_bar = unstable_ratio``; diverged chains; the digits panel's extremes and its rows' norms
    (``dig_rowmax``, ``dig_row99``: ``max_i |a_i|^2`` and its 99 % quantile over ``tr Sigma``;
    ``dig_gmax = gamma_min max_i |a_i|^2``). ``em_gamma``, ``em_nu``, ``em_index``: at the largest
    isotropic ``gamma`` of the first panel, the exact hSGD index and that of the Euler--Maruyama scheme
    used here (:func:`sgdtails.linear.radial.hsgd_em_index`).
    """

    iso_n: int
    iso_nu_above: int
    iso_ratio_min: float
    iso_ratio_max: float
    small: dict[str, float]
    large: dict[str, float]
    nu_below_n: int
    nu_below_dmin: int
    nu_above_dmax: int
    n_points: int
    inside: int
    below: int
    below_unguaranteed: int
    above: int
    n_unguaranteed: int
    sgd_n: int
    sgd_hits: int
    sk_n: int
    sk_cover: int
    hsgd_n: int
    hsgd_hits: int
    hsgd_miss_light: int
    hsgd_miss_below: int
    both_n: int
    agree: int
    agree_low: int
    n_low: int
    agree_high: int
    n_high: int
    agree_digits: int
    n_digits: int
    ratio_low: float
    ratio_high: float
    ratio_digits: float
    unstable: int
    unstable_ratio: float
    div_total: int
    hdiv_total: int
    dig_kes_max: float
    dig_eta_min: float
    dig_hsgd_min: float
    dig_sgd_max: float
    dig_rowmax: float
    dig_row99: float
    dig_gmax: float
    em_gamma: float
    em_nu: float
    em_index: float


@dataclass(frozen=True)
class BoundsResult:
    """``frame``: one row per point (panel, kind, ``d``, ``B``, ``gamma``, ``gamma/gamma_bar``, ``delta``,
    the paper's ``eta_lower``, ``eta_upper``, ``gamma_bar``, ``lower_valid``, exact ``nu`` and ``kesten``
    (with ``kesten_se``), Hill ``sgd``/``hsgd`` with intervals, diverged chains); ``summary``."""

    frame: pd.DataFrame
    summary: BoundsSummary


def _median(x: pd.Series) -> float:
    return float(x.median()) if len(x) else math.nan


def _summary(df: pd.DataFrame, params: BoundsParams) -> BoundsSummary:
    iso = df[df["panel"].isin(["gamma-iso", "d"]) & (df["nu"] > 0) & (df["kesten"] > 0)
             & np.isfinite(df["kesten"])]
    ratio = iso["nu"] / iso["kesten"]
    ends = {}
    for tag, r in (("small", iso.loc[iso["gamma/gamma_bar"].idxmin()]),
                   ("large", iso.loc[iso["gamma/gamma_bar"].idxmax()])):
        ends[tag] = {"ratio": float(r["gamma/gamma_bar"]), "nu": float(r["nu"]), "kesten": float(r["kesten"]),
                     "d": int(r["d"])}
    finite = df[np.isfinite(df["kesten"]) & (df["kesten"] > 0)]
    # "inside" up to the Monte Carlo error of the Kesten index (2 se) and 2 %
    tol = np.maximum(2 * finite["kesten_se"].fillna(0.0), 0.02 * finite["kesten"])
    under = finite["kesten"] < finite["eta_lower"] - tol
    over = finite["kesten"] > finite["eta_upper"] + tol
    valid = finite["lower_valid"].astype(bool)
    est = df[np.isfinite(df["sgd"])]
    sgd_hits = (est["sgd_hi"] >= est["eta_lower"]) & (est["sgd_lo"] <= est["eta_upper"])
    sk = est[np.isfinite(est["kesten"]) & (est["kesten"] > 1) & (est["kesten"] < 4)]
    hest = df[np.isfinite(df["hsgd"])]
    hsgd_hits = (hest["hsgd_hi"] >= hest["eta_lower"]) & (hest["hsgd_lo"] <= hest["eta_upper"])
    both = df[np.isfinite(df["sgd"]) & np.isfinite(df["hsgd"])]
    agree = (both["sgd_hi"] >= both["hsgd_lo"]) & (both["hsgd_hi"] >= both["sgd_lo"])
    gauss = both["kind"] != "digits"
    low = both["gamma/gamma_bar"] < 0.5
    misses = hest[~hsgd_hits]
    h_over_s = both["hsgd"] / both["sgd"]
    unstable = df[df["kesten"] == 0]
    nu_below = iso[iso["nu"] < iso["kesten"]]
    dig = df[df["panel"] == "gamma-digits"]
    dig_prob = make_problem("digits", params.digits_features)
    row_norm2 = (dig_prob.features**2).sum(axis=1)
    g_em = max(params.iso_gammas)
    return BoundsSummary(
        iso_n=len(iso), iso_nu_above=int((iso["nu"] > iso["kesten"]).sum()),
        iso_ratio_min=float(ratio.min()), iso_ratio_max=float(ratio.max()), small=ends["small"],
        large=ends["large"], nu_below_n=len(nu_below),
        nu_below_dmin=int(nu_below["d"].min()) if len(nu_below) else 0,
        nu_above_dmax=int(iso[iso["nu"] >= iso["kesten"]]["d"].max()) if len(iso) else 0,
        n_points=len(finite), inside=int((~under & ~over).sum()), below=int((under & valid).sum()),
        below_unguaranteed=int((under & ~valid).sum()), above=int(over.sum()),
        n_unguaranteed=int((~df["lower_valid"].astype(bool)).sum()),
        sgd_n=len(est), sgd_hits=int(sgd_hits.sum()), sk_n=len(sk),
        sk_cover=int(((sk["sgd_lo"] <= sk["kesten"]) & (sk["kesten"] <= sk["sgd_hi"])).sum()),
        hsgd_n=len(hest), hsgd_hits=int(hsgd_hits.sum()),
        hsgd_miss_light=int((misses["eta_lower"] >= 6).sum()),
        hsgd_miss_below=int((misses["hsgd_hi"] < misses["eta_lower"]).sum()),
        both_n=len(both), agree=int(agree.sum()), agree_low=int((agree & gauss & low).sum()),
        n_low=int((gauss & low).sum()), agree_high=int((agree & gauss & ~low).sum()),
        n_high=int((gauss & ~low).sum()), agree_digits=int((agree & ~gauss).sum()),
        n_digits=int((~gauss).sum()), ratio_low=_median(h_over_s[gauss & low]),
        ratio_high=_median(h_over_s[gauss & ~low]), ratio_digits=_median(h_over_s[~gauss]),
        unstable=len(unstable),
        unstable_ratio=float(unstable["gamma/gamma_bar"].min()) if len(unstable) else math.nan,
        div_total=int(df["sgd_diverged"].sum()), hdiv_total=int(df["hsgd_diverged"].sum()),
        dig_kes_max=float(dig["kesten"].max()), dig_eta_min=float(dig["eta_lower"].min()),
        dig_hsgd_min=float(dig["hsgd"].min()), dig_sgd_max=float(dig["sgd"].max()),
        dig_rowmax=float(row_norm2.max() / dig_prob.trace),
        dig_row99=float(np.quantile(row_norm2, 0.99) / dig_prob.trace),
        dig_gmax=float(dig["gamma"].min() * row_norm2.max()),
        em_gamma=g_em, em_nu=theory.hsgd_isotropic_index(1.0, params.iso_d, g_em, 1),
        em_index=hsgd_em_index(1.0, params.iso_d, g_em, 1,
                               substeps=default_substeps(1.0, g_em, 0.0, params.hsgd_max_step)))


def run(params: BoundsParams | None = None, *, seed: int, cache_dir: Any = None, workers: int | None = None
        ) -> BoundsResult:
    """Every point of the six panels (cached per point, computed on ``workers`` threads; the numbers do not
    depend on ``workers``), with the paper's band and the summary the chapter quotes."""
    params = params or BoundsParams()
    common = _common(params, seed)
    labelled = [(panel, pt) for panel, pts in panel_points(params).items() for pt in pts]
    points = [pt | common | {"kesten_dtype": params.kesten_dtype} for _, pt in labelled]
    outs = cached_sweep(cache_dir, NAME, points, functools.partial(_compute, params, seed), workers=workers)
    rows = []
    for (panel, pt), out in zip(labelled, outs, strict=True):
        prob = make_problem(pt["kind"], pt["d"])
        jb = theory.jkr_bounds_hessian(prob.spectrum, pt["gamma"], pt["B"], pt["delta"])
        rows.append({"panel": panel} | pt | {
            "gamma/gamma_bar": pt["gamma"] / jb.gamma_bar, "eta_lower": jb.eta_lower,
            "eta_upper": jb.eta_upper, "gamma_bar": jb.gamma_bar, "lower_valid": jb.lower_valid}
            | {k: float(v) for k, v in out.items()})
    df = pd.DataFrame(rows)
    return BoundsResult(frame=df, summary=_summary(df, params))
