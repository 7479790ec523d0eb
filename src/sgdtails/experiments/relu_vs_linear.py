"""Chapter "Not like linear regression" (``book/relu_vs_linear.py``): figure ``fig-relu-vs-linear`` and the
table of trends (:func:`contrast`).

The protocol of Part II run on online least squares with isotropic Gaussian inputs a ~ N(0, I_d),
y = a.x_true + sigma eps (the noisy ReLU data's sigma, |x_true| = 1, no ridge), at the (eta, b, d) grid of
the ReLU sweeps (:class:`~sgdtails.experiments.relu_points.GridParams`), beside the ReLU gate's own
points (read from the shared cache). Gurbuzbalaban, Simsekli & Zhu (2021) prove that for linear regression
the index falls as eta rises, rises with b and falls with d; Karmakar & Mukherjee (2022) report that the
ReLU gate behaves "strikingly differently" (their runs are not available; the ReLU model here is this
book's reconstruction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sgdtails._core.cache import device_entry
from sgdtails._core.parallel import cached_map
from sgdtails._core.seeding import derive_seed
from sgdtails.estimators.protocol import frame_from_arrays
from sgdtails.experiments.relu_points import (
    GridParams,
    grid_frame,
    linear_point,
    point_workers,
    spearman_trend,
)

__all__ = ["CAP", "EXPECTED", "NAMESPACE", "SERIES", "Contrast", "ContrastSummary", "VsLinearParams",
           "contrast"]

#: cache namespace of the linear-regression points
NAMESPACE = "relu-vs-linear"
#: estimates above this are drawn (and ranked for the trends) at this value
CAP = 16.0
#: trends proven for linear regression (Gurbuzbalaban, Simsekli & Zhu 2021): +1 rises, -1 falls
EXPECTED = {"eta": -1, "b": 1, "d": -1}
#: (algorithm, data) of the series compared, linear regression first
SERIES = (("linear", "linear"), ("sgd", "noisy"), ("variant", "noisy"), ("sgd", "binary"),
          ("variant", "binary"), ("sgd", "noiseless"), ("variant", "noiseless"))
_WORDS = {1: "rises", -1: "falls", 0: "shows no clear trend"}


@dataclass(frozen=True)
class VsLinearParams(GridParams):
    """The grid of the ReLU sweeps (:class:`~sgdtails.experiments.relu_points.GridParams`); the linear
    points use the same ``n_chains``, ``n_iters``, ``n_boot``, ``hill_fraction`` and ``sampler``
    ("radial": :func:`~sgdtails.relu.radial.run_relu_radial` with ``setup="linear"``; any other value:
    :func:`~sgdtails.linear.sgd.run_sgd`), see :func:`~sgdtails.experiments.relu_points.linear_point`."""


@dataclass(frozen=True)
class ContrastSummary:
    """Numbers the chapter quotes: ``trends["{algorithm}_{data}_{sweep}"]`` (words, Spearman |rho| > 0.5
    on the Hill index of the last iterates clipped at :data:`CAP`), ``n_diff[sweep]`` (ReLU series whose
    trend differs from linear regression's), ``n_series`` ReLU series, ``linear_matches_theory`` (of the
    three trends of :data:`EXPECTED`), and at the base point the Hill index of linear SGD, its exact index
    and the noisy ReLU gate's ``base_relu[algorithm]``."""

    n_series: int
    linear_matches_theory: int
    base_linear_alpha: float
    base_linear_exact: float
    trends: dict[str, str] = field(default_factory=dict)
    n_diff: dict[str, int] = field(default_factory=dict)
    base_relu: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Contrast:
    """``frame``: linear regression (``algorithm = data = "linear"``, with its ``exact`` index and
    ``exact_status``) and the ReLU sweeps, one row per point, iterate and estimator; ``summary``:
    :class:`ContrastSummary`."""

    frame: pd.DataFrame
    summary: ContrastSummary


def _linear_points(params: GridParams, seed: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for lab, p in params.grid(seed):
        if lab["algorithm"] == "sgd" and lab["data"] == "noisy":
            q = dict(d=p["d"], batch=p["batch"], eta=p["eta"], label_noise=params.label_noise,
                     n_chains=params.n_chains, n_iters=params.n_iters, n_boot=params.n_boot,
                     n_boot_average=0, hill_k=params.hill_fraction, sampler=params.sampler)
            q["seed"] = derive_seed(seed, "linear", q["d"], q["batch"], q["eta"])
            q |= device_entry(params.device)
            out.append(({"sweep": lab["sweep"], "x": lab["x"]}, q))
    return out


def contrast(params: VsLinearParams, *, seed: int, cache_dir: Any = None) -> Contrast:
    """Figure ``fig-relu-vs-linear`` and the trends table: linear regression measured with the protocol
    at the grid of the ReLU sweeps (cached under :data:`NAMESPACE`, seeds
    ``derive_seed(seed, "linear", d, b, eta)``) beside the ReLU points (:class:`Contrast`)."""
    relu = grid_frame(params, seed=seed, cache_dir=cache_dir)
    lin_grid = _linear_points(params, seed)
    lin_res = cached_map(cache_dir, NAMESPACE, [q for _, q in lin_grid], linear_point,
                         workers=point_workers(params.n_chains), desc="linear sweeps")
    lin = pd.concat([frame_from_arrays(r, **lab, algorithm="linear", data="linear", d=q["d"],
                                       b=q["batch"], eta=q["eta"], exact=float(r["exact"]),
                                       exact_status=str(r["exact_status"]))
                     for (lab, q), r in zip(lin_grid, lin_res, strict=True)], ignore_index=True)
    both = pd.concat([lin, relu], ignore_index=True)
    sel = both[(both.iterate == "last") & (both.estimator == "hill_norm")]
    trend = {}
    for alg, data in SERIES:
        for sw in EXPECTED:
            s = sel[(sel.sweep == sw) & (sel.algorithm == alg) & (sel.data == data)]
            trend[(alg, data, sw)] = spearman_trend(s.x, s.alpha, cap=CAP) or 0
    relu_series = [s for s in SERIES if s[0] != "linear"]
    base = sel[(sel.x == params.eta) & (sel.sweep == "eta")]
    base_lin = base[base.algorithm == "linear"].iloc[0]
    base_relu = base[base.data == "noisy"].set_index("algorithm")
    summary = ContrastSummary(
        n_series=len(relu_series),
        linear_matches_theory=sum(trend[("linear", "linear", sw)] == v for sw, v in EXPECTED.items()),
        base_linear_alpha=float(base_lin.alpha), base_linear_exact=float(base_lin.exact),
        trends={f"{a}_{dt}_{sw}": _WORDS[t] for (a, dt, sw), t in trend.items()},
        n_diff={sw: sum(trend[(a, dt, sw)] != trend[("linear", "linear", sw)] for a, dt in relu_series)
                for sw in EXPECTED},
        base_relu={a: float(base_relu.loc[a, "alpha"]) for a in ("sgd", "variant")},
    )
    return Contrast(both, summary)
