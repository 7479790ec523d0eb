"""Many independent chains of a linear-regression simulator (SGD or hSGD): the shared bookkeeping.

A chain whose state becomes non-finite or whose distance to ``x_star`` exceeds ``divergence_threshold``
is frozen at its last finite state, flagged in ``diverged`` and counted in ``n_diverged``; the running
average over iterations ``burn_in < k <= n_iter`` and snapshots at chosen steps are kept on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sgdtails._core.validation import check_choice, check_int, check_positive, check_sgd_args

__all__ = ["ChainLoop", "ChainResult", "check_problem", "check_run_args", "initial_state"]


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


def check_problem(problem: Any) -> None:
    for attr in ("spectrum", "x_star", "online", "d"):
        if not hasattr(problem, attr):
            raise ValueError("problem must be a sgdtails.linear.designs.GaussianDesign or FiniteDataset, "
                             f"got {type(problem).__name__}")


class ChainLoop:
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


def initial_state(problem: Any, x0: Any, x_star: np.ndarray, n_chains: int,
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
    """Validate the common arguments of :func:`sgdtails.linear.sgd.run_sgd` and
    :func:`sgdtails.linear.hsgd.run_hsgd`."""
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    n_chains = check_int("n_chains", n_chains, low=1)
    n_iter = check_int("n_iter", n_iter, low=1)
    burn_in = n_iter // 2 if burn_in is None else check_int("burn_in", burn_in, low=0,
                                                             high=n_iter - 1)
    thr = check_positive("divergence_threshold", divergence_threshold)
    return gamma, b, delta, n_chains, n_iter, burn_in, thr
