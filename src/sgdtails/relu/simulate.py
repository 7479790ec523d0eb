"""SGD and the Karmakar–Mukherjee variant for a single ReLU gate, many independent runs at once.

Model (Part II of the book; Karmakar & Mukherjee 2022, arXiv 2204.12554). Inputs x in R^d with iid
symmetric unit-variance coordinates (Gaussian by default), a teacher w* with |w*| = 1, and

- realizable data: y = ReLU(w*.x) + sigma xi, xi ~ N(0, 1) (``label_noise`` = sigma; 0 is noiseless);
- binary data:     y = 1{w*.x > 0}, each label flipped with probability ``flip_prob``.

Algorithms, with step size eta and mini-batch size b:

- ``"sgd"`` on 1/2 (y - ReLU(w.x))^2:  w <- w + (eta/b) sum_i 1{w.x_i > 0} (y_i - ReLU(w.x_i)) x_i;
- ``"variant"`` (reconstructed from the authors' description of "Algorithm 2" of Karmakar & Mukherjee,
  Neural Networks 2022):  w <- w + (eta/b) sum_i 1{y_i > 0} (y_i - w.x_i) x_i.

The variant is affine in w: w_{t+1} - c = M_t (w_t - c) + q_t with
M_t = I - (eta/b) sum_i 1{y_i > 0} x_i x_i'. On realizable data c = w* and
q_t = (eta/b) sum_i 1{y_i > 0} (ReLU(w*.x_i) - w*.x_i + sigma xi_i) x_i (zero when sigma = 0); on binary
data c = 0 and q_t = (eta/b) sum_i y_i x_i. Its exact tail index solves Lambda(alpha) = 0 for these M_t
(:func:`sgdtails.relu.exact.variant_tail_index`, via :func:`sgdtails.kesten.kesten_index_mc`).

Numerics: on realizable data the state is the deviation z = w - w*, updated without forming w, so that
the collapse of noiseless runs onto w* (|z| down to 1e-30 and below) is not hidden by rounding of w* + z.
On binary data the state is w itself.

Random streams: the teacher and the initial point come from ``derive_seed(seed, "teacher")`` and
``derive_seed(seed, "init")``; the mini-batches from one generator seeded with
``derive_seed(seed, "batches")``, drawn in the order x, then label noise, then flips
(:func:`sgdtails.relu.law.draw_batch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import check_choice, check_int, check_positive
from sgdtails.estimators.protocol import ProtocolResult, measure_tail_index
from sgdtails.relu.law import ALGORITHMS, Batch, DataLaw, draw_batch, dtype_name, random_teacher, torch_dtype
from sgdtails.relu.reduced import relu_prefers_reduced, relu_stepper

__all__ = ["ReluRun", "make_stepper", "register_sampler", "run_relu", "update_direct"]

Stepper = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def update_direct(z: torch.Tensor, b: Batch, *, algorithm: str, setup: str, eta: float
                  ) -> torch.Tensor:
    """One step of ``algorithm`` on the state z given the mini-batch ``b``.

    Realizable: z = w - w* (the residual is formed from a = w*.x and c = z.x without cancellation);
    binary: z = w.
    """
    bsz = b.x.shape[1]
    c = torch.einsum("nbd,nd->nb", b.x, z)
    if setup == "realizable":
        s = b.a + c  # pre-activation w.x
        if algorithm == "sgd":
            gate = s > 0
            # ReLU(a) - ReLU(a + c), exactly -c where both are active
            diff = torch.where(gate & (b.a > 0), -c, torch.relu(b.a) - torch.relu(s))
            r = diff if b.noise is None else diff + b.noise
        else:
            gate = b.y > 0
            r = torch.relu(b.a) - b.a - c
            if b.noise is not None:
                r = r + b.noise
    else:
        if algorithm == "sgd":
            gate = c > 0
            r = b.y - torch.relu(c)
        else:
            gate = b.y > 0
            r = b.y - c
    coef = torch.where(gate, r, torch.zeros_like(r)) * (eta / bsz)
    return z + torch.einsum("nb,nbd->nd", coef, b.x)


def make_stepper(sampler: str, *, algorithm: str, law: DataLaw, batch: int, eta: float,
                 w_star: torch.Tensor) -> Stepper:
    """The per-step update ``(z, gen) -> z_next`` for ``sampler``.

    ``"direct"`` draws the whole mini-batch (O(N b d) per step). Other samplers are registered with
    :func:`register_sampler` (``"reduced"``, the exact reduced sampler for Gaussian inputs, is
    registered here); ``"auto"`` takes the first registered sampler whose ``prefers(law, batch)``
    is true, else ``"direct"``.
    """
    sampler = check_choice("sampler", sampler, ["auto", *_SAMPLERS])
    if sampler == "auto":
        sampler = next((name for name, pref in _PREFERS.items() if pref(law, batch)), "direct")
    return _SAMPLERS[sampler](algorithm=algorithm, law=law, batch=batch, eta=eta, w_star=w_star)


def _direct_stepper(*, algorithm: str, law: DataLaw, batch: int, eta: float,
                    w_star: torch.Tensor) -> Stepper:
    def step(z: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b = draw_batch(gen, z.shape[0], batch, law, w_star)
        return update_direct(z, b, algorithm=algorithm, setup=law.setup, eta=eta)

    return step


_SAMPLERS: dict[str, Callable[..., Stepper]] = {"direct": _direct_stepper}
_PREFERS: dict[str, Callable[[DataLaw, int], bool]] = {}


def register_sampler(name: str, factory: Callable[..., Stepper],
                     prefers: Callable[[DataLaw, int], bool] | None = None) -> None:
    """Register a stepper factory ``factory(*, algorithm, law, batch, eta, w_star) -> (z, gen) -> z``
    under ``name``; ``prefers(law, batch)`` says when ``sampler="auto"`` should pick it."""
    if name in ("auto", "direct"):
        raise ValueError(f"name must not be 'auto' or 'direct', got {name!r}")
    _SAMPLERS[name] = factory
    if prefers is not None:
        _PREFERS[name] = prefers


#: the exact reduced sampler for Gaussian inputs (:mod:`sgdtails.relu.reduced`)
register_sampler("reduced", relu_stepper, relu_prefers_reduced)


# --------------------------------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReluRun:
    """Result of :func:`~sgdtails.relu.simulate.run_relu` (arrays are float64 numpy).

    ``last`` and ``average`` are w_K and the running average of w_t over t = K/2+1..K, shape (N, d);
    ``last_dev`` and ``average_dev`` are the same minus w*, computed without cancellation (use these on
    realizable data). ``trajectory`` holds |w_t - w*| for the first runs at ``trajectory_steps``.
    ``diverged`` flags runs whose state became non-finite or exceeded ``divergence_threshold`` (they are
    frozen from that step on); ``n_diverged`` counts them. ``n_underflow`` counts runs whose final
    deviation |z| (z = w - w* on realizable data, w on binary data) is below 1e6 times the smallest
    normal number of ``dtype``: their iterates have lost precision (noiseless runs in float32 do).
    """

    algorithm: str
    setup: str
    d: int
    batch: int
    eta: float
    n_chains: int
    n_iters: int
    label_noise: float
    flip_prob: float
    input_law: str
    seed: int
    dtype: str
    w_star: np.ndarray = field(repr=False)
    last: np.ndarray = field(repr=False)
    average: np.ndarray = field(repr=False)
    last_dev: np.ndarray = field(repr=False)
    average_dev: np.ndarray = field(repr=False)
    trajectory: np.ndarray = field(repr=False)
    trajectory_steps: np.ndarray = field(repr=False)
    diverged: np.ndarray = field(repr=False)
    n_diverged: int = 0
    n_underflow: int = 0

    @property
    def centre_rule(self) -> str:
        """The protocol's centring: w* for realizable data, the coordinate-wise median for binary."""
        return "median" if self.setup == "binary" else "w_star"

    def measure(self, **kwargs: Any) -> ProtocolResult:
        """Apply :func:`sgdtails.estimators.protocol.measure_tail_index` with this setup's centring rule."""
        if self.setup != "binary":  # realizable, or least squares (sgdtails.relu.radial)
            return measure_tail_index(self.last_dev, self.average_dev, None,
                                      diverged=self.diverged, **kwargs)
        return measure_tail_index(self.last, self.average, "median", diverged=self.diverged,
                                  **kwargs)


def _record_steps(n_iters: int, n_points: int) -> np.ndarray:
    steps = np.unique(np.round(np.geomspace(1, n_iters, n_points)).astype(int))
    return np.concatenate([[0], steps])


def run_relu(
    algorithm: str = "sgd",
    setup: str = "realizable",
    *,
    d: int = 10,
    batch: int = 1,
    eta: float = 0.1,
    n_chains: int = 1000,
    n_iters: int = 1000,
    label_noise: float = 0.0,
    flip_prob: float = 0.0,
    input_law: str = "gaussian",
    input_df: int = 5,
    seed: int = 0,
    w_star: Any = None,
    w0: Any = None,
    n_trajectories: int = 5,
    n_record: int = 120,
    divergence_threshold: float = 1e8,
    sampler: str = "auto",
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "float32",
) -> ReluRun:
    """Run ``n_chains`` independent copies of ``algorithm`` on a ReLU gate for ``n_iters`` steps.

    w_0 ~ N(0, I/d) independently per run unless ``w0`` (shape (d,) or (N, d)) is given; w* is uniform on
    the unit sphere unless given (it is normalised). All runs advance together in torch (no loop over
    runs); see the module docstring for the update rules and the random streams.
    """
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    law = DataLaw.make(setup, d, label_noise, flip_prob, input_law, input_df)
    d = law.d
    batch = check_int("batch", batch, low=1)
    eta = check_positive("eta", eta)
    n_chains = check_int("n_chains", n_chains, low=1)
    n_iters = check_int("n_iters", n_iters, low=1)
    seed = check_int("seed", seed, low=0)
    n_trajectories = check_int("n_trajectories", n_trajectories, low=0)
    n_record = check_int("n_record", n_record, low=2)
    divergence_threshold = check_positive("divergence_threshold", divergence_threshold)
    check_choice("sampler", sampler, ["auto", *_SAMPLERS])
    tdtype = torch_dtype(dtype)
    device = torch.device(device)

    if w_star is None:
        ws64 = random_teacher(d, derive_seed(seed, "teacher"), device=device)
    else:
        ws64 = torch.as_tensor(np.asarray(w_star, dtype=np.float64), device=device).reshape(-1)
        if ws64.numel() != d or not torch.isfinite(ws64).all() or ws64.norm() == 0:
            raise ValueError(f"w_star must be a finite non-zero vector of length d={d}")
        ws64 = ws64 / ws64.norm()
    if w0 is None:
        g0 = torch_generator(derive_seed(seed, "init"), device)
        w0_64 = torch.randn((n_chains, d), generator=g0, dtype=torch.float64,
                            device=device) / math.sqrt(d)
    else:
        w0_64 = torch.as_tensor(np.asarray(w0, dtype=np.float64), device=device)
        if w0_64.shape not in ((d,), (n_chains, d)) or not torch.isfinite(w0_64).all():
            raise ValueError(f"w0 must be finite with shape ({d},) or ({n_chains}, {d}), "
                             f"got shape {tuple(w0_64.shape)}")
        w0_64 = w0_64.expand(n_chains, d).clone()

    realizable = law.setup == "realizable"
    offset64 = ws64 if realizable else torch.zeros_like(ws64)  # w = offset + z
    z = (w0_64 - offset64).to(tdtype)
    ws = ws64.to(tdtype)
    step = make_stepper(sampler, algorithm=algorithm, law=law, batch=batch, eta=eta, w_star=ws)
    gen = torch_generator(derive_seed(seed, "batches"), device)

    rec = _record_steps(n_iters, n_record)
    rec_set = {int(s): i for i, s in enumerate(rec)}
    n_tr = min(n_trajectories, n_chains)
    traj = np.full((n_tr, rec.size), np.nan)
    shift_tr = (offset64 - ws64).to(tdtype)  # w - w* = z + offset - w*

    def record(i: int, zz: torch.Tensor) -> None:
        if n_tr:
            traj[:, i] = (zz[:n_tr].double() + shift_tr.double()).norm(dim=1).cpu().numpy()

    record(0, z)
    burn = n_iters // 2
    acc = torch.zeros((n_chains, d), dtype=torch.float64, device=device)
    alive = torch.ones(n_chains, dtype=torch.bool, device=device)
    for t in range(1, n_iters + 1):
        z_new = step(z, gen)
        bad = ~torch.isfinite(z_new).all(dim=1) | (z_new.norm(dim=1) > divergence_threshold)
        alive = alive & ~bad
        z = torch.where(alive[:, None], z_new, z)
        if t > burn:
            acc += z.double()
        if t in rec_set:
            record(rec_set[t], z)

    zd = z.double()
    tiny = torch.finfo(tdtype).tiny * 1e6
    n_underflow = int(((zd.norm(dim=1) < tiny) & alive).sum())
    avg_dev = acc / (n_iters - burn)
    last = (zd + offset64).cpu().numpy()
    average = (avg_dev + offset64).cpu().numpy()
    if realizable:
        last_dev, average_dev = zd.cpu().numpy(), avg_dev.cpu().numpy()
    else:
        last_dev, average_dev = (zd - ws64).cpu().numpy(), (avg_dev - ws64).cpu().numpy()
    diverged = (~alive).cpu().numpy()
    return ReluRun(
        algorithm=algorithm, setup=law.setup, d=d, batch=batch, eta=eta, n_chains=n_chains,
        n_iters=n_iters, label_noise=law.label_noise, flip_prob=law.flip_prob,
        input_law=law.input_law, seed=seed, dtype=dtype_name(tdtype),
        w_star=ws64.cpu().numpy(), last=last, average=average, last_dev=last_dev,
        average_dev=average_dev, trajectory=traj, trajectory_steps=rec, diverged=diverged,
        n_diverged=int(diverged.sum()), n_underflow=n_underflow,
    )
