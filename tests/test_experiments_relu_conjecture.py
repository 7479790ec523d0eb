"""sgdtails.experiments.relu_conjecture: SGD against the variant at every distinct point of the sweeps."""

from __future__ import annotations

import pytest

from sgdtails.experiments.relu_conjecture import ConjectureParams, conjecture

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ConjectureParams(etas=(0.45,), batches=(4,), dims=(8,), n_chains=300, n_iters=120, n_boot=20)


def test_conjecture(tmp_path):
    cj = conjecture(TINY, seed=3, cache_dir=tmp_path)
    w = cj.frame
    assert {"alpha_sgd", "alpha_variant", "ci_low_sgd", "ci_high_variant", "n_diverged_sgd"} <= set(w.columns)
    # distinct points: (eta 0.45, 0.5; d 8) x 3 data settings, each with 2 iterates x 3 estimators
    assert len(w) == 3 * 3 * 2 * 3
    s = cj.summary
    assert s.n_points == sum(v.n for v in s.by_data.values()) <= 3 * 3
    for v in s.by_data.values():
        # intervals either overlap or one lies entirely below the other
        assert v.overlap + v.sgd_heavier + v.variant_heavier == v.n
        assert v.ratio > 0
    assert s.n_diverged >= 0


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_iters"):
        ConjectureParams(n_iters=1)
