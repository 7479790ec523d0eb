"""Sweep points of Part II: simulate one setting of the ReLU gate (or of the linear-regression contrast),
apply the measurement protocol, and return arrays for :func:`sgdtails._core.cache.sweep`.

Shared by the Part II chapters, so that the same point asked by two chapters is one cache entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from sgdtails._core.cache import sweep
from sgdtails._core.seeding import derive_seed, numpy_rng
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_int
from sgdtails.estimators.protocol import frame_from_arrays, measure_tail_index
from sgdtails.linear.designs import gaussian_design
from sgdtails.linear.sgd import run_sgd
from sgdtails.linear.sgd_index import sgd_tail_index
from sgdtails.relu.exact import variant_tail_index
from sgdtails.relu.law import ALGORITHMS
from sgdtails.relu.simulate import run_relu


def point_params(point: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`~sgdtails.relu.simulate.run_relu` taken from a sweep point (unknown keys
    ignored)."""
    keys = ("algorithm", "setup", "d", "batch", "eta", "n_chains", "n_iters", "label_noise",
            "flip_prob", "input_law", "input_df", "seed", "dtype", "sampler",
            "divergence_threshold", "n_trajectories")
    return {k: point[k] for k in keys if k in point}


def sweep_point(point: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Simulate one sweep point with :func:`~sgdtails.relu.simulate.run_relu`, measure it with the protocol.

    ``point`` holds :func:`~sgdtails.relu.simulate.run_relu` arguments plus optional protocol settings
    ``n_boot`` (default 200), ``n_dbs`` (500), ``hill_k`` (None). Returns the protocol's arrays
    (:meth:`sgdtails.estimators.protocol.ProtocolResult.to_arrays`) plus ``log_norm_mean`` and ``log_norm_sd``
    (mean and standard deviation over kept runs of log |w_K - c|, c the protocol's centre),
    ``final_median_norm`` and ``final_min_norm`` (median and smallest |w_K - c|),
    ``median_offset`` (|coordinate-wise median over runs of w_K - c|), ``n_underflow``
    (see :class:`ReluRun`) and a trajectory sample ``trajectory``,
    ``trajectory_steps``.
    """
    with single_thread():
        run = run_relu(**point_params(point))
    seed = int(point.get("seed", 0))
    res = run.measure(n_boot=int(point.get("n_boot", 200)), n_dbs=int(point.get("n_dbs", 500)),
                      hill_k=point.get("hill_k"), seed=derive_seed(seed, "protocol"))
    out = res.to_arrays()
    keep = ~run.diverged
    z = run.last_dev[keep] if run.setup == "realizable" else run.last[keep] - res.centres["last"]
    nrm = np.linalg.norm(z, axis=1)
    with np.errstate(divide="ignore"):
        logn = np.log(nrm[nrm > 0])
    out["log_norm_mean"] = np.asarray(logn.mean() if logn.size else np.nan)
    out["log_norm_sd"] = np.asarray(logn.std(ddof=1) if logn.size > 1 else np.nan)
    out["final_median_norm"] = np.asarray(np.median(nrm) if nrm.size else np.nan)
    out["final_min_norm"] = np.asarray(nrm.min() if nrm.size else np.nan)
    out["median_offset"] = np.asarray(np.linalg.norm(np.median(z, axis=0)) if nrm.size else np.nan)
    out["n_underflow"] = np.asarray(run.n_underflow)
    out["trajectory"] = run.trajectory
    out["trajectory_steps"] = run.trajectory_steps
    return out


def exact_params(point: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical parameters of the variant's exact index at a sweep point.

    The law of M_t depends on the data only through the gate 1{y > 0}: on noiseless realizable data
    and on binary data without flips the gate is 1{w*.x > 0} in both, so both map to the same key.
    """
    setup = point.get("setup", "realizable")
    noise = float(point.get("label_noise", 0.0))
    flip = float(point.get("flip_prob", 0.0))
    if setup == "realizable" and noise == 0.0:
        setup = "binary"
    return {"d": int(point["d"]), "batch": int(point["batch"]), "eta": float(point["eta"]),
            "setup": setup, "label_noise": noise if setup == "realizable" else 0.0,
            "flip_prob": flip if setup == "binary" else 0.0,
            "input_law": point.get("input_law", "gaussian"),
            "n_walkers": int(point.get("n_walkers", 1000)),
            "n_steps": int(point.get("n_steps", 200)), "burn_in": int(point.get("burn_in", 50)),
            "n_replicas": int(point.get("n_replicas", 8)),
            "alpha_bracket": list(point.get("alpha_bracket", [0.25, 16.0])),
            "seed": int(point.get("seed", 0))}


def exact_point(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The variant's exact index at :func:`exact_params` ``params``, as arrays ``alpha``, ``se``,
    ``status`` (for :func:`sgdtails._core.cache.sweep`)."""
    p = dict(params)
    with single_thread():
        res = variant_tail_index(p["d"], p["batch"], p["eta"], p["setup"], p["label_noise"],
                                 p["flip_prob"], input_law=p["input_law"],
                                 n_walkers=p["n_walkers"], n_steps=p["n_steps"],
                                 burn_in=p["burn_in"],
                                 n_replicas=p["n_replicas"],
                                 alpha_bracket=tuple(p["alpha_bracket"]), seed=p["seed"],
                                 xtol=0.02)
    return {"alpha": np.asarray(res.alpha), "se": np.asarray(res.se),
            "status": np.asarray(res.status)}


DATA_SETTINGS = ("noiseless", "noisy", "binary")


def sweep_grid(
    seed: int,
    *,
    d: int,
    batch: int,
    eta: float,
    etas: list[float],
    batches: list[int],
    dims: list[int],
    label_noise: float,
    n_chains: int,
    n_iters: int,
    n_boot: int = 100,
    hill_k: float = 0.05,
    algorithms: tuple[str, ...] = ALGORITHMS,
    dtype: str = "float32",
    dtype_noiseless: str = "float64",
    sampler: str = "direct",
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The points of the three Part II sweeps (eta, then b, then d, around the base point
    (``d``, ``batch``, ``eta``)), for every algorithm and data setting.

    Returns ``(labels, point)`` pairs: ``labels`` = {sweep, x, algorithm, data}; ``point`` the
    :func:`sweep_point` parameters, whose seed is derived from the point's own parameters only, so the
    base point shared by the three sweeps (and by any chapter asking for the same grid) is one cache
    entry. The base value is added to each swept list where it is missing. Noiseless runs use
    ``dtype_noiseless`` (float64): they contract like exp(-c t) and reach float32's subnormal range
    (1e-38) within a thousand steps at some points of the grid. ``sampler`` is part of
    every point (and so of its cache key): "auto" could resolve differently as samplers are added.
    """
    etas = sorted({float(e) for e in etas} | {float(eta)})
    batches = sorted({int(v) for v in batches} | {int(batch)})
    dims = sorted({int(v) for v in dims} | {int(d)})
    settings = {"noiseless": ("realizable", 0.0), "noisy": ("realizable", float(label_noise)),
                "binary": ("binary", 0.0)}
    axes = ([("eta", float(e), d, batch, float(e)) for e in etas]
            + [("b", int(bb), d, int(bb), eta) for bb in batches]
            + [("d", int(dd), int(dd), batch, eta) for dd in dims])
    out = []
    for name, x, dd, bb, ee in axes:
        for alg in algorithms:
            for data, (setup, noise) in settings.items():
                point = dict(algorithm=alg, setup=setup, label_noise=noise, d=dd, batch=bb,
                             eta=ee, n_chains=int(n_chains), n_iters=int(n_iters),
                             n_boot=int(n_boot), hill_k=float(hill_k),
                             dtype=dtype_noiseless if data == "noiseless" else dtype,
                             n_trajectories=0, sampler=sampler)
                point["seed"] = derive_seed(seed, "relu-sweep", alg, data, dd, bb, ee)
                out.append(({"sweep": name, "x": x, "algorithm": alg, "data": data}, point))
    return out


#: cache namespace of every sweep point: chapters asking for the same points share the entries
SWEEP_NAMESPACE = "relu-sweeps"


def run_sweep(cache_dir: Any, points: list[Mapping[str, Any]], *, desc: str = "relu sweeps"
              ) -> list[dict[str, np.ndarray]]:
    """:func:`sweep_point` at every point, each cached under :data:`SWEEP_NAMESPACE` (resumable)."""
    return sweep(cache_dir, SWEEP_NAMESPACE, points, sweep_point, desc=desc)


def sweep_frame(grid: list[tuple[dict[str, Any], dict[str, Any]]], results: list[Mapping[str, Any]],
                extras: list[Mapping[str, Any]] | None = None) -> Any:
    """One row per estimate of every point of :func:`sweep_grid`: its labels, ``d``, ``b``, ``eta`` and
    the protocol's estimates, plus per-point ``extras`` (a pandas DataFrame)."""
    extras = extras if extras is not None else [{}] * len(grid)
    return pd.concat([frame_from_arrays(r, **labels, d=p["d"], b=p["batch"], eta=p["eta"], **extra)
                      for (labels, p), r, extra in zip(grid, results, extras, strict=True)],
                     ignore_index=True)


def linear_point(point: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One point of the linear-regression contrast: online SGD on least squares (no ridge) with
    isotropic Gaussian data a ~ N(0, I_d), y = a.x_true + sigma eps (|x_true| = 1), step ``eta``, batch
    ``batch``, ``n_chains`` runs of ``n_iters`` steps from x_0 ~ N(0, I/d)
    (:func:`sgdtails.linear.sgd.run_sgd`), measured with
    :func:`~sgdtails.estimators.protocol.measure_tail_index` centred at x*; plus
    the exact Kesten index of linear SGD (:func:`sgdtails.linear.sgd_index.sgd_tail_index`, one-step formula).

    ``point`` keys: d, batch, eta, label_noise, n_chains, n_iters, seed, and optionally n_boot,
    n_dbs, hill_k, dtype ("float32").
    """
    d = check_int("d", point["d"], low=1)
    seed = int(point["seed"])
    rng = numpy_rng(derive_seed(seed, "linear-problem"))
    x_true = rng.standard_normal(d)
    x_true /= np.linalg.norm(x_true)
    problem = gaussian_design(np.ones(d), sigma=float(point["label_noise"]), x_true=x_true)
    x0 = numpy_rng(derive_seed(seed, "linear-init")).standard_normal((int(point["n_chains"]), d))
    dtype = torch.float64 if point.get("dtype", "float32") == "float64" else torch.float32
    with single_thread():
        run = run_sgd(problem, float(point["eta"]), int(point["batch"]),
                             n_chains=int(point["n_chains"]), n_iter=int(point["n_iters"]),
                             x0=x0 / math.sqrt(d), average=True,
                             seed=derive_seed(seed, "linear-batches"), dtype=dtype)
    res = measure_tail_index(run.final, run.average, run.x_star, diverged=run.diverged,
                             n_boot=int(point.get("n_boot", 200)),
                             n_dbs=int(point.get("n_dbs", 500)), hill_k=point.get("hill_k"),
                             seed=derive_seed(seed, "protocol"))
    out = res.to_arrays()
    ex = sgd_tail_index(problem, float(point["eta"]), int(point["batch"]),
                               alpha_bracket=(0.05, 64.0))
    out["exact"] = np.asarray(ex.alpha)
    out["exact_status"] = np.asarray(ex.status)
    return out
