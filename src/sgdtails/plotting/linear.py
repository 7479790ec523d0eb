r"""Pictures of Part I (linear regression, SGD and homogenized SGD): the paper's bounds, this project's radial
range, tails as the settings move, and where the bounds hold. Each function takes ``ax=`` and tidy frames
from ``sgdtails.experiments`` (columns in the paper's notation) and returns the axes.

Conventions: the paper's upper bound :math:`\eta^* = \nu_1` is drawn solid; its lower bound :math:`\eta_*`
solid where it is guaranteed (:math:`\gamma < \bar\gamma`) and dashed where it is not, over a hatched region
labelled "lower bound not guaranteed"; this project's radial range is a light band, never called
:math:`\eta^*`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from sgdtails.plotting.core import current_axes
from sgdtails.plotting.tails import empirical_ccdf, plot_ccdf

__all__ = [
    "LABEL_ETA_LOWER",
    "LABEL_ETA_UPPER",
    "LABEL_NOT_GUARANTEED",
    "plot_bounds_hold_panel",
    "plot_corollary",
    "plot_isotropic_ccdf",
    "plot_lower_bound",
    "plot_not_guaranteed",
    "plot_paper_bounds",
    "plot_radial_curves",
    "plot_tails_panel",
    "plot_upper_end",
    "plain_log_ticks",
    "figure_legend",
]

LABEL_ETA_UPPER = r"$\eta^* = \nu_1$ (paper, Thm 3.2)"
LABEL_ETA_LOWER = r"$\eta_*$ (paper, Thm 3.3)"
LABEL_NOT_GUARANTEED = r"$\gamma \geq \bar\gamma$: lower bound not guaranteed"
_NOT_GUARANTEED_STYLE = {"facecolor": "none", "edgecolor": "0.75", "hatch": "///", "lw": 0}


def plain_log_ticks(ax: Axes, axis: str = "y", subs: Sequence[float] = (1.0, 2.0, 5.0)) -> Axes:
    """Label a log axis with plain numbers at ``subs`` times the powers of ten (no ``10^x`` notation)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(ticker.LogLocator(base=10, subs=tuple(subs)))
    target.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_formatter(ticker.NullFormatter())
    return ax


def figure_legend(fig: Figure, axes: Any, **kwargs: Any) -> Any:
    """One legend for a multi-panel figure: every distinct label of ``axes`` (first appearance first), below
    the panels unless ``loc`` says otherwise (figures from :func:`sgdtails.plotting.core.page_figure`)."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return fig.legend(handles, labels, **({"loc": "outside lower center", "ncol": 3} | kwargs))


def plot_not_guaranteed(ax: Axes, start: float, stop: float | None = None, *, label: str | None = None,
                        vertical: bool = True) -> Axes:
    """Hatch ``[start, stop]`` (on x if ``vertical``, else on y) as the region where the paper's lower bound
    is not guaranteed (``gamma >= gamma_bar``); ``stop=None`` runs to the axis limit."""
    lim = ax.get_xlim() if vertical else ax.get_ylim()
    stop = lim[1] if stop is None else stop
    span = ax.axvspan if vertical else ax.axhspan
    span(start, stop, zorder=0, label=label, **_NOT_GUARANTEED_STYLE)
    if vertical:
        ax.set_xlim(lim)
    else:
        ax.set_ylim(lim)
    return ax


def plot_lower_bound(x: Any, eta_lower: Any, valid: Any, ax: Axes | None = None, *,
                     label: str | None = LABEL_ETA_LOWER, **kwargs: Any) -> Axes:
    """The paper's ``eta_*``: solid where ``valid`` (``gamma < gamma_bar``), dashed where it is not
    guaranteed (the dashed part carries no label of its own)."""
    ax = current_axes(ax)
    x = np.asarray(x, dtype=float)
    y = np.asarray(eta_lower, dtype=float)
    ok = np.asarray(valid, dtype=bool)
    style = {"color": "C1", "lw": 1.6} | kwargs
    if ok.any():
        ax.plot(np.where(ok, x, np.nan), np.where(ok, y, np.nan), label=label, **style)
    if (~ok).any():
        bad = ~ok
        # join the dashed part to the last valid point so the curve stays continuous
        edge = bad | np.r_[bad[1:], False] | np.r_[False, bad[:-1]]
        ax.plot(np.where(edge, x, np.nan), np.where(edge, y, np.nan), ls="--",
                label=None if ok.any() else label, **style)
    return ax


def plot_paper_bounds(frame: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None,
                      legend: bool = True) -> Axes:
    """The paper's bounds on one data set against ``gamma / gamma_bar`` (rows of
    :func:`sgdtails.experiments.jkr_theory.bounds_vs_gamma` for that data set): ``eta^*``, ``eta_*`` (dashed
    beyond ``gamma_bar``), the region ``gamma >= gamma_bar`` hatched, the paper's ``gamma`` and ``gamma'`` of
    Theorem 3.4 marked."""
    ax = current_axes(ax)
    f = frame.sort_values("gamma/gamma_bar")
    x = f["gamma/gamma_bar"].to_numpy()
    ax.plot(x, f["eta^*"], color="C0", lw=1.6, label=LABEL_ETA_UPPER)
    plot_lower_bound(x, f["eta_*"], f["lower_valid"], ax=ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax, "x")
    plain_log_ticks(ax, "y")
    # ticks strictly inside the range: labels at the edges would run into the next panel's
    inner = [t for e in range(-3, 3) for t in (10.0**e, 2 * 10.0**e, 5 * 10.0**e) if x.min() < t < x.max()]
    ax.xaxis.set_major_locator(ticker.FixedLocator(inner))
    ax.set_xlim(x.min(), x.max())
    plot_not_guaranteed(ax, 1.0, label=LABEL_NOT_GUARANTEED)
    g_paper = float(f["paper gamma/gamma_bar"].iloc[0])
    g_prime = float(f["gamma'/gamma_bar"].iloc[0])
    ax.axvline(g_prime, color="0.3", ls="-.", lw=1, label=r"$\gamma'$ (Thm 3.4)")
    ax.axvline(g_paper, color="k", ls=":", lw=1.2, label=r"paper's $\gamma$")
    ax.set_xlabel(r"$\gamma / \bar\gamma$")
    ax.set_ylabel("tail index")
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(loc="upper right")
    return ax


def plot_corollary(frame: pd.DataFrame, vary: str, ax: Axes | None = None, *, legend: bool = True) -> Axes:
    """Corollary 3.5: the paper's bounds on each data set as ``B`` (``vary="B"``) or ``delta / lambda_1^2``
    (``vary="delta"``) grows, at the paper's ``gamma`` (rows of
    :func:`sgdtails.experiments.jkr_theory.corollary_curves`). ``eta^*`` solid, ``eta_*`` dashed (drawn
    thin and grey where ``gamma >= gamma_bar``)."""
    ax = current_axes(ax)
    xcol = {"B": "B", "delta": "delta/lambda_1^2"}[vary]
    sub = frame[frame["vary"] == vary]
    for i, (name, g) in enumerate(sub.groupby("data set", sort=True)):
        g = g.sort_values(xcol)
        x = g[xcol].to_numpy()
        ax.plot(x, g["eta^*"], color=f"C{i}", lw=1.6, label=rf"{name}: $\eta^*$")
        ok = g["lower_valid"].to_numpy()
        ax.plot(np.where(ok, x, np.nan), np.where(ok, g["eta_*"], np.nan), color=f"C{i}", lw=1.6, ls="--",
                label=rf"{name}: $\eta_*$")
        if (~ok).any():
            ax.plot(np.where(~ok, x, np.nan), np.where(~ok, g["eta_*"], np.nan), color="0.6", lw=1, ls="--")
    if vary == "B":
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel(r"batch size $B$" if vary == "B" else r"ridge $\delta / \lambda_1^2$")
    ax.set_ylabel("tail index")
    if legend:
        ax.legend(ncol=2, loc="upper left")
    return ax


def plot_radial_curves(curves: pd.DataFrame, table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """This project's ``2 + phi(s)`` over the spectrum (:func:`sgdtails.experiments.jkr_theory.radial_curves`)
    for each learning rate, its two ends (dots: the radial range) and, dotted at the same colour, the paper's
    ``eta^* = nu_1`` (:func:`sgdtails.experiments.jkr_theory.radial_table`). Log-log axes."""
    ax = current_axes(ax)
    for i, (frac, g) in enumerate(curves.groupby("gamma/gamma~", sort=True)):
        row = table[np.isclose(table["gamma/gamma~"], frac)].iloc[0]
        pos = g["2 + phi"] > 0
        ax.plot(g["s"][pos], g["2 + phi"][pos], color=f"C{i}", lw=1.6,
                label=rf"$\gamma = {frac:g}\,\tilde\gamma$")
        ax.plot([row["s at radial lower"], row["s at radial upper"]],
                [row["radial lower"], row["radial upper"]], "o", color=f"C{i}", ms=5)
        ax.axhline(row["eta^* = nu_1 (paper)"], color=f"C{i}", ls=":", lw=1.2)
    ax.plot([], [], "o", color="0.3", ms=5, label="ends of the radial range")
    ax.plot([], [], ":", color="0.3", lw=1.2, label=r"paper's $\eta^* = \nu_1$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax, "x")
    plain_log_ticks(ax, "y")
    ax.set_xlabel(r"Rayleigh quotient $s$")
    ax.set_ylabel(r"$2 + \varphi(s)$")
    ax.legend(loc="lower left")
    return ax


def plot_isotropic_ccdf(samples: Mapping[float, Any], frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """ccdf of one coordinate of simulated isotropic hSGD (solid) against the exact Student-t ccdf
    ``2 P(T_nu > x / scale)`` (dashed), one colour per ``gamma`` (rows of
    :func:`sgdtails.experiments.jkr_theory.isotropic_check`)."""
    ax = current_axes(ax)
    for i, (_, r) in enumerate(frame.sort_values("gamma").iterrows()):
        z = np.asarray(samples[r["gamma"]])
        nu, scale = float(r["nu (exact)"]), float(r["scale"])
        plot_ccdf(z, ax=ax, color=f"C{i}", label=rf"$\gamma={r['gamma']:.3g}$, $\nu={nu:.2f}$")
        xs = np.geomspace(1e-2, np.abs(z).max(), 200)
        ax.loglog(xs, 2 * stats.t.sf(xs, nu, scale=scale), color=f"C{i}", ls="--", lw=1)
    ax.set_xlim(1e-2, None)
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$\mathbb{P}(|Z_1| > x)$")
    ax.legend(loc="lower left")
    return ax


def plot_upper_end(curves: pd.DataFrame, exact: pd.DataFrame, simulated: pd.DataFrame,
                   ax: Axes | None = None, *, legend: bool = True) -> Axes:
    """The radial upper end against the paper's ``nu_1`` as ``gamma / gamma_bar`` varies (frames of
    :func:`sgdtails.experiments.jkr_theory.radial_upper_end`): the paper's ``eta^*`` and ``eta_*``, this
    project's radial range (band), the exact index at even integers (diamonds) and Hill estimates from
    simulated hSGD (squares, 95 % intervals)."""
    ax = current_axes(ax)
    f = curves.sort_values("gamma/gamma_bar")
    x = f["gamma/gamma_bar"].to_numpy()
    ax.fill_between(x, f["radial lower"], f["radial upper"], color="C2", alpha=0.18, lw=0,
                    label=r"radial range $2 + [\min\varphi, \max\varphi]$ (ours)")
    ax.plot(x, f["radial upper"], color="C2", lw=1.2)
    ax.plot(x, f["eta^*"], color="C0", lw=1.6, label=LABEL_ETA_UPPER)
    plot_lower_bound(x, f["eta_*"], f["lower_valid"], ax=ax)
    ax.plot(exact["gamma/gamma_bar"], exact["p"], "D", color="k", ms=5,
            label=r"exact $\eta = p$ at $\gamma_p$ (moments)")
    s = simulated
    err = np.vstack([s["Hill"] - s["Hill lo"], s["Hill hi"] - s["Hill"]]).clip(0)
    ax.errorbar(s["gamma/gamma_bar"], s["Hill"], yerr=err, fmt="s", color="C3", ms=4, capsize=2,
                label="simulated hSGD, Hill")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax, "x", subs=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0))
    plain_log_ticks(ax, "y")
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(0.8, max(20.0, float(np.nanmax(exact["p"])) * 1.3))
    plot_not_guaranteed(ax, 1.0, label=LABEL_NOT_GUARANTEED)
    ax.set_xlabel(r"$\gamma / \bar\gamma$")
    ax.set_ylabel("tail index")
    if legend:
        ax.legend(loc="upper right")
    return ax


def plot_tails_panel(frame: pd.DataFrame, samples: Sequence[Any], varied: str, ax: Axes | None = None, *,
                     n_chains: int | None = None, title: str | None = None) -> Axes:
    """Empirical ccdfs (log-log) of one coordinate of SGD iterates, one curve per row of ``frame`` (rows of
    :func:`sgdtails.experiments.tails_move.figure_tails` for one panel; ``samples[i]`` the sample of row
    ``i``), labelled with the varied setting, the exact SGD index ``alpha`` and the paper's
    ``[eta_*, eta^*]`` (``eta_*`` marked with a dagger where ``gamma >= gamma_bar``: not guaranteed); dashed
    segments have slope ``-alpha``."""
    ax = current_axes(ax)
    symbol = {"gamma": r"\gamma", "B": "B", "d": "d", "delta": r"\delta"}[varied]
    for c, ((_, r), x) in enumerate(zip(frame.iterrows(), samples, strict=True)):
        a = float(r["alpha (Kesten)"])
        dagger = "" if bool(r["lower_valid"]) else r"$^\dagger$"
        plot_ccdf(x, ax=ax, color=f"C{c}",
                  label=(rf"${symbol}={r[varied]:g}$: $\alpha={a:.2f}$, "
                         rf"$[\eta_*,\eta^*]=[{r['eta_*']:.1f}$" + dagger + rf"$, {r['eta^*']:.1f}]$"))
        xs, p = empirical_ccdf(x)
        xs, p = xs[::-1], p[::-1]
        j = max(1, xs.size // 100)
        if np.isfinite(a) and a > 0:
            seg = np.geomspace(xs[j], xs[j] * 30, 20)
            ax.loglog(seg, p[j] * (seg / xs[j]) ** (-a), "--", color=f"C{c}", lw=1)
    if n_chains:
        ax.set_ylim(0.5 / n_chains, 1.5)
    ax.set_xlim(1e-2, None)
    ax.set_xlabel(r"$|x_1 - x^*_1|$")
    ax.set_ylabel(r"$\mathbb{P}(|x_1 - x^*_1| > x)$")
    if title:
        ax.set_title(title)
    # below the axes: the ccdfs fill the lower left, where a legend inside would cover them
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), handlelength=1.2, borderaxespad=0.0)
    return ax


def plot_bounds_hold_panel(sub: pd.DataFrame, xcol: str, ax: Axes | None = None, *, xlabel: str = "",
                           title: str | None = None, exact_nu: bool = False, log2_x: bool = False) -> Axes:
    """One panel of "Where the bounds hold" (rows of :func:`sgdtails.experiments.bounds_hold.run` for one
    panel): the paper's band ``[eta_*, eta^*]`` (its lower edge dashed and hatched where
    ``gamma >= gamma_bar``), the exact hSGD index ``nu`` (``exact_nu``), the exact SGD index (a cross at the
    bottom where it is below 0.01) and Hill estimates from simulated SGD and hSGD with their intervals."""
    ax = current_axes(ax)
    sub = sub.sort_values(xcol)
    x = sub[xcol].to_numpy(dtype=float)
    ok = sub["lower_valid"].to_numpy(dtype=bool)
    lo = sub["eta_lower"].to_numpy(dtype=float)
    hi = sub["eta_upper"].to_numpy(dtype=float)
    ax.fill_between(x, np.where(ok, lo, np.nan), hi, color="0.85", lw=0, label=r"paper's $[\eta_*, \eta^*]$")
    if (~ok).any():
        ax.fill_between(x, lo, hi, where=~ok | np.r_[~ok[1:], False], interpolate=False,
                        label=r"$[\eta_*, \eta^*]$, $\eta_*$ not guaranteed", **_NOT_GUARANTEED_STYLE)
    ax.plot(x, hi, color="0.4", lw=1)
    plot_lower_bound(x, lo, ok, ax=ax, label=None, color="0.4", lw=1)
    if exact_nu and np.isfinite(sub["nu"]).any():
        ax.plot(x, sub["nu"], "k-", lw=1.5, label=r"exact hSGD $\nu$ ($=\eta_*$)")
    kes = sub["kesten"].to_numpy(dtype=float)
    ax.plot(x, np.where(kes > 0, kes, np.nan), "C3-", lw=1.5, label=r"exact SGD $\alpha$ (Kesten)")
    if (kes == 0).any():  # index below 0.01: SGD not (or barely) stationary
        ax.plot(x[kes == 0], np.full(int((kes == 0).sum()), 0.12), "x", color="C3", ms=7,
                label=r"SGD $\alpha < 0.01$")
    for col, c, mk, lab in (("sgd", "C0", "o", "SGD, Hill"), ("hsgd", "C2", "s", "hSGD, Hill")):
        fin = np.isfinite(sub[col].to_numpy(dtype=float))
        if not fin.any():
            continue
        y = sub[col].to_numpy(dtype=float)[fin]
        err = np.vstack([y - sub[col + "_lo"].to_numpy(dtype=float)[fin],
                         sub[col + "_hi"].to_numpy(dtype=float)[fin] - y]).clip(0)
        ax.errorbar(x[fin], y, yerr=err, fmt=mk, color=c, ms=4, capsize=2, label=lab)
    ax.set_yscale("log")
    ax.set_ylim(0.1, 40)
    plain_log_ticks(ax, "y", subs=(1.0, 3.0))
    if log2_x:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("tail index")
    if title:
        ax.set_title(title)
    return ax
