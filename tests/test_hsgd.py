"""Homogenized SGD by Euler--Maruyama against the exact Student-t law and the bounds eta_*, eta^*."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from sgdtails import data, theory
from sgdtails.estimators import fits, tailindex
from sgdtails.linear.hsgd import default_substeps, run_hsgd

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def student_t_nu(z: np.ndarray, n_groups: int = 8) -> tuple[float, float]:
    """Student-t maximum likelihood ``nu`` (``fits.student_t``) pooled over coordinates, with a
    standard error from ``n_groups`` disjoint groups of independent chains (coordinates of one
    chain are dependent, so the per-fit Wald interval would be too narrow; chains are
    independent)."""
    nus = np.array([fits.student_t(g.ravel()).nu for g in np.array_split(z, n_groups)])
    return float(nus.mean()), float(nus.std(ddof=1) / np.sqrt(n_groups))


@pytest.mark.parametrize("d,gamma,b", [(5, 1 / 3, 1), (2, 0.5, 1), (1, 1.0, 1), (10, 0.3, 4)])
def test_isotropic_index_matches_exact_nu(d, gamma, b):
    nu = theory.hsgd_isotropic_index(1.0, d, gamma, b)
    res = run_hsgd(data.isotropic(d), gamma, b, n_chains=12000, n_iter=60, seed=10 + d)
    assert res.n_diverged == 0
    est, se = student_t_nu(res.centered())
    assert abs(est - nu) < 4 * se, (est, se, nu)


def test_isotropic_scale_and_delta():
    d, gamma, b, delta, lam = 3, 0.5, 2, 0.5, 2.0
    nu = theory.hsgd_isotropic_index(lam, d, gamma, b, delta)
    res = run_hsgd(data.isotropic(d, lam=lam, sigma=0.7), gamma, b, delta=delta, n_chains=12000,
                   n_iter=60, seed=4)
    z = res.centered()
    est, se = student_t_nu(z)
    assert abs(est - nu) < 4 * se
    scale = stats.t.fit(z.ravel(), f0=nu, floc=0)[2]
    # Euler-Maruyama with gamma (lambda + delta) dt <= 0.05 biases the scale by O(dt) (~3 %)
    assert scale == pytest.approx(theory.hsgd_isotropic_scale(lam, d, gamma, b, 0.7, delta),
                                  rel=0.06)


@pytest.mark.parametrize("d,frac,b,delta", [(4, 0.8, 1, 0.0), (8, 1.0, 1, 0.2)])
def test_anisotropic_estimate_within_bounds(d, frac, b, delta):
    prob = data.power_law(d, exponent=1.0, x_true="random", seed=2)
    gamma = frac * theory.lr_threshold(prob.spectrum, b)
    bounds = theory.radial_index_range(prob.spectrum, gamma, b, delta)
    res = run_hsgd(prob, gamma, b, delta=delta, n_chains=20000, n_iter=120, seed=3)
    assert res.n_diverged == 0
    norms = np.linalg.norm(res.centered(), axis=1)
    est = tailindex.hill(norms, seed=0, n_boot=100)
    assert bounds.lower - 4 * est.se <= est.alpha <= bounds.upper + 4 * est.se, (
        est, bounds)


def test_euler_maruyama_converges_in_dt():
    """Halving dt with the *same* Brownian path (coarse increments = sums of fine ones) moves the
    estimate by much less than its sampling standard error: the discretisation error is below
    the statistical one. Coupling removes the sampling noise from the difference, so the
    comparison isolates the effect of dt."""
    prob = data.isotropic(5)
    gamma, b = 1 / 3, 1
    m = default_substeps(1.0, gamma)
    coarse = run_hsgd(prob, gamma, b, n_chains=12000, n_iter=60, substeps=m, coarsen=2, seed=8)
    fine = run_hsgd(prob, gamma, b, n_chains=12000, n_iter=60, substeps=2 * m, seed=8)
    est_c, se_c = student_t_nu(coarse.centered())
    est_f, se_f = student_t_nu(fine.centered())
    assert abs(est_c - est_f) < min(se_c, se_f), (est_c, est_f, se_c)
    # and the paths really are coupled: iterates are close, chain by chain
    corr = np.corrcoef(coarse.final[:, 0], fine.final[:, 0])[0, 1]
    assert corr > 0.9


def test_default_substeps_rule():
    assert default_substeps(1.0, 1 / 3) == 7
    assert default_substeps(2.0, 0.5, delta=0.5) == 25
    res = run_hsgd(data.isotropic(2, lam=2.0), 0.5, 1, delta=0.5, n_chains=4, n_iter=2, seed=0)
    assert res.substeps == 25 and 0.5 * 2.5 / res.substeps <= 0.05


def test_stationary_covariance_exact_on_digits_features():
    """Linear drift: the stationary covariance of hSGD solves a Lyapunov equation exactly. In the
    eigenbasis of Sigma, C_jj = gamma E[2L] lambda_j / (2B (lambda_j + delta)) with
    E[2L] = 2L(x*) / (1 - gamma sum_j lambda_j^2 / (2B (lambda_j + delta))). Checks the
    rotation to the eigenbasis of a full (empirical) Sigma."""
    ds = data.digits_features(6, seed=1)
    b, delta = 4, 0.5
    lam, v = ds.spectrum, ds.eigvecs
    gamma = 0.2 * theory.lr_threshold(lam, b)
    xs = ds.x_star(delta)
    two_l_star = 2 * float(ds.loss(xs))
    e2l = two_l_star / (1 - gamma * np.sum(lam**2 / (2 * b * (lam + delta))))
    c_exact = gamma * e2l * lam / (2 * b * (lam + delta))
    res = run_hsgd(ds, gamma, b, delta=delta, n_chains=20000, n_iter=80, burn_in=40,
                   dtype=torch.float64, seed=5)
    zt = res.centered() @ v
    var = (zt**2).mean(0)
    se = (zt**2).std(0) / np.sqrt(zt.shape[0])
    # Euler-Maruyama bias O(gamma (lambda + delta) dt) <= 5 % of the variance, plus sampling error
    assert np.all(np.abs(var - c_exact) < 4 * se + 0.03 * c_exact), (var, c_exact)


def test_float32_and_float64_agree():
    prob = data.isotropic(3)
    ests = []
    for dt in (torch.float32, torch.float64):
        res = run_hsgd(prob, 0.5, 1, n_chains=12000, n_iter=60, seed=21, dtype=dt)
        ests.append(student_t_nu(res.centered()))
    (a, sa), (b_, sb) = ests
    assert abs(a - b_) < 4 * np.hypot(sa, sb)


def test_divergence_is_frozen_counted_and_flagged():
    prob = data.isotropic(10)
    # nu = 2 - d + 2B/gamma < 0: no stationary law; the norm grows without bound
    res = run_hsgd(prob, 3.0, 1, n_chains=200, n_iter=200, seed=0, divergence_threshold=1e3)
    assert res.n_diverged > 0
    assert res.diverged.sum() == res.n_diverged
    assert np.all(np.isfinite(res.final))
    assert res.centered().shape[0] == 200 - res.n_diverged


@pytest.mark.parametrize("kw,name", [({"gamma": -1.0}, "gamma"), ({"batch_size": 0}, "batch_size"),
                                     ({"delta": float("nan")}, "delta"),
                                     ({"substeps": 0}, "substeps"), ({"n_chains": 0}, "n_chains")])
def test_invalid_arguments_named(kw, name):
    args = {"gamma": 0.1, "batch_size": 1} | kw
    gamma, b = args.pop("gamma"), args.pop("batch_size")
    with pytest.raises(ValueError, match=name):
        run_hsgd(data.isotropic(2), gamma, b, n_iter=2, **args)


def test_average_and_snapshots_shapes():
    res = run_hsgd(data.isotropic(3), 0.2, 1, n_chains=7, n_iter=10, average=True,
                   snapshot_steps=[5, 10], seed=0)
    assert res.average.shape == (7, 3) and res.snapshots.shape == (2, 7, 3)
    assert np.array_equal(res.snapshots[-1], res.final)
    assert res.method == "hsgd-em"
