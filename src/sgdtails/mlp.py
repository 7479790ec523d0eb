r"""Many three-layer sigmoid networks trained by SGD at once (Fig. 2 of Jiao & Keller-Ressel 2024).

The network ``f(x) = W_3' s(W_2' s(W_1' x + b_1) + b_2) + b_3`` has two hidden layers of ``hidden`` sigmoid
units ``s`` (64 in the paper); the loss of one sample is ``1/2 (f(x) - y)^2``. SGD with step ``lr`` and batch
size ``B`` updates every parameter by ``-lr`` times the mini-batch mean gradient. ``R`` networks are trained
together: every parameter carries a leading axis of length ``R`` and the forward and backward passes are
batched matrix products (``torch.bmm``), with hand-written back-propagation (checked against autograd in
the tests); each network draws its own rows. The paper's settings for this figure are not published
(its Table 4): the book states the ones it uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sgdtails._core.parallel import block_ranges, map_blocks
from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import check_choice, check_int, check_positive, check_sample

__all__ = ["INITS", "MLPRuns", "gradients", "init_parameters", "loss", "sgd_step", "train_networks"]

INITS = ("shared", "independent")
PARAMETERS = ("w1", "b1", "w2", "b2", "w3", "b3")


def init_parameters(d_in: int, hidden: int, n_networks: int, gen: torch.Generator, *,
                    dtype: torch.dtype = torch.float32, shared: bool = True) -> dict[str, torch.Tensor]:
    """Glorot-uniform weights and zero biases, with a leading network axis; ``shared`` gives every network
    the same initial point (one draw, repeated)."""
    draws = 1 if shared else n_networks

    def glorot(fan_in: int, fan_out: int) -> torch.Tensor:
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        u = torch.rand(draws, fan_in, fan_out, generator=gen, dtype=torch.float64, device=gen.device)
        w = (2 * u - 1) * bound
        return w.expand(n_networks, fan_in, fan_out).to(dtype).contiguous()

    sizes = (("b1", hidden), ("b2", hidden), ("b3", 1))
    zeros = {k: torch.zeros(n_networks, 1, m, dtype=dtype, device=gen.device) for k, m in sizes}
    return {"w1": glorot(d_in, hidden), "w2": glorot(hidden, hidden), "w3": glorot(hidden, 1), **zeros}


def _forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    h1 = torch.sigmoid(torch.baddbmm(p["b1"], x, p["w1"]))
    h2 = torch.sigmoid(torch.baddbmm(p["b2"], h1, p["w2"]))
    return h1, h2, torch.baddbmm(p["b3"], h2, p["w3"])


def loss(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``1/2 (f(x) - y)^2`` per network: ``x`` (R, B, d), ``y`` (R, B) -> (R,)."""
    return 0.5 * (_forward(p, x)[2].squeeze(-1) - y).square().mean(1)


def gradients(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of :func:`loss` for every network, by back-propagation through the batched products."""
    h1, h2, out = _forward(p, x)
    r = (out - y.unsqueeze(-1)) / x.shape[1]  # (R, B, 1)
    dz2 = torch.bmm(r, p["w3"].transpose(1, 2)) * h2 * (1 - h2)
    dz1 = torch.bmm(dz2, p["w2"].transpose(1, 2)) * h1 * (1 - h1)
    return {"w3": torch.bmm(h2.transpose(1, 2), r), "b3": r.sum(1, keepdim=True),
            "w2": torch.bmm(h1.transpose(1, 2), dz2), "b2": dz2.sum(1, keepdim=True),
            "w1": torch.bmm(x.transpose(1, 2), dz1), "b1": dz1.sum(1, keepdim=True)}


def sgd_step(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
    """One SGD update of every network, in place."""
    for name, g in gradients(p, x, y).items():
        p[name].sub_(g, alpha=lr)


@dataclass(frozen=True, eq=False)
class MLPRuns:
    """Final second-layer weights ``w2`` (R, hidden, hidden) of ``R`` networks, the initial ``w2`` of the
    first network, the final training loss (full data) per network, and the settings."""

    w2: np.ndarray
    w2_init: np.ndarray
    final_loss: np.ndarray
    lr: float
    batch_size: int
    n_steps: int
    init: str

    @property
    def n_networks(self) -> int:
        return int(self.w2.shape[0])

    def centred_weight(self, i: int = 0, j: int = 0) -> np.ndarray:
        """``W_2[i, j]`` of every network minus its mean over the networks."""
        w = self.w2[:, i, j]
        return w - w.mean()


def train_networks(features: Any, targets: Any, *, n_networks: int = 1000, n_steps: int = 2000,
                   lr: float = 0.05, batch_size: int = 1, hidden: int = 64, init: str = "shared",
                   seed: int = 0, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                   block_size: int = 256, workers: int | None = None, progress: bool = True) -> MLPRuns:
    """Train ``n_networks`` networks by SGD for ``n_steps`` steps on ``(features, targets)`` (rows drawn
    with replacement, independently per network). ``init="shared"``: every network starts from the same
    point (the spread of the iterates is then SGD's own); ``"independent"``: its own draw. Blocks of
    ``block_size`` networks run on every core with their own seeds (the result does not depend on
    ``workers``; on an accelerator, ``device``, all networks form one block); the shared initial point comes
    from ``derive_seed(seed, "mlp-init")``."""
    a = check_sample("features", features, ndim=2, min_size=2)
    y = check_sample("targets", targets, ndim=1, min_size=2)
    if a.shape[0] != y.shape[0]:
        raise ValueError(f"targets must have one entry per row of features ({a.shape[0]}), got {y.shape[0]}")
    n_networks = check_int("n_networks", n_networks, low=1)
    n_steps = check_int("n_steps", n_steps, low=1)
    lr = check_positive("lr", lr)
    batch_size = check_int("batch_size", batch_size, low=1)
    hidden = check_int("hidden", hidden, low=1)
    init = check_choice("init", init, INITS)
    dev = torch.device(device)
    if dev.type != "cpu":  # an accelerator takes every network at once
        block_size, workers = n_networks, 1
    feats = torch.as_tensor(a, dtype=dtype, device=dev)
    targ = torch.as_tensor(y, dtype=dtype, device=dev)
    n, d = feats.shape
    shared = init_parameters(d, hidden, 1, torch_generator(derive_seed(seed, "mlp-init"), dev), dtype=dtype)

    def run_block(block: int, start: int, stop: int) -> dict[str, np.ndarray]:
        gen = torch_generator(derive_seed(seed, "mlp-block", block), dev)
        r = stop - start
        if init == "shared":
            p = {k: v.expand(r, *v.shape[1:]).clone() for k, v in shared.items()}
        else:
            p = init_parameters(d, hidden, r, gen, dtype=dtype, shared=False)
        w2_0 = p["w2"][0].clone()
        for _ in range(n_steps):
            idx = torch.randint(0, n, (r, batch_size), generator=gen, device=dev)
            sgd_step(p, feats[idx], targ[idx], lr)
        full = loss(p, feats.expand(r, n, d), targ.expand(r, n))
        return {"w2": p["w2"].to(torch.float64).cpu().numpy(), "w2_0": w2_0.to(torch.float64).cpu().numpy(),
                "loss": full.to(torch.float64).cpu().numpy()}

    parts = map_blocks(run_block, block_ranges(n_networks, block_size), workers=workers, progress=progress,
                       desc="networks")
    return MLPRuns(w2=np.concatenate([q["w2"] for q in parts]), w2_init=parts[0]["w2_0"],
                   final_loss=np.concatenate([q["loss"] for q in parts]), lr=lr, batch_size=batch_size,
                   n_steps=n_steps, init=init)
