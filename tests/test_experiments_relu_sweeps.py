"""sgdtails.experiments.relu_sweeps: the sweeps with the exact index and the lognormal prediction, and the
noiseless runs against K."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sgdtails.experiments.relu_points import TREND_WORDS
from sgdtails.experiments.relu_sweeps import SweepsParams, lognormal_hill, noiseless_k, sweeps

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = SweepsParams(etas=(0.45, 0.55), batches=(4,), dims=(8,), n_chains=300, n_iters=120, n_boot=20,
                    exact_walkers=60, exact_steps=30, exact_replicas=2, noiseless_iters=(60, 240))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return sweeps(TINY, seed=3, cache_dir=tmp_path_factory.mktemp("relu-sweeps"))


def test_frame_carries_exact_index_and_lognormal_prediction(result):
    f = result.frame
    assert {"exact", "exact_se", "exact_status", "lognormal", "log_norm_sd"} <= set(f.columns)
    assert f.exact_status.notna().all()
    np.testing.assert_allclose(f.lognormal, lognormal_hill(f.log_norm_sd, TINY.hill_fraction))
    # the variant's exact index does not depend on the algorithm of the row
    ex = f.drop_duplicates(["algorithm", "data", "d", "b", "eta"]).pivot_table(
        index=["data", "d", "b", "eta"], columns="algorithm", values="exact")
    np.testing.assert_array_equal(ex["sgd"].to_numpy(), ex["variant"].to_numpy())


def test_summary(result):
    s = result.summary
    n_grid = len(TINY.grid(3))
    assert s.n_points == n_grid and s.n_diverged >= 0 and s.n_underflow == 0
    keys = {f"{a}_{d}" for a in ("sgd", "variant") for d in ("noiseless", "noisy", "binary")}
    assert set(s.base_alpha) == keys
    assert set(s.base_exact) == {"noisy", "binary"} and all(np.isfinite(v) for v in s.base_exact.values())
    assert 0 <= s.exact_within2 <= s.exact_n
    assert s.nl_n == 2 * 4 and 0 < s.nl_min_norm < 1e-2
    assert 0 < s.nl_median_ratio < 10
    assert set(s.trends.values()) <= set(TREND_WORDS.values()) and len(s.trends) == 3 * 2 * 3
    assert all(v > 0 for v in s.spread.values()) and all(v >= 0 for v in s.offset.values())


def test_lognormal_hill_matches_hill_on_lognormal_samples():
    # the large-n limit of Hill at k = p n on a lognormal sample; within 4 standard errors at n = 2e5
    p, sd = 0.05, 1.3
    x = np.exp(sd * np.random.default_rng(0).standard_normal(200_000))
    k = int(p * x.size)
    top = np.sort(x)[::-1]
    alpha = 1.0 / (np.log(top[:k]).mean() - np.log(top[k]))
    assert abs(alpha - lognormal_hill(sd, p)) < 4 * alpha / math.sqrt(k)
    z = stats.norm.isf(0.05)
    assert lognormal_hill(1.0, 0.05) == pytest.approx(1.0 / (stats.norm.pdf(z) / 0.05 - z))


def test_noiseless_k(tmp_path):
    nk = noiseless_k(TINY, seed=3, cache_dir=tmp_path)
    assert list(nk.frame.K.unique()) == [60, 240] and set(nk.frame.algorithm) == {"sgd", "variant"}
    s = nk.summary
    assert (s.k_min, s.k_max) == (60, 240) and s.sqrt_ratio == pytest.approx(2.0)
    assert s.ratio == pytest.approx(s.alpha_k_min / s.alpha_k_max)
    # the protocol's "index" of noiseless runs falls with K (lognormal spread growing like sqrt(K))
    assert s.alpha_k_max < s.alpha_k_min


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"noiseless_iters": (100,)}, "noiseless_iters"), ({"exact_sampler": "x"}, "exact_sampler"),
    ({"exact_replicas": 1}, "exact_replicas"), ({"n_boot": -1}, "n_boot")])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SweepsParams(**kwargs)
