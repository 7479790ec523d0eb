"""The book's single look and page-sized figures.

Figures are drawn at most :data:`PAGE_WIDTH` inches wide with fonts of at least :data:`MIN_FONT_PT` points,
so that, scaled to the width of a rendered page (about 700 CSS pixels), labels and legends stay at about
9 pt or more.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["MIN_FONT_PT", "PAGE_WIDTH", "PALETTE", "current_axes", "page_figure", "save_figure", "set_theme"]

#: widest figure, in inches: the rendered page is about 7.5 in at 96 CSS pixels per inch
PAGE_WIDTH = 7.5
#: smallest font size the theme uses (tick labels, legends), in points
MIN_FONT_PT = 9.0

PALETTE = "colorblind"


def set_theme(context: str = "notebook") -> None:
    """The book's single look: seaborn ticks style, colour-blind palette, mathtext labels."""
    sns.set_theme(context=context, style="ticks", palette=PALETTE)
    plt.rcParams.update({
        "font.size": 10.0,
        "axes.labelsize": 10.0,
        "axes.titlesize": 10.0,
        "xtick.labelsize": MIN_FONT_PT,
        "ytick.labelsize": MIN_FONT_PT,
        "legend.fontsize": MIN_FONT_PT,
        "legend.title_fontsize": MIN_FONT_PT,
        "figure.titlesize": 11.0,
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


def current_axes(ax: Axes | None) -> Axes:
    """``ax``, or the current axes when ``ax`` is None."""
    return ax if ax is not None else plt.gca()


def save_figure(fig: Figure, figures_dir: str | os.PathLike[str], notebook: str, name: str) -> Path:
    """Save ``fig`` as ``figures_dir/notebook/name.png`` (no timestamps: same data, same bytes)."""
    out = Path(figures_dir) / notebook / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", metadata={"Software": None})
    return out


def page_figure(nrows: int = 1, ncols: int = 1, *, width: float = PAGE_WIDTH, row_height: float | None = None,
                **kwargs: object) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows x ncols`` panels at most :data:`PAGE_WIDTH` inches wide (axes always a 2-d
    array). ``row_height`` defaults to the panel width times 0.8, capped at 3 inches."""
    if not 0 < width <= PAGE_WIDTH:
        raise ValueError(f"width must be in (0, {PAGE_WIDTH}] inches, got {width!r}")
    if row_height is None:
        row_height = min(3.0, 0.8 * width / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, row_height * nrows), squeeze=False,
                             layout="constrained", **kwargs)
    return fig, axes
