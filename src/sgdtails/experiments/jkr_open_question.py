"""Chapter "Does SGD itself have these tails?": the paper's theorems are about hSGD, its figures about SGD.

On the paper's data sets and settings (Jiao & Keller-Ressel 2024, Table 3):

1. :func:`facts`: what can be proven about SGD's tail (:mod:`sgdtails.linear.offline_index`): one-step
   norms, a certified bracket for ``Lambda(2)``, repeated-row upper bounds on ``alpha``.
2. :func:`kesten_estimates`: population Monte Carlo for ``alpha`` (typical paths only), next to the rigorous
   facts.
3. :func:`sgd_and_hsgd`: SGD (the runs of the previous chapter) and hSGD simulated at the same settings
   (:func:`sgdtails.linear.hsgd_multirate.run_hsgd_multirate`, with a refined scheme to show convergence),
   their fitted Student-t ``nu`` and Hill index against ``eta_*`` and ``eta^*``.
4. :func:`gamma_sweep`: the same as the step size moves through ``gamma_bar`` and ``2 / max_i |a_i|^2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from sgdtails._core.cache import device_entry
from sgdtails._core.parallel import cached_map, cached_sweep, default_workers, map_blocks
from sgdtails._core.seeding import derive_seed
from sgdtails._core.validation import check_device, check_in_interval, check_int, check_positive
from sgdtails.data import JKR_DATASETS, check_jkr_names, jkr_dataset, jkr_settings
from sgdtails.estimators.fits import student_t, student_t_nu_interval
from sgdtails.estimators.tailindex import hill
from sgdtails.experiments.jkr_reproduce import sgd_runs
from sgdtails.linear.hsgd_multirate import run_hsgd_multirate
from sgdtails.linear.offline import run_offline_sgd
from sgdtails.linear.offline_index import (
    lyapunov_exponent,
    one_step_norms,
    repeat_path_bound,
    second_moment_rate,
)
from sgdtails.linear.sgd_index import sgd_tail_index
from sgdtails.theory import jkr_bounds

__all__ = ["Comparison", "OpenQuestionParams", "facts", "gamma_sweep", "kesten_estimates", "prose_numbers",
           "sgd_and_hsgd"]

NAME = "jkr_open_question"
#: fewest runs left after divergence for a Student-t fit at a sweep point
MIN_FIT_RUNS = 50


@dataclass(frozen=True)
class OpenQuestionParams:
    """Sizes of the chapter (defaults: the ``default`` profile).

    ``n_runs``: SGD runs at the paper's settings (the same runs as the previous chapter's large Fig. 1 when
    the numbers agree); hSGD runs for as many units of time as SGD makes updates: ``hsgd_runs`` runs with
    ``substeps`` fine steps per iteration, and ``refine_runs`` more with ``refine_substeps`` and half the
    ``max_step`` (the convergence check); ``update_cap``: at most this many updates (0: the paper's
    ``K - 1``); ``nu_boot``: bootstrap resamples of ``nu``; ``hill_fraction``: Hill's ``k`` as a fraction of
    the runs; ``gamma_fractions``: the sweep's ``gamma / gamma_bar``; ``sweep_runs`` runs of
    ``sweep_iterations`` updates (0: the paper's ``K - 1``) per sweep point; ``kesten_*``: population Monte
    Carlo sizes; ``lyapunov_*``: walkers and steps of the Lyapunov exponent; ``power_iterations`` for the
    ``Lambda(2)`` bracket; ``device``: where SGD and hSGD run (``"cuda"`` on a GPU).
    """

    n_runs: int = 10_000
    hsgd_runs: int = 10_000
    substeps: int = 16
    max_step: float = 0.05
    refine_runs: int = 4000
    refine_substeps: int = 32
    update_cap: int = 0
    nu_boot: int = 20
    hill_fraction: float = 0.01
    gamma_fractions: tuple[float, ...] = (0.5, 0.75, 1.0)
    sweep_runs: int = 2000
    sweep_iterations: int = 1000
    sweep_substeps: int = 8
    kesten_walkers: int = 512
    kesten_steps: int = 100
    kesten_replicas: int = 4
    lyapunov_walkers: int = 256
    lyapunov_steps: int = 1000
    power_iterations: int = 50
    datasets: tuple[str, ...] = JKR_DATASETS
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("n_runs", "hsgd_runs", "refine_runs", "sweep_runs"):
            check_int(name, getattr(self, name), low=100)
        for name in ("substeps", "refine_substeps", "sweep_substeps"):
            check_int(name, getattr(self, name), low=1)
        check_in_interval("max_step", self.max_step, 0.0, 1.0, closed_low=False)
        check_int("update_cap", self.update_cap, low=0)
        check_int("sweep_iterations", self.sweep_iterations, low=0)
        check_int("nu_boot", self.nu_boot, low=2)
        check_in_interval("hill_fraction", self.hill_fraction, 0.0, 0.5, closed_low=False)
        if not self.gamma_fractions:
            raise ValueError("gamma_fractions must hold at least one step size (a fraction of gamma_bar)")
        for f in self.gamma_fractions:
            check_positive("gamma_fractions", f)
        check_int("kesten_walkers", self.kesten_walkers, low=16)
        check_int("kesten_steps", self.kesten_steps, low=8)
        check_int("kesten_replicas", self.kesten_replicas, low=2)
        check_int("lyapunov_walkers", self.lyapunov_walkers, low=2)
        check_int("lyapunov_steps", self.lyapunov_steps, low=10)
        check_int("power_iterations", self.power_iterations, low=0)
        check_jkr_names(self.datasets)
        check_device("device", self.device)

    def n_updates(self, name: str) -> int:
        """SGD updates per run at the paper's settings, and hSGD's time (one unit per update): the paper's
        ``K - 1``, or ``update_cap`` when that is smaller and positive (as in the previous chapter)."""
        k = jkr_settings(name).n_updates
        return min(k, self.update_cap) if self.update_cap else k


def _rigorous(name: str, gamma: float, power_iterations: int) -> dict[str, float | bool]:
    ds = jkr_dataset(name)
    one = one_step_norms(ds, gamma)
    sm = second_moment_rate(ds, gamma, n_power=power_iterations)
    bound = repeat_path_bound(ds, gamma)
    return {"gamma max|a|^2": one.gamma_max_row2, "rows expanding": one.frac_expanding,
            "max one-step norm": one.max_norm, "every step non-expansive": one.nonexpansive,
            "gamma_row": one.gamma_row, "rho(T) low": sm.rho_low, "rho(T) high": sm.rho_high,
            "alpha > 2 proven": sm.alpha_above_2, "alpha upper bound": bound,
            "no power-law tail (proven)": bool(one.nonexpansive and sm.alpha_above_2)}


def _lyapunov_point(point: dict) -> dict[str, np.ndarray]:
    res = lyapunov_exponent(jkr_dataset(point["dataset"]), point["gamma"], n_walkers=point["walkers"],
                            n_steps=point["steps"], burn_in=point["steps"] // 10, seed=point["seed"])
    return {"value": np.asarray(res.value), "se": np.asarray(res.se)}


def _facts_at(steps: list[tuple[str, float]], params: OpenQuestionParams, seed: int, cache_dir: str | None
              ) -> list[dict[str, float | bool]]:
    """The rigorous facts and the Lyapunov exponent at each (data set, gamma) of ``steps``, the points on
    every core (threads): Lyapunov exponents cached per point under ``jkr-lyapunov``."""
    rigorous = map_blocks(lambda i, _a, _b: _rigorous(*steps[i], params.power_iterations),
                          [(i, i + 1) for i in range(len(steps))], desc="rigorous facts")
    points = [{"dataset": name, "gamma": float(gamma), "walkers": params.lyapunov_walkers,
               "steps": params.lyapunov_steps,
               "seed": derive_seed(seed, NAME, "lyapunov", name, float(gamma))} for name, gamma in steps]
    lyapunov = cached_sweep(cache_dir, "jkr-lyapunov", points, _lyapunov_point, desc="Lyapunov exponents")
    return [rig | {"Lyapunov exponent": float(ly["value"]), "Lyapunov se": float(ly["se"])}
            for rig, ly in zip(rigorous, lyapunov, strict=True)]


def facts(params: OpenQuestionParams, *, seed: int, cache_dir: str | None = None) -> pd.DataFrame:
    """One row per data set at the paper's step size: the rigorous facts of
    :mod:`sgdtails.linear.offline_index`, the Lyapunov exponent (simulated) and the paper's bounds."""
    steps = [(name, jkr_settings(name).gamma) for name in params.datasets]
    rows = []
    for (name, gamma), found in zip(steps, _facts_at(steps, params, seed, cache_dir), strict=True):
        st = jkr_settings(name)
        b = jkr_bounds(jkr_dataset(name), gamma=gamma, batch_size=st.batch_size, delta=st.delta)
        rows.append({"data set": name, "gamma": gamma, "gamma_bar": b.gamma_bar, "eta_*": b.eta_lower,
                     "eta^*": b.eta_upper} | found)
    return pd.DataFrame(rows)


def _kesten_point(point: dict) -> dict[str, np.ndarray]:
    res = sgd_tail_index(jkr_dataset(point["dataset"]), point["gamma"], 1, method="mc",
                         n_walkers=point["walkers"], n_steps=point["steps"], burn_in=point["steps"] // 4,
                         n_replicas=point["replicas"], alpha_bracket=(0.25, 64.0), seed=point["seed"])
    return {"alpha": np.asarray(res.alpha), "se": np.asarray(res.se), "status": np.asarray(res.status)}


def kesten_estimates(params: OpenQuestionParams, gammas: dict[str, list[float]], *, seed: int,
                     cache_dir: str | None = None) -> pd.DataFrame:
    """Population Monte Carlo estimate of ``alpha`` (rows with replacement, ``B = 1``) at each step size of
    ``gammas`` (data set -> step sizes), cached per point under ``jkr-kesten``: columns ``alpha``, ``se``,
    ``status`` (``above_bracket``: ``Lambda < 0`` up to ``alpha = 64``)."""
    points = [{"dataset": name, "gamma": float(g), "walkers": params.kesten_walkers,
               "steps": params.kesten_steps, "replicas": params.kesten_replicas,
               "seed": derive_seed(seed, NAME, "kesten", name, float(g))}
              for name, gs in gammas.items() for g in gs]
    out = cached_sweep(cache_dir, "jkr-kesten", points, _kesten_point, desc="Kesten index")
    rows = [{"data set": p["dataset"], "gamma": p["gamma"], "MC alpha": float(r["alpha"]),
             "MC se": float(r["se"]), "MC status": str(r["status"])}
            for p, r in zip(points, out, strict=True)]
    return pd.DataFrame(rows, columns=["data set", "gamma", "MC alpha", "MC se", "MC status"])


def _simulated(cache_dir: str | None, namespace: str, points: list[dict],
               compute: Callable[..., dict[str, np.ndarray]], device: str, desc: str
               ) -> list[dict[str, np.ndarray]]:
    """``compute(point)`` for independent simulation points, cached per point under ``namespace``
    (:func:`sgdtails._core.parallel.cached_map`). On the CPU the points run on every core, the costliest
    first, each point's blocks of runs one after the other on its thread (no nested pool:
    ``python -m sgdtails run --jobs`` already shares the cores among chapters); on an accelerator one point
    at a time, all its runs at once (a CUDA-graph capture must not overlap another thread's work)."""
    workers = default_workers() if torch.device(device).type == "cpu" else 1
    return cached_map(cache_dir, namespace, points, compute, workers=workers,
                      cost=lambda p: p["n_runs"] * p["n_iter"] * p.get("substeps", 1), desc=desc)


def _hsgd_point(point: dict, workers: int | None = None) -> dict[str, np.ndarray]:
    name = point["dataset"]
    ds = jkr_dataset(name)
    res = run_hsgd_multirate(ds, point["gamma"], 1, n_runs=point["n_runs"], n_iter=point["n_iter"],
                             init_scale=point["init_scale"], substeps=point["substeps"],
                             max_step=point["max_step"], seed=point["seed"], dtype=torch.float32,
                             block_size=32768, device=point.get("device", "cpu"), workers=workers)
    return {"z": res.centred_projection(), "n_diverged": np.asarray(res.n_diverged)}


def _sgd_point(point: dict, workers: int | None = None) -> dict[str, np.ndarray]:
    name = point["dataset"]
    ds = jkr_dataset(name)
    res = run_offline_sgd(ds, point["gamma"], 1, n_runs=point["n_runs"], n_updates=point["n_iter"],
                          init_scale=point["init_scale"], seed=point["seed"], dtype=torch.float32,
                          device=point.get("device", "cpu"), workers=workers)
    return {"z": res.centred_projection(), "n_diverged": np.asarray(res.n_diverged)}


def _fit_row(z: np.ndarray, prefix: str, params: OpenQuestionParams, seed: int) -> dict[str, float]:
    fit = student_t(z)
    lo, hi, _ = student_t_nu_interval(z, n_boot=params.nu_boot, seed=seed)
    k = max(10, int(params.hill_fraction * z.size))
    h = hill(z, k=k, n_boot=100, seed=seed)
    return {f"{prefix} nu": fit.nu, f"{prefix} nu low": lo, f"{prefix} nu high": hi,
            f"{prefix} Hill": h.alpha, f"{prefix} Hill low": h.ci_low, f"{prefix} Hill high": h.ci_high}


@dataclass(frozen=True, eq=False)
class Comparison:
    """SGD against hSGD at the paper's settings: samples ``z`` per data set and method (``"SGD"``,
    ``"hSGD"``, ``"hSGD refined"``), and one row per data set in ``frame``."""

    samples: dict[tuple[str, str], np.ndarray] = field(repr=False)
    frame: pd.DataFrame = field(repr=False)


def sgd_and_hsgd(params: OpenQuestionParams, *, seed: int, cache_dir: str | None = None) -> Comparison:
    """SGD (the shared ``jkr-sgd`` runs) and hSGD (cached under ``jkr-hsgd``) at the paper's settings, with
    their fitted Student-t ``nu`` (bootstrap interval) and Hill index (``k`` = ``hill_fraction`` of the runs,
    bootstrap interval), next to ``eta_*`` and ``eta^*``; hSGD also with the refined scheme."""
    samples, rows, hsgd_points = {}, [], []
    for name in params.datasets:
        st = jkr_settings(name)
        base = ({"dataset": name, "gamma": st.gamma, "n_iter": params.n_updates(name),
                 "init_scale": st.init_scale} | device_entry(params.device))
        hsgd_points += [base | {"n_runs": params.hsgd_runs, "substeps": params.substeps,
                                "max_step": params.max_step, "seed": derive_seed(seed, NAME, "hsgd", name)},
                        base | {"n_runs": params.refine_runs, "substeps": params.refine_substeps,
                                "max_step": params.max_step / 2,
                                "seed": derive_seed(seed, NAME, "hsgd-refined", name)}]
    hsgd_out = _simulated(cache_dir, "jkr-hsgd", hsgd_points, _hsgd_point, params.device,
                          "hSGD at the paper's settings")
    for i, name in enumerate(params.datasets):
        st = jkr_settings(name)
        k = params.n_updates(name)
        b = jkr_bounds(jkr_dataset(name), gamma=st.gamma, batch_size=st.batch_size, delta=st.delta)
        sgd = sgd_runs(name, params.n_runs, k, seed=seed, cache_dir=cache_dir, device=params.device)
        hs, fine = hsgd_out[2 * i], hsgd_out[2 * i + 1]
        row = {"data set": name, "eta_*": b.eta_lower, "eta^*": b.eta_upper, "SGD runs": int(sgd["z"].size),
               "hSGD runs": int(hs["z"].size), "updates (time)": k}
        for label, out in (("SGD", sgd), ("hSGD", hs), ("hSGD refined", fine)):
            z = np.asarray(out["z"], dtype=np.float64)
            samples[(name, label)] = z
            row |= _fit_row(z, label, params, derive_seed(seed, NAME, "fit", label, name))
            row[f"{label} diverged"] = int(out["n_diverged"])
        row["hSGD nu in [eta_*, eta^*] (2 se)"] = bool(
            row["hSGD nu high"] >= b.eta_lower and row["hSGD nu low"] <= b.eta_upper)
        row["SGD nu in [eta_*, eta^*] (2 se)"] = bool(
            row["SGD nu high"] >= b.eta_lower and row["SGD nu low"] <= b.eta_upper)
        rows.append(row)
    return Comparison(samples=samples, frame=pd.DataFrame(rows))


def gamma_sweep(params: OpenQuestionParams, *, seed: int, cache_dir: str | None = None) -> pd.DataFrame:
    """One row per (data set, ``gamma / gamma_bar``): the paper's bounds (``eta_*`` proven only below
    ``gamma_bar``), the rigorous facts about SGD, the Monte Carlo ``alpha`` where some rows expand, and the
    fitted Student-t ``nu`` of SGD and hSGD (``sweep_runs`` runs of ``sweep_iterations`` iterations each,
    cached per point under ``jkr-sweep-sgd`` and ``jkr-sweep-hsgd``)."""
    rows, sgd_points, hsgd_points, expanding, steps = [], [], [], {}, []
    for name in params.datasets:
        st = jkr_settings(name)
        ds = jkr_dataset(name)
        g_bar = jkr_bounds(ds, gamma=st.gamma).gamma_bar
        k = params.sweep_iterations or st.n_updates
        for frac in params.gamma_fractions:
            gamma = float(frac * g_bar)
            b = jkr_bounds(ds, gamma=gamma)
            steps.append((name, gamma))
            rows.append({"data set": name, "gamma/gamma_bar": float(frac), "gamma": gamma,
                         "eta_*": b.eta_lower, "eta^*": b.eta_upper, "eta_* proven": b.lower_valid})
            common = {"dataset": name, "gamma": gamma, "n_iter": k, "init_scale": st.init_scale,
                      "n_runs": params.sweep_runs} | device_entry(params.device)
            sgd_points.append(common | {"seed": derive_seed(seed, NAME, "sweep-sgd", name, float(frac))})
            hsgd_points.append(common | {"substeps": params.sweep_substeps, "max_step": params.max_step,
                                         "seed": derive_seed(seed, NAME, "sweep-hsgd", name, float(frac))})
    for row, (name, gamma), found in zip(rows, steps, _facts_at(steps, params, seed, cache_dir), strict=True):
        row |= found
        if not found["every step non-expansive"]:
            expanding.setdefault(name, []).append(gamma)
    sgd_out = _simulated(cache_dir, "jkr-sweep-sgd", sgd_points, _sgd_point, params.device, "sweep: SGD")
    hsgd_out = _simulated(cache_dir, "jkr-sweep-hsgd", hsgd_points, _hsgd_point, params.device,
                          "sweep: hSGD")
    for row, s_out, h_out in zip(rows, sgd_out, hsgd_out, strict=True):
        for label, out in (("SGD", s_out), ("hSGD", h_out)):
            z = np.asarray(out["z"], dtype=np.float64)
            row[f"{label} diverged"] = int(out["n_diverged"])
            if z.size < MIN_FIT_RUNS:  # (nearly) every run diverged: no law to fit
                row |= {f"{label} nu": math.nan, f"{label} nu low": math.nan, f"{label} nu high": math.nan}
                continue
            fit = student_t(z)
            row |= {f"{label} nu": fit.nu, f"{label} nu low": fit.nu_ci_low,
                    f"{label} nu high": fit.nu_ci_high}
    frame = pd.DataFrame(rows)
    mc = kesten_estimates(params, expanding, seed=seed, cache_dir=cache_dir)
    frame = frame.merge(mc, on=["data set", "gamma"], how="left")
    frame["MC above the rigorous bound"] = frame["MC alpha"] > frame["alpha upper bound"]
    return frame


def prose_numbers(fact_table: pd.DataFrame, comparison: Comparison, sweep_frame: pd.DataFrame
                  ) -> dict[str, float | int | str]:
    """The numbers the chapter's text quotes, by name (``oq-<set>-...``, ``oq-sweep-...``)."""
    out: dict[str, float | int | str] = {}
    f = fact_table.set_index("data set")
    for name, row in f.iterrows():
        out[f"oq-{name}-gmax"] = float(row["gamma max|a|^2"])
        out[f"oq-{name}-expanding"] = float(100 * row["rows expanding"])
        out[f"oq-{name}-maxnorm"] = float(row["max one-step norm"])
        out[f"oq-{name}-rho-high"] = float(row["rho(T) high"])
        out[f"oq-{name}-lambda2-high"] = float(math.log(row["rho(T) high"]))
        out[f"oq-{name}-bound"] = float(row["alpha upper bound"])
        out[f"oq-{name}-gamma-row-ratio"] = float(row["gamma_row"] / row["gamma_bar"])
        out[f"oq-{name}-lyapunov"] = float(row["Lyapunov exponent"])
    out["oq-no-tail"] = ", ".join(n for n, r in f.iterrows() if r["no power-law tail (proven)"]) or "none"
    out["oq-n-no-tail"] = int(f["no power-law tail (proven)"].sum())
    c = comparison.frame.set_index("data set")
    for name, row in c.iterrows():
        for label, key in (("SGD", "sgd"), ("hSGD", "hsgd"), ("hSGD refined", "hsgd-fine")):
            out[f"oq-{name}-{key}-nu"] = float(row[f"{label} nu"])
            out[f"oq-{name}-{key}-nu-low"] = float(row[f"{label} nu low"])
            out[f"oq-{name}-{key}-nu-high"] = float(row[f"{label} nu high"])
            out[f"oq-{name}-{key}-hill"] = float(row[f"{label} Hill"])
        out[f"oq-{name}-eta-lower"] = float(row["eta_*"])
        out[f"oq-{name}-eta-upper"] = float(row["eta^*"])
    out["oq-hsgd-in-band"] = int(c["hSGD nu in [eta_*, eta^*] (2 se)"].sum())
    out["oq-sgd-in-band"] = int(c["SGD nu in [eta_*, eta^*] (2 se)"].sum())
    out["oq-n-sets"] = len(c)
    out["oq-sgd-runs"] = int(c["SGD runs"].iloc[0])
    out["oq-hsgd-runs"] = int(c["hSGD runs"].iloc[0])
    s = sweep_frame
    mc = s[s["MC alpha"].notna()]
    out["oq-sweep-points"] = len(s)
    out["oq-sweep-nonexpansive"] = int(s["every step non-expansive"].sum())
    out["oq-sweep-mc-points"] = len(mc)
    out["oq-sweep-mc-above-bound"] = int(mc["MC above the rigorous bound"].sum())
    out["oq-sweep-sgd-min-nu"] = float(s["SGD nu"].min())
    out["oq-sweep-hsgd-max-nu"] = float(s["hSGD nu"].max())
    out["oq-sweep-diverged-points"] = int(((s["SGD diverged"] > 0) | (s["hSGD diverged"] > 0)).sum())
    unstable = s[s["Lyapunov exponent"] - 2 * s["Lyapunov se"] > 0]
    out["oq-sweep-unstable-points"] = len(unstable)
    out["oq-sweep-unstable-min-ratio"] = (float(unstable["gamma/gamma_bar"].min()) if len(unstable)
                                          else math.nan)
    both = s[s["hSGD nu"].notna()]
    inside = (both["hSGD nu high"] >= both["eta_*"]) & (both["hSGD nu low"] <= both["eta^*"])
    out["oq-sweep-hsgd-in-band"] = int(inside[both["eta_* proven"]].sum())
    out["oq-sweep-proven-points"] = int(both["eta_* proven"].sum())
    return out
