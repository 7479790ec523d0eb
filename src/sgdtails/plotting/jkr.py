"""Pictures of the paper's experiments (Jiao & Keller-Ressel 2024): Fig. 1 and Fig. 2 laid out as the paper
lays them out, and the open question's comparisons. Each takes the result of an experiment and draws it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from sgdtails.estimators.fits import qq_data, student_t_scale
from sgdtails.plotting.core import current_axes, page_figure
from sgdtails.plotting.tails import empirical_ccdf, plot_qq

__all__ = ["CURVE_LABELS", "nu_text", "plot_bound_ccdfs", "plot_gamma_sweep", "plot_qq_grid",
           "plot_sgd_vs_hsgd", "plot_tail_indices"]

PANEL = "abcdefghi"


def nu_text(nu: float) -> str:
    """``nu`` for a label: three significant digits, or "1000 (bound)" at the fit's Gaussian limit."""
    return r"1000\ \mathrm{(bound)}" if nu >= 999.5 else f"{nu:.3g}"


#: legend labels of the Student-t curves of Fig. 1 (g-i), by the keys experiments use
CURVE_LABELS = {"eta_*": r"$t$, $\nu=\eta_*={nu}$", "eta^*": r"$t$, $\nu=\eta^*={nu}$",
                "fitted": r"fitted $t$, $\hat\nu={nu}$"}


def plot_bound_ccdfs(z: Any, curves: Mapping[str, tuple[float, float]], ax: Axes | None = None, *,
                     label: str = "iterates", color: str = "k") -> Axes:
    """Empirical ccdf ``P(|Z| > x)`` of ``z`` (log-log) against Student-t ccdfs ``2 P(T_nu > x / kappa)`` for
    each ``key -> (nu, kappa)`` in ``curves`` (keys of :data:`CURVE_LABELS`, or any label)."""
    ax = current_axes(ax)
    xs, p = empirical_ccdf(z)
    keep = xs > 0
    ax.loglog(xs[keep], p[keep], drawstyle="steps-post", color=color, lw=1.2, label=label)
    grid = np.geomspace(max(xs[keep][0], 1e-12), xs[-1] * 1.5, 200)
    for i, (name, (nu, kappa)) in enumerate(curves.items()):
        text = CURVE_LABELS.get(name, name).replace("{nu}", nu_text(nu))
        ax.loglog(grid, 2 * stats.t.sf(grid / kappa, nu), ls=("--", ":", "-.", "-")[i % 4],
                  color=f"C{i + 1}", lw=1.2, label=text)
    ax.set_ylim(0.5 / xs.size, 1.2)
    ax.set_xlim(np.quantile(xs, 0.02), grid[-1])
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$\mathbb{P}(|z| > x)$")
    return ax


def plot_qq_grid(samples: Mapping[str, np.ndarray], t_fits: Mapping[str, Any], stable_fits: Mapping[str, Any],
                 bound_curves: Mapping[str, Mapping[str, tuple[float, float]]] | None = None, *,
                 titles: Mapping[str, str] | None = None, quantity: str = "z") -> Figure:
    """The paper's layout: one column per data set; QQ plots against the fitted Student-t (first row) and
    alpha-stable (second row) laws; with ``bound_curves``, a third row of log-log ccdfs against the
    Student-t ccdfs given per data set (e.g. ``nu = eta_*`` and ``nu = eta^*``)."""
    names = list(samples)
    rows = 3 if bound_curves is not None else 2
    fig, axes = page_figure(rows, len(names), row_height=2.3)
    for j, name in enumerate(names):
        z = samples[name]
        laws = ((t_fits[name], rf"Student-$t$, $\hat\nu={nu_text(t_fits[name].nu)}$"),
                (stable_fits[name], rf"$\alpha$-stable, $\hat\alpha={stable_fits[name].alpha:.3g}$"))
        for i, (fit, law) in enumerate(laws):
            ax = axes[i, j]
            plot_qq(qq_data(z, fit), ax=ax, color=f"C{i}", ms=2)
            ax.set_title(f"({PANEL[i * len(names) + j]}) {(titles or {}).get(name, name)}")
            ax.set_xlabel(f"fitted {law}")
            ax.set_ylabel(f"sample quantile of ${quantity}$" if j == 0 else "")
        if bound_curves is not None:
            ax = axes[2, j]
            plot_bound_ccdfs(z, bound_curves[name], ax=ax)
            ax.set_title(f"({PANEL[2 * len(names) + j]}) {(titles or {}).get(name, name)}")
            if j:
                ax.set_ylabel("")
            ax.legend(loc="lower left")
    return fig


def plot_tail_indices(frame: Any, x: str, series: Mapping[str, tuple[str, str | None, str | None]],
                      ax: Axes | None = None, *, band: tuple[str, str] | None = None,
                      band_valid: str | None = None) -> Axes:
    """Tail indices against ``x`` (a column of ``frame``): each ``label -> (column, low column, high column)``
    as markers with intervals; ``band`` = (lower, upper) columns drawn as a grey band (hatched where
    ``band_valid`` is False: the lower end is not a proven bound there)."""
    ax = current_axes(ax)
    xs = frame[x].to_numpy(dtype=float)
    if band is not None:
        lo, hi = frame[band[0]].to_numpy(dtype=float), frame[band[1]].to_numpy(dtype=float)
        ax.fill_between(xs, lo, hi, color="0.85", lw=0, label=r"$[\eta_*, \eta^*]$ (paper)")
        ax.plot(xs, hi, color="0.35", lw=1)
        if band_valid is not None:
            ok = frame[band_valid].to_numpy(dtype=bool)
            ax.plot(np.where(ok, xs, np.nan), np.where(ok, lo, np.nan), color="0.35", lw=1)
            ax.plot(np.where(~ok, xs, np.nan), np.where(~ok, lo, np.nan), color="0.35", lw=1, ls=":",
                    label=r"$\eta_*$ not proven ($\gamma \geq \bar\gamma$)")
        else:
            ax.plot(xs, lo, color="0.35", lw=1)
    markers = "osD^v<>"
    for i, (label, (col, lo_col, hi_col)) in enumerate(series.items()):
        y = frame[col].to_numpy(dtype=float)
        if lo_col is None or hi_col is None:
            ax.plot(xs, y, marker=markers[i % 7], color=f"C{i}", lw=1, ms=4, label=label)
            continue
        err = np.vstack([y - frame[lo_col].to_numpy(dtype=float), frame[hi_col].to_numpy(dtype=float) - y])
        ax.errorbar(xs, y, yerr=np.clip(np.nan_to_num(err, nan=0.0), 0, None), fmt=markers[i % 7],
                    color=f"C{i}", ms=4, capsize=2, label=label)
    ax.set_ylabel("tail index")
    return ax


def plot_sgd_vs_hsgd(samples: Mapping[tuple[str, str], np.ndarray], frame: Any, *,
                     titles: Mapping[str, str] | None = None) -> Figure:
    """One panel per data set: the empirical ccdfs of ``|z|`` for SGD and hSGD (``samples[(set, method)]``)
    against the Student-t ccdfs with ``nu = eta_*`` and ``nu = eta^*`` (scales fitted to the hSGD sample
    with ``nu`` fixed; ``frame`` has one row per data set with ``eta_*`` and ``eta^*``)."""
    rows = frame.set_index("data set")
    names = list(rows.index)
    fig, axes = page_figure(1, len(names), row_height=2.8)
    for ax, name in zip(axes[0], names, strict=True):
        hs = samples[(name, "hSGD")]
        curves = {key: (rows.loc[name, key], student_t_scale(hs, rows.loc[name, key]))
                  for key in ("eta_*", "eta^*")}
        plot_bound_ccdfs(hs, curves, ax=ax, label="hSGD", color="C0")
        xs, p = empirical_ccdf(samples[(name, "SGD")])
        keep = xs > 0
        ax.loglog(xs[keep], p[keep], drawstyle="steps-post", color="k", lw=1.2, label="SGD")
        if (name, "hSGD refined") in samples:
            xr, pr = empirical_ccdf(samples[(name, "hSGD refined")])
            ax.loglog(xr[xr > 0], pr[xr > 0], drawstyle="steps-post", color="C0", lw=0.8, ls=":",
                      label="hSGD, refined scheme")
        ax.set_xlim(np.quantile(np.abs(hs), 0.02), None)
        ax.set_title((titles or {}).get(name, name))
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    axes[0, 0].legend(loc="lower left")
    return fig


def plot_gamma_sweep(frame: Any, *, titles: Mapping[str, str] | None = None) -> Figure:
    """One panel per data set against ``gamma / gamma_bar``: the paper's band ``[eta_*, eta^*]`` (its lower
    end dotted where not proven), the fitted Student-t ``nu`` of SGD and hSGD, the Monte Carlo Kesten index,
    the rigorous upper bound on SGD's index (triangles pointing down), the step sizes where every SGD step is
    non-expansive (no power-law tail: shaded green) and where SGD's Lyapunov exponent is positive (no
    stationary law: shaded red)."""
    names = list(dict.fromkeys(frame["data set"]))
    fig, axes = page_figure(1, len(names), row_height=3.0, sharey=True)
    for ax, name in zip(axes[0], names, strict=True):
        sub = frame[frame["data set"] == name].sort_values("gamma/gamma_bar")
        x = sub["gamma/gamma_bar"].to_numpy(dtype=float)
        series = {"SGD, fitted $\\nu$": ("SGD nu", "SGD nu low", "SGD nu high"),
                  "hSGD, fitted $\\nu$": ("hSGD nu", "hSGD nu low", "hSGD nu high")}
        plot_tail_indices(sub, "gamma/gamma_bar", series, ax=ax, band=("eta_*", "eta^*"),
                          band_valid="eta_* proven")
        mc = sub["MC alpha"].to_numpy(dtype=float)
        ax.plot(x, np.where(mc > 0, mc, np.nan), "x", color="C2", ms=6, label=r"SGD $\alpha$, population MC")
        bound = sub["alpha upper bound"].to_numpy(dtype=float)
        ax.plot(x, np.where(np.isfinite(bound), bound, np.nan), "v", color="C3", ms=5,
                label=r"SGD $\alpha \leq$ (rigorous)")
        half = 0.5 * np.min(np.diff(x)) if x.size > 1 else 0.05
        for xi, flat, lyap, se in zip(x, sub["every step non-expansive"], sub["Lyapunov exponent"],
                                      sub["Lyapunov se"], strict=True):
            if flat:
                ax.axvspan(xi - half, xi + half, color="C2", alpha=0.12, lw=0)
            elif lyap - 2 * se > 0:
                ax.axvspan(xi - half, xi + half, color="C3", alpha=0.12, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel(r"$\gamma / \bar\gamma$")
        ax.set_title((titles or {}).get(name, name))
        if ax is not axes[0, 0]:
            ax.set_ylabel("")
    axes[0, 0].set_ylim(0.5, 2000)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig
