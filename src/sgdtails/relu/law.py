"""The data law of the ReLU-gate experiments (Part II): inputs, teacher, labels, mini-batches.

Inputs x in R^d with iid symmetric unit-variance coordinates (Gaussian by default), a teacher w* with
|w*| = 1, and

- realizable data: y = ReLU(w*.x) + sigma xi, xi ~ N(0, 1) (``label_noise`` = sigma; 0 is noiseless);
- binary data:     y = 1{w*.x > 0}, each label flipped with probability ``flip_prob``.

Mini-batches are drawn in the order x, then label noise, then flips (:func:`sgdtails.relu.law.draw_batch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from sgdtails._core.seeding import torch_generator
from sgdtails._core.validation import check_choice, check_in_interval, check_int, check_positive

__all__ = [
    "ALGORITHMS",
    "INPUT_LAWS",
    "SETUPS",
    "Batch",
    "DataLaw",
    "draw_batch",
    "draw_inputs",
    "random_teacher",
    "torch_dtype",
    "variant_affine_terms",
]

ALGORITHMS = ("sgd", "variant")
SETUPS = ("realizable", "binary")
INPUT_LAWS = ("gaussian", "student_t", "uniform", "rademacher")


def torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    name = check_choice("dtype", str(dtype), ["float32", "float64"])
    return torch.float32 if name == "float32" else torch.float64


def dtype_name(dtype: torch.dtype) -> str:
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
