"""Homogenized SGD (Paquette et al. 2022) by Euler--Maruyama, many chains at once.

``dX = -gamma grad f(X) dt + gamma sqrt(2 L(X) Sigma / B) dW`` with time unit one SGD iteration,
``f = L + delta/2 |x|^2`` and ``L(x) = 1/2 (x - x_ref)' Sigma (x - x_ref) + noise2/2``.

The simulation runs in the eigenbasis of ``Sigma`` (rotated once; the identity for the diagonal
synthetic designs), where drift and diffusion are diagonal:
``dX~_j = -gamma [lambda_j (X~_j - x~ref_j) + delta X~_j] dt + gamma sqrt(2 L / B) sqrt(lambda_j) dW_j``.
Each iteration is split into ``m`` sub-steps ``dt = 1/m``; by default ``m`` is the smallest with
``gamma (lambda_1 + delta) dt <= max_step`` (0.05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sgdtails._core.seeding import torch_generator
from sgdtails._core.validation import check_float_dtype, check_int, check_positive
from sgdtails.linear.chains import ChainLoop, ChainResult, check_problem, check_run_args, initial_state

__all__ = ["default_substeps", "run_hsgd"]


def default_substeps(lambda_max: float, gamma: float, delta: float = 0.0,
                     max_step: float = 0.05) -> int:
    """Smallest ``m`` with ``gamma (lambda_1 + delta) / m <= max_step``."""
    lambda_max = check_positive("lambda_max", lambda_max)
    gamma = check_positive("gamma", gamma)
    delta = check_positive("delta", delta, allow_zero=True)
    max_step = check_positive("max_step", max_step)
    return max(1, math.ceil(gamma * (lambda_max + delta) / max_step - 1e-12))


def run_hsgd(
    problem: Any,
    gamma: float,
    batch_size: int,
    *,
    delta: float = 0.0,
    n_chains: int = 1000,
    n_iter: int = 1000,
    burn_in: int | None = None,
    substeps: int | None = None,
    max_step: float = 0.05,
    coarsen: int = 1,
    x0: Any = None,
    average: bool = False,
    snapshot_steps: Sequence[int] | None = None,
    seed: int | torch.Generator = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    divergence_threshold: float = 1e8,
) -> ChainResult:
    """Euler--Maruyama simulation of homogenized SGD; same arguments and result as
    :func:`sgdtails.linear.sgd.run_sgd` (``method="hsgd-em"``, ``substeps`` recorded).

    ``substeps``: ``m`` sub-steps per iteration (default :func:`default_substeps`).
    ``coarsen``: draw ``m * coarsen`` Gaussian increments per iteration and sum them in groups of
    ``coarsen`` (scaled by ``1/sqrt(coarsen)``); with the same ``seed``, ``(m, coarsen=2)`` and
    ``(2m, coarsen=1)`` are driven by the same Brownian path (used to test convergence in ``dt``).
    """
    check_problem(problem)
    dtype = check_float_dtype("dtype", dtype)
    gamma, b, delta, n_chains, n_iter, burn_in, thr = check_run_args(
        gamma, batch_size, delta, n_chains, n_iter, burn_in, divergence_threshold)
    lam_np = np.asarray(problem.spectrum, dtype=np.float64)
    m = (default_substeps(float(lam_np[0]), gamma, delta, max_step) if substeps is None
         else check_int("substeps", substeps, low=1))
    c = check_int("coarsen", coarsen, low=1)
    dev = torch.device(device)
    gen = torch_generator(seed, dev)
    x_star = problem.x_star(delta)
    v = problem.eigvecs
    v_t = None if v is None else torch.as_tensor(v, dtype=dtype, device=dev)

    def rot(x: np.ndarray) -> np.ndarray:
        return x if v is None else x @ v

    lam = torch.as_tensor(lam_np, dtype=dtype, device=dev)
    sqrt_lam = lam.sqrt()
    x_ref = torch.as_tensor(rot(np.asarray(problem.x_ref, dtype=np.float64)), dtype=dtype,
                            device=dev)
    noise2 = float(problem.noise2)
    dt = 1.0 / m
    x = initial_state(problem, x0, x_star, n_chains, dev, dtype)
    xs = torch.as_tensor(x_star, dtype=dtype, device=dev)
    loop = ChainLoop(x, xs, n_iter, burn_in, average, snapshot_steps, thr)
    xt = x if v_t is None else x @ v_t  # state in the eigenbasis
    d = problem.d
    # one buffer refilled every iteration: the same normals as torch.randn, without allocating (and
    # page-faulting) m * coarsen * n_chains * d fresh floats per iteration
    noise = torch.empty(m * c, n_chains, d, dtype=dtype, device=dev)
    for k in range(1, n_iter + 1):
        xi = noise.normal_(generator=gen)
        if c > 1:
            xi = xi.reshape(m, c, n_chains, d).sum(1) / math.sqrt(c)
        for j in range(m):
            z = xt - x_ref
            two_l = (lam * z.square()).sum(1, keepdim=True) + noise2
            drift = lam * z + delta * xt
            xt = xt - (gamma * dt) * drift + (gamma * math.sqrt(dt / b)) * (
                two_l.sqrt() * sqrt_lam * xi[j])
        x_new = xt if v_t is None else xt @ v_t.T
        loop.update(k, x_new)
        # frozen (diverged) chains keep their last accepted state
        xt = loop.x if v_t is None else loop.x @ v_t
    return loop.result(n_iter, x_star, method="hsgd-em", gamma=gamma, batch_size=b,
                       delta=delta, substeps=m, info={"coarsen": c, "dt": dt})
