"""sgdtails.experiments.relu_points: the grid of Part II's sweeps, one cache entry per point, the tidy
frame, the exact index per distinct law and the trend rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sgdtails._core.parallel import cached_map
from sgdtails.experiments.relu_points import (
    POINT_EXTRAS,
    TREND_WORDS,
    GridParams,
    exact_frame,
    exact_params,
    grid_frame,
    linear_point,
    spearman_trend,
    sweep_point,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = GridParams(etas=(0.45,), batches=(4,), dims=(10,), n_chains=200, n_iters=60, n_boot=10)


def test_grid_adds_the_base_point_to_each_sweep_and_shares_its_seed():
    grid = TINY.grid(7)
    xs = {(lab["sweep"], lab["x"]) for lab, _ in grid}
    assert xs == {("eta", 0.45), ("eta", 0.5), ("b", 4), ("d", 10)}
    assert len(grid) == 4 * 2 * 3
    base = [p for lab, p in grid if (p["d"], p["batch"], p["eta"]) == (10, 4, 0.5)]
    assert len(base) == 3 * 6 and len({repr(sorted(p.items())) for p in base}) == 6
    assert all(p["sampler"] == "radial" for _, p in grid)
    assert {p["dtype"] for lab, p in grid if lab["data"] == "noiseless"} == {"float64"}


def test_the_device_enters_the_points_keys_but_not_their_seeds():
    cpu, gpu = TINY.grid(7), replace(TINY, device="cuda").grid(7)
    assert all("device" not in p for _, p in cpu)  # CPU points and caches as before the option
    assert all(p.pop("device") == "cuda" for _, p in gpu)
    assert [p for _, p in gpu] == [p for _, p in cpu]  # the same seeds on every device


def test_grid_frame_is_tidy_and_reproducible(tmp_path):
    df = grid_frame(TINY, seed=7, cache_dir=tmp_path)
    cols = {"sweep", "x", "algorithm", "data", "d", "b", "eta", "iterate", "estimator", "alpha", "ci_low",
            "ci_high", "se", "n_used", "n_diverged", "n_runs", *POINT_EXTRAS}
    assert cols <= set(df.columns)
    assert len(df) == 24 * 2 * 3  # points x iterates x estimators
    assert (df.n_runs == TINY.n_chains).all() and (df.n_used + df.n_diverged == df.n_runs).all()
    ok = df[np.isfinite(df.alpha)]
    assert (ok.alpha > 0).all()
    last = ok[ok.iterate == "last"]
    assert (last.ci_low <= last.ci_high).all()
    assert ok[ok.iterate == "average"].ci_low.isna().all()  # running averages: no intervals
    # noiseless runs collapse towards w*, the others do not
    last = df[(df.iterate == "last") & (df.estimator == "mmo")]
    spread = last.groupby("data").final_median_norm
    assert spread.max()["noiseless"] < spread.min()["noisy"]
    again = grid_frame(TINY, seed=7, cache_dir=None)
    np.testing.assert_array_equal(df.alpha.to_numpy(), again.alpha.to_numpy())


def test_exact_frame_has_one_law_per_gate(tmp_path):
    ex = exact_frame(TINY.grid(7), seed=7, cache_dir=tmp_path, n_walkers=60, n_steps=30, n_replicas=2)
    assert set(ex.columns) == {"data", "d", "b", "eta", "exact", "exact_se", "exact_status"}
    assert len(ex) == len(ex.drop_duplicates(["data", "d", "b", "eta"])) == 2 * 3  # two (d, b, eta)
    # noiseless realizable and binary data share the gate 1{w*.x > 0}, hence the same root
    nl = ex[ex.data == "noiseless"].set_index(["d", "b", "eta"]).exact
    bi = ex[ex.data == "binary"].set_index(["d", "b", "eta"]).exact
    np.testing.assert_array_equal(nl.sort_index().to_numpy(), bi.sort_index().to_numpy())
    assert exact_params({"d": 3, "batch": 1, "eta": 0.1, "setup": "realizable", "label_noise": 0.0}) == \
        exact_params({"d": 3, "batch": 1, "eta": 0.1, "setup": "binary"})


def test_sweep_point_radial_and_direct_measure_alike():
    point = dict(algorithm="variant", setup="realizable", d=6, batch=2, eta=0.5, n_chains=3000, n_iters=200,
                 label_noise=0.5, seed=5, n_boot=100, hill_k=0.05)
    a = sweep_point(dict(point, sampler="radial"))
    b = sweep_point(dict(point, sampler="direct"))
    assert set(a) == set(b)
    se = np.hypot(a["last.hill_norm.se"], b["last.hill_norm.se"])
    assert abs(a["last.hill_norm.alpha"] - b["last.hill_norm.alpha"]) < 4 * se


def test_spearman_trend():
    x = [1, 2, 3, 4]
    assert spearman_trend(x, [1.0, 2.0, 3.0, 5.0]) == 1
    assert spearman_trend(x, [5.0, 2.0, 1.5, 1.0]) == -1
    assert spearman_trend(x, [1.0, 3.0, 1.0, 3.0]) == 0
    assert spearman_trend(x, [1.0, np.inf, np.nan, 2.0]) is None
    # clipped at the cap, the last two tie: still rising
    assert spearman_trend(x, [1.0, 2.0, 20.0, 30.0], cap=16.0) == 1
    assert set(TREND_WORDS.values()) == {"rises", "falls", "shows no clear trend", "is undetermined"}


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"n_chains": 5}, "n_chains"), ({"eta": 0.0}, "eta"), ({"sampler": "fast"}, "sampler"),
    ({"dims": (0,)}, "dims"), ({"hill_fraction": 0.7}, "hill_fraction"),
    ({"label_noise": 0.0}, "label_noise"),
    ({"dtype": "half"}, "dtype"), ({"device": "tpu"}, "device")])
def test_bad_grid_parameters_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GridParams(**kwargs)


def test_cached_map_on_threads_gives_the_serial_numbers(tmp_path):
    points = [dict(algorithm="sgd", setup="realizable", d=4, batch=2, eta=0.4, n_chains=100, n_iters=30,
                   label_noise=0.5, seed=s, n_boot=10, n_boot_average=0, hill_k=0.05, sampler="radial")
              for s in (1, 2, 1)]
    serial = cached_map(None, "t", points, sweep_point, workers=1)
    threaded = cached_map(tmp_path, "t", points, sweep_point, workers=2)
    for a, b in zip(serial, threaded, strict=True):
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert np.isnan(serial[0]["average.mmo.ci_low"]) and np.isfinite(serial[0]["last.mmo.ci_low"])


def test_linear_point_radial_and_run_sgd_agree():
    point = dict(d=5, batch=3, eta=0.5, label_noise=0.5, n_chains=4000, n_iters=200, seed=9, n_boot=100,
                 hill_k=0.05)
    a = linear_point(dict(point, sampler="radial"))
    b = linear_point(point)
    assert float(a["exact"]) == pytest.approx(float(b["exact"]))
    se = np.hypot(a["last.hill_norm.se"], b["last.hill_norm.se"])
    assert abs(a["last.hill_norm.alpha"] - b["last.hill_norm.alpha"]) < 4 * se
