"""sgdtails.experiments.estimators: Hill plots, the accuracy study and Hill against powerlaw."""

from __future__ import annotations

import numpy as np
import pytest

from sgdtails.experiments.estimators import (
    POWERLAW_CASES,
    EstimatorsParams,
    accuracy_study,
    hill_plots,
    powerlaw_comparison,
)

SMALL = EstimatorsParams(sample_sizes=(200, 400), n_reps=3, alphas=(1.0, 3.0), stable_alphas=(1.5,), n_dbs=20,
                         plot_n=600, n_boot=20, powerlaw_n=400)


def test_hill_plots():
    hp = hill_plots(SMALL, seed=1)
    assert set(hp.truth) == {"student_t", "stable"} and len(hp.table) == 2
    for law, e in hp.estimates.items():
        assert e.k is not None and 1 <= e.k < SMALL.plot_n and e.ci_low <= e.alpha <= e.ci_high
        assert hp.moments[law].shape == hp.ks.shape == hp.pickands[law].shape
        assert hp.curves[law].k[0] == 5 and hp.curves[law].k[-1] == SMALL.plot_n // 2 - 1
    again = hill_plots(SMALL, seed=1)
    assert again.estimates == hp.estimates


def test_accuracy_study_on_processes_gives_the_serial_numbers(tmp_path):
    acc = accuracy_study(SMALL, seed=1, cache_dir=tmp_path, workers=2)
    n_cells = 2 * 2 + 1
    assert len(acc.raw) == n_cells * 2 * 4 * SMALL.n_reps
    b = acc.bands
    assert ((b.q10 <= b.q50) & (b.q50 <= b.q90)).all()
    assert set(acc.table.index.get_level_values("law")) == {"pareto", "student_t", "stable"}
    nums = acc.numbers
    assert nums.n_max == 400 and nums.nu_hi == 3.0 and nums.nu_lo == 1.0 and nums.a_st_max == 1.5
    assert 0 <= nums.mom_t_hi_inf <= 100 and nums.pick_hill_ratio > 0
    serial = accuracy_study(SMALL, seed=1, cache_dir=None, workers=1)
    np.testing.assert_array_equal(acc.raw.alpha_hat.to_numpy(), serial.raw.alpha_hat.to_numpy())


def test_powerlaw_is_hill_up_to_k_over_k_plus_one():
    pl = powerlaw_comparison(SMALL, seed=1)
    assert len(pl.table) == len(POWERLAW_CASES)
    assert pl.max_difference < 1e-8
    assert pl.cap > 1 and pl.n == SMALL.powerlaw_n


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"sample_sizes": (50,)}, "sample_sizes"), ({"n_reps": 1}, "n_reps"),
    ({"stable_alphas": (2.5,)}, "stable_alphas"),
    ({"alphas": (-1.0,)}, "alphas"), ({"n_dbs": 0}, "n_dbs"), ({"plot_n": 10}, "plot_n")])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EstimatorsParams(**kwargs)
