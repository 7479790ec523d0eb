r"""What can be proven about the tail of offline SGD on a finite data set (this project's results).

Offline SGD is the random affine recursion ``x_{k+1} - x_ref = M_k (x_k - x_ref) + q_k`` with
``M = (1 - gamma delta') I - (gamma/B) sum_{i in Omega} a_i a_i'`` and bounded ``q_k``; its stationary law
has Kesten--Goldie tail index ``alpha``, the positive root of the convex
``Lambda(alpha) = lim_k (1/k) log E ||M_k ... M_1||^alpha`` (``Lambda(0) = 0``), if there is one.
Three facts need no Monte Carlo:

1. **One step.** ``||I - gamma a a'|| = max(1, |1 - gamma |a|^2|)``; for any ``B`` the eigenvalues of
   ``(gamma/B) sum a_i a_i'`` lie in ``[0, gamma max_i |a_i|^2]``, so ``||M|| <= 1`` for every batch as
   soon as ``gamma max_i |a_i|^2 <= 2 (1 - gamma delta')`` (and ``gamma delta' <= 1``).
2. **Second moments, exactly.** ``E |M_k ... M_1 u|^2 = u' T^k(I) u`` with the linear map
   ``T(S) = E[M' S M]`` on symmetric matrices, which is self-adjoint and positive, so
   ``Lambda(2) = log rho(T)``, its spectral radius, bracketed by the Collatz--Wielandt bounds of a positive
   map on the row space of ``A``. ``rho(T) < 1`` means ``Lambda(2) < 0``: ``alpha > 2``.
   Together with 1: if every step is non-expansive (``||M_k|| <= 1``) and ``rho(T) < 1``, then
   ``||Pi_k||^alpha <= ||Pi_k||^2`` for ``alpha >= 2`` and ``Lambda(alpha) <= (alpha/2) Lambda(2)`` for
   ``alpha < 2`` (Jensen), so ``Lambda < 0`` for every ``alpha > 0``: **there is no power-law tail**; the
   stationary law, and the iterates at every step from a Gaussian start, have every moment
   (``|x_k - x_ref| <= |Pi_k (x_0 - x_ref)| + sum_j ||Pi_{k,j}|| |q_j|`` with Minkowski's inequality).
3. **Explicit paths.** A row ``a`` drawn ``k`` times in a row (probability ``n^{-Bk}`` with replacement)
   gives ``E ||Pi_k||^alpha >= n^{-Bk} ||I - gamma a a'||^{alpha k}``, hence
   ``Lambda(alpha) >= alpha log ||I - gamma a a'|| - B log n`` and
   ``alpha <= B log n / log ||I - gamma a a'||``.

4. **Stationarity.** ``Lambda'(0)`` is the top Lyapunov exponent ``lim_k (1/k) E log |Pi_k u|``, a
   typical-path quantity that plain simulation estimates well (:func:`lyapunov_exponent`): a positive
   exponent means the iterates grow without bound (no stationary law), a negative one that they settle.

Population Monte Carlo (:func:`sgdtails.linear.sgd_index.sgd_tail_index`) estimates ``alpha`` where these
facts leave a range; it follows typical paths, while the tail is decided by rare ones (fact 3), so its
estimate can exceed the rigorous upper bound: the book shows where it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails._core.validation import check_int, check_sgd_args
from sgdtails.linear.datasets import FiniteDataset
from sgdtails.linear.sgd_index import linear_sgd_random_matrix

__all__ = ["Lyapunov", "OneStepNorms", "SecondMoment", "lyapunov_exponent", "one_step_norms",
           "repeat_path_bound", "second_moment_rate"]


def _check(dataset: FiniteDataset, gamma: float, batch_size: int, delta: float) -> tuple[float, int, float]:
    if not isinstance(dataset, FiniteDataset):
        raise ValueError(f"dataset must be a FiniteDataset, got {type(dataset).__name__}")
    gamma, b, delta = check_sgd_args(gamma, batch_size, delta)
    if gamma * delta > 1:
        raise ValueError(f"gamma * delta must be at most 1 (a contracting ridge step), got {gamma * delta!r}")
    return gamma, b, delta


@dataclass(frozen=True)
class OneStepNorms:
    """Norms of the one-step matrices of single rows, ``||(1 - gamma delta') I - gamma a_i a_i'||``.

    ``norms`` (n,); ``max_norm``; ``frac_expanding`` (rows with norm > 1); ``gamma_max_row2`` =
    ``gamma max_i |a_i|^2``; ``nonexpansive``: every batch of every size has ``||M|| <= 1`` (fact 1);
    ``gamma_row`` = ``2 (1 - gamma delta') / max_i |a_i|^2`` at ``delta' = 0``, i.e. ``2 / max_i |a_i|^2``:
    the step size up to which every step is non-expansive.
    """

    norms: np.ndarray
    max_norm: float
    frac_expanding: float
    gamma_max_row2: float
    nonexpansive: bool
    gamma_row: float


def one_step_norms(dataset: FiniteDataset, gamma: float, batch_size: int = 1, delta: float = 0.0
                   ) -> OneStepNorms:
    """Fact 1 of the module docstring for ``dataset`` at ``(gamma, B, delta')`` (``delta'`` in Hessian
    units)."""
    gamma, _, delta = _check(dataset, gamma, batch_size, delta)
    c0 = 1.0 - gamma * delta
    row2 = np.einsum("ij,ij->i", dataset.features, dataset.features)
    norms = np.maximum(abs(c0), np.abs(c0 - gamma * row2))
    gmax = float(gamma * row2.max())
    return OneStepNorms(norms=norms, max_norm=float(norms.max()), frac_expanding=float(np.mean(norms > 1)),
                        gamma_max_row2=gmax, nonexpansive=bool(gmax <= 2 * c0),
                        gamma_row=float(2.0 / row2.max()))


@dataclass(frozen=True)
class SecondMoment:
    """A certified bracket ``rho_low <= rho(T) <= rho_high`` for the exact growth rate of ``E|Pi_k u|^2`` on
    the row space of ``A``, so ``Lambda(2) = log rho(T)`` lies in ``[log rho_low, log rho_high]``.
    ``alpha_above_2`` is ``rho_high < 1`` (then ``Lambda(2) < 0``, proven up to floating point);
    ``one_step`` is ``max_u E|M u|^2`` on the row space (``rho_high`` after no iteration); ``rank`` the
    dimension used; ``n_power`` the power iterations."""

    rho_low: float
    rho_high: float
    one_step: float
    alpha_above_2: bool
    rank: int
    n_power: int

    @property
    def lambda_2_high(self) -> float:
        """Upper end of ``Lambda(2)``."""
        return math.log(self.rho_high)


def _row_space_rows(dataset: FiniteDataset) -> np.ndarray:
    """The rows of ``A`` in an orthonormal basis of its row space, shape (n, rank)."""
    _, _, vt = np.linalg.svd(dataset.features, full_matrices=False)
    return dataset.features @ vt[: dataset.rank].T


def _collatz_wielandt(s: np.ndarray, ts: np.ndarray) -> tuple[float, float]:
    """``lambda_min`` and ``lambda_max`` of ``S^{-1/2} T(S) S^{-1/2}`` for a positive definite ``S``: for a
    positive map ``T``, ``T(S) <= mu S`` gives ``rho(T) <= mu`` and ``T(S) >= nu S`` gives
    ``rho(T) >= nu``. They are the extreme generalized eigenvalues of the pencil ``(T(S), S)`` (one
    Cholesky-based symmetric solve)."""
    ev = scipy.linalg.eigh(ts, s, eigvals_only=True, check_finite=False)
    return float(ev[0]), float(ev[-1])


def second_moment_rate(dataset: FiniteDataset, gamma: float, batch_size: int = 1, delta: float = 0.0, *,
                       n_power: int = 200) -> SecondMoment:
    """Fact 2, certified: ``T(S) = E[M' S M]`` on the row space of ``A`` (rows with replacement:
    ``T(S) = c^2 S - c gamma (H S + S H) + gamma^2 [ (1/B) E(a' S a) a a' + (1 - 1/B) H S H ]``,
    ``c = 1 - gamma delta'``, ``H = A'A/n``) is a positive map, so for any positive definite ``S``
    (Collatz--Wielandt) ``lambda_min(S^-1/2 T(S) S^-1/2) <= rho(T) <= lambda_max(S^-1/2 T(S) S^-1/2)``.
    ``S`` is ``T^k(I)`` after ``n_power`` power iterations (normalised), which tightens the bracket.

    On the null space of ``A`` the matrices act as ``c I`` and the noise of SGD has no component there, so the
    row space is where the tail is decided.
    """
    gamma, b, delta = _check(dataset, gamma, batch_size, delta)
    if n_power < 0:
        raise ValueError(f"n_power must be >= 0, got {n_power!r}")
    c0 = 1.0 - gamma * delta
    ar = _row_space_rows(dataset)
    n, r = ar.shape
    h = ar.T @ ar / n

    def apply(s: np.ndarray) -> np.ndarray:
        quad = np.einsum("ij,ij->i", ar @ s, ar)  # a_i' S a_i, the n r^2 work in one matrix product
        fourth = (ar * quad[:, None]).T @ ar / n
        hs = h @ s
        out = c0**2 * s - c0 * gamma * (hs + hs.T) + gamma**2 * (fourth / b + (1 - 1 / b) * hs @ h)
        return 0.5 * (out + out.T)

    s = np.eye(r)
    ts = apply(s)
    one_step = float(np.linalg.eigvalsh(ts)[-1])
    low, high = _collatz_wielandt(s, ts)
    for _ in range(n_power):
        s = ts / np.linalg.norm(ts)
        ts = apply(s)
        lo, hi = _collatz_wielandt(s, ts)
        low, high = max(low, lo), min(high, hi)
    return SecondMoment(rho_low=low, rho_high=high, one_step=one_step, alpha_above_2=bool(high < 1),
                        rank=r, n_power=int(n_power))


def repeat_path_bound(dataset: FiniteDataset, gamma: float, batch_size: int = 1, delta: float = 0.0) -> float:
    """Fact 3: ``alpha <= B log n / log max_i ||(1 - gamma delta') I - gamma a_i a_i'||`` (rows drawn with
    replacement; for ``B = 1`` also the published "distinct" batches). ``inf`` when no row expands."""
    gamma, b, delta = _check(dataset, gamma, batch_size, delta)
    top = one_step_norms(dataset, gamma, b, delta).max_norm
    return math.inf if top <= 1 else b * math.log(dataset.n) / math.log(top)


@dataclass(frozen=True)
class Lyapunov:
    """Top Lyapunov exponent ``Lambda'(0) = lim (1/k) E log |M_k ... M_1 u|`` estimated by ``value`` with
    standard error ``se`` (over independent walkers), from ``n_walkers`` walkers of ``n_steps`` steps after
    ``burn_in`` steps."""

    value: float
    se: float
    n_walkers: int
    n_steps: int
    burn_in: int


def lyapunov_exponent(dataset: FiniteDataset, gamma: float, batch_size: int = 1, delta: float = 0.0, *,
                      n_walkers: int = 512, n_steps: int = 2000, burn_in: int = 200, seed: int = 0
                      ) -> Lyapunov:
    """Fact 4: the top Lyapunov exponent of offline SGD's matrices (rows with replacement), by following
    ``n_walkers`` unit vectors ``u <- M u / |M u|`` and averaging ``log |M u|`` after ``burn_in`` steps (plain
    simulation, no resampling: the law of large numbers applies to typical paths)."""
    gamma, b, delta = _check(dataset, gamma, batch_size, delta)
    n_walkers = check_int("n_walkers", n_walkers, low=2)
    n_steps = check_int("n_steps", n_steps, low=1)
    burn_in = check_int("burn_in", burn_in, low=0)
    apply = linear_sgd_random_matrix(None, gamma, b, delta, rows=dataset.features)
    gen = torch_generator(derive_seed(seed, "lyapunov"))
    u = torch.randn(n_walkers, dataset.d, generator=gen, dtype=torch.float64)
    u /= torch.linalg.vector_norm(u, dim=1, keepdim=True)
    acc = torch.zeros(n_walkers, dtype=torch.float64)
    for k in range(burn_in + n_steps):
        v = apply(u, gen)
        r = torch.linalg.vector_norm(v, dim=1)
        if k >= burn_in:
            acc += torch.log(r)
        u = v / r.unsqueeze(1)
    per_walker = (acc / n_steps).numpy()
    return Lyapunov(value=float(per_walker.mean()), se=float(per_walker.std(ddof=1) / math.sqrt(n_walkers)),
                    n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in)
