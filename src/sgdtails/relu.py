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
(:func:`variant_tail_index`, via :func:`sgdtails.theory.kesten_index_mc`).

Numerics: on realizable data the state is the deviation z = w - w*, updated without forming w, so that
the collapse of noiseless runs onto w* (|z| down to 1e-30 and below) is not hidden by rounding of w* + z.
On binary data the state is w itself.

Random streams: the teacher and the initial point come from ``derive_seed(seed, "teacher")`` and
``derive_seed(seed, "init")``; the mini-batches from one generator seeded with
``derive_seed(seed, "batches")``, drawn in the order x, then label noise, then flips (:func:`draw_batch`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._validation import check_choice, check_in_interval, check_int, check_positive
from .seeding import derive_seed, torch_generator

ALGORITHMS = ("sgd", "variant")
SETUPS = ("realizable", "binary")
INPUT_LAWS = ("gaussian", "student_t", "uniform", "rademacher")
SAMPLERS = ("auto", "direct")  # built in; more with register_sampler (e.g. "reduced")

Stepper = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


# --------------------------------------------------------------------------------------------------
# argument checks and small helpers
# --------------------------------------------------------------------------------------------------
def _dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    name = check_choice("dtype", str(dtype), ["float32", "float64"])
    return torch.float32 if name == "float32" else torch.float64


def _dtype_name(dtype: torch.dtype) -> str:
    return "float32" if dtype == torch.float32 else "float64"


@dataclass(frozen=True)
class DataLaw:
    """The data law of one setup: input law, teacher, label noise (validated)."""

    setup: str
    d: int
    label_noise: float = 0.0
    flip_prob: float = 0.0
    input_law: str = "gaussian"
    input_df: int = 5

    @staticmethod
    def make(setup: str, d: int, label_noise: float = 0.0, flip_prob: float = 0.0,
             input_law: str = "gaussian", input_df: int = 5) -> DataLaw:
        setup = check_choice("setup", setup, SETUPS)
        d = check_int("d", d, low=1)
        label_noise = check_positive("label_noise", label_noise, allow_zero=True)
        flip_prob = check_in_interval("flip_prob", flip_prob, 0.0, 1.0, closed_high=False)
        input_law = check_choice("input_law", input_law, INPUT_LAWS)
        input_df = check_int("input_df", input_df, low=3)
        if setup == "binary" and label_noise != 0.0:
            raise ValueError("label_noise must be 0 for setup='binary' (use flip_prob), "
                             f"got {label_noise!r}")
        if setup == "realizable" and flip_prob != 0.0:
            raise ValueError("flip_prob must be 0 for setup='realizable' (use label_noise), "
                             f"got {flip_prob!r}")
        return DataLaw(setup, d, label_noise, flip_prob, input_law, input_df)


def draw_inputs(gen: torch.Generator, shape: tuple[int, ...], law: str, *, df: int = 5,
                dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
                ) -> torch.Tensor:
    """iid symmetric unit-variance input coordinates of ``shape``.

    ``gaussian``: N(0, 1); ``student_t``: Student-t with ``df`` (integer >= 3) degrees of freedom scaled
    to unit variance; ``uniform``: U(-sqrt 3, sqrt 3); ``rademacher``: +-1.
    """
    law = check_choice("input_law", law, INPUT_LAWS)
    if law == "gaussian":
        return torch.randn(shape, generator=gen, dtype=dtype, device=device)
    if law == "uniform":
        u = torch.rand(shape, generator=gen, dtype=dtype, device=device)
        return (2.0 * u - 1.0) * math.sqrt(3.0)
    if law == "rademacher":
        s = torch.randint(0, 2, shape, generator=gen, device=device)
        return (2 * s - 1).to(dtype)
    df = check_int("input_df", df, low=3)
    z = torch.randn(shape, generator=gen, dtype=dtype, device=device)
    chi2 = torch.randn((df, *shape), generator=gen, dtype=dtype, device=device).square().sum(0)
    return z / torch.sqrt(chi2 / df) * math.sqrt((df - 2) / df)


def random_teacher(d: int, seed: int | torch.Generator, *, dtype: torch.dtype = torch.float64,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """w* uniform on the unit sphere of R^d."""
    gen = torch_generator(seed, device)
    w = torch.randn(d, generator=gen, dtype=torch.float64, device=device)
    return (w / w.norm()).to(dtype)


@dataclass(frozen=True)
class Batch:
    """One mini-batch for every run: inputs x (N, b, d), teacher pre-activations a = x.w* (N, b),
    labels y (N, b), and for realizable data the additive label noise sigma*xi (N, b)."""

    x: torch.Tensor
    a: torch.Tensor
    y: torch.Tensor
    noise: torch.Tensor | None


def draw_batch(gen: torch.Generator, n: int, batch: int, law: DataLaw, w_star: torch.Tensor
               ) -> Batch:
    """Draw a mini-batch of size ``batch`` for ``n`` runs (x, then label noise, then flips)."""
    dtype, device = w_star.dtype, w_star.device
    x = draw_inputs(gen, (n, batch, law.d), law.input_law, df=law.input_df, dtype=dtype,
                    device=device)
    a = x @ w_star
    noise = None
    if law.setup == "realizable":
        y = torch.relu(a)
        if law.label_noise > 0:
            noise = law.label_noise * torch.randn((n, batch), generator=gen, dtype=dtype,
                                                  device=device)
            y = y + noise
    else:
        y = (a > 0).to(dtype)
        if law.flip_prob > 0:
            flip = torch.rand((n, batch), generator=gen, dtype=dtype, device=device) < law.flip_prob
            y = torch.where(flip, 1.0 - y, y)
    return Batch(x, a, y, noise)


def variant_affine_terms(b: Batch, eta: float, setup: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, q) of the variant's affine recursion w_{t+1} - c = M (w_t - c) + q for one mini-batch.

    M = I - (eta/b) sum_i 1{y_i > 0} x_i x_i' (shape (N, d, d)); q (shape (N, d)) as in the module
    docstring; c = w* (realizable) or 0 (binary).
    """
    n, bsz, d = b.x.shape
    g = (b.y > 0).to(b.x.dtype)
    eye = torch.eye(d, dtype=b.x.dtype, device=b.x.device)
    m = eye - (eta / bsz) * torch.einsum("nb,nbi,nbj->nij", g, b.x, b.x)
    if setup == "realizable":
        r = torch.relu(b.a) - b.a
        if b.noise is not None:
            r = r + b.noise
    else:
        r = b.y
    q = (eta / bsz) * torch.einsum("nb,nbd->nd", g * r, b.x)
    return m, q


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
    :func:`register_sampler` (``sgdtails.reduced`` registers its exact reduced sampler for Gaussian
    inputs, if present); ``"auto"`` takes the first registered sampler whose ``prefers(law, batch)``
    is true, else ``"direct"``.
    """
    _load_plugins()
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
_PLUGINS_LOADED = False


def register_sampler(name: str, factory: Callable[..., Stepper],
                     prefers: Callable[[DataLaw, int], bool] | None = None) -> None:
    """Register a stepper factory ``factory(*, algorithm, law, batch, eta, w_star) -> (z, gen) -> z``
    under ``name``; ``prefers(law, batch)`` says when ``sampler="auto"`` should pick it."""
    if name in ("auto", "direct"):
        raise ValueError(f"name must not be 'auto' or 'direct', got {name!r}")
    _SAMPLERS[name] = factory
    if prefers is not None:
        _PREFERS[name] = prefers


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    try:
        from . import reduced
    except ImportError:
        return
    factory = getattr(reduced, "relu_stepper", None)
    if factory is not None and "reduced" not in _SAMPLERS:
        register_sampler("reduced", factory, getattr(reduced, "relu_prefers_reduced", None))


# --------------------------------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReluRun:
    """Result of :func:`run_relu` (arrays are float64 numpy).

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
        return "w_star" if self.setup == "realizable" else "median"

    def measure(self, **kwargs: Any):  # -> protocol.ProtocolResult
        """Apply :func:`sgdtails.protocol.measure_tail_index` with this setup's centring rule."""
        from .protocol import measure_tail_index

        if self.setup == "realizable":
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
    _load_plugins()
    check_choice("sampler", sampler, ["auto", *_SAMPLERS])
    tdtype = _dtype(dtype)
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
        input_law=law.input_law, seed=seed, dtype=_dtype_name(tdtype),
        w_star=ws64.cpu().numpy(), last=last, average=average, last_dev=last_dev,
        average_dev=average_dev, trajectory=traj, trajectory_steps=rec, diverged=diverged,
        n_diverged=int(diverged.sum()), n_underflow=n_underflow,
    )


# --------------------------------------------------------------------------------------------------
# the variant's exact index (Kesten–Goldie), via population Monte Carlo
# --------------------------------------------------------------------------------------------------
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
):
    """The variant's exact tail index: the root alpha > 0 of Lambda(alpha) = 0 for its matrices M_t,
    by population Monte Carlo (:func:`sgdtails.theory.kesten_index_mc`). Returns its ``KestenIndex``.

    With label noise or binary labels this is the index of the stationary law of the iterates
    (Kesten–Goldie). On noiseless realizable data q_t = 0 and the iterates collapse onto w*; the root then
    still exists but describes no stationary law.
    """
    from .theory import kesten_index_mc

    apply = variant_random_matrix(d, batch, eta, setup, label_noise, flip_prob,
                                  input_law=input_law, input_df=input_df, w_star=w_star)
    return kesten_index_mc(apply, int(d), n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in,
                           alpha_bracket=alpha_bracket, seed=seed, device=device,
                           dtype=_dtype(dtype), **kwargs)


def point_params(point: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`run_relu` taken from a sweep point (unknown keys ignored)."""
    keys = ("algorithm", "setup", "d", "batch", "eta", "n_chains", "n_iters", "label_noise",
            "flip_prob", "input_law", "input_df", "seed", "dtype", "sampler",
            "divergence_threshold", "n_trajectories")
    return {k: point[k] for k in keys if k in point}


# --------------------------------------------------------------------------------------------------
# sweep points (simulate + protocol -> dict of arrays, for sgdtails.cache.sweep)
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, restoring the previous setting afterwards.

    The sweep points work on small tensors (a few thousand rows), where torch's thread pool costs more
    than it gains; on a shared 2-core machine two threads were ten times slower than one here.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def sweep_point(point: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Simulate one sweep point with :func:`run_relu` and measure it with the protocol.

    ``point`` holds :func:`run_relu` arguments plus optional protocol settings ``n_boot`` (default
    200), ``n_dbs`` (500), ``hill_k`` (None). Returns the protocol's arrays
    (:meth:`sgdtails.protocol.ProtocolResult.to_arrays`) plus ``log_norm_mean`` and ``log_norm_sd``
    (mean and standard deviation over kept runs of log |w_K - c|, c the protocol's centre),
    ``final_median_norm`` and ``final_min_norm`` (median and smallest |w_K - c|),
    ``median_offset`` (|coordinate-wise median over runs of w_K - c|), ``n_underflow``
    (see :class:`ReluRun`) and a trajectory sample ``trajectory``,
    ``trajectory_steps``.
    """
    with single_thread():
        run = run_relu(**point_params(point))
    seed = int(point.get("seed", 0))
    res = run.measure(n_boot=int(point.get("n_boot", 200)), n_dbs=int(point.get("n_dbs", 500)),
                      hill_k=point.get("hill_k"), seed=derive_seed(seed, "protocol"))
    out = res.to_arrays()
    keep = ~run.diverged
    z = run.last_dev[keep] if run.setup == "realizable" else run.last[keep] - res.centres["last"]
    nrm = np.linalg.norm(z, axis=1)
    with np.errstate(divide="ignore"):
        logn = np.log(nrm[nrm > 0])
    out["log_norm_mean"] = np.asarray(logn.mean() if logn.size else np.nan)
    out["log_norm_sd"] = np.asarray(logn.std(ddof=1) if logn.size > 1 else np.nan)
    out["final_median_norm"] = np.asarray(np.median(nrm) if nrm.size else np.nan)
    out["final_min_norm"] = np.asarray(nrm.min() if nrm.size else np.nan)
    out["median_offset"] = np.asarray(np.linalg.norm(np.median(z, axis=0)) if nrm.size else np.nan)
    out["n_underflow"] = np.asarray(run.n_underflow)
    out["trajectory"] = run.trajectory
    out["trajectory_steps"] = run.trajectory_steps
    return out


def exact_params(point: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical parameters of the variant's exact index at a sweep point.

    The law of M_t depends on the data only through the gate 1{y > 0}: on noiseless realizable data
    and on binary data without flips the gate is 1{w*.x > 0} in both, so both map to the same key.
    """
    setup = point.get("setup", "realizable")
    noise = float(point.get("label_noise", 0.0))
    flip = float(point.get("flip_prob", 0.0))
    if setup == "realizable" and noise == 0.0:
        setup = "binary"
    return {"d": int(point["d"]), "batch": int(point["batch"]), "eta": float(point["eta"]),
            "setup": setup, "label_noise": noise if setup == "realizable" else 0.0,
            "flip_prob": flip if setup == "binary" else 0.0,
            "input_law": point.get("input_law", "gaussian"),
            "n_walkers": int(point.get("n_walkers", 1000)),
            "n_steps": int(point.get("n_steps", 200)), "burn_in": int(point.get("burn_in", 50)),
            "n_replicas": int(point.get("n_replicas", 8)),
            "alpha_bracket": list(point.get("alpha_bracket", [0.25, 16.0])),
            "seed": int(point.get("seed", 0))}


def exact_point(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The variant's exact index at :func:`exact_params` ``params``, as arrays ``alpha``, ``se``,
    ``status`` (for :func:`sgdtails.cache.sweep`)."""
    p = dict(params)
    with single_thread():
        res = variant_tail_index(p["d"], p["batch"], p["eta"], p["setup"], p["label_noise"],
                                 p["flip_prob"], input_law=p["input_law"],
                                 n_walkers=p["n_walkers"], n_steps=p["n_steps"],
                                 burn_in=p["burn_in"],
                                 n_replicas=p["n_replicas"],
                                 alpha_bracket=tuple(p["alpha_bracket"]), seed=p["seed"],
                                 xtol=0.02)
    return {"alpha": np.asarray(res.alpha), "se": np.asarray(res.se),
            "status": np.asarray(res.status)}


DATA_SETTINGS = ("noiseless", "noisy", "binary")


def sweep_grid(
    seed: int,
    *,
    d: int,
    batch: int,
    eta: float,
    etas: list[float],
    batches: list[int],
    dims: list[int],
    label_noise: float,
    n_chains: int,
    n_iters: int,
    n_boot: int = 100,
    hill_k: float = 0.05,
    algorithms: tuple[str, ...] = ALGORITHMS,
    dtype: str = "float32",
    dtype_noiseless: str = "float64",
    sampler: str = "direct",
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The points of the three Part II sweeps (eta, then b, then d, around the base point
    (``d``, ``batch``, ``eta``)), for every algorithm and data setting.

    Returns ``(labels, point)`` pairs: ``labels`` = {sweep, x, algorithm, data}; ``point`` the
    :func:`sweep_point` parameters, whose seed is derived from the point's own parameters only, so the
    base point shared by the three sweeps (and by any chapter asking for the same grid) is one cache
    entry. The base value is added to each swept list where it is missing. Noiseless runs use
    ``dtype_noiseless`` (float64): they contract like exp(-c t) and reach float32's subnormal range
    (1e-38) within a thousand steps at some points of the grid. ``sampler`` is part of
    every point (and so of its cache key): "auto" could resolve differently as samplers are added.
    """
    etas = sorted({float(e) for e in etas} | {float(eta)})
    batches = sorted({int(v) for v in batches} | {int(batch)})
    dims = sorted({int(v) for v in dims} | {int(d)})
    settings = {"noiseless": ("realizable", 0.0), "noisy": ("realizable", float(label_noise)),
                "binary": ("binary", 0.0)}
    axes = ([("eta", float(e), d, batch, float(e)) for e in etas]
            + [("b", int(bb), d, int(bb), eta) for bb in batches]
            + [("d", int(dd), int(dd), batch, eta) for dd in dims])
    out = []
    for name, x, dd, bb, ee in axes:
        for alg in algorithms:
            for data, (setup, noise) in settings.items():
                point = dict(algorithm=alg, setup=setup, label_noise=noise, d=dd, batch=bb,
                             eta=ee, n_chains=int(n_chains), n_iters=int(n_iters),
                             n_boot=int(n_boot), hill_k=float(hill_k),
                             dtype=dtype_noiseless if data == "noiseless" else dtype,
                             n_trajectories=0, sampler=sampler)
                point["seed"] = derive_seed(seed, "relu-sweep", alg, data, dd, bb, ee)
                out.append(({"sweep": name, "x": x, "algorithm": alg, "data": data}, point))
    return out


#: cache namespace of every sweep point: chapters asking for the same points share the entries
SWEEP_NAMESPACE = "relu-sweeps"


def run_sweep(cache_dir: Any, points: list[Mapping[str, Any]], *, desc: str = "relu sweeps"
              ) -> list[dict[str, np.ndarray]]:
    """:func:`sweep_point` at every point, each cached under :data:`SWEEP_NAMESPACE` (resumable)."""
    from .cache import sweep

    return sweep(cache_dir, SWEEP_NAMESPACE, points, sweep_point, desc=desc)


def sweep_frame(grid: list[tuple[dict[str, Any], dict[str, Any]]], results: list[Mapping[str, Any]],
                extras: list[Mapping[str, Any]] | None = None) -> Any:
    """One row per estimate of every point of :func:`sweep_grid`: its labels, ``d``, ``b``, ``eta`` and
    the protocol's estimates, plus per-point ``extras`` (a pandas DataFrame)."""
    import pandas as pd

    from .protocol import frame_from_arrays

    extras = extras if extras is not None else [{}] * len(grid)
    return pd.concat([frame_from_arrays(r, **labels, d=p["d"], b=p["batch"], eta=p["eta"], **extra)
                      for (labels, p), r, extra in zip(grid, results, extras, strict=True)],
                     ignore_index=True)
