r"""Homogenized SGD at the paper's scale: a multirate exponential Euler--Maruyama scheme, many runs at once.

hSGD (time unit one iteration; Jiao & Keller-Ressel 2024, Section 2):
``dX = -gamma grad L_reg(X) dt + gamma sqrt((2/B) L(X) H) dW``, ``H = A'A/n``. In the eigenbasis of ``H``
(eigenvalues ``s_i``, coordinates ``e = V'(x - x_ref)``) every coordinate is an Ornstein--Uhlenbeck process
whose noise is modulated by one scalar, the loss:

.. math::
   de_i = -\theta_i (e_i - \mu_i)\,dt + \gamma\sqrt{s_i\,2L/B}\;dW_i,\qquad
   2L = \textstyle\sum_i s_i e_i^2 + 2L_{\min},\qquad \theta_i = \gamma(s_i + \delta').

On the paper's data one or a few coordinates are fast (``theta_1 ~ 1`` per iteration) and the rest are
slow (down to ``theta_i ~ 1e-4``). A plain Euler scheme needs a step of ``~0.05/theta_1`` for every
coordinate (``20 d`` normals per iteration). The scheme here is this project's:

- time advances on a fine grid of ``dt = 1/substeps`` iterations; ``2L`` is evaluated on it and its time
  integral accumulated;
- coordinate ``i`` moves once per window of ``w_i`` fine steps, ``w_i`` the largest power of two with
  ``theta_i w_i dt <= max_step`` (at least 1, at most ``MAX_WINDOW`` iterations), by the exact OU
  transition given the integral of ``2L`` over its window:
  ``e_i <- mu_i + exp(-theta_i w dt) (e_i - mu_i) + gamma sqrt(s_i / B * r * int 2L dt) xi``,
  ``r = (1 - exp(-2 theta_i w dt)) / (2 theta_i w dt)``; its contribution to ``2L`` is held fixed within
  the window. With ``w = 1`` this is exponential Euler--Maruyama with ``2L`` at the start of the step.

Given the path of ``L``, each transition is exact; the approximation is the frozen contributions to ``L``
within a window, which vanishes as ``substeps`` grows and ``max_step`` shrinks; the tests and the book show
the fitted tails do not move when both are refined. A run costs ``sum_i substeps / w_i`` normals per
iteration (on the paper's data 20 to 40 instead of ``20 d``). Runs are independent blocks with their own
seeds (:mod:`sgdtails._core.parallel`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
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
from sgdtails.linear.offline import ProjectedRuns, check_directions

__all__ = ["MultirateScheme", "multirate_scheme", "run_hsgd_multirate"]

#: slowest window, in iterations (coordinates with theta ~ 0, e.g. the null space of A, use it)
MAX_WINDOW = 1 << 12


@dataclass(frozen=True)
class MultirateScheme:
    """The coordinates grouped by window: ``windows`` maps ``w`` (in fine steps of ``1/substeps``
    iteration) to the indices moved every ``w`` fine steps. ``normals_per_iteration``: the cost of one
    run-iteration."""

    windows: dict[int, np.ndarray]
    substeps: int
    max_step: float
    theta: np.ndarray

    @property
    def normals_per_iteration(self) -> float:
        return float(sum(self.substeps * idx.size / w for w, idx in self.windows.items()))

    @property
    def fast(self) -> np.ndarray:
        """Coordinates moved at every fine step (``w = 1``)."""
        return self.windows.get(1, np.zeros(0, dtype=np.int64))


def multirate_scheme(theta: Any, *, substeps: int, max_step: float = 0.05) -> MultirateScheme:
    """Windows for coordinates with rates ``theta_i`` (per iteration): the largest power of two ``w`` with
    ``theta_i w / substeps <= max_step``, at least 1 and at most ``MAX_WINDOW * substeps`` fine steps."""
    th = np.asarray(theta, dtype=np.float64)
    substeps = check_int("substeps", substeps, low=1)
    max_step = check_in_interval("max_step", max_step, 0.0, 1.0, closed_low=False)
    top = MAX_WINDOW * substeps
    windows: dict[int, list[int]] = {}
    for i, t in enumerate(th):
        ratio = max_step * substeps / t if t > 0 else math.inf
        w = 1 if ratio < 2 else int(min(top, 2 ** math.floor(math.log2(min(ratio, top)))))
        windows.setdefault(w, []).append(i)
    return MultirateScheme(windows={w: np.asarray(v) for w, v in sorted(windows.items())}, substeps=substeps,
                           max_step=max_step, theta=th)


def _ou_factors(theta: torch.Tensor, span: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(-theta span)`` and ``(1 - exp(-2 theta span)) / (2 theta span)`` (-> 1 as ``theta -> 0``)."""
    x = theta * span
    small = x < 1e-12
    ratio = torch.where(small, torch.ones_like(x), -torch.expm1(-2 * x) / (2 * torch.where(small, 1.0, x)))
    return torch.exp(-x), ratio


def _graphs_supported(device: torch.device) -> bool:
    """Whether fine steps can be replayed as CUDA graphs on ``device``."""
    return device.type == "cuda"


def _captured(step: Callable[[], None]) -> Any:
    """``step`` (in-place CUDA work) recorded as a CUDA graph, not executed: one replay launches all its
    kernels at once. ``None``, with a warning, where capture fails (the caller then steps eagerly)."""
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            step()
    except RuntimeError as exc:
        warnings.warn(f"CUDA graph capture failed, stepping eagerly: {exc}", RuntimeWarning, stacklevel=2)
        return None
    return graph


def _block_runner(scheme: MultirateScheme, s: np.ndarray, mu: np.ndarray, e_ref: np.ndarray, noise2: float,
                  proj: np.ndarray, proj_offset: np.ndarray, *, gamma: float, batch: int, n_iter: int,
                  init_scale: float, seed: int, dtype: torch.dtype, threshold: float, device: torch.device,
                  use_graphs: bool):
    m = scheme.substeps
    dt = 1.0 / m

    def as_t(v: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)

    th, s_t, mu_t = as_t(scheme.theta), as_t(s), as_t(mu)
    groups = []
    for w, idx in scheme.windows.items():
        it = torch.as_tensor(idx, device=device)
        decay, ratio = _ou_factors(th[it], w * dt)
        groups.append((w, it, s_t[it], mu_t[it], decay, gamma * torch.sqrt(s_t[it] / batch * ratio)))
    n = s.size
    n_fine = n_iter * m

    windows = [w for w, *_ in groups]  # ascending powers of two: the groups moving at step k are a prefix

    def n_moving(k: int) -> int:
        return sum(1 for w in windows if k % w == 0)

    def run_block(block: int, start: int, stop: int) -> dict[str, np.ndarray]:
        gen = torch_generator(derive_seed(seed, "hsgd-multirate", block), device)
        nb = stop - start
        e0 = (init_scale * torch.randn(nb, n, generator=gen, dtype=torch.float64, device=device)
              - torch.as_tensor(e_ref, device=device))
        e0 = e0.to(dtype)
        # every tensor below is updated in place, so that a CUDA graph captured once replays the steps
        state = [e0[:, idx].clone() for _, idx, *_ in groups]
        noise = [torch.empty_like(x) for x in state]
        part = [(x * x * sg).sum(1) for x, (_, _, sg, *_) in zip(state, groups, strict=True)]
        two_l = torch.empty(nb, dtype=dtype, device=device)
        # int 2L dt since the start (float64), and its value at each group's last move
        cumulative = torch.zeros(nb, dtype=torch.float64, device=device)
        at_move = [cumulative.clone() for _ in groups]
        alive = torch.ones(nb, dtype=torch.bool, device=device)

        def recompute() -> None:  # 2L from its parts (no drift in float32)
            two_l.fill_(noise2)
            for p in part:
                two_l.add_(p)

        def move(g: int, decay: torch.Tensor, sd: torch.Tensor) -> None:
            """Group ``g``'s exact OU transition over its window, driven by ``noise[g]``."""
            sg, mg = groups[g][2], groups[g][3]
            integral = (cumulative - at_move[g]).to(dtype).clamp_min(0)
            x = state[g]
            x.sub_(mg).mul_(decay).add_(mg)
            x.addcmul_(noise[g], sd * integral.sqrt().unsqueeze(1))
            new = (x * x * sg).sum(1)
            two_l.add_(new - part[g])
            part[g].copy_(new)
            at_move[g].copy_(cumulative)

        def fine_step(moving: int) -> None:
            """One fine step in which the first ``moving`` groups move by a full window."""
            cumulative.add_(two_l.to(torch.float64), alpha=dt)
            for g in range(moving):
                move(g, groups[g][4], groups[g][5])

        def last_step(k: int) -> None:
            """The last fine step: every group moves, by the rest of its window."""
            cumulative.add_(two_l.to(torch.float64), alpha=dt)
            for g, (w, it, sg, _, decay, sd) in enumerate(groups):
                if k % w:
                    decay, ratio = _ou_factors(th[it], (k % w) * dt)
                    sd = gamma * torch.sqrt(sg / batch * ratio)
                noise[g].normal_(generator=gen)
                move(g, decay, sd)

        recompute()
        replays: dict[int, Any] = {}
        graphs = use_graphs
        for k in range(1, n_fine + 1):
            if k == n_fine:
                last_step(k)
            else:
                moving = n_moving(k)
                for g in range(moving):  # the normals, in the order the groups use them
                    noise[g].normal_(generator=gen)
                replay = graphs and k > 1  # step 1 runs eagerly: it initialises the kernels graphs capture
                if replay and moving not in replays:
                    replays[moving] = _captured(lambda j=moving: fine_step(j))
                    replay = graphs = replays[moving] is not None
                if replay:
                    replays[moving].replay()
                else:
                    fine_step(moving)
            if k % m == 0:
                recompute()
            if k % (64 * m) == 0 or k == n_fine:
                alive &= torch.isfinite(two_l) & (two_l <= threshold)
        full = torch.empty(nb, n, dtype=torch.float64, device=device)
        for (_, idx, *_), x in zip(groups, state, strict=True):
            full[:, idx] = x.to(torch.float64)
        return {"projections": (full @ torch.as_tensor(proj, device=device)).cpu().numpy() + proj_offset,
                "distance": torch.linalg.vector_norm(full, dim=1).cpu().numpy(),
                "diverged": (~alive).cpu().numpy()}

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
    max_step: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    block_size: int = 16384,
    workers: int | None = None,
    divergence_threshold: float = 1e16,
    progress: bool = True,
    cuda_graphs: bool | None = None,
) -> ProjectedRuns:
    """``n_runs`` runs of hSGD on ``dataset`` for ``n_iter`` units of time (iterations) from
    ``x_0 ~ init_scale N(0, I)``, by the multirate scheme of the module docstring.

    ``delta``: ridge in Hessian units. ``substeps``: fine steps per iteration; ``max_step``: the largest
    ``theta_i * window`` of a coordinate moved less often than every fine step.
    Returns :class:`~sgdtails.linear.offline.ProjectedRuns` (projections on ``directions``, default ``q_1``).
    A run whose ``2L`` becomes non-finite or exceeds ``divergence_threshold`` is flagged as diverged.
    ``cuda_graphs`` (default: on a CUDA device): replay each fine step's kernels as a CUDA graph, one per
    pattern of moving groups (the loop is launch-bound on a GPU); the numbers are those of the eager loop.
    """
    if not isinstance(dataset, FiniteDataset):
        raise ValueError(f"dataset must be a FiniteDataset, got {type(dataset).__name__}")
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    n_runs = check_int("n_runs", n_runs, low=1)
    n_iter = check_int("n_iter", n_iter, low=1)
    init_scale = check_positive("init_scale", init_scale, allow_zero=True)
    dtype = check_float_dtype("dtype", dtype)
    threshold = check_positive("divergence_threshold", divergence_threshold)
    s = np.asarray(dataset.spectrum, dtype=np.float64)
    v = np.asarray(dataset.eigvecs, dtype=np.float64)
    theta = gamma * (s + delta)
    scheme = multirate_scheme(theta, substeps=substeps, max_step=max_step)
    x_ref = np.asarray(dataset.x_ref, dtype=np.float64)
    e_ref = v.T @ x_ref  # e_0 = V'(x_0 - x_ref) = init_scale V'xi - V'x_ref, and V'xi ~ N(0, I)
    mu = -delta * e_ref / (s + delta) if delta > 0 else np.zeros_like(s)
    u = check_directions(dataset, directions)
    dev = torch.device(device)
    use_graphs = _graphs_supported(dev) if cuda_graphs is None else bool(cuda_graphs)
    if use_graphs and not _graphs_supported(dev):
        raise ValueError(f"cuda_graphs=True needs a CUDA device, got device={device!r}")
    if dev.type != "cpu":  # an accelerator takes every run at once
        block_size, workers = n_runs, 1
    run_block = _block_runner(scheme, s, mu, e_ref, float(dataset.noise2), v.T @ u, x_ref @ u, gamma=gamma,
                              batch=b, n_iter=n_iter, init_scale=init_scale, seed=int(seed),
                              dtype=dtype, threshold=threshold, device=dev, use_graphs=use_graphs)
    parts = map_blocks(run_block, block_ranges(n_runs, block_size), workers=workers, progress=progress,
                       desc=f"hSGD on {dataset.name}")
    return ProjectedRuns.from_blocks(parts, directions=u, method=f"hsgd-multirate-m{substeps}", gamma=gamma,
                                     batch_size=b, delta=delta, n_updates=n_iter)
