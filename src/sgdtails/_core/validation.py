"""Argument checks shared by the library: every error names the argument and the allowed range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is finite and > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    bound = ">= 0" if allow_zero else "> 0"
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[low, high]`` (bounds optional, inclusive)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v}")
    return v


def check_in_interval(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    closed_low: bool = True,
    closed_high: bool = True,
) -> float:
    """Return ``value`` as float if it lies in the interval between ``low`` and ``high``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok_low = v >= low if closed_low else v > low
    ok_high = v <= high if closed_high else v < high
    if not (math.isfinite(v) and ok_low and ok_high):
        lb = "[" if closed_low else "("
        hb = "]" if closed_high else ")"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {value!r}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise list the valid names."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_sample(
    name: str,
    x: Any,
    *,
    ndim: int | tuple[int, ...] = 1,
    min_size: int = 10,
) -> np.ndarray:
    """Return ``x`` as a float64 array after checking rank, finiteness, size and non-degeneracy.

    Raises ValueError naming ``name`` for: wrong rank, NaN or inf entries, fewer than
    ``min_size`` observations (rows), or all-equal data.
    """
    arr = np.asarray(x, dtype=np.float64)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        raise ValueError(f"{name} must be an array of rank {' or '.join(map(str, allowed))}, "
                         f"got rank {arr.ndim} (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); "
                         "remove or count them before estimating")
    n = arr.shape[0] if arr.ndim else 0
    if n < min_size:
        raise ValueError(f"{name} needs at least {min_size} finite observations, got {n}")
    if np.ptp(arr, axis=0).max(initial=0.0) == 0.0 if arr.ndim > 1 else np.ptp(arr) == 0.0:
        raise ValueError(f"{name} has all-equal values; a tail index is undefined")
    return arr


def check_float_dtype(name: str, dtype: Any) -> Any:
    """Return a torch floating dtype from ``torch.float32``/``torch.float64`` or their names."""
    names = {"float32": torch.float32, "float64": torch.float64}
    if isinstance(dtype, str) and dtype in names:
        return names[dtype]
    if dtype in (torch.float32, torch.float64):
        return dtype
    raise ValueError(f"{name} must be torch.float32 or torch.float64 (or 'float32'/'float64'), got {dtype!r}")


def check_sgd_args(gamma: Any, batch_size: Any, delta: Any) -> tuple[float, int, float]:
    """Validate ``(gamma > 0, batch_size >= 1, delta >= 0)``."""
    return (check_positive("gamma", gamma), check_int("batch_size", batch_size, low=1),
            check_positive("delta", delta, allow_zero=True))


def check_device(name: str, device: Any) -> str:
    """A torch device name on which the simulators run: ``"cpu"`` or ``"cuda"`` (``"cuda:N"`` too)."""
    text = str(device)
    if text.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    return text
