"""Pictures of the estimators chapter: Hill plots with the moments and Pickands estimators along k, and the
Monte Carlo accuracy of the estimators against the sample size. Each ``plot_*`` helper takes ``ax=`` and
returns it; each ``*_figure`` builds one page-wide figure and returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from sgdtails.plotting.core import current_axes, page_figure
from sgdtails.plotting.tails import plot_hill

__all__ = [
    "LAW_LABELS",
    "METHODS",
    "accuracy_figure",
    "hill_plot_figure",
    "method_colors",
    "plot_accuracy_bands",
    "plot_hill_with_alternatives",
    "plot_rmse",
    "rmse_figure",
    "set_n_axis",
]

#: the estimators, in the order of ``sgdtails.estimators.tailindex.METHODS``
METHODS = ("hill", "moments", "pickands", "mmo")
#: display names of the laws
LAW_LABELS = {"pareto": "Pareto", "student_t": "Student-t", "stable": r"symmetric $\alpha$-stable"}
_SHORT_LAW = {"pareto": "Pareto", "student_t": "Student-t", "stable": "stable"}


def method_colors(methods: Sequence[str] = METHODS) -> dict[str, str]:
    """One colour of the theme's cycle per estimator."""
    return dict(zip(methods, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))


def set_n_axis(ax: Axes, sample_sizes: Sequence[int]) -> Axes:
    """Log-scaled sample-size axis with one labelled tick per sample size."""
    ax.set_xscale("log")
    ax.set_xticks(list(sample_sizes), [str(n) for n in sample_sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    return ax


def plot_hill_with_alternatives(curve: Any, estimate: Any, *, truth: float, ks: Any, moments: Any,
                                pickands: Any, ax: Axes | None = None) -> Axes:
    """Hill plot (:func:`sgdtails.plotting.tails.plot_hill`, with the double-bootstrap k and its interval)
    plus the moments estimator at ``ks`` (dashed) and Pickands at ``ks/4`` (dotted)."""
    ax = current_axes(ax)
    colors = method_colors()
    plot_hill(curve, estimate, ax=ax, truth=truth, color=colors["hill"])
    ax.plot(ks, moments, color=colors["moments"], lw=1, ls="--", label="moments")
    ax.plot(ks, pickands, color=colors["pickands"], lw=0.8, ls=":", label=r"Pickands at $k/4$")
    ax.set_ylim(0, 2.5 * truth)
    return ax


def hill_plot_figure(curves: Mapping[str, Any], estimates: Mapping[str, Any], truth: Mapping[str, float],
                     ks: Any, moments: Mapping[str, Any], pickands: Mapping[str, Any]) -> Figure:
    """Figure ``fig-estimators-hill-plot``: one panel per law of ``truth`` (Student-t left, stable right)."""
    fig, axes = page_figure(1, len(truth), row_height=3.2)
    for ax, law in zip(axes[0], truth, strict=True):
        plot_hill_with_alternatives(curves[law], estimates[law], truth=truth[law], ks=ks,
                                    moments=moments[law], pickands=pickands[law], ax=ax)
        ax.set_title(LAW_LABELS[law] + rf", $\alpha={truth[law]:g}$")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    return fig


def plot_accuracy_bands(bands: pd.DataFrame, *, law: str, alpha: float, sample_sizes: Sequence[int],
                        methods: Sequence[str] = METHODS, ax: Axes | None = None) -> Axes:
    """Median (line) and 10-90% band of alpha_hat/alpha against n for each estimator (``bands``: columns
    ``law, alpha, n, method, q10, q50, q90``), with the unbiased line."""
    ax = current_axes(ax)
    colors = method_colors(methods)
    sub = bands[(bands["law"] == law) & (bands["alpha"] == alpha)]
    for method in methods:
        b = sub[sub["method"] == method].sort_values("n")
        ax.plot(b["n"], b["q50"], marker="o", ms=3, color=colors[method], label=method)
        ax.fill_between(b["n"], b["q10"], b["q90"], color=colors[method], alpha=0.15, lw=0)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    set_n_axis(ax, sample_sizes)
    ax.set_ylim(0, 2.5)
    return ax


def accuracy_figure(bands: pd.DataFrame, *, alphas: Mapping[str, Sequence[float]],
                    sample_sizes: Sequence[int], methods: Sequence[str] = METHODS) -> Figure:
    """Figure ``fig-estimators-accuracy``: rows the laws of ``alphas`` (law -> true indices), columns the
    indices (:func:`plot_accuracy_bands`); one legend below."""
    laws = list(alphas)
    ncols = max(len(v) for v in alphas.values())
    fig, axes = page_figure(len(laws), ncols, row_height=1.9, sharex=True, sharey=True)
    for i, law in enumerate(laws):
        for j in range(ncols):
            ax = axes[i, j]
            if j >= len(alphas[law]):
                ax.set_visible(False)
                continue
            a = alphas[law][j]
            plot_accuracy_bands(bands, law=law, alpha=a, sample_sizes=sample_sizes, methods=methods, ax=ax)
            ax.set_title(_SHORT_LAW[law] + rf", $\alpha={a:g}$")
            if j == 0:
                ax.set_ylabel(r"$\hat\alpha/\alpha$")
            if i == len(laws) - 1 or j >= len(alphas[laws[i + 1]]):  # lowest panel of its column
                ax.set_xlabel(r"$n$")
                ax.tick_params(axis="x", labelbottom=True, labelrotation=45)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    return fig


def plot_rmse(summary: pd.DataFrame, *, law: str, method: str, sample_sizes: Sequence[int],
              ax: Axes | None = None) -> Axes:
    """Relative RMSE of xi against n (log-log), one line per true index (``summary`` of
    :func:`sgdtails.estimators.accuracy.summarize_accuracy`), with an n^(-1/2) reference line."""
    ax = current_axes(ax)
    sub = summary[summary["law"] == law]
    law_alphas = sorted(sub["alpha"].unique())
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(law_alphas)))
    for a, color in zip(law_alphas, colors, strict=True):
        g = sub[(sub["method"] == method) & (sub["alpha"] == a)].sort_values("n")
        ax.plot(g["n"], g["rel_rmse_xi"], color=color, marker="o", ms=3, lw=1, label=rf"$\alpha={a:g}$")
    n_ref = np.array([min(sample_sizes), max(sample_sizes)], dtype=float)
    ax.plot(n_ref, 0.5 * (n_ref / n_ref[0]) ** -0.5, color="k", ls=":", lw=1)
    set_n_axis(ax, sample_sizes)
    ax.set_yscale("log")
    return ax


def rmse_figure(summary: pd.DataFrame, *, laws: Sequence[str], sample_sizes: Sequence[int],
                methods: Sequence[str] = METHODS) -> Figure:
    """Figure ``fig-estimators-rmse``: rows the laws, columns the estimators (:func:`plot_rmse`); each
    row's legend (its true indices) to the right of the row."""
    fig, axes = page_figure(len(laws), len(methods), row_height=2.0, sharex=True, sharey=True)
    for i, law in enumerate(laws):
        for j, method in enumerate(methods):
            ax = plot_rmse(summary, law=law, method=method, sample_sizes=sample_sizes, ax=axes[i, j])
            if i == 0:
                ax.set_title(method)
            if i == len(laws) - 1:
                ax.set_xlabel(r"$n$")
                ax.tick_params(axis="x", labelrotation=45)
            if j == 0:
                ax.set_ylabel(_SHORT_LAW[law] + "\n" + r"RMSE$(\hat\xi)/\xi$")
        axes[i, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig
