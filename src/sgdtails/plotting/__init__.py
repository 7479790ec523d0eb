"""The book's look and its pictures: helpers take ``ax=`` and return it (seaborn/arviz style).

:mod:`~sgdtails.plotting.core` (theme, page-sized figures, saving) and :mod:`~sgdtails.plotting.tails`
(ccdf, QQ, Hill, estimates); the chapters' own pictures live in one module per part.
"""

from sgdtails.plotting.core import (
    MIN_FONT_PT,
    PAGE_WIDTH,
    PALETTE,
    current_axes,
    page_figure,
    save_figure,
    set_theme,
)
from sgdtails.plotting.tails import empirical_ccdf, plot_ccdf, plot_estimates, plot_hill, plot_qq

__all__ = [
    "MIN_FONT_PT",
    "PAGE_WIDTH",
    "PALETTE",
    "current_axes",
    "empirical_ccdf",
    "page_figure",
    "plot_ccdf",
    "plot_estimates",
    "plot_hill",
    "plot_qq",
    "save_figure",
    "set_theme",
]
