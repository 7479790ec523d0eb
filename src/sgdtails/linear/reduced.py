r"""Exact reduced samplers for Gaussian data: ``O(d + B)`` normals per chain-step instead of ``O(B d)``.

Both simulators of the book are bound by random-number generation: a direct step draws the whole
mini-batch (``B d`` normals per chain). For Gaussian data the update depends on each sample only
through its projection on a small subspace plus an isotropic remainder whose sum over the batch is
again Gaussian, so the same update can be drawn *exactly in distribution* from far fewer normals.
(This derivation is this project's own; the book shows it, the tests check it.)

Linear SGD, online Gaussian data (Part I)
-----------------------------------------
``a_i = Sigma^{1/2} g_i`` with ``g_i ~ N(0, I_d)``, ``Sigma = diag(lambda)``,
``y_i = a_i . x_true + sigma eps_i``. With ``z = x - x_true``, ``v = Sigma^{1/2} z``, ``e = v/|v|``
and ``t_i = g_i . e ~ N(0, 1)`` (independent of ``P g_i``, ``P = I - e e'``):

.. math::
   \sum_i a_i (a_i . x - y_i)
   = \Sigma^{1/2} \Big[ e \sum_i t_i c_i + \sqrt{\textstyle\sum_i c_i^2}\, P h \Big],
   \qquad c_i = |v| t_i - \sigma \varepsilon_i,\quad h \sim N(0, I_d),

because, given ``(t_i, eps_i)``, ``sum_i c_i P g_i ~ N(0, sum_i c_i^2 P)``. The batch enters only through
``(T2, TE, E2) = (sum t_i^2, sum t_i eps_i, sum eps_i^2)``, a 2x2 Wishart(B, I) matrix, which the
Bartlett decomposition draws from two chi-square and one normal variate:
``T2 = c1^2``, ``TE = c1 n``, ``E2 = n^2 + c2^2`` with ``c1^2 ~ chi2_B``, ``c2^2 ~ chi2_{B-1}``,
``n ~ N(0, 1)``; then ``sum t_i c_i = c1 (c1 |v| - sigma n)`` and
``sum c_i^2 = (c1 |v| - sigma n)^2 + sigma^2 c2^2`` (no cancellation). So a step costs ``d + 2B``
normals (``batch_sums="explicit"``) or ``d + 1`` normals and two gamma variates (``"wishart"``);
``"auto"`` picks the cheaper one for the device and dtype. ``|v| = 0`` (x at x_true) is handled
with ``e = e_1``.

Numerics: noiseless runs collapse geometrically (linear SGD with ``sigma = 0`` onto ``x_true``, the
realizable gate onto ``w*``); there the norms are computed on the state divided by its per-chain
max-abs, so nothing underflows before the direct sampler would (float32 ``|z|`` down to ~1e-37).

Random streams: the reduced samplers draw different variates from the direct ones, so the same seed
gives different (equally distributed) paths; ``sampler="direct"`` reproduces the direct stream. On
the CPU the chains are processed in blocks of ``block_chains(d)`` (cache-sized scratch buffers); the
stream depends on that block size, a fixed function of ``d``, so results are reproducible for given
``(seed, N, d, dtype, device)``.

Everything here is pure torch, vectorised over chains, driven by an explicit ``torch.Generator`` on
the state's device; nothing leaves the device in the hot loop (``tests/test_cuda.py`` checks this with
CUDA's sync-debug mode where a GPU is available).

"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sgdtails._core.blocks import chain_blocks, chi2, row_scale
from sgdtails._core.validation import check_choice, check_int, check_positive

__all__ = [
    "BATCH_SUMS",
    "linear_gradient_sampler",
    "linear_reduced_gradient",
    "linear_reduced_step",
    "linear_reduced_why_not",
    "normals_per_step",
    "resolve_batch_sums",
]

BATCH_SUMS = ("auto", "explicit", "wishart")


def linear_reduced_why_not(problem: Any) -> str | None:
    """``None`` if the reduced linear-SGD sampler is exact for ``problem``, else the reason it is not.

    Exact for online Gaussian data with a diagonal covariance
    (:class:`sgdtails.linear.designs.GaussianDesign`).
    """
    if not getattr(problem, "online", False):
        return ("it is exact only for online Gaussian data; offline SGD resamples the rows of a finite "
                "data set, whose projections are not Gaussian")
    if getattr(problem, "eigvecs", None) is not None:
        return "it needs a diagonal covariance (Sigma = diag(spectrum)); this problem has eigenvectors"
    for attr in ("spectrum", "x_true", "sigma"):
        if not hasattr(problem, attr):
            return f"it needs a Gaussian design with a spectrum, x_true and sigma (missing {attr!r})"
    return None


def resolve_batch_sums(batch_sums: str, batch: int, dtype: torch.dtype,
                       device: torch.device | str = "cpu") -> str:
    """``"explicit"`` or ``"wishart"``: the cheaper way to draw the batch sums (both exact).

    Measured here (one CPU thread): a gamma variate costs ~12-18 float32 normals or ~2-3 float64
    normals; Bartlett needs two gammas and a normal, the explicit sums ``2B`` normals. On an
    accelerator (not measured here: no GPU was available) Bartlett is used from ``B = 2``, since its
    cost does not grow with ``B``.
    """
    batch_sums = check_choice("batch_sums", batch_sums, BATCH_SUMS)
    if batch_sums != "auto":
        return batch_sums
    if torch.device(device).type != "cpu":
        threshold = 2
    else:
        threshold = 16 if dtype == torch.float32 else 3
    return "wishart" if batch >= threshold else "explicit"


def normals_per_step(kind: str, *, d: int, batch: int, batch_sums: str = "explicit", sigma: float = 1.0,
                     label_noise: float = 0.0, sampler: str = "reduced") -> dict[str, int]:
    """Random variates one chain-step draws: ``{"normal": ..., "gamma": ..., "uniform": ...}``.

    ``kind``: ``"linear"`` (online linear SGD), ``"relu"`` (either ReLU algorithm) or ``"hsgd"`` (per
    Euler sub-step). ``sampler``: ``"reduced"`` or ``"direct"``. Used by the benchmark to compare with
    the generator's throughput.
    """
    check_choice("kind", kind, ["linear", "relu", "hsgd"])
    check_choice("sampler", sampler, ["direct", "reduced"])
    noisy = 1 if sigma > 0 else 0
    if kind == "hsgd":
        return {"normal": d, "gamma": 0, "uniform": 0}
    if kind == "linear":
        if sampler == "direct":
            return {"normal": batch * d + batch, "gamma": 0, "uniform": 0}
        if batch_sums == "wishart":
            return {"normal": d + noisy, "gamma": 1 + (noisy if batch > 1 else 0), "uniform": 0}
        return {"normal": d + batch * (1 + noisy), "gamma": 0, "uniform": 0}
    extra = batch if label_noise > 0 else 0
    if sampler == "direct":
        return {"normal": batch * d + extra, "gamma": 0, "uniform": 0}
    return {"normal": d + 2 * batch + extra, "gamma": 0, "uniform": 0}


class _LinearReduced:
    """The reduced mean-gradient sampler ``X (N, d) -> (1/B) sum_i a_i (a_i . X - y_i)``."""

    def __init__(self, spectrum: Any, x_true: Any, sigma: float, batch: int, *,
                 dtype: torch.dtype, device: torch.device, batch_sums: str = "auto") -> None:
        lam = np.asarray(spectrum, dtype=np.float64).reshape(-1)
        if lam.size < 1 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
            raise ValueError("spectrum must be a non-empty array of finite non-negative eigenvalues")
        self.d = int(lam.size)
        self.batch = check_int("batch_size", batch, low=1)
        self.sigma = check_positive("sigma", sigma, allow_zero=True)
        self.dtype, self.device = dtype, torch.device(device)
        self.mode = resolve_batch_sums(batch_sums, self.batch, dtype, self.device)
        self.sd = torch.as_tensor(np.sqrt(lam), dtype=dtype, device=self.device)
        self.sd_over_b = self.sd / self.batch
        xt = None if x_true is None else np.asarray(x_true, dtype=np.float64).reshape(-1)
        if xt is not None and xt.shape != (self.d,):
            raise ValueError(f"x_true must have shape ({self.d},), got {xt.shape}")
        # v = sd * (x - x_true) = addcmul(-sd*x_true, x, sd): one pass
        self.neg_v_true = (None if xt is None or not np.any(xt)
                           else torch.as_tensor(-np.sqrt(lam) * xt, dtype=dtype, device=self.device))
        # noiseless chains collapse: compute norms on rescaled rows (see module docstring)
        self.robust = self.sigma == 0.0
        self._scratch: dict[int, dict[str, torch.Tensor]] = {}

    def _buffers(self, n: int) -> dict[str, torch.Tensor]:
        buf = self._scratch.get(n)
        if buf is None:
            kw = {"dtype": self.dtype, "device": self.device}
            k = 2 if self.sigma > 0 else 1
            buf = {"v": torch.empty(n, self.d, **kw), "h": torch.empty(n, self.d, **kw),
                   "tb": torch.empty(n, k * self.batch if self.mode == "explicit" else 1, **kw)}
            self._scratch = {n: buf} if len(self._scratch) > 4 else {**self._scratch, n: buf}
        return buf

    def batch_scalars(self, nv: torch.Tensor, gen: torch.Generator, tb: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, R) = (sum_i t_i c_i, sqrt(sum_i c_i^2))`` with ``c_i = |v| t_i - sigma eps_i``."""
        b, sigma = self.batch, self.sigma
        n = nv.shape[0]
        if sigma == 0:  # c_i = |v| t_i: A = |v| T2, R = |v| sqrt(T2) (no squares of tiny |v|)
            if self.mode == "explicit":
                t2 = tb.normal_(generator=gen).square_().sum(dim=1)
            else:
                t2 = chi2(b, (n,), gen, self.dtype, self.device)
            return nv * t2, nv * t2.sqrt()
        if self.mode == "explicit":
            tb.normal_(generator=gen)
            t = tb[:, :b]
            c = t * nv[:, None]
            c.add_(tb[:, b:], alpha=-sigma)
            return (t * c).sum(dim=1), torch.linalg.vector_norm(c, dim=1)
        c1 = chi2(b, (n,), gen, self.dtype, self.device).sqrt_()
        tb.normal_(generator=gen)
        u = torch.addcmul(-sigma * tb[:, 0], c1, nv)  # c1 |v| - sigma n
        if b > 1:
            c2 = chi2(b - 1, (n,), gen, self.dtype, self.device).sqrt_()
            r = torch.hypot(u, sigma * c2)
        else:
            r = u.abs()
        return c1 * u, r

    def _block(self, x: torch.Tensor, out: torch.Tensor, gen: torch.Generator) -> None:
        n = x.shape[0]
        buf = self._buffers(n)
        v, h = buf["v"], buf["h"]
        if self.neg_v_true is None:
            torch.mul(x, self.sd, out=v)
        else:
            torch.addcmul(self.neg_v_true, x, self.sd, out=v)
        if self.robust:
            s = row_scale(v)
            v.div_(s[:, None])
            nvs = torch.linalg.vector_norm(v, dim=1)
            nv = nvs * s
        else:
            nvs = nv = torch.linalg.vector_norm(v, dim=1)
        h.normal_(generator=gen)
        a_sum, r = self.batch_scalars(nv, gen, buf["tb"])
        zero = nvs == 0
        nvs_safe = torch.where(zero, torch.ones_like(nvs), nvs)
        eh = torch.linalg.vecdot(v, h) / nvs_safe
        k_dir = torch.where(zero, torch.zeros_like(nvs), (a_sum - r * eh) / nvs_safe)
        # sum_i a_i c_i = sd * [ v k_dir + R h ]  (+ e_1 (A - R h_1) where |v| = 0)
        torch.mul(h, r[:, None], out=out)
        out.addcmul_(v, k_dir[:, None])
        out[:, 0].add_(torch.where(zero, a_sum - r * h[:, 0], torch.zeros_like(nvs)))
        out.mul_(self.sd_over_b)

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (N, {self.d}), got {tuple(x.shape)}")
        out = torch.empty_like(x)
        for i0, i1 in chain_blocks(x.shape[0], self.d, x.device):
            self._block(x[i0:i1], out[i0:i1], gen)
        return out


def linear_reduced_gradient(x: torch.Tensor, gen: torch.Generator, *, spectrum: Any, batch: int,
                            x_true: Any = None, sigma: float = 0.0, batch_sums: str = "auto"
                            ) -> torch.Tensor:
    """Draw the mini-batch gradient ``(1/B) sum_i a_i (a_i . x - y_i)`` of every chain (rows of ``x``)
    for online data ``a ~ N(0, diag(spectrum))``, ``y = a . x_true + sigma eps``, exactly in distribution,
    from ``d + 2B`` normals per chain (or ``d + 1`` normals and two gamma variates, see module docstring).
    """
    fn = _LinearReduced(spectrum, x_true, sigma, batch, dtype=x.dtype, device=x.device,
                        batch_sums=batch_sums)
    return fn(x, gen)


def linear_reduced_step(x: torch.Tensor, gen: torch.Generator, *, spectrum: Any, gamma: float,
                        batch: int, delta: float = 0.0, x_true: Any = None, sigma: float = 0.0,
                        batch_sums: str = "auto") -> torch.Tensor:
    """One SGD step ``x - gamma [ (1/B) sum_i a_i (a_i . x - y_i) + delta x ]`` with the reduced sampler."""
    gamma = check_positive("gamma", gamma)
    delta = check_positive("delta", delta, allow_zero=True)
    g = linear_reduced_gradient(x, gen, spectrum=spectrum, batch=batch, x_true=x_true, sigma=sigma,
                                batch_sums=batch_sums)
    return x - gamma * (g + delta * x)


def linear_gradient_sampler(problem: Any, batch_size: int, gen: torch.Generator,
                            device: torch.device, dtype: torch.dtype, *, batch_sums: str = "auto"
                            ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Factory with the signature of :data:`sgdtails.linear.sgd.GRADIENT_SAMPLERS` entries:
    returns ``X (N, d) -> (1/B) sum_i a_i (a_i . X - y_i)`` drawn by the reduced sampler.

    Raises ``ValueError`` naming ``sampler`` when the reduced sampler is not exact for ``problem``.
    """
    why = linear_reduced_why_not(problem)
    if why is not None:
        raise ValueError(f"sampler='reduced' is not available here: {why}; use sampler='direct' or 'auto'")
    fn = _LinearReduced(problem.spectrum, problem.x_true, float(problem.sigma), batch_size,
                        dtype=dtype, device=torch.device(device), batch_sums=batch_sums)

    def grad(x: torch.Tensor) -> torch.Tensor:
        return fn(x, gen)

    return grad
