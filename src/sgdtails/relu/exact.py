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

from sgdtails._core.validation import check_choice, check_int, check_positive
from sgdtails.kesten import KestenIndex, kesten_index_mc
from sgdtails.relu.law import DataLaw, draw_batch, torch_dtype

__all__ = ["variant_random_matrix", "variant_random_matrix_reduced", "variant_tail_index"]


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


def variant_random_matrix_reduced(
    d: int,
    batch: int,
    eta: float,
    setup: str = "realizable",
    label_noise: float = 0.0,
    flip_prob: float = 0.0,
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    r""":func:`variant_random_matrix` for Gaussian inputs in reduced form (this project's derivation, as
    in :mod:`sgdtails.relu.radial`): a walker is ``(c, s)``, the unit vector ``u = c w^* + s e`` with ``e``
    orthogonal to ``w^*``; ``apply(U, gen)`` (``U`` of shape (n, 2)) returns
    ``(M u . w^*, |(M u)_perp|)``, whose norm is ``|M u|`` and whose direction is the walker of ``M u``.

    With ``t_i = x_i.u = c p_{i1} + s p_{i2}`` and the gate ``g_i`` (a function of ``p_{i1} = x_i.w^*``
    and of the label noise or flip only), ``M u = u - (eta/b) sum_i g_i t_i x_i``; the law of ``M`` is
    invariant under the rotations that fix ``w^*``, so ``M u . w^* = c - (eta/b) sum g t p_1`` and
    ``|(M u)_perp|^2 = (s - (eta/b) sum g t p_2)^2 + (eta/b)^2 sum (g t)^2 chi^2_{d-2}``. Cost per walker:
    ``2b`` normals (plus ``b`` for label noise or flips) and one ``chi^2_{d-2}``, against ``b d``. Draws
    are made in float32 and widened to the walkers' dtype.
    """
    law = DataLaw.make(setup, d, label_noise, flip_prob, "gaussian", 5)
    batch = check_int("batch", batch, low=1)
    eta = check_positive("eta", eta)
    d = law.d
    m = max(d - 2, 0)
    noisy = law.setup == "realizable" and law.label_noise > 0
    flips = law.setup == "binary" and law.flip_prob > 0
    n_norm = 2 * batch + (batch if noisy else 0) + m % 2
    n_unif = (batch if flips else 0) + m // 2
    kf = eta / batch

    def apply(u: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = u.shape[0]
        dtype, dev = u.dtype, u.device
        g = torch.empty(n * n_norm, dtype=torch.float32, device=dev).normal_(generator=gen).to(dtype)
        un = (torch.empty(n * n_unif, dtype=torch.float32, device=dev).uniform_(generator=gen).to(dtype)
              if n_unif else None)
        p1 = g[:n * batch].view(n, batch)
        p2 = g[n * batch:2 * n * batch].view(n, batch) if d >= 2 else torch.zeros_like(p1)
        col = 2 * n * batch
        gate = (p1 > 0).to(dtype)
        if noisy:
            noise = g[col:col + n * batch].view(n, batch) * law.label_noise
            col += n * batch
            gate = (torch.relu(p1) + noise > 0).to(dtype)
        if flips:
            flip = (un[:n * batch].view(n, batch) < law.flip_prob).to(dtype)
            gate = gate + flip * (1.0 - 2.0 * gate)
        t = (u[:, :1] * p1 + u[:, 1:2] * p2) * gate
        along = u[:, 0] - kf * (t * p1).sum(dim=1)
        across = u[:, 1] - kf * (t * p2).sum(dim=1)
        if m:
            chi = torch.zeros(n, dtype=dtype, device=dev)
            if m // 2:
                chi = -2.0 * torch.log1p(-un[-n * (m // 2):].view(m // 2, n)).sum(dim=0)
            if m % 2:
                chi = chi + g[col:col + n].square()
            across = torch.hypot(across, kf * torch.linalg.vector_norm(t, dim=1) * torch.sqrt(chi))
        return torch.stack([along, across.abs()], dim=1)

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
    sampler: str = "direct",
    **kwargs: Any,
) -> KestenIndex:
    """The variant's exact tail index: the root alpha > 0 of Lambda(alpha) = 0 for its matrices M_t,
    by population Monte Carlo (:func:`sgdtails.kesten.kesten_index_mc`). Returns its ``KestenIndex``.

    With label noise or binary labels this is the index of the stationary law of the iterates
    (Kesten–Goldie). On noiseless realizable data q_t = 0 and the iterates collapse onto w*; the root then
    still exists but describes no stationary law.

    ``sampler``: ``"direct"`` (:func:`variant_random_matrix`, any input law) or ``"reduced"``
    (:func:`variant_random_matrix_reduced`, Gaussian inputs only: two numbers per walker).
    """
    sampler = check_choice("sampler", sampler, ["direct", "reduced"])
    if sampler == "reduced":
        if input_law != "gaussian" or w_star is not None:
            raise ValueError("sampler='reduced' needs input_law='gaussian' and no w_star (the reduced "
                             f"walkers use the rotation invariance of Gaussian inputs), got "
                             f"input_law={input_law!r}")
        apply = variant_random_matrix_reduced(d, batch, eta, setup, label_noise, flip_prob)
        return kesten_index_mc(apply, 2, n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in,
                               alpha_bracket=alpha_bracket, seed=seed, device=device,
                               dtype=torch_dtype(dtype), **kwargs)
    apply = variant_random_matrix(d, batch, eta, setup, label_noise, flip_prob,
                                  input_law=input_law, input_df=input_df, w_star=w_star)
    return kesten_index_mc(apply, int(d), n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in,
                           alpha_bracket=alpha_bracket, seed=seed, device=device,
                           dtype=torch_dtype(dtype), **kwargs)
