"""The chapter "Where the bounds hold": SGD, hSGD, the exact indices and the paper's band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sgdtails import theory
from sgdtails.experiments import bounds_hold

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = dict(n_chains=1000, n_iter=30, hsgd_max_step=0.05, kesten_walkers=128, kesten_steps=30,
             iso_gammas=[0.2, 0.3], pl_gamma_fracs=[0.4, 1.0], batch_sizes=[1, 4], dims=[1, 10],
             deltas=[0.0, 1.0], digits_features=8, digits_gamma_fracs=[0.5])


@pytest.fixture(scope="module")
def result() -> bounds_hold.BoundsResult:
    return bounds_hold.run(bounds_hold.BoundsParams(**SMOKE), seed=3, workers=2)


def test_frame_carries_the_papers_band(result):
    df = result.frame
    assert list(df["panel"].unique()) == list(bounds_hold.PANELS)
    assert (df["eta_upper"] >= df["eta_lower"]).all()
    assert (df["lower_valid"] == (df["gamma/gamma_bar"] < 1)).all()
    assert not df.loc[df["panel"] == "gamma-pl", "lower_valid"].iloc[-1]  # gamma = gamma_bar: not guaranteed
    iso = df[(df["kind"] == "iso") & (df["nu"] > 0)]
    assert np.allclose(iso["nu"], iso["eta_lower"])  # the exact hSGD index is the paper's eta_*
    assert np.allclose(iso["eta_upper"] - iso["eta_lower"], iso["d"] - 1)
    for _, r in df.iterrows():
        spectrum = bounds_hold.make_problem(r["kind"], r["d"]).spectrum
        jb = theory.jkr_bounds_hessian(spectrum, r["gamma"], r["B"], r["delta"])
        assert r["eta_upper"] == pytest.approx(jb.eta_upper) and r["gamma_bar"] == pytest.approx(jb.gamma_bar)
    assert ((df["kesten"] >= 0) | np.isnan(df["kesten"])).all()
    assert np.isfinite(df[["sgd", "hsgd"]]).all().all()


def test_summary_counts_are_consistent(result):
    sm = result.summary
    assert sm.inside + sm.below + sm.below_unguaranteed + sm.above <= sm.n_points
    assert sm.sgd_hits <= sm.sgd_n and sm.hsgd_hits <= sm.hsgd_n and sm.agree <= sm.both_n
    assert sm.agree == sm.agree_low + sm.agree_high + sm.agree_digits
    assert sm.n_low + sm.n_high + sm.n_digits == sm.both_n
    assert max(sm.hsgd_miss_light, sm.hsgd_miss_below) <= sm.hsgd_n - sm.hsgd_hits
    assert sm.ratio_digits > 0 and sm.ratio_low > 0
    df = result.frame
    iso = df[df["panel"].isin(["gamma-iso", "d"]) & (df["nu"] > 0) & (df["kesten"] > 0)]
    assert sm.iso_n == len(iso)
    assert sm.iso_ratio_max == pytest.approx((iso["nu"] / iso["kesten"]).max())
    assert sm.iso_ratio_min == pytest.approx((iso["nu"] / iso["kesten"]).min())
    assert sm.n_unguaranteed == int((~result.frame["lower_valid"]).sum())
    assert sm.dig_rowmax > sm.dig_row99 > 0


def test_numbers_do_not_depend_on_the_number_of_workers(result):
    one = bounds_hold.run(bounds_hold.BoundsParams(**SMOKE), seed=3, workers=1)
    pd.testing.assert_frame_equal(one.frame, result.frame)


def test_single_precision_kesten_index_agrees_with_double():
    prob = bounds_hold.make_problem("pl", 10)
    gamma = 0.6 * theory.lr_threshold(prob.spectrum, 1)
    est = [theory.sgd_tail_index(prob, gamma, 1, n_walkers=512, n_steps=80, burn_in=20, seed=4,
                                 alpha_bracket=(0.01, 40.0), dtype=dt)
           for dt in (torch.float32, torch.float64)]
    assert all(e.status == "ok" for e in est)
    assert abs(est[0].alpha - est[1].alpha) < 4 * np.hypot(est[0].se, est[1].se)


@pytest.mark.parametrize("bad,name", [(dict(n_chains=0), "n_chains"),
                                      (dict(kesten_dtype="half"), "kesten_dtype"),
                                      (dict(iso_gammas=[]), "iso_gammas"), (dict(deltas=[-0.5]), "deltas"),
                                      (dict(hsgd_max_step=2.0), "hsgd_max_step"),
                                      (dict(batch_sizes=[0]), "batch_sizes"),
                                      (dict(device="tpu"), "device")])
def test_bad_parameters_are_named(bad, name):
    with pytest.raises(ValueError, match=name):
        bounds_hold.BoundsParams(**bad)


def test_the_device_enters_seeds_and_keys_only_off_the_cpu():
    cpu = bounds_hold.BoundsParams(**SMOKE)
    assert "device" not in bounds_hold._common(cpu, 3)  # CPU caches and numbers as before the option
    assert bounds_hold._common(bounds_hold.BoundsParams(**SMOKE, device="cuda"), 3)["device"] == "cuda"
