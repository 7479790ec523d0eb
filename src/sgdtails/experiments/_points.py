"""Sweep points on every core: each point cached on its own (:func:`sgdtails._core.cache.cached`), computed
on a pool of threads with one torch intra-op thread each.

Every point has its own seeds, so the results do not depend on the number of workers or on the order in which
points finish; torch releases the interpreter lock inside its kernels, so threads overlap the simulations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sgdtails._core.cache import cached
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_int

__all__ = ["cached_points", "default_workers"]


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not on Linux)
        return max(1, os.cpu_count() or 1)


def cached_points(cache_dir: Any, namespace: str, points: Sequence[Mapping[str, Any]],
                  compute: Callable[[Mapping[str, Any]], Mapping[str, Any]], *,
                  workers: int | None = None) -> list[dict[str, np.ndarray]]:
    """``cached(cache_dir, namespace, point, lambda: compute(point))`` for every point, in order, on
    ``workers`` threads (default: every core). Equal points are computed once."""
    workers = default_workers() if workers is None else check_int("workers", workers, low=1)
    keys: dict[str, int] = {}
    unique: list[Mapping[str, Any]] = []
    order = []
    for p in points:
        key = repr(sorted(p.items()))
        if key not in keys:
            keys[key] = len(unique)
            unique.append(p)
        order.append(keys[key])

    def one(p: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return cached(cache_dir, namespace, p, lambda: compute(p))

    with single_thread():
        if workers == 1 or len(unique) == 1:
            results = [one(p) for p in unique]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(one, unique))
    return [results[i] for i in order]
