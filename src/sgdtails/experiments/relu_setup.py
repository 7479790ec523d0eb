"""Chapter "A ReLU gate: data, two algorithms and the measurement protocol" (``book/relu_setup.py``):
the trajectories figure (``fig-relu-trajectories``) and the protocol's table at one point.

Six settings at one point (``d``, ``b``, ``eta``): SGD and the variant (reconstructed from Karmakar &
Mukherjee's description; see the chapter) on noiseless realizable (y = ReLU(w*.x)), noisy realizable
(y = ReLU(w*.x) + sigma xi) and binary (y = 1{w*.x > 0}) data; N runs of K iterations from
w_0 ~ N(0, I/d), measured with :func:`sgdtails.estimators.protocol.measure_tail_index` (Hill on the top
``hill_fraction`` of |w_K - c|, MMO, Hill on coordinates). Cached under ``"relu-setup"``, seeds
``derive_seed(seed, "relu_setup", algorithm, data)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdtails._core.parallel import cached_map
from sgdtails._core.seeding import derive_seed
from sgdtails._core.validation import check_choice, check_in_interval, check_int, check_positive
from sgdtails.estimators.protocol import frame_from_arrays
from sgdtails.experiments.relu_points import DATA_SETTINGS, SAMPLERS, point_workers, sweep_point
from sgdtails.relu.law import ALGORITHMS

__all__ = ["NAMESPACE", "SetupParams", "SetupSummary", "Trajectories", "protocol_table", "trajectories"]

#: cache namespace of the six settings
NAMESPACE = "relu-setup"
_NAME = "relu_setup"


@dataclass(frozen=True)
class SetupParams:
    """The point of the chapter and how it is run (defaults: the ``default`` profile)."""

    d: int = 10
    batch: int = 4
    eta: float = 0.5
    label_noise: float = 0.5
    n_chains: int = 1000
    n_iters: int = 2000
    n_trajectories: int = 4
    n_boot: int = 100
    hill_fraction: float = 0.05
    sampler: str = "radial"

    def __post_init__(self) -> None:
        check_int("d", self.d, low=1)
        check_int("batch", self.batch, low=1)
        check_positive("eta", self.eta)
        check_positive("label_noise", self.label_noise)
        check_int("n_chains", self.n_chains, low=20)
        check_int("n_iters", self.n_iters, low=2)
        check_int("n_trajectories", self.n_trajectories, low=1, high=self.n_chains)
        check_int("n_boot", self.n_boot, low=0)
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)
        check_choice("sampler", self.sampler, SAMPLERS)


@dataclass(frozen=True)
class SetupSummary:
    """Numbers the chapter quotes: runs diverged and runs near underflow over the six settings, and the
    median distance |w_K - c| over runs per setting, keyed ``"{algorithm}_{data}"``."""

    n_diverged: int
    n_underflow: int
    median_distance: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Trajectories:
    """``frame``: one row per recorded step of every traced run (``algorithm, data, run, t, distance``,
    distance = |w_t - w*|); ``summary``: :class:`SetupSummary`."""

    frame: pd.DataFrame
    summary: SetupSummary


def _points(params: SetupParams, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    settings = {"noiseless": ("realizable", 0.0), "noisy": ("realizable", params.label_noise),
                "binary": ("binary", 0.0)}
    out = []
    for alg in ALGORITHMS:
        for key in DATA_SETTINGS:
            setup, noise = settings[key]
            out.append((alg, key, dict(
                algorithm=alg, setup=setup, label_noise=noise, d=params.d, batch=params.batch,
                eta=params.eta, n_chains=params.n_chains, n_iters=params.n_iters,
                n_trajectories=params.n_trajectories, n_boot=params.n_boot, n_boot_average=0,
                hill_k=params.hill_fraction,
                sampler=params.sampler, dtype="float64" if key == "noiseless" else "float32",
                seed=derive_seed(seed, _NAME, alg, key))))
    return out


def _run(params: SetupParams, seed: int, cache_dir: Any) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    pts = _points(params, seed)
    res = cached_map(cache_dir, NAMESPACE, [p for *_, p in pts], sweep_point,
                     workers=point_workers(params.n_chains), desc="trajectories")
    return [(alg, key, r) for (alg, key, _), r in zip(pts, res, strict=True)]


def trajectories(params: SetupParams, *, seed: int, cache_dir: Any = None) -> Trajectories:
    """Figure ``fig-relu-trajectories``: |w_t - w*| along the first ``n_trajectories`` runs of each
    setting, with the chapter's numbers (:class:`SetupSummary`)."""
    rows = []
    n_div = n_under = 0
    med: dict[str, float] = {}
    for alg, key, r in _run(params, seed, cache_dir):
        steps = np.asarray(r["trajectory_steps"])
        for j, tr in enumerate(np.asarray(r["trajectory"])):
            rows.append(pd.DataFrame({"algorithm": alg, "data": key, "run": j, "t": steps,
                                      "distance": tr}))
        n_div += int(r["n_diverged"])
        n_under += int(r["n_underflow"])
        med[f"{alg}_{key}"] = float(r["final_median_norm"])
    return Trajectories(pd.concat(rows, ignore_index=True),
                        SetupSummary(n_diverged=n_div, n_underflow=n_under, median_distance=med))


def protocol_table(params: SetupParams, *, seed: int, cache_dir: Any = None, iterate: str = "last"
                   ) -> pd.DataFrame:
    """The protocol's estimates on ``iterate`` at the six settings (the chapter's table): columns
    ``algorithm, data, estimator, alpha, ci_low, ci_high, n_used, n_diverged``, rounded to 2 decimals."""
    frame = pd.concat([frame_from_arrays(r, algorithm=alg, data=key)
                       for alg, key, r in _run(params, seed, cache_dir)], ignore_index=True)
    cols = ["algorithm", "data", "estimator", "alpha", "ci_low", "ci_high", "n_used", "n_diverged"]
    return frame[frame["iterate"] == iterate][cols].round(2).reset_index(drop=True)
