"""Offline SGD at the paper's scale: many runs on a finite data set, in cache-sized blocks on every core.

One update of run ``j`` (the paper's SGD, Section 2, with the ridge in Hessian units ``delta' = delta / n``):

``x <- x - gamma [ (1/B) sum_{i in Omega} a_i (a_i' x - b_i) + delta' x ]``,

``Omega`` the first ``B`` entries of a fresh random permutation of the ``n`` rows
(``batch_rows="distinct"``, the published runs) or ``B`` rows drawn with replacement (``"replacement"``, the
paper's appendix); identical for ``B = 1``. Runs start at ``x_0 ~ init_scale N(0, I_d)`` (the paper's random
initial points) or at a given point.

The runs are split into blocks of ``block_size`` runs (a block's state stays in the core's cache); each block
has its own generator seeded with ``derive_seed(seed, "offline-sgd", block)``, so the result does not depend
on the number of workers. Per step a run reads one data row per batch entry: the kernel is bound by that read
and one fused multiply-add per coordinate (``benchmarks/`` measures it against the machine's limit).

Only what the experiments need leaves a block: the final iterates' projections on chosen directions
(default the top right singular vector ``q_1`` of ``A``), their distance to the least-squares solution, and
(optionally) the final iterates themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdtails._core.parallel import block_ranges, map_blocks
from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import (
    check_choice,
    check_float_dtype,
    check_int,
    check_positive,
    check_sgd_args,
)
from sgdtails.linear.datasets import FiniteDataset

__all__ = ["BATCH_ROWS", "ProjectedRuns", "check_directions", "distinct_rows", "run_offline_sgd",
           "top_direction"]

BATCH_ROWS = ("distinct", "replacement")
#: steps between two checks for diverged runs (and between two draws of the row indices)
CHUNK_STEPS = 64


@dataclass(frozen=True, eq=False)
class ProjectedRuns:
    """Final iterates of ``N`` runs, seen through ``p`` directions.

    ``projections`` (N, p): ``u_j' x_K`` for the directions ``u_j`` (columns of ``directions``);
    ``distance`` (N,): ``|x_K - x_ref|``; ``final`` (N, d) or ``None``; ``diverged`` (N,) flags runs whose
    state became non-finite or left the ball of radius ``divergence_threshold`` around ``x_ref`` (frozen at
    their last checked state, excluded by :meth:`centred_projection`), ``n_diverged`` counts them.
    """

    projections: np.ndarray
    distance: np.ndarray
    final: np.ndarray | None
    diverged: np.ndarray
    n_diverged: int
    directions: np.ndarray
    method: str
    gamma: float
    batch_size: int
    delta: float
    n_updates: int

    @property
    def n_runs(self) -> int:
        return int(self.projections.shape[0])

    @classmethod
    def from_blocks(cls, parts: list[dict[str, np.ndarray]], **settings: Any) -> ProjectedRuns:
        """Concatenate the blocks' ``projections``, ``distance``, ``diverged`` (and ``final`` where every
        block has it); ``settings`` are the remaining fields (``directions``, ``method``, ``gamma``, ...)."""
        diverged = np.concatenate([p["diverged"] for p in parts])
        final = np.concatenate([p["final"] for p in parts]) if all("final" in p for p in parts) else None
        return cls(projections=np.concatenate([p["projections"] for p in parts]),
                   distance=np.concatenate([p["distance"] for p in parts]), final=final, diverged=diverged,
                   n_diverged=int(diverged.sum()), **settings)

    def centred_projection(self, which: int = 0) -> np.ndarray:
        """``z = y - mean(y)`` with ``y = u_which' x_K`` over the runs that did not diverge (the paper's
        statistic for ``u = q_1``)."""
        y = self.projections[~self.diverged, check_int("which", which, low=0,
                                                         high=self.projections.shape[1] - 1)]
        return y - y.mean() if y.size else y


def top_direction(dataset: FiniteDataset) -> np.ndarray:
    """``q_1``, the first right singular vector of ``A`` (top eigenvector of ``A'A/n``), with the sign that
    makes its coordinates sum to a positive number (a convention, so that results do not depend on the
    sign a linear-algebra library returns)."""
    q = np.asarray(dataset.eigvecs[:, 0], dtype=np.float64)
    return q if q.sum() >= 0 else -q


def check_directions(dataset: FiniteDataset, directions: Any) -> np.ndarray:
    """The directions to project on as a (d, p) array: ``None`` gives :func:`top_direction`; a (d,) vector
    one column; anything else must be finite with d rows."""
    d = dataset.d
    u = top_direction(dataset)[:, None] if directions is None else np.asarray(directions, dtype=np.float64)
    if u.ndim == 1:
        u = u[:, None]
    if u.ndim != 2 or u.shape[0] != d or not np.all(np.isfinite(u)):
        raise ValueError(f"directions must be finite with shape ({d},) or ({d}, p), got {u.shape}")
    return u


def distinct_rows(gen: torch.Generator, n_rows: int, shape: tuple[int, ...], batch: int,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """``batch`` distinct row indices, uniform among the ``n_rows`` rows, for every entry of ``shape``:
    the law of the first ``batch`` entries of a random permutation. Draw ``j`` is uniform on the
    ``n_rows - j`` rows not yet taken (each earlier pick at or below it shifts it up by one)."""
    if batch > n_rows:
        raise ValueError(f"batch_size must be at most the number of rows n={n_rows}, got {batch}")
    picks: list[torch.Tensor] = []
    for j in range(batch):
        r = torch.randint(0, n_rows - j, shape, generator=gen, device=device)
        for p in _sorted_columns(picks):
            r = r + (r >= p).to(r.dtype)
        picks.append(r)
    return torch.stack(picks, dim=-1)


def _sorted_columns(picks: list[torch.Tensor]) -> list[torch.Tensor]:
    """The earlier picks sorted per entry (ascending), as a list of tensors, for :func:`distinct_rows`."""
    if not picks:
        return []
    return list(torch.sort(torch.stack(picks, dim=-1), dim=-1).values.unbind(-1))


def _block_runner(features: torch.Tensor, targets: torch.Tensor, x_ref: torch.Tensor,
                  directions: torch.Tensor, *, gamma: float, batch: int, delta: float, n_updates: int,
                  init_scale: float,
                  x0: np.ndarray | None, batch_rows: str, seed: int, threshold: float, keep_final: bool):
    n_rows, d = features.shape
    dtype, dev = features.dtype, features.device

    def run_block(block: int, start: int, stop: int) -> dict[str, np.ndarray]:
        gen = torch_generator(derive_seed(seed, "offline-sgd", block), dev)
        nb = stop - start
        if x0 is None:
            x = (init_scale * torch.randn(nb, d, generator=gen, dtype=torch.float64, device=dev)).to(dtype)
        else:
            x = torch.as_tensor(x0[start:stop], dtype=dtype, device=dev).clone()
        alive = torch.ones(nb, dtype=torch.bool, device=dev)
        checkpoint = x.clone()
        a = torch.empty(nb, d, dtype=dtype, device=dev)
        r = torch.empty(nb, dtype=dtype, device=dev)
        shrink = 1.0 - gamma * delta
        for k0 in range(0, n_updates, CHUNK_STEPS):
            steps = min(CHUNK_STEPS, n_updates - k0)
            if batch == 1:
                idx = torch.randint(0, n_rows, (steps, nb), generator=gen, device=dev)
            elif batch_rows == "distinct":
                idx = distinct_rows(gen, n_rows, (steps, nb), batch, device=dev)
            else:
                idx = torch.randint(0, n_rows, (steps, nb, batch), generator=gen, device=dev)
            neg_gb = targets[idx].mul_(-gamma / batch)
            for j in range(steps):
                if shrink != 1.0:
                    x.mul_(shrink)
                if batch == 1:
                    # r = gamma (a'x - b);  x <- x - r a   (delta' folded into the shrink above)
                    torch.index_select(features, 0, idx[j], out=a)
                    torch.linalg.vecdot(a, x, out=r)
                    r.mul_(gamma).add_(neg_gb[j])
                    x.addcmul_(a, r.unsqueeze(1), value=-1.0)
                else:
                    rows = features[idx[j]]  # (nb, B, d)
                    res = torch.einsum("nbd,nd->nb", rows, x).mul_(gamma / batch).add_(neg_gb[j])
                    x.sub_(torch.nn.functional.embedding_bag(idx[j], features, per_sample_weights=res,
                                                             mode="sum"))
            dist = torch.linalg.vector_norm((x - x_ref).to(torch.float64), dim=1)
            ok = torch.isfinite(dist) & (dist <= threshold)
            alive &= ok
            x = torch.where(alive.unsqueeze(1), x, checkpoint)
            checkpoint = x.clone()
        x64 = x.to(torch.float64)
        out = {"projections": (x64 @ directions).cpu().numpy(),
               "distance": torch.linalg.vector_norm(x64 - x_ref.to(torch.float64), dim=1).cpu().numpy(),
               "diverged": (~alive).cpu().numpy()}
        if keep_final:
            out["final"] = x64.cpu().numpy()
        return out

    return run_block


def run_offline_sgd(
    dataset: FiniteDataset,
    gamma: float,
    batch_size: int = 1,
    *,
    delta: float = 0.0,
    n_runs: int = 1000,
    n_updates: int = 1000,
    init_scale: float = 0.5,
    x0: Any = None,
    directions: Any = None,
    batch_rows: str = "distinct",
    seed: int = 0,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    block_size: int | None = None,
    workers: int | None = None,
    keep_final: bool = False,
    divergence_threshold: float = 1e8,
    progress: bool = True,
) -> ProjectedRuns:
    """``n_runs`` independent runs of offline SGD for ``n_updates`` updates each (the paper's runs perform
    ``K - 1`` updates: pass ``jkr_settings(name).n_updates``).

    ``delta`` is the ridge in Hessian units (``delta' = delta_paper / n``). ``x0``: ``None`` (runs start at
    ``init_scale N(0, I)``), a point (d,) or points (n_runs, d). ``directions``: (d,) or (d, p), default
    :func:`top_direction`. ``batch_rows``: ``"distinct"`` (published runs) or ``"replacement"``. On an
    accelerator (``device``) all runs form one block (the numbers then differ from the CPU's blocks).
    """
    if not isinstance(dataset, FiniteDataset):
        raise ValueError(f"dataset must be a FiniteDataset, got {type(dataset).__name__}")
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    n_runs = check_int("n_runs", n_runs, low=1)
    n_updates = check_int("n_updates", n_updates, low=1)
    init_scale = check_positive("init_scale", init_scale, allow_zero=True)
    batch_rows = check_choice("batch_rows", batch_rows, BATCH_ROWS)
    dtype = check_float_dtype("dtype", dtype)
    # blocks small enough to spread over up to 8 cores, large enough to amortise torch's per-call cost; a
    # function of n_runs alone, so that the numbers do not depend on the machine
    block_size = (min(2048, max(256, -(-n_runs // 8))) if block_size is None
                  else check_int("block_size", block_size, low=1))
    threshold = check_positive("divergence_threshold", divergence_threshold)
    if b > dataset.n:
        raise ValueError(f"batch_size must be at most the number of rows n={dataset.n}, got {b}")
    d = dataset.d
    if x0 is not None:
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.shape == (d,):
            x0 = np.broadcast_to(x0, (n_runs, d))
        if x0.shape != (n_runs, d) or not np.all(np.isfinite(x0)):
            raise ValueError(f"x0 must be finite with shape ({d},) or ({n_runs}, {d}), got {x0.shape}")
    u = check_directions(dataset, directions)
    dev = torch.device(device)
    if dev.type != "cpu":  # an accelerator takes every run at once
        block_size, workers = n_runs, 1
    features = torch.as_tensor(dataset.features, dtype=dtype, device=dev).contiguous()
    targets = torch.as_tensor(dataset.targets, dtype=dtype, device=dev)
    x_ref = torch.as_tensor(dataset.x_ref, dtype=dtype, device=dev)
    run_block = _block_runner(features, targets, x_ref, torch.as_tensor(u, device=dev), gamma=gamma, batch=b,
                              delta=delta, n_updates=n_updates, init_scale=init_scale, x0=x0,
                              batch_rows=batch_rows, seed=int(seed), threshold=threshold,
                              keep_final=keep_final)
    parts = map_blocks(run_block, block_ranges(n_runs, block_size), workers=workers, progress=progress,
                       desc=f"SGD on {dataset.name}")
    return ProjectedRuns.from_blocks(parts, directions=u, method=f"offline-sgd-{batch_rows}", gamma=gamma,
                                     batch_size=b, delta=delta, n_updates=n_updates)
