"""The paper's experiments at smoke size (sgdtails.experiments.jkr_reproduce)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sgdtails.data import JKR_PUBLISHED
from sgdtails.experiments import jkr_reproduce as jr

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = jr.ReproduceParams(n_runs_published=200, n_runs_large=300, update_cap=150, nu_boot=3, ks_boot=4,
                           ks_boot_large=2, mlp_networks=24, mlp_steps=30)


@pytest.fixture(scope="module")
def fig(tmp_path_factory):
    return jr.figure1(SMOKE, 200, seed=3, cache_dir=str(tmp_path_factory.mktemp("cache")))


def test_settings_table_reproduces_the_published_values():
    table = jr.settings_table(SMOKE)
    assert list(table["data set"].str[0]) == ["X", "Y", "Z"]
    assert table.filter(like="rel. diff").to_numpy().max() < 1e-9
    assert np.allclose(table["eta^* (paper)"], [JKR_PUBLISHED[n].eta_upper for n in "XYZ"])


def test_figure1_frame_and_samples(fig):
    assert fig.frame.shape[0] == 3 and set(fig.samples) == {"X", "Y", "Z"}
    for z in fig.samples.values():
        assert z.shape == (200,) and abs(z.mean()) < 1e-9 * max(1.0, np.abs(z).max())
    row = fig.frame.set_index("data set")
    assert (row["nu low"] <= row["nu high"]).all() and (row["eta_*"] < row["eta^*"]).all()
    assert row["eta_* proven"].all() and (row["diverged"] == 0).all()
    assert (row["updates"] == 150).all()
    curves = fig.bound_curves()["Y"]
    assert set(curves) == {"eta_*", "eta^*", "fitted"}
    assert curves["eta_*"][0] == pytest.approx(row.loc["Y", "eta_*"])


def test_same_seed_same_runs(fig, tmp_path):
    again = jr.figure1(SMOKE, 200, seed=3, cache_dir=str(tmp_path))
    for name in fig.samples:
        np.testing.assert_array_equal(fig.samples[name], again.samples[name])


def test_sandwich_fraction_is_calibrated():
    rng = np.random.default_rng(0)
    t_sample = 0.5 * stats.t.rvs(3.0, size=20000, random_state=rng)
    light = 0.5 * rng.standard_normal(20000)
    lower, upper = (2.8, 0.5), (3.2, 0.5)
    assert jr.sandwich_fraction(t_sample, lower, upper, 0.1) > 0.9
    assert jr.sandwich_fraction(light, lower, upper, 0.1) < 0.1


def test_table2_has_bootstrap_pvalues_on_the_grid(fig):
    tab = jr.table2(fig, 4, seed=3)
    assert tab.shape[0] == 3
    for law in ("t", "stable"):
        p = tab[f"p ({law})"].to_numpy()
        assert np.all(np.isin(np.round(p * 5), np.arange(1, 6)))  # (1 + k) / (1 + 4)
        assert np.all((tab[f"KS D ({law})"] > 0) & (tab[f"KS D ({law})"] < 1))
        assert np.array_equal(tab[f"{law} rejected at 5%"].to_numpy(), p <= 0.05)


def test_figure2_and_prose_numbers(fig):
    fig2 = jr.figure2(SMOKE, seed=3)
    assert fig2.frame.shape[0] == 3 and all(z.shape == (24,) for z in fig2.samples.values())
    numbers = jr.prose_numbers({"published": fig}, {"published": jr.table2(fig, 2, seed=1)}, fig2)
    assert numbers["rep-n-sets"] == 3 and numbers["rep-runs-published"] == 200
    assert 0 <= numbers["rep-nu-inside-published"] <= 3 and numbers["rep-mlp-networks"] == 24


@pytest.mark.parametrize("bad,match", [
    (dict(n_runs_large=10), "n_runs_large"), (dict(update_cap=-1), "update_cap"),
    (dict(datasets=("W",)), "datasets"), (dict(mlp_lr=0.0), "mlp_lr"),
    (dict(tail_fraction=0.9), "tail_fraction"),
])
def test_bad_parameters_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        jr.ReproduceParams(**bad)
