"""Independent blocks of runs, and independent sweep points, on every core: each block or point has its own
seed, so the numbers do not depend on how many workers there are or in which order they finish.

:func:`map_blocks` and :func:`cached_sweep` run on threads: torch releases the interpreter lock inside its
kernels, and each thread runs its block with one intra-op thread (small, cache-sized tensors gain nothing
from torch's own pool). :func:`map_processes` runs on processes, for work made of many short numpy calls
(the estimators' double bootstrap), where threads queue on the interpreter lock.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import torch
from tqdm.std import tqdm

from sgdtails._core.cache import PROGRESS_ENV, cached, canonical_params, sweep
from sgdtails._core.threads import single_thread
from sgdtails._core.validation import check_int

__all__ = ["block_ranges", "cached_map", "cached_sweep", "default_workers", "map_blocks", "map_processes"]

T = TypeVar("T")


def default_workers() -> int:
    """The cores this process may use (``os.sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not on Linux)
        return max(1, os.cpu_count() or 1)


def block_ranges(n_items: int, block_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n_items)`` in blocks of ``block_size`` (the last shorter)."""
    n_items = check_int("n_items", n_items, low=1)
    block_size = check_int("block_size", block_size, low=1)
    return [(i, min(i + block_size, n_items)) for i in range(0, n_items, block_size)]


def _progress_bar(total: int, desc: str, progress: bool) -> tqdm:
    """A bar that leaves no line behind, hidden when ``progress`` is off or the environment says so."""
    show = progress and os.environ.get(PROGRESS_ENV, "1") != "0"
    return tqdm(total=total, desc=desc, disable=not show, leave=False)


def _gather(fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], bar: tqdm, pool: Executor | None
            ) -> list[T]:
    """``[fn(*args) for args in calls]``, here (``pool=None``) or on ``pool``, results in the order of
    ``calls``, advancing ``bar`` as each one finishes."""
    if pool is None:
        out = []
        for args in calls:
            out.append(fn(*args))
            bar.update()
        return out
    futures = [pool.submit(fn, *args) for args in calls]
    for fut in futures:
        fut.add_done_callback(lambda _f: bar.update())
    return [f.result() for f in futures]


def map_blocks(fn: Callable[[int, int, int], T], ranges: Sequence[tuple[int, int]], *,
               workers: int | None = None, desc: str = "blocks", progress: bool = True) -> list[T]:
    """``[fn(i, start, stop) for i, (start, stop) in enumerate(ranges)]``, run on ``workers`` threads
    (default: every core), each with one torch intra-op thread; results in block order."""
    workers = default_workers() if workers is None else check_int("workers", workers, low=1)
    calls = [(i, a, b) for i, (a, b) in enumerate(ranges)]
    with single_thread(), _progress_bar(len(calls), desc, progress) as bar:
        if workers == 1 or len(calls) == 1:
            return _gather(fn, calls, bar, None)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return _gather(fn, calls, bar, pool)


def map_processes(fn: Callable[..., T], items: Sequence[tuple[Any, ...]], *, workers: int | None = None,
                  desc: str = "items", progress: bool = True) -> list[T]:
    """``[fn(*item) for item in items]`` on ``workers`` processes (default: every core), results in the order
    of ``items``. ``fn`` must be importable (a module-level function) and its arguments and result picklable.
    Processes are started fresh ("spawn": nothing of this process's threads or accelerator state is copied),
    each with one torch thread; with one worker or one item everything runs here."""
    workers = default_workers() if workers is None else check_int("workers", workers, low=1)
    with _progress_bar(len(items), desc, progress) as bar:
        if min(workers, len(items)) <= 1:
            return _gather(fn, items, bar, None)
        with ProcessPoolExecutor(max_workers=min(workers, len(items)), initializer=_one_thread_worker,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            return _gather(fn, items, bar, pool)


def _one_thread_worker() -> None:
    """Initializer of :func:`map_processes`' workers: one torch thread each (every core already runs a
    worker); BLAS threads are inherited from the environment (the pipeline sets one)."""
    torch.set_num_threads(1)


def cached_sweep(cache_dir: Any, namespace: str, points: Sequence[Mapping[str, Any]],
                 compute: Callable[[Mapping[str, Any]], Mapping[str, Any]], *, workers: int | None = None,
                 cost: Callable[[Mapping[str, Any]], float] | None = None, desc: str | None = None,
                 progress: bool = True) -> list[dict[str, np.ndarray]]:
    """``compute(point)`` for every point, each cached on its own under ``namespace``
    (:func:`sgdtails._core.cache.cached`: an interrupted sweep resumes), results in the order of ``points``;
    equal points are computed once; distinct points run on ``workers`` threads (default: every core), each
    with one torch intra-op thread, started in the order of ``points`` or, given ``cost(point)``, the
    costliest first (so that no long point starts last)."""
    workers = default_workers() if workers is None else check_int("workers", workers, low=1)
    index: dict[str, int] = {}
    unique: list[Mapping[str, Any]] = []
    order = []
    for point in points:
        key = canonical_params(point)
        if key not in index:
            index[key] = len(unique)
            unique.append(point)
        order.append(index[key])

    def one(_block: int, i: int, _stop: int) -> dict[str, np.ndarray]:
        point = unique[i]
        return cached(cache_dir, namespace, point, lambda: compute(point))

    start_order = list(range(len(unique)))
    if cost is not None:
        start_order.sort(key=lambda i: -float(cost(unique[i])))
    started = map_blocks(one, [(i, i + 1) for i in start_order], workers=workers,
                         desc=desc or namespace, progress=progress) if unique else []
    results = dict(zip(start_order, started, strict=True))
    return [results[i] for i in order]


def cached_map(cache_dir: Any, namespace: str, points: Sequence[Mapping[str, Any]],
               compute: Callable[..., Mapping[str, Any]], *, workers: int = 1,
               cost: Callable[[Mapping[str, Any]], float] | None = None, desc: str | None = None
               ) -> list[dict[str, np.ndarray]]:
    """``compute(point)`` for every point, each cached on its own under ``namespace``
    (:func:`sgdtails._core.cache.cached`; resumable), results in order. With ``workers > 1`` distinct
    points are computed on that many threads (:func:`cached_sweep`, the costliest first given ``cost``),
    each with one torch intra-op thread, and ``compute`` is called with ``workers=1`` (no nested pool);
    with one worker the points run one after the other and ``compute`` keeps its own pool. Every point
    has its own seeds, so the numbers do not depend on ``workers``."""
    workers = check_int("workers", workers, low=1)
    if workers == 1:
        return sweep(cache_dir, namespace, points, compute, desc=desc)
    return cached_sweep(cache_dir, namespace, points, lambda p: compute(p, workers=1), workers=workers,
                        cost=cost, desc=desc)
