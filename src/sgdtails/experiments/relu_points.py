"""Sweep points of Part II, shared by its four chapters: simulate one setting of the ReLU gate (or of the
linear-regression contrast), apply the measurement protocol, return arrays for
:func:`sgdtails._core.cache.sweep`; the grid of the three sweeps and its tidy frame.

Every point is cached on its own under a namespace shared by the chapters (:data:`SWEEP_NAMESPACE` for
the ReLU sweeps), keyed by its parameters only, so that the same point asked by two chapters is one cache
entry. Part II follows Karmakar & Mukherjee (2022), whose text and code are not available: the model and
the protocol are this book's reconstruction (chapter "A ReLU gate").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from sgdtails._core.cache import device_entry
from sgdtails._core.parallel import cached_map, default_workers
from sgdtails._core.seeding import derive_seed, numpy_rng
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_choice, check_device, check_in_interval, check_int, check_positive
from sgdtails.estimators.protocol import frame_from_arrays, measure_tail_index
from sgdtails.linear.designs import gaussian_design
from sgdtails.linear.sgd import run_sgd
from sgdtails.linear.sgd_index import sgd_tail_index
from sgdtails.relu.exact import variant_tail_index
from sgdtails.relu.law import ALGORITHMS
from sgdtails.relu.radial import run_relu_radial
from sgdtails.relu.simulate import run_relu

__all__ = [
    "DATA_SETTINGS",
    "EXACT_NAMESPACE",
    "POINT_EXTRAS",
    "SAMPLERS",
    "SWEEP_NAMESPACE",
    "PARALLEL_MIN_CHAINS",
    "TREND_WORDS",
    "GridParams",
    "exact_frame",
    "exact_params",
    "exact_point",
    "grid_frame",
    "linear_point",
    "point_params",
    "point_workers",
    "run_sweep",
    "spearman_trend",
    "sweep_frame",
    "sweep_grid",
    "sweep_point",
]

#: cache namespace of every ReLU sweep point: chapters asking for the same points share the entries
SWEEP_NAMESPACE = "relu-sweeps"
#: cache namespace of the variant's exact index
EXACT_NAMESPACE = "relu-exact"
#: the three data settings of every sweep: noiseless realizable, noisy realizable, binary
DATA_SETTINGS = ("noiseless", "noisy", "binary")
#: simulators of a sweep point: "radial" (:func:`sgdtails.relu.radial.run_relu_radial`, exact for the
#: Gaussian inputs used here) or a sampler of :func:`sgdtails.relu.simulate.run_relu`
SAMPLERS = ("radial", "direct", "reduced", "auto")


def point_params(point: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`~sgdtails.relu.simulate.run_relu` taken from a sweep point (unknown keys
    ignored)."""
    keys = ("algorithm", "setup", "d", "batch", "eta", "n_chains", "n_iters", "label_noise",
            "flip_prob", "input_law", "input_df", "seed", "dtype", "sampler",
            "divergence_threshold", "n_trajectories", "device")
    return {k: point[k] for k in keys if k in point}


def _simulate(point: Mapping[str, Any], workers: int | None) -> Any:
    kw = point_params(point)
    if kw.get("sampler") == "radial":
        kw.pop("sampler")
        if kw.pop("input_law", "gaussian") != "gaussian":
            raise ValueError("sampler='radial' needs input_law='gaussian'")
        kw.pop("input_df", None)
        return run_relu_radial(**kw, workers=workers)
    return run_relu(**kw)


def sweep_point(point: Mapping[str, Any], *, workers: int | None = None) -> dict[str, np.ndarray]:
    """Simulate one sweep point, measure it with the protocol.

    ``point`` holds :func:`~sgdtails.relu.simulate.run_relu` arguments (``sampler="radial"`` runs
    :func:`~sgdtails.relu.radial.run_relu_radial` instead) plus optional protocol settings
    ``n_boot`` (default 200), ``n_boot_average`` (default ``n_boot``), ``n_dbs`` (500), ``hill_k`` (None).
    Returns the protocol's arrays
    (:meth:`sgdtails.estimators.protocol.ProtocolResult.to_arrays`) plus ``log_norm_mean`` and ``log_norm_sd``
    (mean and standard deviation over kept runs of log |w_K - c|, c the protocol's centre),
    ``final_median_norm`` and ``final_min_norm`` (median and smallest |w_K - c|),
    ``median_offset`` (|coordinate-wise median over runs of w_K - c|), ``n_underflow``
    (see :class:`~sgdtails.relu.simulate.ReluRun`) and a trajectory sample ``trajectory``,
    ``trajectory_steps``. ``workers``: threads of :func:`~sgdtails.relu.radial.run_relu_radial`.
    """
    with single_thread():
        run = _simulate(point, workers)
    seed = int(point.get("seed", 0))
    res = run.measure(n_boot=int(point.get("n_boot", 200)), n_dbs=int(point.get("n_dbs", 500)),
                      hill_k=point.get("hill_k"), seed=derive_seed(seed, "protocol"),
                      n_boot_average=point.get("n_boot_average"))
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
    ``sampler`` ("direct" or "reduced", see :func:`~sgdtails.relu.exact.variant_tail_index`) and ``dtype``
    of the population Monte Carlo are part of the key.
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
            "sampler": str(point.get("exact_sampler", "direct")),
            "dtype": str(point.get("exact_dtype", "float64")),
            "seed": int(point.get("seed", 0))}


def exact_point(params: Mapping[str, Any], *, workers: int | None = None) -> dict[str, np.ndarray]:
    """The variant's exact index at :func:`exact_params` ``params``, as arrays ``alpha``, ``se``,
    ``status`` (for :func:`sgdtails._core.cache.sweep`; ``workers`` is accepted for
    :func:`sgdtails._core.parallel.cached_map` and unused)."""
    p = dict(params)
    with single_thread():
        res = variant_tail_index(p["d"], p["batch"], p["eta"], p["setup"], p["label_noise"],
                                 p["flip_prob"], input_law=p["input_law"],
                                 n_walkers=p["n_walkers"], n_steps=p["n_steps"],
                                 burn_in=p["burn_in"], n_replicas=p["n_replicas"],
                                 alpha_bracket=tuple(p["alpha_bracket"]), seed=p["seed"],
                                 xtol=0.02, sampler=p.get("sampler", "direct"),
                                 dtype=p.get("dtype", "float64"))
    return {"alpha": np.asarray(res.alpha), "se": np.asarray(res.se),
            "status": np.asarray(res.status)}


@dataclass(frozen=True)
class GridParams:
    """The grid of Part II's three sweeps (eta, then b, then d, around the base point (``d``, ``batch``,
    ``eta``)) for both algorithms and the three data settings, and how each point is run and measured.

    Defaults are the ``default`` profile of the chapters. ``hill_fraction``: Hill uses the top
    ``hill_fraction`` of each sample; ``sampler``: see :data:`SAMPLERS`; ``dtype`` of the noisy and binary
    runs and ``dtype_noiseless`` of the noiseless ones (float64: they contract far below float32's range).
    ``device``: where the runs are simulated (``"cuda"`` on a GPU; the measurements and the variant's exact
    index stay on the CPU); off the CPU it is part of every point's cache key (not of its seed).
    """

    d: int = 10
    batch: int = 4
    eta: float = 0.5
    etas: tuple[float, ...] = (0.4, 0.45, 0.5, 0.55, 0.6)
    batches: tuple[int, ...] = (4, 5, 6, 8)
    dims: tuple[int, ...] = (6, 8, 10, 12)
    label_noise: float = 0.5
    n_chains: int = 1000
    n_iters: int = 1000
    n_boot: int = 100
    hill_fraction: float = 0.05
    sampler: str = "radial"
    dtype: str = "float32"
    dtype_noiseless: str = "float64"
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_int("d", self.d, low=1)
        check_int("batch", self.batch, low=1)
        check_positive("eta", self.eta)
        object.__setattr__(self, "etas", tuple(check_positive("etas", e) for e in self.etas))
        object.__setattr__(self, "batches", tuple(check_int("batches", b, low=1) for b in self.batches))
        object.__setattr__(self, "dims", tuple(check_int("dims", v, low=1) for v in self.dims))
        check_positive("label_noise", self.label_noise)
        check_int("n_chains", self.n_chains, low=20)
        check_int("n_iters", self.n_iters, low=2)
        check_int("n_boot", self.n_boot, low=0)
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("dtype", self.dtype, ["float32", "float64"])
        check_choice("dtype_noiseless", self.dtype_noiseless, ["float32", "float64"])
        check_device("device", self.device)

    def grid(self, seed: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """:func:`sweep_grid` of these parameters."""
        return sweep_grid(seed, d=self.d, batch=self.batch, eta=self.eta, etas=list(self.etas),
                          batches=list(self.batches), dims=list(self.dims),
                          label_noise=self.label_noise, n_chains=self.n_chains, n_iters=self.n_iters,
                          n_boot=self.n_boot, hill_k=self.hill_fraction, dtype=self.dtype,
                          dtype_noiseless=self.dtype_noiseless, sampler=self.sampler, device=self.device)


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
    sampler: str = "radial",
    device: str = "cpu",
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The points of the three Part II sweeps (eta, then b, then d, around the base point
    (``d``, ``batch``, ``eta``)), for every algorithm and data setting.

    Returns ``(labels, point)`` pairs: ``labels`` = {sweep, x, algorithm, data}; ``point`` the
    :func:`sweep_point` parameters, whose seed is derived from the point's own parameters only, so the
    base point shared by the three sweeps (and by any chapter asking for the same grid) is one cache
    entry. The base value is added to each swept list where it is missing. The running averages are
    measured without bootstrap intervals (``n_boot_average=0``: no figure or number uses them). Noiseless
    runs use
    ``dtype_noiseless`` (float64): they contract like exp(-c t) and reach float32's subnormal range
    (1e-38) within a thousand steps at some points of the grid. ``sampler`` is part of
    every point (and so of its cache key), and so is ``device`` off the CPU (in the key, not in the seed).
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
                             n_boot=int(n_boot), n_boot_average=0, hill_k=float(hill_k),
                             dtype=dtype_noiseless if data == "noiseless" else dtype,
                             n_trajectories=0, sampler=sampler)
                point["seed"] = derive_seed(seed, "relu-sweep", alg, data, dd, bb, ee)
                point |= device_entry(device)
                out.append(({"sweep": name, "x": x, "algorithm": alg, "data": data}, point))
    return out


#: points with at least this many runs are computed several at a time (one per core, on threads); smaller
#: ones one after the other (their time goes to Python's dispatch of many small torch operations)
PARALLEL_MIN_CHAINS = 20000


def point_workers(n_chains: int) -> int:
    """Threads for points of ``n_chains`` runs: every core from :data:`PARALLEL_MIN_CHAINS` runs on."""
    return default_workers() if int(n_chains) >= PARALLEL_MIN_CHAINS else 1


def run_sweep(cache_dir: Any, points: Sequence[Mapping[str, Any]], *, desc: str = "relu sweeps"
              ) -> list[dict[str, np.ndarray]]:
    """:func:`sweep_point` at every point, each cached under :data:`SWEEP_NAMESPACE` (resumable), on
    :func:`point_workers` threads."""
    n = max((int(p["n_chains"]) for p in points), default=0)
    return cached_map(cache_dir, SWEEP_NAMESPACE, points, sweep_point, workers=point_workers(n), desc=desc)


#: per-point diagnostics of :func:`sweep_point` carried into every row of :func:`grid_frame`
POINT_EXTRAS = ("log_norm_mean", "log_norm_sd", "final_median_norm", "final_min_norm", "median_offset",
                "n_underflow")


def sweep_frame(grid: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
                results: Sequence[Mapping[str, Any]],
                extras: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """One row per estimate of every point of :func:`sweep_grid`: its labels, ``d``, ``b``, ``eta`` and
    the protocol's estimates, plus per-point ``extras``."""
    extras = extras if extras is not None else [{}] * len(grid)
    return pd.concat([frame_from_arrays(r, **labels, d=p["d"], b=p["batch"], eta=p["eta"], **extra)
                      for (labels, p), r, extra in zip(grid, results, extras, strict=True)],
                     ignore_index=True)


def grid_frame(params: GridParams, *, seed: int, cache_dir: Any = None) -> pd.DataFrame:
    """The three sweeps of ``params`` (simulated, or read from the cache), one row per point, iterate
    and estimator: columns ``sweep, x, algorithm, data, d, b, eta, iterate, estimator, alpha, ci_low,
    ci_high, se, n, k, n_used, n_diverged, n_runs`` and the per-point :data:`POINT_EXTRAS`."""
    grid = params.grid(seed)
    results = run_sweep(cache_dir, [p for _, p in grid])
    extras = [{k: float(r[k]) for k in POINT_EXTRAS} for r in results]
    df = sweep_frame(grid, results, extras)
    df["n_underflow"] = df["n_underflow"].astype(int)
    return df


def exact_frame(grid: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], *, seed: int,
                cache_dir: Any, n_walkers: int, n_steps: int, n_replicas: int,
                sampler: str = "reduced", dtype: str = "float64") -> pd.DataFrame:
    """The variant's exact index at every variant point of ``grid`` (cached under
    :data:`EXACT_NAMESPACE`, one entry per distinct law of M_t): columns ``d, b, eta, data, exact,
    exact_se, exact_status``, one row per (data, d, b, eta)."""
    keys: list[dict[str, Any]] = []
    rows = []
    for labels, p in grid:
        if labels["algorithm"] != "variant":
            continue
        e = exact_params(dict(p, n_walkers=n_walkers, n_steps=n_steps, burn_in=n_steps // 3,
                              n_replicas=n_replicas, seed=seed, exact_sampler=sampler, exact_dtype=dtype))
        if e not in keys:
            keys.append(e)
        rows.append((labels["data"], p["d"], p["batch"], p["eta"], keys.index(e)))
    workers = default_workers() if n_walkers * n_replicas >= 2000 else 1
    res = cached_map(cache_dir, EXACT_NAMESPACE, keys, exact_point, workers=workers, desc="exact index")
    out = pd.DataFrame([{"data": data, "d": d, "b": b, "eta": eta, "exact": float(res[i]["alpha"]),
                         "exact_se": float(res[i]["se"]), "exact_status": str(res[i]["status"])}
                        for data, d, b, eta, i in rows])
    return out.drop_duplicates(subset=["data", "d", "b", "eta"], ignore_index=True)


#: words for the values of :func:`spearman_trend` (``None``: fewer than three finite estimates)
TREND_WORDS = {1: "rises", -1: "falls", 0: "shows no clear trend", None: "is undetermined"}


def spearman_trend(x: Any, alpha: Any, *, cap: float | None = None, threshold: float = 0.5,
                   min_points: int = 3) -> int | None:
    """+1 (rises), -1 (falls) or 0 (no clear trend): the sign of Spearman's rho between ``x`` and the
    finite ``alpha`` (clipped at ``cap`` when given) where ``|rho| > threshold``; ``None`` with fewer
    than ``min_points`` finite estimates."""
    x = np.asarray(x, dtype=float)
    a = np.asarray(alpha, dtype=float)
    ok = np.isfinite(a)
    if int(ok.sum()) < min_points:
        return None
    a = a[ok] if cap is None else np.minimum(a[ok], cap)
    rho = stats.spearmanr(x[ok], a).statistic
    if not np.isfinite(rho):
        return 0
    return 1 if rho > threshold else -1 if rho < -threshold else 0


def linear_point(point: Mapping[str, Any], *, workers: int | None = None) -> dict[str, np.ndarray]:
    """One point of the linear-regression contrast: online SGD on least squares (no ridge) with
    isotropic Gaussian data a ~ N(0, I_d), y = a.x_true + sigma eps (|x_true| = 1), step ``eta``, batch
    ``batch``, ``n_chains`` runs of ``n_iters`` steps from x_0 ~ N(0, I/d), measured with
    :func:`~sgdtails.estimators.protocol.measure_tail_index` centred at x*; plus the exact Kesten index of
    linear SGD (:func:`sgdtails.linear.sgd_index.sgd_tail_index`, one-step formula).

    ``sampler="radial"`` simulates it with :func:`sgdtails.relu.radial.run_relu_radial` (``setup="linear"``:
    the same update, in radial form, with x_true the random teacher); otherwise with
    :func:`sgdtails.linear.sgd.run_sgd` (its exact reduced sampler).
    ``point`` keys: d, batch, eta, label_noise, n_chains, n_iters, seed, and optionally sampler, n_boot,
    n_boot_average, n_dbs, hill_k, dtype ("float32"), device ("cpu").
    """
    d = check_int("d", point["d"], low=1)
    seed = int(point["seed"])
    eta, batch, noise = float(point["eta"]), int(point["batch"]), float(point["label_noise"])
    if point.get("sampler") == "radial":
        with single_thread():
            rr = run_relu_radial("sgd", "linear", d=d, batch=batch, eta=eta, n_chains=int(point["n_chains"]),
                                 n_iters=int(point["n_iters"]), label_noise=noise, seed=seed,
                                 n_trajectories=0, dtype=point.get("dtype", "float32"), workers=workers,
                                 device=point.get("device", "cpu"))
        last, average, centre, diverged = rr.last_dev, rr.average_dev, None, rr.diverged
        problem = gaussian_design(np.ones(d), sigma=noise, x_true=rr.w_star)
    else:
        rng = numpy_rng(derive_seed(seed, "linear-problem"))
        x_true = rng.standard_normal(d)
        x_true /= np.linalg.norm(x_true)
        problem = gaussian_design(np.ones(d), sigma=noise, x_true=x_true)
        x0 = numpy_rng(derive_seed(seed, "linear-init")).standard_normal((int(point["n_chains"]), d))
        dtype = torch.float64 if point.get("dtype", "float32") == "float64" else torch.float32
        with single_thread():
            run = run_sgd(problem, eta, batch, n_chains=int(point["n_chains"]), n_iter=int(point["n_iters"]),
                          x0=x0 / math.sqrt(d), average=True, seed=derive_seed(seed, "linear-batches"),
                          dtype=dtype, device=point.get("device", "cpu"))
        last, average, centre, diverged = run.final, run.average, run.x_star, run.diverged
    res = measure_tail_index(last, average, centre, diverged=diverged, n_boot=int(point.get("n_boot", 200)),
                             n_dbs=int(point.get("n_dbs", 500)), hill_k=point.get("hill_k"),
                             seed=derive_seed(seed, "protocol"), n_boot_average=point.get("n_boot_average"))
    out = res.to_arrays()
    ex = sgd_tail_index(problem, eta, batch, alpha_bracket=(0.05, 64.0))
    out["exact"] = np.asarray(ex.alpha)
    out["exact_status"] = np.asarray(ex.status)
    return out
