"""Pictures of tails: ccdf, QQ, Hill plots and tail-index estimates with intervals (each takes ``ax=``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from sgdtails.plotting.core import current_axes


def empirical_ccdf(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted |x| and the empirical ccdf P(|X| >= x_(i)) = (n - i)/n, for log-log plots."""
    a = np.sort(np.abs(np.asarray(x, dtype=float).ravel()))
    a = a[np.isfinite(a)]
    n = a.size
    return a, (n - np.arange(n)) / n


def plot_ccdf(x: Any, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Empirical ccdf of |x| on log-log axes."""
    ax = current_axes(ax)
    xs, p = empirical_ccdf(x)
    positive = xs > 0
    ax.loglog(xs[positive], p[positive], **({"drawstyle": "steps-post"} | kwargs))
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$\mathbb{P}(|X| > x)$")
    return ax


def plot_estimates(
    x: Any,
    alpha: Any,
    ci_low: Any,
    ci_high: Any,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Point estimates of a tail index with their confidence intervals as error bars."""
    ax = current_axes(ax)
    alpha = np.asarray(alpha, dtype=float)
    yerr = np.vstack([alpha - np.asarray(ci_low, dtype=float), np.asarray(ci_high, dtype=float) - alpha])
    ax.errorbar(x, alpha, yerr=np.clip(yerr, 0, None), **({"fmt": "o", "capsize": 3, "ms": 4} | kwargs))
    return ax


def plot_hill(curve: Any, estimate: Any = None, ax: Axes | None = None, *, truth: float | None = None,
              band: bool = True, **kwargs: Any) -> Axes:
    """Hill plot: ``curve`` from ``sgdtails.estimators.tailindex.hill_curve`` (fields ``k``, ``alpha``,
    ``se_asymptotic``), with the band alpha +- 1.96 alpha/sqrt(k), and optionally a
    ``TailIndexEstimate`` (its ``k`` marked, its bootstrap interval as an error bar) and the true index.
    """
    ax = current_axes(ax)
    k = np.asarray(curve.k)
    alpha = np.asarray(curve.alpha, dtype=float)
    line = ax.plot(k, alpha, **({"lw": 1, "label": r"Hill $\hat\alpha_H(k)$"} | kwargs))[0]
    if band:
        half = 1.96 * np.asarray(curve.se_asymptotic, dtype=float)
        ax.fill_between(k, alpha - half, alpha + half, color=line.get_color(), alpha=0.2, lw=0,
                        label=r"$\pm 1.96\,\hat\alpha/\sqrt{k}$")
    if truth is not None:
        ax.axhline(truth, color="k", ls="--", lw=1, label=r"true $\alpha$")
    if estimate is not None and estimate.k is not None:
        ax.axvline(estimate.k, color="grey", ls=":", lw=1)
        plot_estimates([estimate.k], [estimate.alpha], [estimate.ci_low], [estimate.ci_high], ax=ax,
                       color="k", label=r"$k^*$ and bootstrap CI")
    ax.set_xscale("log")
    ax.set_xlabel(r"$k$ (upper order statistics)")
    ax.set_ylabel(r"$\hat\alpha$")
    return ax


def plot_qq(qq: Any, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """QQ plot of ``sgdtails.fits.qq_data`` output (``theoretical``, ``empirical``) with the diagonal."""
    ax = current_axes(ax)
    t = np.asarray(qq.theoretical, dtype=float)
    e = np.asarray(qq.empirical, dtype=float)
    ax.plot(t, e, **({"ls": "none", "marker": ".", "ms": 3} | kwargs))
    finite = np.isfinite(t) & np.isfinite(e)
    lo = float(min(t[finite].min(), e[finite].min()))
    hi = float(max(t[finite].max(), e[finite].max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    ax.set_xlabel("fitted quantile")
    ax.set_ylabel("sample quantile")
    return ax
