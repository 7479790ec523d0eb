"""Theory of Part I: hSGD bounds (the derivation checked numerically) and the Kesten index of SGD."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from sgdtails import data, theory

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------------------
# hSGD: phi, bounds, exact isotropic index
# ------------------------------------------------------------------------------------------

spectra = st.lists(st.floats(0.01, 10.0), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(spectrum=spectra, b=st.integers(1, 64), frac=st.floats(0.05, 1.0),
       delta=st.floats(0.0, 2.0))
def test_phi_decreasing_below_threshold(spectrum, b, frac, delta):
    lam = np.array(spectrum)
    gamma = frac * theory.lr_threshold(lam, b)
    s = np.linspace(lam.min(), lam.max(), 201)
    ph = theory.hsgd_phi(s, lam, gamma, b, delta)
    assert np.all(np.diff(ph) <= 1e-9 * np.abs(ph).max())
    bounds = theory.radial_index_range(lam, gamma, b, delta)
    assert bounds.monotone
    assert bounds.lower == pytest.approx(2 + theory.hsgd_phi(lam.max(), lam, gamma, b, delta))
    assert bounds.upper == pytest.approx(2 + theory.hsgd_phi(lam.min(), lam, gamma, b, delta))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(spectrum=spectra, b=st.integers(1, 16), factor=st.floats(0.05, 20.0),
       delta=st.floats(0.0, 2.0))
def test_bounds_are_the_extremes_of_phi_on_the_interval(spectrum, b, factor, delta):
    """The closed-form optimisation agrees with a dense grid, also beyond gamma~ (non-monotone)."""
    lam = np.array(spectrum)
    gamma = factor * theory.lr_threshold(lam, b)
    bounds = theory.radial_index_range(lam, gamma, b, delta)
    s = np.geomspace(lam.min(), lam.max(), 4001)

    def eta(x):
        return 2 + theory.hsgd_phi(x, lam, gamma, b, delta)

    ph = eta(s)
    # refine the grid minimum by a bounded scalar minimisation between its neighbours
    i = int(np.argmin(ph))
    lo, hi = s[max(i - 1, 0)], s[min(i + 1, s.size - 1)]
    num_min = ph[i]
    if hi > lo:
        num_min = min(num_min, optimize.minimize_scalar(
            eta, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).fun)
    scale = max(1.0, np.abs(ph).max())
    assert bounds.lower <= num_min + 1e-9 * scale
    assert bounds.lower >= num_min - 1e-9 * scale
    assert bounds.upper == pytest.approx(ph.max(), rel=1e-9, abs=1e-9)
    assert bounds.lower <= bounds.upper


def test_nonmonotone_phi_has_interior_minimum():
    lam = np.linspace(0.1, 1.0, 10)
    b, delta = 1, 1.0
    gamma = 5 * theory.lr_threshold(lam, b)
    bounds = theory.radial_index_range(lam, gamma, b, delta)
    assert not bounds.monotone
    assert lam.min() < bounds.s_at_lower < lam.max()


@pytest.mark.parametrize("d,gamma,b,delta,lam", [(1, 1.0, 1, 0.0, 1.0), (5, 1 / 3, 1, 0.0, 1.0),
                                                 (10, 0.2, 4, 0.5, 2.0)])
def test_bounds_collapse_to_nu_when_isotropic(d, gamma, b, delta, lam):
    nu = theory.hsgd_isotropic_index(lam, d, gamma, b, delta)
    bounds = theory.radial_index_range(np.full(d, lam), gamma, b, delta)
    assert bounds.lower == pytest.approx(nu)
    assert bounds.upper == pytest.approx(nu)


def test_isotropic_index_known_value_and_scale():
    assert theory.hsgd_isotropic_index(1.0, 5, 1 / 3, 1) == pytest.approx(3.0)
    assert theory.hsgd_isotropic_scale(1.0, 5, 1 / 3, 1, sigma=1.0) == pytest.approx(1 / math.sqrt(3))
    assert theory.lr_threshold(np.ones(4), 2) == pytest.approx(1.0)


def test_isotropic_index_raises_when_nu_not_positive():
    with pytest.raises(ValueError, match="nu"):
        theory.hsgd_isotropic_index(1.0, 10, 1.0, 1)


@pytest.mark.parametrize("bad", [[1.0, 0.0], [1.0, -2.0], [1.0, float("nan")], [], [np.inf]])
def test_bad_spectrum_named(bad):
    with pytest.raises(ValueError, match="spectrum"):
        theory.radial_index_range(bad, 0.1, 1)


@pytest.mark.parametrize("kw,name", [({"gamma": 0.0}, "gamma"), ({"gamma": float("nan")}, "gamma"),
                                     ({"batch_size": 0}, "batch_size"),
                                     ({"batch_size": 1.5}, "batch_size"),
                                     ({"delta": -0.1}, "delta")])
def test_bad_arguments_named(kw, name):
    args = {"gamma": 0.1, "batch_size": 1, "delta": 0.0} | kw
    with pytest.raises(ValueError, match=name):
        theory.radial_index_range(np.ones(3), **args)
    with pytest.raises(ValueError, match=name):
        theory.sgd_tail_index(data.isotropic(3), **args)


# ------------------------------------------------------------------------------------------
# Kesten index of SGD
# ------------------------------------------------------------------------------------------


def test_alpha2_oracle_closed_form():
    # d = 1, B = 1, delta = 0: gamma = 2 / (3 lambda)
    assert theory.sgd_alpha2_gamma(2.0, 1, 1) == pytest.approx(1 / 3)


@pytest.mark.parametrize("lam,d,b,delta", [(1.0, 1, 1, 0.0), (2.0, 5, 2, 0.1), (0.5, 20, 4, 0.0),
                                           (1.0, 50, 8, 0.3)])
def test_one_step_formula_hits_alpha2_oracle(lam, d, b, delta):
    gamma = theory.sgd_alpha2_gamma(lam, d, b, delta)
    # E|M e1|^2 = 1 at the oracle gamma
    assert theory.isotropic_one_step_lambda(2.0, lam, d, gamma, b, delta) == pytest.approx(0, abs=1e-9)
    res = theory.sgd_tail_index(data.isotropic(d, lam=lam), gamma, b, delta)
    assert res.method == "isotropic-one-step" and res.status == "ok"
    assert res.alpha == pytest.approx(2.0, abs=1e-5)


def test_one_step_lambda_matches_direct_monte_carlo():
    rng = np.random.default_rng(0)
    d, b, gamma, delta, alpha, n = 20, 4, 0.3, 0.05, 1.0, 400_000
    s = rng.chisquare(b, n)
    c = rng.chisquare(d - 1, n)
    r = ((1 - gamma * delta - gamma * s / b) ** 2 + (gamma / b) ** 2 * s * c) ** (alpha / 2)
    mc, se = r.mean(), r.std() / math.sqrt(n)
    exact = math.exp(theory.isotropic_one_step_lambda(alpha, 1.0, d, gamma, b, delta))
    assert abs(exact - mc) < 4 * se


def test_lambda_is_convex_with_lambda0_zero():
    a = np.linspace(0.0, 6.0, 25)
    vals = np.array([theory.isotropic_one_step_lambda(x, 1.0, 3, 0.6, 1) for x in a])
    assert vals[0] == 0.0
    assert np.all(np.diff(vals, 2) >= -1e-9)


def test_kesten_mc_exact_scalar_lognormal():
    """M = exp(N(mu, s^2)) (d = 1): Lambda(alpha) = alpha mu + alpha^2 s^2 / 2, root -2 mu / s^2."""
    mu, s = -0.3, 0.5

    def apply(u, gen):
        m = torch.exp(mu + s * torch.randn(u.shape[0], 1, generator=gen, dtype=u.dtype))
        return m * u

    res = theory.kesten_index_mc(apply, 1, n_walkers=512, n_steps=60, burn_in=10, seed=3)
    assert res.status == "ok" and res.method == "population-mc"
    assert abs(res.alpha - 2.4) < 4 * res.se + 1e-3
    lam = theory.kesten_lambda_mc(apply, 1, 0.0, n_walkers=64, n_steps=5, burn_in=1, seed=3)
    assert lam.value == 0.0


def test_kesten_mc_common_random_numbers_give_smooth_lambda():
    lam = np.ones(3)
    apply = theory.linear_sgd_random_matrix(lam, 0.5, 1)
    alphas = np.linspace(0.5, 4.0, 8)
    vals = [theory.kesten_lambda_mc(apply, 3, a, n_walkers=256, n_steps=40, burn_in=10,
                                    seed=11).value for a in alphas]
    # same seed for every alpha: convex up to tiny noise
    assert np.all(np.diff(vals, 2) > -1e-3)
    again = theory.kesten_lambda_mc(apply, 3, 2.0, n_walkers=256, n_steps=40, burn_in=10, seed=11)
    assert again.value == theory.kesten_lambda_mc(apply, 3, 2.0, n_walkers=256, n_steps=40,
                                                  burn_in=10, seed=11).value


@pytest.mark.parametrize("d,b,gamma,delta", [(1, 1, 0.5, 0.0), (5, 2, 0.5, 0.1)])
def test_one_step_formula_agrees_with_population_mc(d, b, gamma, delta):
    prob = data.isotropic(d)
    exact = theory.sgd_tail_index(prob, gamma, b, delta)
    mc = theory.sgd_tail_index(prob, gamma, b, delta, method="mc", n_walkers=1024, n_steps=80,
                               burn_in=20, seed=5)
    assert exact.status == mc.status == "ok"
    assert abs(exact.alpha - mc.alpha) < 4 * mc.se


def test_online_rows_sampler_matches_reduced_apply_in_law():
    """The O(B + d) random-matrix sampler has the law of (1 - g delta) u - (g/B) A'A u."""
    lam = np.array([2.0, 1.0, 0.5])
    gamma, b, n = 0.3, 2, 200_000
    apply = theory.linear_sgd_random_matrix(lam, gamma, b)
    gen = torch.Generator().manual_seed(0)
    u = torch.tensor([[0.6, 0.8, 0.0]], dtype=torch.float64).expand(n, 3)
    v = apply(u, gen).numpy()
    a = np.random.default_rng(1).standard_normal((n, b, 3)) * np.sqrt(lam)
    w = u.numpy() - gamma / b * np.einsum("nbd,nb->nd", a, a @ u.numpy()[0])
    for sv, sw in ((v, w), (v**2, w**2)):
        se = np.sqrt(sv.var(0) / n + sw.var(0) / n)
        assert np.all(np.abs(sv.mean(0) - sw.mean(0)) < 4 * se)


def test_offline_kesten_index_on_digits_runs():
    ds = data.digits_features(8, seed=0)
    gamma = 0.5 * theory.lr_threshold(ds.spectrum, 1)
    res = theory.sgd_tail_index(ds, gamma, 1, 0.1, n_walkers=256, n_steps=40, burn_in=10,
                                n_replicas=4, seed=1)
    assert res.method == "population-mc"
    assert res.status == "ok" and 0 < res.alpha < 20 and res.se > 0


def test_bracket_statuses():
    prob = data.isotropic(2)
    tiny = theory.sgd_tail_index(prob, 1e-3, 64, alpha_bracket=(0.05, 20.0))
    assert tiny.status == "above_bracket" and tiny.alpha == math.inf
    huge = theory.sgd_tail_index(prob, 5.0, 1)
    assert huge.status == "below_bracket" and huge.alpha == 0.0
