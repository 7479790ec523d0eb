r"""Exact radial simulator of the ReLU gate with Gaussian inputs: a few scalars per run and step.

This project's own derivation (the book's chapter "A ReLU gate" states it; the tests check it against
the direct simulator in law). It extends the reduced sampler of :mod:`sgdtails.relu.reduced`.

Symmetry
--------
With inputs ``x ~ N(0, I_d)``, labels that depend on ``x`` only through ``p_1 = w^*.x`` (and on the label
noise or flips), and ``w_0 ~ N(0, I/d)``, the law of the whole path ``(z_t)`` (``z = w - w^*`` on
realizable data, ``z = w`` on binary data) is invariant under every orthogonal map that fixes
``u_1 = w^*``. Write ``z = a u_1 + r e`` with ``a = z.u_1``, ``r = |z_\perp|`` and ``e`` a unit vector
orthogonal to ``u_1``. A sample enters the update only through ``p_{i1} = x_i.u_1``, ``p_{i2} = x_i.e``
(iid ``N(0, 1)``) and the remainder ``h_i`` of ``x_i`` orthogonal to both, an ``N(0, I_{d-2})`` vector
independent of them. With ``k_i`` the coefficient of ``x_i`` in the update (``eta/b`` times the gate
times the residual, both functions of ``c_i = z.x_i = a p_{i1} + r p_{i2}``, ``p_{i1}`` and the label
noise), ``S_1 = \sum k_i p_{i1}``, ``S_2 = \sum k_i p_{i2}`` and ``Q = \sum k_i^2``:

.. math::
   a' = a + S_1, \qquad z_\perp' = (r + S_2)\,e + H, \qquad H \sim N(0, Q\, I_{d-2}) \perp e,

so ``r'^2 = (r + S_2)^2 + Q\,(n_1^2 + C)`` with ``n_1 ~ N(0, 1)`` and ``C ~ chi^2_{d-3}`` independent:
``(a, r)`` is a Markov chain that needs ``2b`` normals (plus ``b`` for label noise or flips) and
``1 + chi^2_{d-3}`` per step, never a ``d``-vector.

The running sum ``S = \sum_{t > K/2} z_t`` needs two more scalars, the coordinates of its
perpendicular part in the frame of ``e``: ``S_\perp = q e + s_\perp f`` (``f`` a unit vector orthogonal
to ``u_1`` and ``e``, ``s_\perp >= 0``). The component of ``H`` along ``f`` is ``sqrt(Q) n_1`` (the
``n_1`` above), so with ``e' = z_\perp'/r'`` and ``g = S_\perp.e' = (q (r + S_2) + s_\perp \sqrt{Q} n_1)/r'``
the new coordinates are ``q' = g + r'`` and ``s_\perp' = sqrt(q^2 + s_\perp^2 - g^2)``; the ``u_1`` part
of ``S`` is the sum of the ``a_t``.

Least squares (``setup="linear"``, the linear-regression contrast of Part II): y = w*.x + sigma xi and
every gate open, the update w <- w + (eta/b) sum_i (y_i - w.x_i) x_i of online SGD on least squares with
these inputs; the same reduction applies (``w^*`` plays the part of x_true).

At the end the vectors are rebuilt exactly in law: by the symmetry, given the scalars, ``e`` is uniform
on the unit sphere of ``u_1^\perp`` and ``f`` uniform on the unit sphere orthogonal to ``u_1`` and
``e``, independently across runs; so ``z_K = a u_1 + r e`` and ``S = (\sum a_t) u_1 + q e + s_\perp f``.
Trajectories ``|w_t - w^*|`` are ``sqrt(a^2 + r^2)`` (realizable) or ``sqrt((a - 1)^2 + r^2)`` (binary).

Random streams: the teacher and ``w_0`` as in :func:`sgdtails.relu.simulate.run_relu` (same seeds, so the
same initial points); per step one block of normals ``(p_1, p_2, noise, n_1, [odd part of C])`` and one
block of uniforms ``(flips, even part of C)`` from ``derive_seed(seed, "batches", i)`` for the runs of block
``i`` (:func:`radial_blocks`); the directions
``e``, ``f`` from ``derive_seed(seed, "directions")``. Draws are made in float32 (torch's vectorised
samplers) and widened when the state is float64: float64 states serve the range noiseless runs need
(their distance to ``w^*`` falls far below float32's 1e-38), not the precision of the inputs.
``chi^2_{m}`` is drawn exactly as ``-2 \sum_{j \le m/2} \log U_j`` plus ``n^2`` when ``m`` is odd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sgdtails._core.parallel import default_workers, map_blocks
from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import check_choice, check_int, check_positive
from sgdtails.relu.law import ALGORITHMS, DataLaw, dtype_name, random_teacher, torch_dtype
from sgdtails.relu.simulate import ReluRun

__all__ = ["RADIAL_BLOCK", "RadialState", "draw_counts", "radial_blocks", "radial_step", "run_relu_radial"]


@dataclass
class RadialState:
    """Scalars of every run: ``zr`` (2, N) holds ``a = z.u_1`` and ``r = |z_perp|``; the running sum of
    the second half holds ``sa`` (N,), its ``u_1`` part, and ``qs`` (2, N), the coordinates
    ``q = S_perp.e`` and ``s_perp = |S_perp - q e|`` of its perpendicular part."""

    zr: torch.Tensor
    sa: torch.Tensor
    qs: torch.Tensor


def _step_mask(x: torch.Tensor) -> torch.Tensor:
    """1.0 where x > 0, else 0.0 (two vectorised ops; ``torch.where`` is not vectorised on the CPU)."""
    return torch.sign(torch.relu(x))


def _coefficients(p1: torch.Tensor, c: torch.Tensor, noise: torch.Tensor | None, y: torch.Tensor | None,
                  *, algorithm: str, setup: str) -> torch.Tensor:
    """Gate times residual of every sample, given the teacher pre-activation ``p1``, ``c = z.x`` and the
    label noise (realizable) or labels in {0, 1} (binary): the formulas of
    :func:`sgdtails.relu.simulate.update_direct`, with the gates as 0/1 factors. ``setup="linear"``:
    least squares, every gate open, residual ``noise - c``."""
    if setup == "linear":
        return c.neg() if noise is None else noise - c
    if setup == "realizable":
        if algorithm == "sgd":
            # gate 1{p1 + c > 0}; ReLU(p1) - ReLU(p1 + c) there is -c - min(p1, 0)
            r = torch.add(c, torch.clamp(p1, max=0.0)).neg_()
            if noise is not None:
                r += noise
            return r.mul_(_step_mask(p1 + c))
        if noise is None:  # gate 1{p1 > 0}, residual ReLU(p1) - p1 - c = -c there
            return c.neg().mul_(_step_mask(p1))
        y = torch.relu(p1).add_(noise)
        return (y - p1 - c).mul_(_step_mask(y))
    assert y is not None
    if algorithm == "sgd":
        return (y - c).mul_(_step_mask(c))
    return (y - c).mul_(y)  # gate 1{y > 0} = y


def draw_counts(batch: int, d: int, setup: str, label_noise: float, flip_prob: float) -> tuple[int, int]:
    """Numbers of normals and uniforms :func:`radial_step` draws per run and step:
    ``2b`` projections (``b`` when ``d = 1``), ``b`` label noises, ``n_1`` (``d >= 3``) and the odd part of
    ``C ~ chi^2_{d-3}``; ``b`` flips and ``floor((d-3)/2)`` uniforms for the even part of ``C``."""
    m = max(d - 3, 0)
    n_noise = batch if (setup != "binary" and label_noise > 0) else 0
    n_flip = batch if (setup == "binary" and flip_prob > 0) else 0
    return (2 if d >= 2 else 1) * batch + n_noise + int(d >= 3) + m % 2, n_flip + m // 2


def radial_step(st: RadialState, gen: torch.Generator, *, algorithm: str, setup: str, eta: float,
                batch: int, d: int, label_noise: float = 0.0, flip_prob: float = 0.0,
                accumulate: bool = False) -> RadialState:
    """One step of every run in radial form (module docstring); ``accumulate`` adds the new iterate to
    the running sum. Draws (float32, widened to the state's dtype) one block of :func:`draw_counts`
    normals, laid out component by component (projections ``(kp, N, b)``, noise ``(N, b)``, ``n_1``, odd
    part of ``C``), then one block of uniforms (flips ``(N, b)``, then ``(floor((d-3)/2), N)``)."""
    n = st.zr.shape[1]
    dtype, dev = st.zr.dtype, st.zr.device
    b = batch
    m = max(d - 3, 0)
    n_norm, n_unif = draw_counts(b, d, setup, label_noise, flip_prob)
    n_flip = n_unif - m // 2
    g = torch.empty(n * n_norm, dtype=torch.float32, device=dev).normal_(generator=gen)
    u = (torch.empty(n * n_unif, dtype=torch.float32, device=dev).uniform_(generator=gen)
         if n_unif else None)
    if dtype != torch.float32:
        g = g.to(dtype)
        u = None if u is None else u.to(dtype)
    two = d >= 2
    kp = 2 if two else 1
    p = g[:kp * n * b].view(kp, n, b)  # p[0] = x.u_1, p[1] = x.e
    p1 = p[0]
    col = kp * n * b
    noise = y = None
    if setup != "binary":
        if label_noise > 0:
            noise = g[col:col + n * b].view(n, b) * label_noise
            col += n * b
    else:
        y = _step_mask(p1)
        if n_flip:  # y + f (1 - 2 y) with f = 1{U < flip_prob}
            f = _step_mask(flip_prob - u[:n * b].view(n, b))
            y = torch.addcmul(y, f, 1.0 - 2.0 * y)
    zr = st.zr
    c = p1 * zr[0][:, None]
    if two:
        c = torch.addcmul(c, p[1], zr[1][:, None])
    k = _coefficients(p1, c, noise, y, algorithm=algorithm, setup=setup)
    kf = eta / b
    ones = torch.ones(b, dtype=dtype, device=dev)
    sums = torch.matmul(p * k, ones)  # (S_1, S_2) * b/eta, shape (kp, N)
    if two:
        new = torch.add(zr, sums, alpha=kf)
    else:
        new = torch.stack([torch.add(zr[0], sums[0], alpha=kf), zr[1]])
    if d < 3:  # no remainder H; in d = 2 the perpendicular line may flip (v < 0)
        v = new[1].clone() if two else None
        new[1].abs_()
        if not accumulate:
            return RadialState(new, st.sa, st.qs)
        return _accumulate(st, new, v, None)
    if setup != "binary" and label_noise == 0.0:
        # noiseless runs collapse: scale by max(|a|, r) so that squares of tiny k do not underflow
        sc = torch.maximum(zr[0].abs(), zr[1]).clamp_(min=torch.finfo(dtype).tiny)
        ks = k / sc[:, None]
        sq = torch.matmul(ks.square_(), ones).sqrt_().mul_(sc * kf)
    else:
        sq = torch.matmul(k.square(), ones).sqrt_().mul_(kf)  # sqrt(Q)
    hn = sq * g[col:col + n]  # the part of H along f
    v = new[1].clone()
    if m:
        chi = None
        if m // 2:
            chi = torch.log1p(-u[n_flip * n:].view(m // 2, n)).sum(dim=0).mul_(-2.0)
        if m % 2:
            odd = g[col + n:col + 2 * n].square()
            chi = odd if chi is None else chi.add_(odd)
        new[1] = torch.hypot(torch.hypot(v, hn), sq.mul_(chi.sqrt_()))
    else:
        new[1] = torch.hypot(v, hn)
    if not accumulate:
        return RadialState(new, st.sa, st.qs)
    return _accumulate(st, new, v, hn)


def _accumulate(st: RadialState, new: torch.Tensor, v: torch.Tensor | None, hn: torch.Tensor | None
                ) -> RadialState:
    """Add the new iterate to the running sum: ``S_perp.z_perp' = q v + s_perp h_n``, ``g = S_perp.e'``,
    then ``q' = g + r'`` and ``s_perp' = sqrt(|S_perp|^2 - g^2)``."""
    sa = st.sa + new[0]
    if v is None:  # d = 1: no perpendicular part
        return RadialState(new, sa, st.qs)
    q, sp = st.qs[0], st.qs[1]
    r = new[1]
    dot = q * v
    if hn is not None:
        dot = torch.addcmul(dot, sp, hn)
    gg = dot / torch.clamp(r, min=torch.finfo(r.dtype).tiny)
    sigma = torch.hypot(q, sp)
    ga = gg.abs()
    qs = torch.empty_like(st.qs)
    torch.add(gg, r, out=qs[0])
    torch.mul(torch.sqrt(torch.clamp(sigma - ga, min=0.0)), torch.sqrt(sigma + ga), out=qs[1])
    return RadialState(new, sa, qs)


def _record_steps(n_iters: int, n_points: int) -> np.ndarray:
    steps = np.unique(np.round(np.geomspace(1, n_iters, n_points)).astype(int))
    return np.concatenate([[0], steps])


def _unit_orthogonal(g: torch.Tensor, basis: list[torch.Tensor]) -> torch.Tensor:
    """Rows of ``g`` made orthogonal to the unit vectors (rows or a fixed vector) in ``basis`` (twice,
    for accuracy) and normalised."""
    for _ in range(2):
        for e in basis:
            coef = (g * e).sum(dim=-1, keepdim=True) if e.dim() == 2 else (g @ e)[:, None]
            g = g - coef * (e if e.dim() == 2 else e[None, :])
    return g / torch.linalg.vector_norm(g, dim=1, keepdim=True)


#: runs per block, at most: larger runs are split into equal blocks simulated independently (each with its
#: own random stream), on several threads
RADIAL_BLOCK = 32768


def radial_blocks(n_chains: int) -> list[tuple[int, int]]:
    """The blocks ``[(start, stop), ...]`` of :func:`run_relu_radial`: ``ceil(N / RADIAL_BLOCK)`` blocks of
    (nearly) equal size, a function of ``N`` only, so the numbers do not depend on the number of workers."""
    k = -(-int(n_chains) // RADIAL_BLOCK)
    bounds = [round(i * n_chains / k) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def run_relu_radial(
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
    seed: int = 0,
    n_trajectories: int = 5,
    n_record: int = 120,
    divergence_threshold: float = 1e8,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "float32",
    workers: int | None = None,
) -> ReluRun:
    """:func:`sgdtails.relu.simulate.run_relu` for Gaussian inputs and ``w_0 ~ N(0, I/d)``, simulated in
    radial form (module docstring): the same law of the returned arrays, at a cost of ``O(b)`` per run
    and step instead of ``O(b d)``. Same arguments (inputs are Gaussian; ``w0`` and ``w_star`` are not
    given) and the same :class:`~sgdtails.relu.simulate.ReluRun`, whose ``last`` and ``average`` are
    rebuilt from the scalars with uniformly random directions.

    ``setup="linear"`` runs online SGD on least squares with the same inputs, y = w*.x + sigma xi
    (``label_noise`` = sigma): the variant's update with every gate open,
    w <- w + (eta/b) sum_i (y_i - w.x_i) x_i, the linear-regression contrast of Part II (for
    ``algorithm``, "sgd" and "variant" are then the same algorithm).

    The runs are simulated in the blocks of :func:`radial_blocks` (block ``i`` draws its mini-batches from
    ``derive_seed(seed, "batches", i)``), on ``workers`` threads (default: every core), each with one
    torch intra-op thread; the result does not depend on ``workers``."""
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    if setup == "linear":  # least squares: the variant's update with every gate open
        law = DataLaw.make("realizable", d, label_noise, flip_prob, "gaussian", 5)
        law = DataLaw("linear", law.d, law.label_noise, 0.0, "gaussian", 5)
    else:
        law = DataLaw.make(setup, d, label_noise, flip_prob, "gaussian", 5)
    d = law.d
    batch = check_int("batch", batch, low=1)
    eta = check_positive("eta", eta)
    n_chains = check_int("n_chains", n_chains, low=1)
    n_iters = check_int("n_iters", n_iters, low=1)
    seed = check_int("seed", seed, low=0)
    n_trajectories = check_int("n_trajectories", n_trajectories, low=0)
    n_record = check_int("n_record", n_record, low=2)
    divergence_threshold = check_positive("divergence_threshold", divergence_threshold)
    workers = default_workers() if workers is None else check_int("workers", workers, low=1)
    tdtype = torch_dtype(dtype)
    device = torch.device(device)
    realizable = law.setup != "binary"  # the state is z = w - w* (w* = x_true for least squares)

    ws64 = random_teacher(d, derive_seed(seed, "teacher"), device=device)
    g0 = torch_generator(derive_seed(seed, "init"), device)
    w0 = torch.randn((n_chains, d), generator=g0, dtype=torch.float64, device=device) / math.sqrt(d)
    a0 = w0 @ ws64
    r0 = torch.linalg.vector_norm(w0 - a0[:, None] * ws64, dim=1)
    if realizable:
        a0 = a0 - 1.0
    zr0 = torch.stack([a0, r0]).to(tdtype)

    rec = _record_steps(n_iters, n_record)
    rec_set = {int(t): i for i, t in enumerate(rec)}
    n_tr = min(n_trajectories, n_chains)
    traj = np.full((n_tr, rec.size), np.nan)
    shift = torch.tensor([[0.0 if realizable else -1.0], [0.0]], dtype=torch.float64, device=device)
    kw = dict(algorithm=algorithm, setup=law.setup, eta=eta, batch=batch, d=d,
              label_noise=law.label_noise, flip_prob=law.flip_prob)

    def run_block(i: int, lo: int, hi: int) -> tuple[RadialState, torch.Tensor]:
        n = hi - lo
        zero = torch.zeros(n, dtype=tdtype, device=device)
        st = RadialState(zr0[:, lo:hi].clone(), zero, torch.zeros((2, n), dtype=tdtype, device=device))
        gen = torch_generator(derive_seed(seed, "batches", i), device)
        n_rec = max(0, min(n_tr, hi) - lo)  # traced runs in this block

        def record(j: int, state: RadialState) -> None:
            if n_rec:  # |w - w*|: z - u_1 on binary data
                traj[lo:lo + n_rec, j] = torch.linalg.vector_norm(state.zr[:, :n_rec].double() + shift,
                                                                  dim=0).cpu().numpy()

        record(0, st)
        burn = n_iters // 2
        alive = torch.ones(n, dtype=torch.bool, device=device)
        for t in range(1, n_iters + 1):
            new = radial_step(st, gen, accumulate=t > burn, **kw)
            # a run whose |z| is non-finite or above the threshold is frozen at its last iterate
            alive &= torch.hypot(new.zr[0], new.zr[1]) <= divergence_threshold
            if bool(alive.all()):
                st = new
            else:
                zr = torch.where(alive, new.zr, st.zr)
                if t > burn:  # a frozen run adds its unchanged iterate: z_perp' = r e (v = r, no H)
                    frozen = _accumulate(st, st.zr, st.zr[1] if d >= 2 else None, None)
                    st = RadialState(zr, torch.where(alive, new.sa, frozen.sa),
                                     torch.where(alive, new.qs, frozen.qs))
                else:
                    st = RadialState(zr, st.sa, st.qs)
            if t in rec_set:
                record(rec_set[t], st)
        return st, alive

    done = map_blocks(run_block, radial_blocks(n_chains), workers=workers, progress=False)
    st = RadialState(torch.cat([b.zr for b, _ in done], dim=1), torch.cat([b.sa for b, _ in done]),
                     torch.cat([b.qs for b, _ in done], dim=1))
    alive = torch.cat([a for _, a in done])

    # rebuild the vectors (float64): z_K = a u1 + r e, S = sa u1 + q e + s_perp f
    gd = torch_generator(derive_seed(seed, "directions"), device)
    a = st.zr[0].double()
    r = st.zr[1].double()
    if d >= 2:
        e = _unit_orthogonal(torch.randn((n_chains, d), generator=gd, dtype=torch.float64, device=device),
                             [ws64])
    else:
        e = torch.zeros((n_chains, d), dtype=torch.float64, device=device)
    if d >= 3:
        f = _unit_orthogonal(torch.randn((n_chains, d), generator=gd, dtype=torch.float64, device=device),
                             [ws64, e])
    else:
        f = torch.zeros((n_chains, d), dtype=torch.float64, device=device)
    z = a[:, None] * ws64 + r[:, None] * e
    n_avg = n_iters - n_iters // 2
    qq = st.qs[0].double()
    s_perp = st.qs[1].double()
    avg = (st.sa.double()[:, None] * ws64 + qq[:, None] * e + s_perp[:, None] * f) / n_avg
    tiny = torch.finfo(tdtype).tiny * 1e6
    n_underflow = int(((torch.hypot(a, r) < tiny) & alive).sum())
    offset = ws64 if realizable else torch.zeros_like(ws64)
    last = (z + offset).cpu().numpy()
    average = (avg + offset).cpu().numpy()
    if realizable:
        last_dev, average_dev = z.cpu().numpy(), avg.cpu().numpy()
    else:
        last_dev, average_dev = (z - ws64).cpu().numpy(), (avg - ws64).cpu().numpy()
    diverged = (~alive).cpu().numpy()
    return ReluRun(
        algorithm=algorithm, setup=law.setup, d=d, batch=batch, eta=eta, n_chains=n_chains,
        n_iters=n_iters, label_noise=law.label_noise, flip_prob=law.flip_prob, input_law="gaussian",
        seed=seed, dtype=dtype_name(tdtype), w_star=ws64.cpu().numpy(), last=last, average=average,
        last_dev=last_dev, average_dev=average_dev, trajectory=traj, trajectory_steps=rec,
        diverged=diverged, n_diverged=int(diverged.sum()), n_underflow=n_underflow,
    )
