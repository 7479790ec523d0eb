"""sgdtails._core.parallel: results in the order asked, whatever the number of workers."""

import math
import operator

import pytest

from sgdtails._core.parallel import block_ranges, cached_sweep, map_blocks, map_processes


def test_map_processes_keeps_order_and_equals_the_serial_map():
    items = [(i, i + 3) for i in range(7)]
    assert map_processes(operator.mul, items, workers=2, progress=False) == [a * b for a, b in items]
    assert map_processes(operator.mul, items, workers=1, progress=False) == [a * b for a, b in items]


def test_map_processes_raises_the_workers_error_and_refuses_zero_workers():
    with pytest.raises(ValueError, match="math domain error"):
        map_processes(math.sqrt, [(4.0,), (-1.0,)], workers=2, progress=False)
    with pytest.raises(ValueError, match="workers"):
        map_processes(math.sqrt, [(4.0,)], workers=0)


def test_map_blocks_and_cached_sweep_keep_order(tmp_path):
    ranges = block_ranges(10, 3)
    assert ranges == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert map_blocks(lambda i, a, b: (i, b - a), ranges, workers=3, progress=False) == [
        (0, 3), (1, 3), (2, 3), (3, 1)]
    points = [{"x": 2.0}, {"x": 3.0}, {"x": 2.0}]
    calls = []

    def square(point):
        calls.append(point["x"])
        return {"y": point["x"] ** 2}

    out = cached_sweep(tmp_path, "squares", points, square, workers=2, progress=False)
    assert [float(o["y"]) for o in out] == [4.0, 9.0, 4.0]
    assert sorted(calls) == [2.0, 3.0]  # equal points computed once
    again = cached_sweep(tmp_path, "squares", points, square, workers=2, progress=False)
    assert [float(o["y"]) for o in again] == [4.0, 9.0, 4.0] and len(calls) == 2  # read from the cache


def test_cached_sweep_starts_the_costliest_point_first_and_keeps_the_order(tmp_path):
    points = [{"n": 1}, {"n": 5}, {"n": 3}, {"n": 5}, {"n": 2}]
    started = []

    def compute(point):
        started.append(point["n"])
        return {"y": 10 * point["n"]}

    out = cached_sweep(None, "costs", points, compute, workers=1, cost=lambda p: p["n"], progress=False)
    assert started == [5, 3, 2, 1]  # one worker: the start order is the run order; equal points once
    assert [int(o["y"]) for o in out] == [10, 50, 30, 50, 20]  # results in the order of the points
    started.clear()
    plain = cached_sweep(None, "costs", points, compute, workers=2, progress=False)
    assert sorted(started) == [1, 2, 3, 5]
    assert [int(o["y"]) for o in plain] == [10, 50, 30, 50, 20]
