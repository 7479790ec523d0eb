"""The variant's exact tail index (Kesten--Goldie) on the ReLU gate, via population Monte Carlo.

The variant is affine in w: ``w_{t+1} - c = M_t (w_t - c) + q_t`` with
``M_t = I - (eta/b) sum_i 1{y_i > 0} x_i x_i'``; its index solves ``Lambda(alpha) = 0``
(:mod:`sgdtails.kesten`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sgdtails._core.validation import check_int, check_positive
from sgdtails.kesten import KestenIndex, kesten_index_mc
from sgdtails.relu.law import DataLaw, draw_batch, torch_dtype

__all__ = ["variant_random_matrix", "variant_tail_index"]


def variant_random_matrix(
    d: int,
    batch: int,
    eta: float,
    setup: str = "realizable",
    label_noise: float = 0.0,
    flip_prob: float = 0.0,
    *,
    input_law: str = "gaussian",
    input_df: int = 5,
    w_star: Any = None,
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """``apply(U, gen) -> M_i U_i`` with a fresh iid M_i = I - (eta/b) sum_j 1{y_ij > 0} x_ij x_ij'
    per row of U (shape (n, d)); the labels y follow ``setup`` with the given noise.

    The gate depends on x through w*; for Gaussian inputs the law of M is rotation-equivariant, so w* = e_1
    (the default) loses nothing. Cost O(n b d) per call, never forming M.
    """
    law = DataLaw.make(setup, d, label_noise, flip_prob, input_law, input_df)
    batch = check_int("batch", batch, low=1)
    eta = check_positive("eta", eta)
    if w_star is None:
        ws = np.zeros(law.d)
        ws[0] = 1.0
    else:
        ws = np.asarray(w_star, dtype=np.float64).reshape(-1)
        if ws.size != law.d or not np.all(np.isfinite(ws)) or not np.any(ws):
            raise ValueError(f"w_star must be a finite non-zero vector of length d={law.d}")
        ws = ws / np.linalg.norm(ws)
    cache: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def apply(u: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        key = (u.dtype, u.device)
        if key not in cache:
            cache[key] = torch.as_tensor(ws, dtype=u.dtype, device=u.device)
        b = draw_batch(gen, u.shape[0], batch, law, cache[key])
        g = (b.y > 0).to(u.dtype)
        proj = torch.einsum("nbd,nd->nb", b.x, u) * g
        return u - (eta / batch) * torch.einsum("nb,nbd->nd", proj, b.x)

    return apply


def variant_tail_index(
    d: int,
    batch: int,
    eta: float,
    setup: str = "realizable",
    label_noise: float = 0.0,
    flip_prob: float = 0.0,
    *,
    input_law: str = "gaussian",
    input_df: int = 5,
    w_star: Any = None,
    n_walkers: int = 4000,
    n_steps: int = 400,
    burn_in: int = 100,
    alpha_bracket: tuple[float, float] = (0.05, 20.0),
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "float64",
    **kwargs: Any,
) -> KestenIndex:
    """The variant's exact tail index: the root alpha > 0 of Lambda(alpha) = 0 for its matrices M_t,
    by population Monte Carlo (:func:`sgdtails.kesten.kesten_index_mc`). Returns its ``KestenIndex``.

    With label noise or binary labels this is the index of the stationary law of the iterates
    (Kesten–Goldie). On noiseless realizable data q_t = 0 and the iterates collapse onto w*; the root then
    still exists but describes no stationary law.
    """
    apply = variant_random_matrix(d, batch, eta, setup, label_noise, flip_prob,
                                  input_law=input_law, input_df=input_df, w_star=w_star)
    return kesten_index_mc(apply, int(d), n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in,
                           alpha_bracket=alpha_bracket, seed=seed, device=device,
                           dtype=torch_dtype(dtype), **kwargs)
