"""One seaborn theme and figure helpers that take ``ax=`` and return it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = "colorblind"


def set_theme(context: str = "notebook") -> None:
    """The book's single look: seaborn ticks style, colour-blind palette, mathtext labels."""
    sns.set_theme(context=context, style="ticks", palette=PALETTE)
    plt.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "mathtext.fontset": "cm",
        "svg.hashsalt": "sgdtails",
    })


def _ax(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.gca()


def save_figure(fig: Figure, figures_dir: str | os.PathLike[str], notebook: str, name: str) -> Path:
    """Save ``fig`` as ``figures_dir/notebook/name.png`` (no timestamps: same data, same bytes)."""
    out = Path(figures_dir) / notebook / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", metadata={"Software": None})
    return out


def empirical_ccdf(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted |x| and the empirical ccdf P(|X| >= x_(i)) = (n - i)/n, for log-log plots."""
    a = np.sort(np.abs(np.asarray(x, dtype=float).ravel()))
    a = a[np.isfinite(a)]
    n = a.size
    return a, (n - np.arange(n)) / n


def plot_ccdf(x: Any, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Empirical ccdf of |x| on log-log axes."""
    ax = _ax(ax)
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
    ax = _ax(ax)
    alpha = np.asarray(alpha, dtype=float)
    yerr = np.vstack([alpha - np.asarray(ci_low, dtype=float), np.asarray(ci_high, dtype=float) - alpha])
    ax.errorbar(x, alpha, yerr=np.clip(yerr, 0, None), **({"fmt": "o", "capsize": 3, "ms": 4} | kwargs))
    return ax

