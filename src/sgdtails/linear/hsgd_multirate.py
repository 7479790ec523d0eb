r"""Homogenized SGD at the paper's scale: a multirate exponential Euler--Maruyama scheme, many runs at once.

hSGD (time unit one iteration; Jiao & Keller-Ressel 2024, Section 2):
``dX = -gamma grad L_reg(X) dt + gamma sqrt((2/B) L(X) H) dW``, ``H = A'A/n``. In the eigenbasis of ``H``
(eigenvalues ``s_i``, coordinates ``e = V'(x - x_ref)``) every coordinate is an Ornstein--Uhlenbeck process
whose noise is modulated by one scalar, the loss:

.. math::
   de_i = -\theta_i (e_i - \mu_i)\,dt + \gamma\sqrt{s_i\,2L/B}\;dW_i,\qquad
   2L = \textstyle\sum_i s_i e_i^2 + 2L_{\min},\qquad \theta_i = \gamma(s_i + \delta').

On the paper's data one or a few coordinates are fast (``theta_1 ~ 1`` per iteration) and the rest are
slow (``theta_i ~ 1e-4``). A plain Euler scheme needs a sub-step of ``~0.05/theta_1`` for every coordinate
(``20 d`` normals per iteration). The scheme here is this project's:

- the drift of each coordinate is integrated exactly over its step (exponential Euler);
- fast coordinates (``theta_i > slow_step``) take ``substeps`` sub-steps per iteration, with ``2L`` taken at
  the start of each sub-step;
- a slow coordinate is updated once per window of ``w_i`` iterations (``w_i`` the largest power of two with
  ``theta_i w_i <= slow_step``), with the exact OU transition whose noise variance uses the time integral of
  ``2L`` over the window, accumulated on the fast sub-steps:
  ``Var = gamma^2 s_i / B * (int 2L dt / w) * (1 - exp(-2 theta_i w)) / (2 theta_i)``;
  its contribution to ``2L`` is held fixed within the window.

Given the path of ``L``, each slow transition is exact; the approximation is the frozen slow part of ``L``
within a window and the left-point ``L`` of each fast sub-step. Both vanish as ``substeps`` grows and
``slow_step`` shrinks; the tests and the book show the fitted tails do not move when both are refined.
A run costs ``substeps * (number of fast coordinates) + sum_i 1/w_i`` normals per iteration instead of
``20 d``. Runs are independent blocks with their own seeds (:mod:`sgdtails._core.parallel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdtails._core.parallel import block_ranges, map_blocks
from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import (
    check_float_dtype,
    check_in_interval,
    check_int,
    check_positive,
    check_sgd_args,
)
from sgdtails.linear.datasets import FiniteDataset
from sgdtails.linear.offline import ProjectedRuns, top_direction

__all__ = ["MultirateScheme", "multirate_scheme", "run_hsgd_multirate"]

#: slowest window, in iterations (coordinates with theta ~ 0, e.g. the null space of A, use it)
MAX_WINDOW = 1 << 12


@dataclass(frozen=True)
class MultirateScheme:
    """How the coordinates are split: ``fast`` indices (sub-stepped), and for each slow window ``w`` the
    indices updated every ``w`` iterations (``windows``: w -> indices). ``normals_per_iteration`` is the cost
    of one run-iteration; ``substeps`` and ``slow_step`` the accuracy settings."""

    fast: np.ndarray
    windows: dict[int, np.ndarray]
    substeps: int
    slow_step: float
    theta: np.ndarray

    @property
    def normals_per_iteration(self) -> float:
        return float(self.substeps * self.fast.size + sum(idx.size / w for w, idx in self.windows.items()))


def multirate_scheme(theta: Any, *, substeps: int, slow_step: float = 0.05) -> MultirateScheme:
    """Split coordinates with rates ``theta_i`` (per iteration) into fast ones (``theta_i > slow_step``) and
    slow windows (largest power of two ``w`` with ``theta_i w <= slow_step``, at most :data:`MAX_WINDOW`)."""
    th = np.asarray(theta, dtype=np.float64)
    substeps = check_int("substeps", substeps, low=1)
    slow_step = check_in_interval("slow_step", slow_step, 0.0, 1.0, closed_low=False)
    fast = np.flatnonzero(th > slow_step)
    windows: dict[int, list[int]] = {}
    for i in np.flatnonzero(th <= slow_step):
        w = MAX_WINDOW if th[i] <= 0 else int(min(MAX_WINDOW, 2 ** math.floor(math.log2(slow_step / th[i]))))
        windows.setdefault(max(w, 1), []).append(int(i))
    return MultirateScheme(fast=fast, windows={w: np.asarray(v) for w, v in sorted(windows.items())},
                           substeps=substeps, slow_step=slow_step, theta=th)


def _ou_factors(theta: torch.Tensor, span: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(-theta span)`` and ``(1 - exp(-2 theta span)) / (2 theta span)`` (-> 1 as ``theta -> 0``)."""
    x = theta * span
    small = x < 1e-12
    ratio = torch.where(small, torch.ones_like(x), -torch.expm1(-2 * x) / (2 * torch.where(small, 1.0, x)))
    return torch.exp(-x), ratio


def _block_runner(scheme: MultirateScheme, s: np.ndarray, mu: np.ndarray, e_ref: np.ndarray, noise2: float,
                  proj: np.ndarray, proj_offset: np.ndarray, *, gamma: float, batch: int, n_iter: int,
                  init_scale: float, coarsen: int, seed: int, dtype: torch.dtype, threshold: float):
    m = scheme.substeps
    dt = 1.0 / m
    f = scheme.fast

    def as_t(v: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype)

    th = as_t(scheme.theta)
    s_t, mu_t = as_t(s), as_t(mu)
    s_f, mu_f = s_t[f], mu_t[f]
    decay_f, ratio_f = _ou_factors(th[f], dt)
    # std of the fast OU increment over dt, per unit of sqrt(2L): gamma sqrt(s dt / B * ratio)
    noise_f = gamma * torch.sqrt(s_f * dt / batch * ratio_f)
    groups = [(w, torch.as_tensor(idx)) for w, idx in scheme.windows.items()]
    n = s.size

    def run_block(block: int, start: int, stop: int) -> dict[str, np.ndarray]:
        gen = torch_generator(derive_seed(seed, "hsgd-multirate", block))
        nb = stop - start
        e0 = init_scale * torch.randn(nb, n, generator=gen, dtype=torch.float64) - torch.as_tensor(e_ref)
        e0 = e0.to(dtype)
        ef = e0[:, f].clone()
        slow = [e0[:, idx].clone() for _, idx in groups]
        slow_2l = [(x * x * s_t[idx]).sum(1) for x, (_, idx) in zip(slow, groups, strict=True)]
        integral = [torch.zeros(nb, dtype=dtype) for _ in groups]
        since = [0 for _ in groups]
        alive = torch.ones(nb, dtype=torch.bool)
        for k in range(1, n_iter + 1):
            frozen = sum(slow_2l, torch.full((nb,), noise2, dtype=dtype))
            acc = torch.zeros(nb, dtype=dtype)
            if f.size:
                xi = torch.randn(m * coarsen, nb, f.size, generator=gen, dtype=dtype)
                if coarsen > 1:
                    xi = xi.view(m, coarsen, nb, f.size).sum(1) / math.sqrt(coarsen)
                for j in range(m):
                    two_l = frozen + (ef * ef * s_f).sum(1)
                    acc += two_l
                    ef.sub_(mu_f).mul_(decay_f).add_(mu_f)
                    ef.addcmul_(xi[j], noise_f * two_l.clamp_min(0).sqrt().unsqueeze(1))
                acc *= dt
            else:
                acc += frozen
            for g, (w, idx) in enumerate(groups):
                integral[g] += acc
                since[g] += 1
                if since[g] == w or k == n_iter:
                    span = since[g]
                    decay, ratio = _ou_factors(th[idx], span)
                    # exact OU transition given int 2L dt over the window
                    sd = gamma * torch.sqrt(s_t[idx] / batch * ratio)
                    x = slow[g]
                    x.sub_(mu_t[idx]).mul_(decay).add_(mu_t[idx])
                    x.addcmul_(torch.randn(nb, x.shape[1], generator=gen, dtype=dtype),
                               sd * integral[g].clamp_min(0).sqrt().unsqueeze(1))
                    slow_2l[g] = (x * x * s_t[idx]).sum(1)
                    integral[g].zero_()
                    since[g] = 0
            if k % 64 == 0 or k == n_iter:
                two_l = frozen + (ef * ef * s_f).sum(1)
                alive &= torch.isfinite(two_l) & (two_l <= threshold)
        full = torch.empty(nb, n, dtype=torch.float64)
        full[:, f] = ef.to(torch.float64)
        for (_, idx), x in zip(groups, slow, strict=True):
            full[:, idx] = x.to(torch.float64)
        return {"projections": (full @ torch.as_tensor(proj)).numpy() + proj_offset,
                "distance": torch.linalg.vector_norm(full, dim=1).numpy(), "diverged": (~alive).numpy()}

    return run_block


def run_hsgd_multirate(
    dataset: FiniteDataset,
    gamma: float,
    batch_size: int = 1,
    *,
    delta: float = 0.0,
    n_runs: int = 1000,
    n_iter: int = 1000,
    init_scale: float = 0.5,
    directions: Any = None,
    substeps: int = 16,
    slow_step: float = 0.05,
    coarsen: int = 1,
    seed: int = 0,
    dtype: torch.dtype | str = torch.float32,
    block_size: int = 16384,
    workers: int | None = None,
    divergence_threshold: float = 1e16,
    progress: bool = True,
) -> ProjectedRuns:
    """``n_runs`` runs of hSGD on ``dataset`` for ``n_iter`` units of time (iterations) from
    ``x_0 ~ init_scale N(0, I)``, by the multirate scheme of the module docstring.

    ``delta``: ridge in Hessian units. ``substeps``: fast sub-steps per iteration; ``slow_step``: the largest
    ``theta_i * step`` of a slow coordinate. ``coarsen``: draw ``substeps * coarsen`` fast increments and sum
    them in groups (with the same seed, ``(m, coarsen=2)`` and ``(2m, 1)`` follow the same Brownian path).
    Returns :class:`~sgdtails.linear.offline.ProjectedRuns` (projections on ``directions``, default ``q_1``).
    A run whose ``2L`` becomes non-finite or exceeds ``divergence_threshold`` is flagged as diverged.
    """
    if not isinstance(dataset, FiniteDataset):
        raise ValueError(f"dataset must be a FiniteDataset, got {type(dataset).__name__}")
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    n_runs = check_int("n_runs", n_runs, low=1)
    n_iter = check_int("n_iter", n_iter, low=1)
    init_scale = check_positive("init_scale", init_scale, allow_zero=True)
    coarsen = check_int("coarsen", coarsen, low=1)
    dtype = check_float_dtype("dtype", dtype)
    threshold = check_positive("divergence_threshold", divergence_threshold)
    s = np.asarray(dataset.spectrum, dtype=np.float64)
    v = np.asarray(dataset.eigvecs, dtype=np.float64)
    theta = gamma * (s + delta)
    scheme = multirate_scheme(theta, substeps=substeps, slow_step=slow_step)
    x_ref = np.asarray(dataset.x_ref, dtype=np.float64)
    e_ref = v.T @ x_ref  # e_0 = V'(x_0 - x_ref) = init_scale V'xi - V'x_ref, and V'xi ~ N(0, I)
    mu = -delta * e_ref / (s + delta) if delta > 0 else np.zeros_like(s)
    u = top_direction(dataset)[:, None] if directions is None else np.asarray(directions, dtype=np.float64)
    if u.ndim == 1:
        u = u[:, None]
    if u.shape[0] != dataset.d:
        raise ValueError(f"directions must have {dataset.d} rows, got shape {u.shape}")
    run_block = _block_runner(scheme, s, mu, e_ref, float(dataset.noise2), v.T @ u, x_ref @ u, gamma=gamma,
                              batch=b, n_iter=n_iter, init_scale=init_scale, coarsen=coarsen, seed=int(seed),
                              dtype=dtype, threshold=threshold)
    parts = map_blocks(run_block, block_ranges(n_runs, block_size), workers=workers, progress=progress,
                       desc=f"hSGD on {dataset.name}")
    diverged = np.concatenate([p["diverged"] for p in parts])
    return ProjectedRuns(
        projections=np.concatenate([p["projections"] for p in parts]),
        distance=np.concatenate([p["distance"] for p in parts]), final=None, diverged=diverged,
        n_diverged=int(diverged.sum()), directions=u, method=f"hsgd-multirate-m{substeps}",
        gamma=gamma, batch_size=b, delta=delta, n_updates=n_iter)
