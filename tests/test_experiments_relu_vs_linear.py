"""sgdtails.experiments.relu_vs_linear: linear regression measured with Part II's protocol beside the ReLU
sweeps, and the trends."""

from __future__ import annotations

import numpy as np
import pytest

from sgdtails.experiments.relu_vs_linear import EXPECTED, SERIES, VsLinearParams, contrast
from sgdtails.linear.designs import gaussian_design
from sgdtails.linear.sgd_index import sgd_tail_index

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = VsLinearParams(etas=(0.45, 0.55), batches=(4, 6), dims=(8,), n_chains=300, n_iters=120, n_boot=20)


def test_contrast(tmp_path):
    con = contrast(TINY, seed=3, cache_dir=tmp_path)
    f = con.frame
    lin = f[f.algorithm == "linear"]
    assert len(lin) and (lin.data == "linear").all() and lin.exact.notna().all()
    assert set(f[f.algorithm != "linear"].data) == {"noiseless", "noisy", "binary"}
    # the exact index at the base point is the one-step Kesten root of isotropic linear SGD
    ex = sgd_tail_index(gaussian_design(np.ones(TINY.d), sigma=TINY.label_noise), TINY.eta, TINY.batch,
                        alpha_bracket=(0.05, 64.0))
    assert con.summary.base_linear_exact == pytest.approx(ex.alpha, rel=1e-6)
    s = con.summary
    assert s.n_series == len(SERIES) - 1 and 0 <= s.linear_matches_theory <= 3
    assert set(s.n_diff) == set(EXPECTED) and all(0 <= v <= s.n_series for v in s.n_diff.values())
    assert len(s.trends) == len(SERIES) * 3
    assert set(s.base_relu) == {"sgd", "variant"} and np.isfinite(s.base_linear_alpha)
    # the exact index of linear SGD falls with eta and rises with b
    base = lin[(lin.iterate == "last") & (lin.estimator == "hill_norm")].drop_duplicates(["d", "b", "eta"])
    eta_sweep = base[(base.b == TINY.batch) & (base.d == TINY.d)].sort_values("eta").exact.to_numpy()
    assert np.all(np.diff(eta_sweep) < 0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="batches"):
        VsLinearParams(batches=(0,))
