"""Mini-batch SGD for ridge least squares, many independent chains at once (torch, no loop over chains).

``x_{k+1} = x_k - gamma [ (1/B) sum_{i<=B} a_i (a_i . x_k - y_i) + delta x_k ]``

Online: fresh Gaussian rows each step (:class:`sgdtails.data.GaussianDesign`). Offline: rows of a
:class:`sgdtails.data.FiniteDataset` sampled uniformly with replacement.

The per-step stochastic gradient is produced by a *gradient sampler*: a factory registered in
:data:`GRADIENT_SAMPLERS` that returns a function ``X (N, d) -> (1/B) sum a_i (a_i . X - y_i)``.
``"direct"`` draws the B rows explicitly (``O(B d)`` per chain); another sampler (e.g. an exact
``O(d + B)`` "reduced" one) can be registered under its name without touching the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sgdtails._validation import check_choice, check_float_dtype, check_int, check_positive
from sgdtails.reduced import linear_gradient_sampler as reduced_gradient_sampler
from sgdtails.seeding import torch_generator

__all__ = [
    "GRADIENT_SAMPLERS",
    "ChainResult",
    "GradientFn",
    "direct_gradient_sampler",
    "run_sgd",
]

GradientFn = Callable[[torch.Tensor], torch.Tensor]
#: factory(problem, batch_size, gen, device, dtype) -> GradientFn
GradientSamplerFactory = Callable[[Any, int, torch.Generator, torch.device, torch.dtype],
                                  GradientFn]


@dataclass(frozen=True, eq=False)
class ChainResult:
    """Result of ``N`` independent chains (SGD or hSGD).

    ``final``: last iterates ``(N, d)``; ``average``: running average of the iterates over
    iterations ``burn_in < k <= n_iter`` (or ``None``); ``snapshots``: iterates at
    ``snapshot_steps`` ``(S, N, d)`` (or ``None``). A chain whose state became non-finite or whose
    distance to ``x_star`` exceeded ``divergence_threshold`` is frozen at its last finite state,
    flagged in ``diverged`` and counted in ``n_diverged``; :meth:`centered` excludes it.
    """

    final: np.ndarray
    average: np.ndarray | None
    snapshots: np.ndarray | None
    snapshot_steps: tuple[int, ...]
    diverged: np.ndarray
    n_diverged: int
    x_star: np.ndarray
    method: str
    gamma: float
    batch_size: int
    delta: float
    n_iter: int
    burn_in: int
    substeps: int = 1
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return int(self.final.shape[0])

    def centered(self, which: str = "final") -> np.ndarray:
        """Iterates minus ``x_star`` for the chains that did not diverge (``"final"``/``"average"``)."""
        check_choice("which", which, ["final", "average"])
        x = self.final if which == "final" else self.average
        if x is None:
            raise ValueError("which='average' needs a run with average=True")
        return x[~self.diverged] - self.x_star


def direct_gradient_sampler(problem: Any, batch_size: int, gen: torch.Generator,
                            device: torch.device, dtype: torch.dtype) -> GradientFn:
    """Draw the ``B`` rows explicitly and return ``X -> (1/B) A'(A X - y)`` per chain."""
    b = batch_size
    if problem.online:

        def grad_online(x: torch.Tensor) -> torch.Tensor:
            a, y = problem.sample((x.shape[0], b), gen, dtype=dtype, device=device)
            r = torch.einsum("nbd,nd->nb", a, x) - y
            return torch.einsum("nbd,nb->nd", a, r) / b

        return grad_online
    feats = torch.as_tensor(problem.features, dtype=dtype, device=device)
    targ = torch.as_tensor(problem.targets, dtype=dtype, device=device)
    n_rows = feats.shape[0]

    feats = feats.contiguous()
    d = feats.shape[1]

    def grad_offline(x: torch.Tensor) -> torch.Tensor:
        # rows uniformly with replacement; (1/B) sum_i a_i r_i as one fused embedding_bag (3-4x faster
        # on the CPU than two batched einsums, same law and random stream)
        n = x.shape[0]
        idx = torch.randint(0, n_rows, (n, b), generator=gen, device=device)
        a = torch.index_select(feats, 0, idx.reshape(-1)).view(n, b, d)
        r = torch.linalg.vecdot(a, x[:, None, :]) - targ[idx]
        return torch.nn.functional.embedding_bag(idx, feats, per_sample_weights=r, mode="sum").div_(b)

    return grad_offline


#: registry of gradient samplers; ``run_sgd(sampler=name)`` looks names up here
GRADIENT_SAMPLERS: dict[str, GradientSamplerFactory] = {"direct": direct_gradient_sampler,
                                                       "reduced": reduced_gradient_sampler}


def _resolve_sampler(sampler: str, problem: Any) -> str:
    check_choice("sampler", sampler, ["auto", *GRADIENT_SAMPLERS])
    if sampler != "auto":
        return sampler
    if "reduced" in GRADIENT_SAMPLERS and problem.online:
        return "reduced"
    return "direct"


def _check_problem(problem: Any) -> None:
    for attr in ("spectrum", "x_star", "online", "d"):
        if not hasattr(problem, attr):
            raise ValueError("problem must be a sgdtails.data.GaussianDesign or FiniteDataset, "
                             f"got {type(problem).__name__}")


class _ChainLoop:
    """Shared bookkeeping of SGD and hSGD: divergence freezing, running average, snapshots."""

    def __init__(self, x: torch.Tensor, x_star: torch.Tensor, n_iter: int, burn_in: int,
                 average: bool, snapshot_steps: Sequence[int] | None, threshold: float) -> None:
        self.x = x
        self.x_star = x_star
        self.alive = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        self.threshold = threshold
        self.burn_in = burn_in
        self.avg = torch.zeros_like(x, dtype=torch.float64) if average else None
        steps = sorted({check_int("snapshot_steps", s, low=1, high=n_iter)
                        for s in (snapshot_steps or ())})
        self.steps = tuple(steps)
        self.snaps: list[np.ndarray] = []

    def update(self, k: int, x_new: torch.Tensor) -> None:
        """Accept ``x_new`` for iteration ``k`` (1-based) on chains that stay finite and bounded."""
        dist = torch.linalg.vector_norm(x_new - self.x_star, dim=1)
        ok = torch.isfinite(dist) & (dist <= self.threshold)
        self.alive &= ok
        self.x = torch.where(self.alive.unsqueeze(1), x_new, self.x)
        if self.avg is not None and k > self.burn_in:
            self.avg += self.x.to(torch.float64)
        if k in self.steps:
            self.snaps.append(self.x.to(torch.float64).cpu().numpy())

    def result(self, n_iter: int, x_star: np.ndarray, **kw: Any) -> ChainResult:
        diverged = (~self.alive).cpu().numpy()
        avg = None
        if self.avg is not None:
            avg = (self.avg / max(n_iter - self.burn_in, 1)).cpu().numpy()
        snaps = np.stack(self.snaps) if self.snaps else None
        return ChainResult(final=self.x.to(torch.float64).cpu().numpy(), average=avg,
                           snapshots=snaps, snapshot_steps=self.steps, diverged=diverged,
                           n_diverged=int(diverged.sum()), x_star=x_star, n_iter=n_iter,
                           burn_in=self.burn_in, **kw)


def _initial_state(problem: Any, x0: Any, x_star: np.ndarray, n_chains: int,
                   device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if x0 is None:
        x0 = x_star
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape not in ((problem.d,), (n_chains, problem.d)) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be finite with shape ({problem.d},) or ({n_chains}, "
                         f"{problem.d}), got {x0.shape}")
    x = torch.as_tensor(x0, dtype=dtype, device=device)
    return x.expand(n_chains, problem.d).clone() if x.ndim == 1 else x.clone()


def check_run_args(gamma: Any, batch_size: Any, delta: Any, n_chains: Any, n_iter: Any,
                   burn_in: Any, divergence_threshold: Any) -> tuple[float, int, float, int, int,
                                                                     int, float]:
    """Validate the common arguments of :func:`run_sgd` and :func:`sgdtails.hsgd.run_hsgd`."""
    gamma = check_positive("gamma", gamma)
    b = check_int("batch_size", batch_size, low=1)
    delta = check_positive("delta", delta, allow_zero=True)
    n_chains = check_int("n_chains", n_chains, low=1)
    n_iter = check_int("n_iter", n_iter, low=1)
    burn_in = n_iter // 2 if burn_in is None else check_int("burn_in", burn_in, low=0,
                                                             high=n_iter - 1)
    thr = check_positive("divergence_threshold", divergence_threshold)
    return gamma, b, delta, n_chains, n_iter, burn_in, thr


def run_sgd(
    problem: Any,
    gamma: float,
    batch_size: int,
    *,
    delta: float = 0.0,
    n_chains: int = 1000,
    n_iter: int = 1000,
    burn_in: int | None = None,
    x0: Any = None,
    average: bool = False,
    snapshot_steps: Sequence[int] | None = None,
    seed: int | torch.Generator = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    sampler: str = "auto",
    divergence_threshold: float = 1e8,
) -> ChainResult:
    """Run ``n_chains`` independent SGD chains for ``n_iter`` iterations.

    ``problem``: :class:`~sgdtails.data.GaussianDesign` (online, population SGD) or
    :class:`~sgdtails.data.FiniteDataset` (offline, rows with replacement). ``x0`` defaults to the
    ridge minimiser ``x* = (Sigma + delta I)^-1 Sigma x_true``. ``burn_in`` (default ``n_iter//2``)
    only affects the running ``average``. ``sampler``: ``"direct"`` or any registered name;
    ``"auto"`` picks ``"reduced"`` when registered and the data are online, else ``"direct"``.
    """
    _check_problem(problem)
    dtype = check_float_dtype("dtype", dtype)
    gamma, b, delta, n_chains, n_iter, burn_in, thr = check_run_args(
        gamma, batch_size, delta, n_chains, n_iter, burn_in, divergence_threshold)
    name = _resolve_sampler(sampler, problem)
    dev = torch.device(device)
    gen = torch_generator(seed, dev)
    x_star = problem.x_star(delta)
    grad = GRADIENT_SAMPLERS[name](problem, b, gen, dev, dtype)
    x = _initial_state(problem, x0, x_star, n_chains, dev, dtype)
    loop = _ChainLoop(x, torch.as_tensor(x_star, dtype=dtype, device=dev), n_iter, burn_in,
                      average, snapshot_steps, thr)
    for k in range(1, n_iter + 1):
        xk = loop.x
        loop.update(k, xk - gamma * (grad(xk) + delta * xk))
    kind = "online" if problem.online else "offline"
    return loop.result(n_iter, x_star, method=f"sgd-{kind}-{name}", gamma=gamma,
                       batch_size=b, delta=delta)
