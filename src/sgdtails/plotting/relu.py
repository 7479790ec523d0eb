"""Pictures of Part II (the ReLU gate): trajectories, the three sweeps, the noiseless runs against K, the
linear-regression contrast and SGD against the variant. Each ``plot_*`` helper takes ``ax=`` and returns it;
each ``*_figure`` builds one page-wide figure of the chapters from the tidy frames of
``sgdtails.experiments`` and returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from sgdtails.plotting.core import PAGE_WIDTH, current_axes, page_figure
from sgdtails.plotting.tails import plot_estimates

__all__ = [
    "ALGORITHM_STYLE",
    "DATA_COLORS",
    "conjecture_figure",
    "data_titles",
    "noiseless_k_figure",
    "plot_conjecture",
    "plot_noiseless_k",
    "plot_sweep_panel",
    "plot_trajectories",
    "plot_vs_linear_panel",
    "sweeps_figure",
    "trajectories_figure",
    "vs_linear_figure",
]

#: colour of each data setting in the trajectories and the conjecture scatter
DATA_COLORS = {"noiseless": "C0", "noisy": "C1", "binary": "C2"}
#: marker and colour of each algorithm in the sweeps
ALGORITHM_STYLE = {"sgd": dict(color="C0", fmt="o", label="SGD"),
                   "variant": dict(color="C1", fmt="s", label="variant")}
#: x-axis label of each sweep
SWEEP_LABELS = {"eta": r"step size $\eta$", "b": r"batch size $b$", "d": r"dimension $d$"}
#: series of the linear-regression contrast: (algorithm, data) -> style
VS_LINEAR_SERIES = {("linear", "linear"): dict(color="C2", fmt="D", label="linear regression, SGD"),
                    ("sgd", "noisy"): dict(color="C0", fmt="o", label="ReLU, SGD (noisy)"),
                    ("variant", "noisy"): dict(color="C1", fmt="s", label="ReLU, variant (noisy)"),
                    ("sgd", "binary"): dict(color="C4", fmt="^", label="ReLU, SGD (binary)")}
_ALGO_TITLES = {"sgd": "SGD", "variant": "variant"}


def data_titles(label_noise: float) -> dict[str, str]:
    """Titles of the three data settings."""
    return {"noiseless": "realizable, noiseless", "noisy": f"realizable, $\\sigma$ = {label_noise:g}",
            "binary": "binary"}


def _legend_below(fig: Figure, axes: Sequence[Axes], ncol: int = 3) -> None:
    """One legend of every distinct label of ``axes``, below the panels."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, len(labels)))


def plot_trajectories(frame: pd.DataFrame, algorithm: str, ax: Axes | None = None) -> Axes:
    """|w_t - w*| against t (log-log) along the traced runs of ``algorithm`` in ``frame``
    (columns ``algorithm, data, run, t, distance``), one colour per data setting."""
    ax = current_axes(ax)
    sub = frame[frame["algorithm"] == algorithm]
    for data, color in DATA_COLORS.items():
        for j, (_, tr) in enumerate(sub[sub["data"] == data].groupby("run")):
            ax.plot(np.maximum(tr["t"], 1), tr["distance"], color=color, lw=0.8, alpha=0.8,
                    label=data if j == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"iteration $t$")
    return ax


def trajectories_figure(frame: pd.DataFrame, *, eta: float, batch: int, d: int) -> Figure:
    """Figure ``fig-relu-trajectories``: SGD (left) and the variant (right)."""
    fig, axes = page_figure(1, 2, row_height=3.0, sharey=True)
    for ax, alg in zip(axes[0], ("sgd", "variant"), strict=True):
        plot_trajectories(frame, alg, ax=ax)
        ax.set_title(f"{_ALGO_TITLES[alg]}: $\\eta$ = {eta:g}, $b$ = {batch}, $d$ = {d}")
    axes[0, 0].set_ylabel(r"$|w_t - w^*|$")
    axes[0, 1].legend(title="data", loc="lower left")
    return fig


def plot_sweep_panel(frame: pd.DataFrame, *, sweep: str, data: str, estimator: str, iterate: str = "last",
                     cap: float = 16.0, ax: Axes | None = None) -> Axes:
    """One panel of the sweep figures: ``estimator`` on ``iterate`` against the swept parameter for SGD
    and the variant (values above ``cap`` drawn at ``cap``), the variant's exact index (dashed; dotted on
    noiseless data, where it describes no stationary law), the lognormal prediction on noiseless data
    (Hill only) and the runs diverged."""
    ax = current_axes(ax)
    sub = frame[(frame.sweep == sweep) & (frame.data == data) & (frame.iterate == iterate)
                & (frame.estimator == estimator)]
    for k, (alg, style) in enumerate(ALGORITHM_STYLE.items()):
        s = sub[sub.algorithm == alg].sort_values("x")
        shift = (k - 0.5) * 0.012 * (s.x.max() - s.x.min() + 1e-9)
        plot_estimates(s.x + shift, s.alpha.clip(upper=cap), s.ci_low.clip(upper=cap),
                       s.ci_high.clip(upper=cap), ax=ax, **style)
    ex = sub[sub.algorithm == "variant"].sort_values("x")
    ok = ex.exact_status.isin(["ok", "above_bracket"])  # unstable points: no line
    label = "Kesten root (no stationary law)" if data == "noiseless" else "variant, exact index"
    ax.plot(ex.x[ok], ex.exact[ok].clip(upper=cap), ls=":" if data == "noiseless" else "--", color="C1",
            lw=1.2, label=label)
    if data == "noiseless" and estimator == "hill_norm":
        ax.plot(ex.x, ex.lognormal.clip(upper=cap), ls="none", marker="x", color="C1", ms=6,
                label="lognormal prediction")
    ax.text(0.02, 0.96, f"diverged: {int(sub.n_diverged.sum())}/{int(sub.n_runs.sum())}",
            transform=ax.transAxes, va="top")
    ax.set_xlabel(SWEEP_LABELS[sweep])
    if sweep == "b":
        xs = sorted(set(sub.x))
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(int(v)) for v in xs])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0, 1.05 * cap if estimator != "mmo" else 2.5)
    return ax


def sweeps_figure(frame: pd.DataFrame, *, estimator: str, label_noise: float, iterate: str = "last",
                  cap: float = 16.0) -> Figure:
    """Figures ``fig-relu-sweeps-hill`` / ``fig-relu-sweeps-mmo``: rows eta, b, d; columns the data
    settings (:func:`plot_sweep_panel`)."""
    fig, axes = page_figure(3, 3, row_height=2.3)
    titles = data_titles(label_noise)
    for i, sw in enumerate(SWEEP_LABELS):
        for j, data in enumerate(titles):
            ax = axes[i, j]
            plot_sweep_panel(frame, sweep=sw, data=data, estimator=estimator, iterate=iterate, cap=cap, ax=ax)
            if i == 0:
                ax.set_title(titles[data])
            if j == 0:
                ax.set_ylabel(r"$\hat\alpha$")
    _legend_below(fig, list(axes.flat))
    return fig


def plot_noiseless_k(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Hill index on noiseless data against K (log-log) for SGD and the variant with the lognormal
    prediction (crosses) and a K^(-1/2) line through the mean of both at the smallest K."""
    ax = current_axes(ax)
    for k, (alg, style) in enumerate(ALGORITHM_STYLE.items()):
        s = frame[frame.algorithm == alg]
        plot_estimates(s.K * (1 + 0.04 * (k - 0.5)), s.alpha, s.ci_low, s.ci_high, ax=ax, **style)
        ax.plot(s.K, s.lognormal, ls="none", marker="x", color=style["color"], ms=7,
                label=f"{style['label']}: lognormal prediction")
    ks = np.sort(frame.K.unique())
    kk = np.geomspace(ks[0], ks[-1], 50)
    a0 = float(frame[frame.K == ks[0]].alpha.mean())
    ax.plot(kk, a0 * np.sqrt(ks[0] / kk), color="0.5", lw=1, ls="--", label=r"$\propto K^{-1/2}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ks, [str(int(v)) for v in ks])
    ax.set_xlabel(r"iterations $K$")
    ax.set_ylabel(r"Hill $\hat\alpha$ of $|w_K - w^*|$")
    return ax


def noiseless_k_figure(frame: pd.DataFrame, *, eta: float, batch: int, d: int) -> Figure:
    """Figure ``fig-relu-noiseless-k`` (:func:`plot_noiseless_k`)."""
    fig, axes = page_figure(1, 1, width=0.75 * PAGE_WIDTH, row_height=3.8)
    ax = plot_noiseless_k(frame, ax=axes[0, 0])
    ax.set_title(rf"noiseless, $\eta$ = {eta:g}, $b$ = {batch}, $d$ = {d}")
    ax.legend()
    return fig


def plot_vs_linear_panel(frame: pd.DataFrame, *, sweep: str, cap: float = 16.0, ax: Axes | None = None
                         ) -> Axes:
    """One panel of ``fig-relu-vs-linear``: Hill index of the last iterates against the swept parameter
    for linear regression (with its exact index, dashed) and three ReLU series, values above ``cap`` drawn
    at ``cap``, and the runs diverged over every series of the sweep."""
    ax = current_axes(ax)
    sel = frame[(frame.iterate == "last") & (frame.estimator == "hill_norm") & (frame.sweep == sweep)]
    for k, ((alg, data), style) in enumerate(VS_LINEAR_SERIES.items()):
        s = sel[(sel.algorithm == alg) & (sel.data == data)].sort_values("x")
        shift = (k - 1.5) * 0.01 * (s.x.max() - s.x.min() + 1e-9)
        plot_estimates(s.x + shift, s.alpha.clip(upper=cap), s.ci_low.clip(upper=cap),
                       s.ci_high.clip(upper=cap), ax=ax, **style)
    s = sel[sel.algorithm == "linear"].sort_values("x")
    ok = s.exact_status.isin(["ok", "above_bracket"])
    ax.plot(s.x[ok], s.exact[ok].clip(upper=cap), "--", color="C2", lw=1.2,
            label="linear regression, exact index")
    nd = int(sel.drop_duplicates(["algorithm", "data", "x"]).n_diverged.sum())
    ax.text(0.02, 0.96, f"diverged: {nd}", transform=ax.transAxes, va="top")
    ax.set_xlabel(SWEEP_LABELS[sweep])
    ax.set_ylim(0, 1.05 * cap)
    return ax


def vs_linear_figure(frame: pd.DataFrame, *, cap: float = 16.0) -> Figure:
    """Figure ``fig-relu-vs-linear``: the three sweeps side by side (:func:`plot_vs_linear_panel`)."""
    fig, axes = page_figure(1, 3, row_height=2.8)
    for ax, sw in zip(axes[0], SWEEP_LABELS, strict=True):
        plot_vs_linear_panel(frame, sweep=sw, cap=cap, ax=ax)
    axes[0, 0].set_ylabel(r"Hill $\hat\alpha$ of $|w_K - c|$")
    _legend_below(fig, [axes[0, 0]], ncol=2)
    return fig


def plot_conjecture(wide: pd.DataFrame, *, estimator: str, lim: float, titles: Mapping[str, str],
                    iterate: str = "last", cap: float = 16.0, ax: Axes | None = None) -> Axes:
    """The variant's index against SGD's at every point of ``wide`` (columns ``alpha_sgd``,
    ``alpha_variant``, ``ci_low_*``, ``ci_high_*``), intervals in both directions, one marker per data
    setting, with the diagonal."""
    ax = current_axes(ax)
    marks = {"noiseless": "o", "noisy": "s", "binary": "^"}
    sub = wide[(wide.estimator == estimator) & (wide.iterate == iterate)]
    for data, label in titles.items():
        s = sub[sub.data == data]
        x, y = s.alpha_sgd.clip(upper=cap), s.alpha_variant.clip(upper=cap)
        xerr = np.vstack([x - s.ci_low_sgd.clip(upper=cap), s.ci_high_sgd.clip(upper=cap) - x])
        yerr = np.vstack([y - s.ci_low_variant.clip(upper=cap), s.ci_high_variant.clip(upper=cap) - y])
        ax.errorbar(x, y, xerr=np.clip(xerr, 0, None), yerr=np.clip(yerr, 0, None), fmt=marks[data],
                    color=DATA_COLORS[data], ms=5, capsize=2, lw=0.8, alpha=0.85, label=label)
    ax.plot([0, lim], [0, lim], color="0.4", lw=1, ls="--", label="$y = x$")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"SGD: $\hat\alpha$")
    ax.set_ylabel(r"variant: $\hat\alpha$")
    return ax


def conjecture_figure(wide: pd.DataFrame, *, label_noise: float, cap: float = 16.0) -> Figure:
    """Figure ``fig-relu-conjecture``: Hill on the norms (left, values above ``cap`` drawn at ``cap``)
    and MMO (right) of the last iterates (:func:`plot_conjecture`)."""
    fig, axes = page_figure(1, 2, row_height=3.9)
    titles = data_titles(label_noise)
    plot_conjecture(wide, estimator="hill_norm", lim=1.05 * cap, titles=titles, cap=cap, ax=axes[0, 0])
    axes[0, 0].set_title("Hill on $|w_K - c|$")
    plot_conjecture(wide, estimator="mmo", lim=2.3, titles=titles, cap=cap, ax=axes[0, 1])
    axes[0, 1].set_title("MMO on $w_K - c$")
    axes[0, 0].legend(loc="upper left")
    return fig
