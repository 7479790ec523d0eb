r"""Chapter "How the tails move" (``book/tails_move.py``): the first arXiv version's Figure 2 of Jiao &
Keller-Ressel (2024), empirical ccdfs of SGD iterates on log-log axes as ``gamma``, ``B`` and ``d`` vary, plus
the ridge ``delta``.

Data: isotropic Gaussian, ``Sigma = I_d``, ``x_true = 0``, ``sigma = 1`` (online SGD, the exact reduced
sampler). Each curve carries the exact SGD index ``alpha`` (Kesten--Goldie root of
``log E|M e_1|^alpha = 0``, one-step quadrature) and the paper's bounds in Hessian units,
``eta^* = 1 + 2B(1 + delta)/gamma`` and ``eta_* = eta^* - (d - 1)`` (here also the exact hSGD index, the
Student-t ``nu``), with ``lower_valid = gamma < gamma_bar = 2B(1 + delta)/d`` (Thm 3.3's condition).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdtails import data, theory
from sgdtails._core.parallel import cached_sweep
from sgdtails._core.seeding import derive_seed
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_choice, check_in_interval, check_int, check_positive
from sgdtails.estimators import tailindex
from sgdtails.linear.sgd import run_sgd

__all__ = ["PANELS", "TailsParams", "TailsResult", "TailsSummary", "figure_tails", "panel_points"]

NAME = "tails_move"
#: the four panels, in the figure's order: the setting each one varies
PANELS = ("gamma", "B", "d", "delta")


@dataclass(frozen=True)
class TailsParams:
    """Sizes of the chapter (defaults: the ``default`` profile): ``n_chains`` runs of ``n_iter``
    iterations per point; the baseline ``d = base_d``, ``B = 1``, ``delta = 0``; the ``gamma`` panel at
    ``gammas``, the ``B`` panel at ``batch_gamma`` over ``batch_sizes``, the ``d`` panel at ``dim_gamma``
    over ``dims``, the ``delta`` panel at ``delta_gamma`` over ``deltas``; Hill with
    ``k = hill_fraction n``."""

    n_chains: int = 20000
    n_iter: int = 200
    base_d: int = 5
    gammas: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3)
    batch_gamma: float = 0.5
    batch_sizes: tuple[int, ...] = (2, 3, 4, 8)
    dim_gamma: float = 0.12
    dims: tuple[int, ...] = (2, 5, 10, 14)
    delta_gamma: float = 0.3
    deltas: tuple[float, ...] = (0.0, 0.2, 0.5, 1.0)
    hill_fraction: float = 0.01

    def __post_init__(self) -> None:
        check_int("n_chains", self.n_chains, low=200)
        check_int("n_iter", self.n_iter, low=1)
        check_int("base_d", self.base_d, low=1, high=10_000)
        for name in ("gammas", "deltas"):
            vals = tuple(float(v) for v in getattr(self, name))
            if not vals:
                raise ValueError(f"{name} must not be empty")
            for v in vals:
                check_positive(name, v, allow_zero=name == "deltas")
            object.__setattr__(self, name, vals)
        for name in ("batch_sizes", "dims"):
            vals = tuple(check_int(name, v, low=1, high=100_000) for v in getattr(self, name))
            if not vals:
                raise ValueError(f"{name} must not be empty")
            object.__setattr__(self, name, vals)
        for name in ("batch_gamma", "dim_gamma", "delta_gamma"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name)))
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)


def panel_points(params: TailsParams) -> dict[str, list[dict[str, Any]]]:
    """The settings ``(d, gamma, B, delta)`` of each panel (the keys of their seeds and cache entries)."""
    p = params
    return {
        "gamma": [dict(d=p.base_d, gamma=g, B=1, delta=0.0) for g in p.gammas],
        "B": [dict(d=p.base_d, gamma=p.batch_gamma, B=b, delta=0.0) for b in p.batch_sizes],
        "d": [dict(d=d, gamma=p.dim_gamma, B=1, delta=0.0) for d in p.dims],
        "delta": [dict(d=p.base_d, gamma=p.delta_gamma, B=1, delta=dl) for dl in p.deltas],
    }


@dataclass(frozen=True)
class TailsSummary:
    """Numbers the chapter quotes. Per panel (``first``/``last`` in the panel's order): the exact index
    ``alpha`` and its Hill estimate at the two ends, and the varied setting's range (``lo``, ``hi``).
    ``n_cover`` of ``n_ok`` curves with ``1 < alpha < 4`` have a Hill interval covering ``alpha``;
    ``n_heavier`` of ``n_both`` settings (where hSGD has a stationary law, ``eta_* > 0``) have the hSGD index
    ``eta_*`` below ``alpha``; ``n_inside`` of them have ``alpha`` in the paper's ``[eta_*, eta^*]``;
    ``n_flagged`` settings have ``gamma >= gamma_bar`` (lower bound not guaranteed); ``n_diverged`` chains."""

    first: dict[str, float]
    last: dict[str, float]
    hill_first: dict[str, float]
    hill_last: dict[str, float]
    lo: dict[str, float]
    hi: dict[str, float]
    n_cover: int
    n_ok: int
    n_heavier: int
    n_both: int
    n_inside: int
    n_flagged: int
    n_diverged: int


@dataclass(frozen=True)
class TailsResult:
    """``frame``: one row per curve (panel, ``d``, ``gamma``, ``B``, ``delta``, exact ``alpha``, the
    paper's ``eta_*``, ``eta^*``, ``gamma_bar``, ``lower_valid``, exact hSGD ``nu`` (``nan`` where hSGD has
    no stationary law), Hill estimate and 95 % interval, diverged chains); ``samples[i]``: the first
    coordinate of the centred final iterates of row ``i``; ``summary``."""

    frame: pd.DataFrame
    samples: list[np.ndarray] = field(repr=False)
    summary: TailsSummary

    def panel(self, name: str) -> tuple[pd.DataFrame, list[np.ndarray]]:
        """The rows of panel ``name`` (one of :data:`PANELS`) and their samples."""
        check_choice("name", name, PANELS)
        rows = (self.frame["panel"] == name).to_numpy()
        return self.frame[rows], [x for x, r in zip(self.samples, rows, strict=True) if r]


def _point(q: Mapping[str, Any]) -> dict[str, Any]:
    """One curve: ``q`` holds ``d``, ``gamma``, ``B``, ``delta``, ``n_chains``, ``n_iter`` and the root
    ``seed``; the run's seed is ``derive_seed(seed, NAME, q)`` (the whole point, as before)."""
    with single_thread():
        res = run_sgd(data.isotropic(q["d"]), q["gamma"], q["B"], delta=q["delta"], n_chains=q["n_chains"],
                      n_iter=q["n_iter"], seed=derive_seed(q["seed"], NAME, dict(q)))
    return {"x": res.centered()[:, 0], "n_diverged": res.n_diverged}


def figure_tails(params: TailsParams | None = None, *, seed: int, cache_dir: Any = None,
                 workers: int | None = None) -> TailsResult:
    """Simulate every point of the four panels (cached per point, on ``workers`` threads; the numbers do not
    depend on ``workers``), estimate Hill on one coordinate, attach the exact SGD index and the paper's
    bounds."""
    params = params or TailsParams()
    labelled = [(panel, p) for panel, pts in panel_points(params).items() for p in pts]
    points = [p | {"n_chains": params.n_chains, "n_iter": params.n_iter, "seed": seed} for _, p in labelled]
    outs = cached_sweep(cache_dir, NAME, points, _point, workers=workers)
    rows, samples = [], []
    for (panel, p), out in zip(labelled, outs, strict=True):
        kes = theory.sgd_tail_index(data.isotropic(p["d"]), p["gamma"], p["B"], p["delta"],
                                    alpha_bracket=(0.01, 40.0))
        jb = theory.jkr_bounds_hessian(np.ones(p["d"]), p["gamma"], p["B"], p["delta"])
        nu = jb.eta_lower if jb.eta_lower > 0 else math.nan
        x = np.asarray(out["x"])
        est = tailindex.hill(x, k=max(10, int(params.hill_fraction * x.size)), seed=0, n_boot=100)
        samples.append(x)
        rows.append({"panel": panel} | p | {
            "alpha (Kesten)": kes.alpha, "eta_*": jb.eta_lower, "eta^*": jb.eta_upper,
            "gamma_bar": jb.gamma_bar, "lower_valid": jb.lower_valid, "nu (hSGD)": nu,
            "Hill": est.alpha, "Hill lo": est.ci_low, "Hill hi": est.ci_high,
            "diverged": int(out["n_diverged"])})
    df = pd.DataFrame(rows)
    first, last, h_first, h_last, lo, hi = {}, {}, {}, {}, {}, {}
    for panel in PANELS:
        sub = df[df["panel"] == panel]
        first[panel] = float(sub["alpha (Kesten)"].iloc[0])
        last[panel] = float(sub["alpha (Kesten)"].iloc[-1])
        h_first[panel], h_last[panel] = float(sub["Hill"].iloc[0]), float(sub["Hill"].iloc[-1])
        lo[panel], hi[panel] = float(sub[panel].iloc[0]), float(sub[panel].iloc[-1])
    a = df["alpha (Kesten)"]
    ok = df[np.isfinite(a) & (a > 1) & (a < 4)]
    both = df[np.isfinite(df["nu (hSGD)"]) & (a > 0)]
    summary = TailsSummary(
        first=first, last=last, hill_first=h_first, hill_last=h_last, lo=lo, hi=hi,
        n_cover=int(((ok["Hill lo"] <= ok["alpha (Kesten)"])
                     & (ok["alpha (Kesten)"] <= ok["Hill hi"])).sum()),
        n_ok=len(ok), n_heavier=int((both["eta_*"] < both["alpha (Kesten)"]).sum()), n_both=len(both),
        n_inside=int(((both["eta_*"] <= both["alpha (Kesten)"])
                      & (both["alpha (Kesten)"] <= both["eta^*"])).sum()),
        n_flagged=int((~df["lower_valid"]).sum()), n_diverged=int(df["diverged"].sum()))
    return TailsResult(frame=df, samples=samples, summary=summary)
