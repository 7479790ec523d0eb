"""sgdtails.experiments.relu_setup: the trajectories and the protocol's table at one point."""

from __future__ import annotations

import numpy as np
import pytest

from sgdtails.experiments.relu_setup import SetupParams, protocol_table, trajectories

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = SetupParams(n_chains=200, n_iters=300, n_trajectories=3, n_boot=20)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("relu-setup")


def test_trajectories(cache):
    tr = trajectories(SMALL, seed=1, cache_dir=cache)
    f = tr.frame
    assert set(f.columns) == {"algorithm", "data", "run", "t", "distance"}
    runs = f.groupby(["algorithm", "data"]).run.nunique()
    assert len(runs) == 6 and runs.eq(3).all()
    assert (f.distance > 0).all() and f.t.min() == 0 and f.t.max() == SMALL.n_iters
    s = tr.summary
    keys = {f"{a}_{d}" for a in ("sgd", "variant") for d in ("noiseless", "noisy", "binary")}
    assert set(s.median_distance) == keys
    # noiseless runs converge to w*, noisy runs keep a spread of order one
    assert s.median_distance["sgd_noiseless"] < 1e-3 < s.median_distance["sgd_noisy"]
    assert s.n_diverged == 0 and s.n_underflow == 0
    again = trajectories(SMALL, seed=1, cache_dir=None)
    np.testing.assert_array_equal(f.distance.to_numpy(), again.frame.distance.to_numpy())


def test_protocol_table(cache):
    t = protocol_table(SMALL, seed=1, cache_dir=cache)
    assert list(t.columns) == ["algorithm", "data", "estimator", "alpha", "ci_low", "ci_high", "n_used",
                               "n_diverged"]
    assert len(t) == 6 * 3 and (t.n_used + t.n_diverged == SMALL.n_chains).all()
    mmo = t[(t.estimator == "mmo") & (t.data != "noiseless")]
    assert (mmo.alpha <= 2.5).all()  # MMO cannot exceed about 2


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"d": 0}, "d"), ({"n_trajectories": 0}, "n_trajectories"), ({"label_noise": -1.0}, "label_noise"),
    ({"sampler": "x"}, "sampler"), ({"n_iters": 1}, "n_iters")])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SetupParams(**kwargs)
