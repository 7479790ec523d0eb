"""Chapter "SGD against the variant, point by point" (``book/relu_conjecture.py``): figure
``fig-relu-conjecture`` (:func:`conjecture`).

Karmakar & Mukherjee (2022) conjecture that SGD and their variant (reconstructed in the chapter "A ReLU
gate") have similar heavy-tail behaviour wherever the variant provably converges. Here the two indices are
put side by side at every distinct point of the three sweeps
(:class:`~sgdtails.experiments.relu_points.GridParams`; read from the shared cache, nothing is simulated
twice): intervals overlap, or one algorithm's tail is significantly heavier (its interval entirely below
the other's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdtails.experiments.relu_points import DATA_SETTINGS, GridParams, grid_frame

__all__ = ["Conjecture", "ConjectureParams", "ConjectureSummary", "DataSummary", "conjecture"]


@dataclass(frozen=True)
class ConjectureParams(GridParams):
    """The grid of the ReLU sweeps (:class:`~sgdtails.experiments.relu_points.GridParams`)."""


@dataclass(frozen=True)
class DataSummary:
    """One data setting (Hill on the norms of the last iterates): ``n`` points with both estimates
    finite, ``overlap`` of them with overlapping intervals, ``ratio`` the median SGD/variant,
    ``sgd_heavier`` and ``variant_heavier`` the points where one interval lies entirely below the other."""

    n: int
    overlap: int
    ratio: float
    sgd_heavier: int
    variant_heavier: int


@dataclass(frozen=True)
class ConjectureSummary:
    """``n_points`` distinct points with both Hill estimates finite, ``n_diverged`` runs excluded over all
    distinct points (both algorithms), and a :class:`DataSummary` per data setting."""

    n_points: int
    n_diverged: int
    by_data: dict[str, DataSummary] = field(default_factory=dict)


@dataclass(frozen=True)
class Conjecture:
    """``frame``: one row per distinct (data, d, b, eta, iterate, estimator) with ``alpha_sgd``,
    ``alpha_variant`` and likewise ``ci_low_*``, ``ci_high_*``, ``se_*``, ``n_diverged_*``;
    ``summary``: :class:`ConjectureSummary`."""

    frame: pd.DataFrame
    summary: ConjectureSummary


def conjecture(params: ConjectureParams, *, seed: int, cache_dir: Any = None) -> Conjecture:
    """Figure ``fig-relu-conjecture``: SGD's index against the variant's at every distinct point of the
    sweeps, with the counts the chapter quotes (:class:`Conjecture`)."""
    df = grid_frame(params, seed=seed, cache_dir=cache_dir)
    key = ["data", "d", "b", "eta", "iterate", "estimator"]
    df = df.drop_duplicates(subset=[*key, "algorithm"])  # the base point is in all three sweeps
    wide = df.pivot_table(index=key, columns="algorithm",
                          values=["alpha", "ci_low", "ci_high", "se", "n_diverged"]).reset_index()
    wide.columns = ["_".join(c).rstrip("_") for c in wide.columns]
    last = wide[(wide.estimator == "hill_norm") & (wide.iterate == "last")]
    hill = last[np.isfinite(last.alpha_sgd) & np.isfinite(last.alpha_variant)]
    overlap = (hill.ci_low_sgd <= hill.ci_high_variant) & (hill.ci_low_variant <= hill.ci_high_sgd)
    by_data = {}
    for data in DATA_SETTINGS:
        h = hill[hill.data == data]
        by_data[data] = DataSummary(
            n=len(h), overlap=int(overlap[hill.data == data].sum()),
            ratio=float(np.median(h.alpha_sgd / h.alpha_variant)) if len(h) else float("nan"),
            sgd_heavier=int((h.ci_high_sgd < h.ci_low_variant).sum()),
            variant_heavier=int((h.ci_high_variant < h.ci_low_sgd).sum()))
    n_div = int(last[["n_diverged_sgd", "n_diverged_variant"]].sum().sum())
    return Conjecture(wide, ConjectureSummary(n_points=len(hill), n_diverged=n_div, by_data=by_data))
