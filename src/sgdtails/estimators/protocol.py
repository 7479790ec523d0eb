"""The measurement protocol of Part II, shared by the ReLU gate and the linear-regression contrast.

Protocol (public code of Gurbuzbalaban, Simsekli & Zhu 2021, as adopted by Karmakar & Mukherjee 2022):
N independent runs of K iterations, burn-in K/2; keep the last iterate w_K and the running average of
the second half; centre them (by w* on realizable data, by the coordinate-wise median over runs on
binary data); exclude diverged runs; estimate the tail index alpha with

- ``mmo``: the Mohammadi–Mohammadpour–Ogata (2015) estimator on the centred d-dimensional iterates
  (norms of block sums), median over block sizes; it cannot exceed about 2;
- ``hill_norm``: Hill (1975) on the Euclidean norms |w - c|;
- ``hill_coord``: Hill on the coordinates w_j - c_j, pooled over j (default) or summarised by the
  median over coordinates of per-coordinate estimates.

The estimators are those of :mod:`sgdtails.estimators.tailindex`; each comes with a bootstrap interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdtails._core.seeding import derive_seed
from sgdtails._core.validation import check_choice, check_int
from sgdtails.estimators import tailindex

ITERATES = ("last", "average")
ESTIMATORS = ("mmo", "hill_norm", "hill_coord")
FIELDS = ("alpha", "ci_low", "ci_high", "se", "k")
MIN_RUNS = 20


@dataclass(frozen=True)
class ProtocolResult:
    """Tail-index estimates of one set of runs.

    ``estimates[(iterate, estimator)]`` is a :class:`sgdtails.estimators.tailindex.TailIndexEstimate` (all-NaN
    when fewer than ``MIN_RUNS`` runs are usable); ``n_runs`` = rows given, ``n_used`` = rows kept,
    ``n_diverged`` = rows excluded (flagged diverged or non-finite); ``centres`` maps each iterate to the
    centre subtracted.
    """

    n_runs: int
    n_used: int
    n_diverged: int
    centre_rule: str
    coordinates: str
    centres: Mapping[str, np.ndarray] = field(repr=False)
    estimates: Mapping[tuple[str, str], tailindex.TailIndexEstimate] = field(repr=False)

    def get(self, iterate: str = "last", estimator: str = "hill_norm"
            ) -> tailindex.TailIndexEstimate:
        """The estimate of ``estimator`` on ``iterate`` ("last" or "average")."""
        return self.estimates[(check_choice("iterate", iterate, ITERATES),
                               check_choice("estimator", estimator, ESTIMATORS))]

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate: iterate, estimator, alpha, ci_low, ci_high, se, n, k, n_used, ..."""
        rows = []
        for (it, est), e in self.estimates.items():
            rows.append({"iterate": it, "estimator": est, "alpha": e.alpha, "ci_low": e.ci_low,
                         "ci_high": e.ci_high, "se": e.se, "n": e.n, "k": e.k,
                         "n_used": self.n_used, "n_diverged": self.n_diverged,
                         "n_runs": self.n_runs})
        return pd.DataFrame(rows)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays (for :func:`sgdtails._core.cache.cached`): ``"{iterate}.{estimator}.{field}"``
        plus ``n_runs``, ``n_used``, ``n_diverged``."""
        out: dict[str, np.ndarray] = {"n_runs": np.asarray(self.n_runs),
                                      "n_used": np.asarray(self.n_used),
                                      "n_diverged": np.asarray(self.n_diverged)}
        for (it, est), e in self.estimates.items():
            for f in FIELDS:
                v = getattr(e, f)
                out[f"{it}.{est}.{f}"] = np.asarray(np.nan if v is None else float(v))
        return out


def _nan_estimate(method: str, n: int) -> tailindex.TailIndexEstimate:
    return tailindex.TailIndexEstimate(alpha=math.nan, xi=math.nan, ci_low=math.nan,
                                       ci_high=math.nan, se=math.nan, method=method, n=n)


def _hill_k(hill_k: int | float | None, n: int) -> int | None:
    if hill_k is None:
        return None
    if isinstance(hill_k, float) and 0 < hill_k < 1:
        return max(2, min(n - 1, int(hill_k * n)))
    return check_int("hill_k", hill_k, low=1, high=n - 1)


def _coordinate_summary(z: np.ndarray, how: str, hill_k: Any, ci: float, n_boot: int, seed: int,
                        n_dbs: int) -> tailindex.TailIndexEstimate:
    if how == "pooled":
        x = z.ravel()
        return tailindex.hill(x, _hill_k(hill_k, x.size), ci=ci, n_boot=n_boot, seed=seed,
                              n_dbs=n_dbs)
    ests = [tailindex.hill(z[:, j], _hill_k(hill_k, z.shape[0]), ci=ci, n_boot=n_boot,
                           seed=derive_seed(seed, j), n_dbs=n_dbs) for j in range(z.shape[1])]
    med = {f: float(np.median([getattr(e, f) for e in ests]))
           for f in ("alpha", "ci_low", "ci_high", "se")}
    return tailindex.TailIndexEstimate(
        alpha=med["alpha"], xi=1.0 / med["alpha"] if med["alpha"] > 0 else math.nan,
        ci_low=med["ci_low"], ci_high=med["ci_high"], se=med["se"], method="hill-coord-median",
        n=z.shape[0], k=int(np.median([e.k for e in ests])), level=ci)


def measure_tail_index(
    last: Any,
    average: Any = None,
    centre: Any = None,
    *,
    diverged: Any = None,
    estimators: Sequence[str] = ESTIMATORS,
    block_sizes: Sequence[int] | None = None,
    hill_k: int | float | None = None,
    coordinates: str = "pooled",
    ci: float = 0.95,
    n_boot: int = 200,
    n_dbs: int = 500,
    seed: int = 0,
    n_boot_average: int | None = None,
) -> ProtocolResult:
    """Apply the protocol to final iterates ``last`` and running averages ``average`` (both (N, d)).

    ``centre``: ``None`` (the arrays are already centred, e.g. w - w* computed without cancellation),
    a vector of length d (e.g. w*), or ``"median"`` (coordinate-wise median over the kept runs, taken
    separately for the last iterates and for the averages). Rows flagged in ``diverged`` or with a
    non-finite entry are excluded and counted. ``hill_k``: ``None`` (double bootstrap), an int, or a
    fraction in (0, 1) of the sample size; ``n_dbs`` resamples of the double bootstrap.
    ``coordinates``: ``"pooled"`` (Hill on all N d centred coordinates at once) or ``"median"``
    (median over coordinates of per-coordinate Hill estimates and of their interval bounds).
    ``n_boot_average``: bootstrap resamples for the running averages (default ``n_boot``; 0 gives their
    estimates without intervals).
    """
    x_last = np.asarray(last, dtype=np.float64)
    if x_last.ndim != 2:
        raise ValueError(f"last must be an array of shape (N, d), got shape {x_last.shape}")
    n_runs, d = x_last.shape
    arrays = {"last": x_last}
    if average is not None:
        x_avg = np.asarray(average, dtype=np.float64)
        if x_avg.shape != x_last.shape:
            raise ValueError(f"average must have the shape of last {x_last.shape}, "
                             f"got {x_avg.shape}")
        arrays["average"] = x_avg
    if diverged is None:
        mask = np.zeros(n_runs, dtype=bool)
    else:
        mask = np.asarray(diverged, dtype=bool).reshape(-1)
        if mask.shape != (n_runs,):
            raise ValueError(f"diverged must be a boolean array of length N={n_runs}, "
                             f"got shape {mask.shape}")
    for a in arrays.values():
        mask = mask | ~np.all(np.isfinite(a), axis=1)
    keep = ~mask
    n_used = int(keep.sum())
    estimators = [check_choice("estimators", e, ESTIMATORS) for e in estimators]
    coordinates = check_choice("coordinates", coordinates, ["pooled", "median"])
    n_boot = check_int("n_boot", n_boot, low=0)
    boots = {"last": n_boot,
             "average": n_boot if n_boot_average is None else check_int("n_boot_average", n_boot_average,
                                                                         low=0)}

    if centre is None:
        rule = "none"
    elif isinstance(centre, str):
        rule = check_choice("centre", centre, ["median"])
    else:
        rule = "given"
        c = np.asarray(centre, dtype=np.float64).reshape(-1)
        if c.shape != (d,) or not np.all(np.isfinite(c)):
            raise ValueError(f"centre must be None, 'median' or a finite vector of length d={d}, "
                             f"got shape {c.shape}")

    centres: dict[str, np.ndarray] = {}
    estimates: dict[tuple[str, str], tailindex.TailIndexEstimate] = {}
    for it, a in arrays.items():
        kept = a[keep]
        if rule == "none":
            cen = np.zeros(d)
        elif rule == "median":
            cen = np.median(kept, axis=0) if n_used else np.full(d, np.nan)
        else:
            cen = c
        centres[it] = cen
        z = kept - cen
        norms = np.linalg.norm(z, axis=1)
        # runs that collapsed exactly onto the centre (e.g. float underflow) carry no tail information
        usable = (n_used >= MIN_RUNS and int(np.count_nonzero(norms)) >= MIN_RUNS
                  and bool(np.ptp(norms) > 0))
        nb = boots[it]
        for est in estimators:
            s = derive_seed(seed, it, est)
            if not usable:
                estimates[(it, est)] = _nan_estimate(est, n_used)
            elif est == "mmo":
                estimates[(it, est)] = tailindex.mmo(z, block_sizes, ci=ci, n_boot=nb, seed=s)
            elif est == "hill_norm":
                estimates[(it, est)] = tailindex.hill(norms, _hill_k(hill_k, n_used), ci=ci,
                                                      n_boot=nb, seed=s, n_dbs=n_dbs)
            else:
                estimates[(it, est)] = _coordinate_summary(z, coordinates, hill_k, ci, nb, s, n_dbs)
    return ProtocolResult(n_runs=n_runs, n_used=n_used, n_diverged=n_runs - n_used,
                          centre_rule=rule, coordinates=coordinates, centres=centres,
                          estimates=estimates)


def frame_from_arrays(arrays: Mapping[str, Any], **labels: Any) -> pd.DataFrame:
    """Rebuild the one-row-per-estimate frame from :meth:`ProtocolResult.to_arrays` output (e.g. a
    cache entry), adding constant columns ``labels`` (e.g. eta=0.1, algorithm="sgd")."""
    rows = []
    for it in ITERATES:
        for est in ESTIMATORS:
            key = f"{it}.{est}.alpha"
            if key not in arrays:
                continue
            row: dict[str, Any] = {"iterate": it, "estimator": est}
            for f in FIELDS:
                row[f] = float(np.asarray(arrays[f"{it}.{est}.{f}"]))
            for f in ("n_runs", "n_used", "n_diverged"):
                row[f] = int(np.asarray(arrays[f]))
            rows.append(row | labels)
    return pd.DataFrame(rows)
