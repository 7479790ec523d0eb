"""Chain blocks and small tensor helpers shared by the exact reduced samplers of both parts.

On the CPU the chains are processed in blocks of :func:`block_chains` rows (cache-sized scratch
buffers); the random stream depends on that block size, a fixed function of ``d``, so results are
reproducible for given ``(seed, N, d, dtype, device)``.
"""

from __future__ import annotations

import torch

__all__ = ["CPU_BLOCK_ELEMENTS", "block_chains", "chain_blocks", "chi2", "row_scale"]

#: scratch-buffer budget per block on the CPU (elements of an (N, d) array); keeps a block in L2
CPU_BLOCK_ELEMENTS = 1 << 17


def block_chains(d: int, device: torch.device | str = "cpu") -> int:
    """Chains per block: ``2^17 / d`` on the CPU (at least 64), all chains on an accelerator (0)."""
    if torch.device(device).type != "cpu":
        return 0
    return max(64, CPU_BLOCK_ELEMENTS // max(int(d), 1))


def chi2(dof: int, shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype,
          device: torch.device) -> torch.Tensor:
    conc = torch.full(shape, 0.5 * dof, dtype=dtype, device=device)
    return 2.0 * torch._standard_gamma(conc, generator=gen)


def row_scale(a: torch.Tensor) -> torch.Tensor:
    """Per-row max-abs of ``a`` (N, d), with 1 where a row is all zero."""
    s = a.abs().amax(dim=1)
    return torch.where(s > 0, s, torch.ones_like(s))


def chain_blocks(n: int, d: int, device: torch.device) -> list[tuple[int, int]]:
    bc = block_chains(d, device)
    if bc == 0 or bc >= n:
        return [(0, n)]
    return [(i, min(i + bc, n)) for i in range(0, n, bc)]
