"""The open question at smoke size (sgdtails.experiments.jkr_open_question)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sgdtails.experiments import jkr_open_question as oq

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = oq.OpenQuestionParams(n_runs=300, hsgd_runs=200, substeps=4, refine_runs=200, refine_substeps=8,
                              update_cap=60, nu_boot=3, gamma_fractions=(0.5, 1.0), sweep_runs=200,
                              sweep_iterations=40, sweep_substeps=4, kesten_walkers=32, kesten_steps=10,
                              lyapunov_walkers=16, lyapunov_steps=20, power_iterations=3)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


def test_facts_at_the_paper_settings():
    table = oq.facts(SMOKE, seed=1).set_index("data set")
    # X and Z: every step non-expansive and rho(T) < 1, so no power-law tail; Y: some rows expand
    assert list(table["no power-law tail (proven)"]) == [True, False, True]
    assert table.loc["Y", "alpha upper bound"] == pytest.approx(math.log(1797) / math.log(1.3097656250000003))
    assert (table["rho(T) low"] <= table["rho(T) high"]).all() and (table["rho(T) high"] < 1).all()
    assert (table["Lyapunov exponent"] < 0).all()


def test_sgd_and_hsgd_comparison(cache):
    comp = oq.sgd_and_hsgd(SMOKE, seed=1, cache_dir=cache)
    assert comp.frame.shape[0] == 3
    for (name, method), z in comp.samples.items():
        assert name in "XYZ" and method in ("SGD", "hSGD", "hSGD refined")
        assert np.all(np.isfinite(z)) and abs(z.mean()) < 1e-6 * max(1.0, np.abs(z).max())
    f = comp.frame
    assert (f["SGD runs"] == 300).all() and (f["updates (time)"] == 60).all()
    assert (f["hSGD nu low"] <= f["hSGD nu high"]).all()
    again = oq.sgd_and_hsgd(SMOKE, seed=1, cache_dir=cache)  # cached: the same numbers
    assert again.frame.equals(comp.frame)


def test_gamma_sweep_marks_what_can_be_proven(cache):
    frame = oq.gamma_sweep(SMOKE, seed=1, cache_dir=cache)
    assert len(frame) == 3 * 2
    half = frame[frame["gamma/gamma_bar"] == 0.5]
    assert half["every step non-expansive"].all() and half["MC alpha"].isna().all()
    full = frame[frame["gamma/gamma_bar"] == 1.0]
    assert (~full["eta_* proven"]).all() and np.allclose(full["eta_*"], 2.0)
    assert full["MC status"].notna().all()  # rows expand at gamma_bar on all three: Monte Carlo was run
    comp = oq.sgd_and_hsgd(SMOKE, seed=1, cache_dir=cache)
    numbers = oq.prose_numbers(oq.facts(SMOKE, seed=1), comp, frame)
    assert numbers["oq-no-tail"] == "X, Z" and numbers["oq-sweep-points"] == 6


@pytest.mark.parametrize("bad,match", [(dict(n_runs=10), "n_runs"), (dict(substeps=0), "substeps"),
                                       (dict(gamma_fractions=()), "gamma_fractions"),
                                       (dict(gamma_fractions=(-1.0,)), "gamma_fractions"),
                                       (dict(max_step=2.0), "max_step"), (dict(datasets=("Q",)), "datasets")])
def test_bad_parameters_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        oq.OpenQuestionParams(**bad)
