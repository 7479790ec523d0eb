"""The chapter "How the tails move": SGD ccdfs with the exact SGD index and the paper's bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sgdtails.experiments import tails_move

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = dict(n_chains=2000, n_iter=40, gammas=[0.2, 0.3], batch_sizes=[2, 8], dims=[2, 10],
             deltas=[0.0, 1.0])


@pytest.fixture(scope="module")
def result() -> tails_move.TailsResult:
    return tails_move.figure_tails(tails_move.TailsParams(**SMOKE), seed=5)


def test_frame_has_one_row_per_curve_with_the_papers_bounds(result):
    df = result.frame
    assert list(df["panel"].unique()) == list(tails_move.PANELS)
    assert len(df) == len(result.samples) == 8
    for col in ("alpha (Kesten)", "eta_*", "eta^*", "gamma_bar", "lower_valid", "nu (hSGD)", "Hill",
                "Hill lo", "Hill hi", "diverged"):
        assert col in df
    # isotropic data: eta^* - eta_* = sum_{i>=2} s_i / s_1 = d - 1, gamma_bar = 2B(1 + delta)/d
    assert np.allclose(df["eta^*"] - df["eta_*"], df["d"] - 1)
    assert np.allclose(df["gamma_bar"], 2 * df["B"] * (1 + df["delta"]) / df["d"])
    assert (df["lower_valid"] == (df["gamma"] < df["gamma_bar"])).all()
    # where hSGD has a stationary law its exact index is the paper's eta_*
    ok = np.isfinite(df["nu (hSGD)"])
    assert np.allclose(df.loc[ok, "nu (hSGD)"], df.loc[ok, "eta_*"])
    assert (df["diverged"] == 0).all()
    assert (df["Hill lo"] <= df["Hill"]).all() and (df["Hill"] <= df["Hill hi"]).all()


def test_exact_index_moves_as_the_theory_says(result):
    df = result.frame
    a = {p: df[df["panel"] == p]["alpha (Kesten)"].to_numpy() for p in tails_move.PANELS}
    assert a["gamma"][0] > a["gamma"][-1]  # heavier as gamma grows
    assert a["B"][0] < a["B"][-1]  # lighter as B grows
    assert a["d"][0] > a["d"][-1]  # heavier as d grows
    assert a["delta"][0] < a["delta"][-1]  # lighter with a ridge
    sm = result.summary
    assert sm.first["gamma"] == pytest.approx(a["gamma"][0]) and sm.last["B"] == pytest.approx(a["B"][-1])
    assert sm.lo["d"] == 2 and sm.hi["d"] == 10
    assert 0 <= sm.n_cover <= sm.n_ok and 0 <= sm.n_inside <= sm.n_both and sm.n_heavier <= sm.n_both


def test_samples_and_panels(result):
    frame, samples = result.panel("B")
    assert list(frame["B"]) == [2, 8] and len(samples) == 2
    assert all(x.shape == (SMOKE["n_chains"],) for x in samples)
    with pytest.raises(ValueError, match="name"):
        result.panel("eta")


def test_same_seed_same_frame():
    params = tails_move.TailsParams(**(SMOKE | dict(gammas=[0.25], batch_sizes=[2], dims=[2], deltas=[0.0])))
    a = tails_move.figure_tails(params, seed=9, workers=1)
    b = tails_move.figure_tails(params, seed=9, workers=2)  # nor on the number of workers
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert all(np.array_equal(x, y) for x, y in zip(a.samples, b.samples, strict=True))


@pytest.mark.parametrize("bad,name", [(dict(n_chains=10), "n_chains"), (dict(gammas=[]), "gammas"),
                                      (dict(gammas=[-0.1]), "gammas"), (dict(deltas=[-1.0]), "deltas"),
                                      (dict(batch_sizes=[0]), "batch_sizes"), (dict(dims=[1.5]), "dims"),
                                      (dict(hill_fraction=0.9), "hill_fraction")])
def test_bad_parameters_are_named(bad, name):
    with pytest.raises(ValueError, match=name):
        tails_move.TailsParams(**bad)
