"""Property tests of the tail-index estimators (hypothesis, derandomised, few examples).

Invariances that hold *exactly* (up to floating-point rounding) for every sample:
- scaling x -> c x (c > 0 or c < 0) leaves alpha unchanged for all four estimators;
- element-wise sign flips and permutations leave Hill, moments and Pickands unchanged (they
  only see the order statistics of |x|). MMO sums consecutive observations, so it is only
  invariant to a *global* sign flip, not to element-wise flips or permutations.
- heavier tail, same uniforms: X = U^(-1/alpha) makes log X proportional to 1/alpha, so the
  Hill estimate is exactly proportional to alpha (the double-bootstrap k is unchanged: its
  AMSE curve is only rescaled), the moments estimate's xi increases, and so does Pickands'
  (d/ds log[(r1^s - 1)/(1 - r2^-s)] >= 1/s - 1/s = 0 for spacings ratios r1, r2 > 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgdtails.estimators import tailindex as ti

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)

seeds = st.integers(min_value=0, max_value=2**31 - 1)
sizes = st.integers(min_value=40, max_value=400)
scales = st.floats(min_value=1e-3, max_value=1e3).flatmap(
    lambda c: st.sampled_from([c, -c]))
tails = st.floats(min_value=0.5, max_value=6.0)


def sample(seed: int, n: int, nu: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_t(nu, size=n)


@SETTINGS
@given(seed=seeds, n=sizes, c=scales)
def test_scale_invariance(seed, n, c):
    x = sample(seed, n)
    k = max(1, n // 10)
    for method in ("hill", "moments", "pickands"):
        a = ti.estimate(x, method, k=k, n_boot=20, seed=1)
        b = ti.estimate(c * x, method, k=k, n_boot=20, seed=1)
        assert b.alpha == pytest.approx(a.alpha, rel=1e-9)
        assert b.ci_low == pytest.approx(a.ci_low, rel=1e-9)
    # automatic k: the double bootstrap sees log-spacings only, hence the same k
    a, b = ti.hill(x, n_dbs=30, n_boot=0), ti.hill(c * x, n_dbs=30, n_boot=0)
    assert a.k == b.k and b.alpha == pytest.approx(a.alpha, rel=1e-9)
    a, b = ti.mmo(x, n_boot=20), ti.mmo(c * x, n_boot=20)
    assert b.alpha == pytest.approx(a.alpha, rel=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-6)


@SETTINGS
@given(seed=seeds, n=sizes)
def test_sign_flip_and_permutation_invariance(seed, n):
    rng = np.random.default_rng(seed + 1)
    x = sample(seed, n)
    flipped = x * rng.choice([-1.0, 1.0], size=n)
    permuted = rng.permutation(x)
    k = max(1, n // 8)
    for method in ("hill", "moments", "pickands"):
        ref = ti.estimate(x, method, k=k, n_boot=20, seed=2)
        assert ti.estimate(flipped, method, k=k, n_boot=20, seed=2) == ref
        assert ti.estimate(permuted, method, k=k, n_boot=20, seed=2) == ref
    assert ti.hill(permuted, n_dbs=30, n_boot=0) == ti.hill(x, n_dbs=30, n_boot=0)
    assert ti.mmo(-x, n_boot=10) == ti.mmo(x, n_boot=10)


@SETTINGS
@given(seed=seeds, n=sizes, a1=tails, a2=tails)
def test_heavier_tail_gives_smaller_estimate(seed, n, a1, a2):
    if abs(a1 - a2) < 1e-3:
        return
    light, heavy = max(a1, a2), min(a1, a2)
    u = np.random.default_rng(seed).uniform(size=n)
    x_light, x_heavy = u ** (-1.0 / light), u ** (-1.0 / heavy)
    h_l, h_h = ti.hill(x_light, n_dbs=30, n_boot=0), ti.hill(x_heavy, n_dbs=30, n_boot=0)
    assert h_l.k == h_h.k
    assert h_h.alpha < h_l.alpha
    assert h_h.alpha / h_l.alpha == pytest.approx(heavy / light, rel=1e-9)
    k = max(1, n // 10)
    assert (ti.moments(x_heavy, k, n_boot=0).xi > ti.moments(x_light, k, n_boot=0).xi)
    assert (ti.pickands(x_heavy, k, n_boot=0).xi >= ti.pickands(x_light, k, n_boot=0).xi)
