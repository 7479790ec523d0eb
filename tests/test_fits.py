"""Student-t and alpha-stable fits, QQ data and KS tests."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

from sgdtails.estimators import fits


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def gil_pelaez_cdf_s0(x: float, alpha: float, beta: float) -> float:
    """Independent S0 stable cdf by characteristic-function inversion (Gil-Pelaez)."""
    tan = math.tan(math.pi * alpha / 2)

    def integrand(t: float) -> float:
        phi = np.exp(-(t**alpha) * (1 + 1j * beta * tan * (t ** (1 - alpha) - 1)))
        return float((np.exp(-1j * t * x) * phi).imag / t)

    val, _ = integrate.quad(integrand, 0, np.inf, limit=500)
    return 0.5 - val / math.pi


# ---------------------------------------------------------------------------------------
# Student-t
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("nu", [1.5, 3.0, 5.0])
def test_student_t_recovers_nu_within_fisher_interval(nu):
    x = 2.0 + 0.5 * stats.t.rvs(nu, size=3000, random_state=rng(1))
    fit = fits.student_t(x)
    # Wald interval on log(nu): recover the standard error from the reported 95% interval
    se_log = (math.log(fit.nu_ci_high) - math.log(fit.nu_ci_low)) / (2 * stats.norm.ppf(0.975))
    assert abs(math.log(fit.nu) - math.log(nu)) < 4 * se_log, str(fit)
    assert fit.nu_ci_low < fit.nu < fit.nu_ci_high
    assert fit.alpha == fit.nu
    # it is the maximum likelihood: at least as good as scipy's optimiser, same parameters
    ref = stats.t.fit(x)
    assert fit.loglik >= stats.t.logpdf(x, *ref).sum() - 1e-6
    np.testing.assert_allclose([fit.nu, fit.loc, fit.scale], ref, rtol=1e-3, atol=1e-3)
    assert fit.loglik == pytest.approx(stats.t.logpdf(x, fit.nu, fit.loc, fit.scale).sum())


def test_student_t_fisher_se_matches_bootstrap_spread():
    x = stats.t.rvs(3.0, size=1000, random_state=rng(2))
    fit = fits.student_t(x)
    se_log = (math.log(fit.nu_ci_high) - math.log(fit.nu_ci_low)) / (2 * stats.norm.ppf(0.975))
    r = rng(3)
    boot = [math.log(fits.student_t(x[r.integers(0, x.size, x.size)]).nu) for _ in range(40)]
    # the bootstrap sd of log(nu) from 40 resamples is within ~ +-25% of the truth (chi
    # distribution with 39 df: 4 sd = 4 * 0.113): compare with that tolerance
    assert np.std(boot, ddof=1) == pytest.approx(se_log, rel=4 * 0.113)


def test_student_t_fit_law_methods_and_level():
    x = stats.t.rvs(4.0, size=500, random_state=rng(4))
    fit = fits.student_t(x, ci=0.5)
    wide = fits.student_t(x, ci=0.99)
    assert wide.nu_ci_low < fit.nu_ci_low < fit.nu < fit.nu_ci_high < wide.nu_ci_high
    q = np.array([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(fit.cdf(q), stats.t.cdf(q, fit.nu, fit.loc, fit.scale))
    np.testing.assert_allclose(fit.sf(q), stats.t.sf(q, fit.nu, fit.loc, fit.scale))
    np.testing.assert_allclose(fit.ppf(fit.cdf(q)), q, atol=1e-12)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.nu = 3.0  # type: ignore[misc]
    assert "student_t" in str(fit)


def test_student_t_gaussian_data_hits_upper_bound():
    fit = fits.student_t(rng(5).standard_normal(3000))
    assert fit.nu > 30 and fit.nu_ci_high > 100


# ---------------------------------------------------------------------------------------
# Alpha-stable
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("alpha", "beta"), [(1.2, 0.0), (1.7, 0.0), (1.5, 0.5)])
def test_alpha_stable_recovery(alpha, beta):
    loc, scale = 1.0, 2.0
    x = stats.levy_stable.rvs(alpha, beta, loc=loc, scale=scale, size=4000,
                              random_state=rng(6))
    fit = fits.alpha_stable(x)
    r = rng(7)
    boot = np.array([dataclasses.astuple(fits.alpha_stable(x[r.integers(0, x.size, x.size)]))[:4]
                     for _ in range(40)])
    se = boot.std(axis=0, ddof=1)
    est = np.array([fit.alpha, fit.beta, fit.loc, fit.scale])
    truth = np.array([alpha, beta, loc, scale])
    assert np.all(np.abs(est - truth) < 4 * se), (str(fit), se)
    assert fit.n == 4000 and fit.method == "ecf-regression"


@pytest.mark.parametrize(("alpha", "beta"), [(1.2, 0.0), (1.7, -0.2)])
def test_stable_fast_cdf_against_gil_pelaez(alpha, beta):
    fit = fits.StableFit(alpha, beta, fits._s0_to_s1_loc(alpha, beta, 0.0, 1.0), 1.0, 10)
    z = np.array([-30.0, -3.0, -0.7, 0.4, 2.0, 10.0, 300.0])
    exact = np.array([gil_pelaez_cdf_s0(v, alpha, beta) for v in z])
    np.testing.assert_allclose(fit.cdf(z), exact, atol=2e-5)
    np.testing.assert_allclose(fit.sf(z), 1 - exact, atol=2e-5)
    p = np.array([1e-6, 0.01, 0.3, 0.5, 0.9, 1 - 1e-6])
    np.testing.assert_allclose(fit.cdf(fit.ppf(p)), p, rtol=1e-4, atol=1e-9)
    # far tail: the power-law continuation, P(Z < -z) ~ c_alpha (1 - beta) z^-alpha
    c_a = math.gamma(alpha) * math.sin(math.pi * alpha / 2) / math.pi
    assert fit.cdf(-1e7) == pytest.approx(c_a * (1 - beta) * 1e7 ** (-alpha), rel=0.02)


def test_stable_fit_dist_is_s1_and_agrees_with_fast_cdf():
    fit = fits.StableFit(1.5, 0.5, 0.3, 1.5, 10)
    assert fit.loc_s0 == pytest.approx(0.3 + 0.5 * 1.5 * math.tan(0.75 * math.pi))
    x = np.sort(fit.dist.rvs(size=50000, random_state=rng(8)))
    d = fits._ks_stat(x, fit.cdf(x))
    assert d < 1.95 / math.sqrt(x.size)  # KS 1% critical value: S0/S1 conversions agree
    assert "S1" in str(fit)


# ---------------------------------------------------------------------------------------
# QQ data and KS tests
# ---------------------------------------------------------------------------------------
def test_qq_data():
    x = stats.t.rvs(3.0, size=400, random_state=rng(9))
    fit = fits.student_t(x)
    qq = fits.qq_data(x, fit)
    assert qq.theoretical.shape == qq.empirical.shape == (400,)
    np.testing.assert_array_equal(qq.empirical, np.sort(x))
    np.testing.assert_allclose(qq.theoretical, fit.dist.ppf((np.arange(400) + 0.5) / 400))
    qs = fits.qq_data(x, fits.alpha_stable(x))
    assert np.all(np.diff(qs.theoretical) > 0)
    frozen = fits.qq_data(x, stats.norm())
    assert frozen.theoretical[0] < 0 < frozen.theoretical[-1]
    with pytest.raises(ValueError, match="dist"):
        fits.qq_data(x, object())  # type: ignore[arg-type]


def test_ks_rejects_wrong_law_and_keeps_right_one():
    # a clearly stable sample (alpha = 1.8: Gaussian-like body, power-law tail)
    x = stats.levy_stable.rvs(1.8, 0.0, size=10000, random_state=rng(10))
    wrong = fits.ks_test(x, fits.student_t(x), n_boot=29, seed=1)
    right = fits.ks_test(x, fits.alpha_stable(x), n_boot=19, seed=1)
    assert wrong.law == "student_t" and right.law == "stable"
    assert wrong.pvalue <= 0.05  # rejected at 5% (every bootstrap D was smaller)
    assert right.pvalue > 0.05   # not rejected at 5% (a 5%-level test: fixed seed)
    # fitting shrinks D, so the naive KS p-value overstates the fit
    assert wrong.pvalue_naive > wrong.pvalue
    assert wrong.statistic > right.statistic
    assert fits.ks_test(x, fits.student_t(x), n_boot=29, seed=1) == wrong


def test_ks_without_bootstrap_and_errors():
    x = stats.t.rvs(3.0, size=300, random_state=rng(11))
    fit = fits.student_t(x)
    r = fits.ks_test(x, fit, n_boot=0)
    assert math.isnan(r.pvalue) and r.n_boot == 0
    assert r.statistic == pytest.approx(stats.kstest(x, fit.cdf).statistic)
    with pytest.raises(ValueError, match="fit"):
        fits.ks_test(x, stats.t(3.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_boot"):
        fits.ks_test(x, fit, n_boot=-1)


@pytest.mark.parametrize("func", [fits.student_t, fits.alpha_stable])
def test_fit_input_errors(func):
    good = rng(12).standard_t(3.0, size=50)
    with pytest.raises(ValueError, match="x contains"):
        func(np.r_[good, np.nan])
    with pytest.raises(ValueError, match="x needs at least 10"):
        func(good[:5])
    with pytest.raises(ValueError, match="x has all-equal"):
        func(np.ones(20))
    with pytest.raises(ValueError, match="x must be an array of rank 1"):
        func(good.reshape(10, 5))


def test_plot_qq_helper():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sgdtails import plotting

    x = stats.t.rvs(3.0, size=300, random_state=rng(13))
    fig, ax = plt.subplots()
    assert plotting.plot_qq(fits.qq_data(x, fits.student_t(x)), ax=ax) is ax
    assert len(ax.lines) == 2
    plt.close(fig)


def test_student_t_scale_with_nu_fixed_recovers_the_scale():
    x = 0.3 * np.random.default_rng(11).standard_t(4, 20000)
    kappa = fits.student_t_scale(x, 4.0)
    # se of a scale MLE ~ kappa / sqrt(2 n) for moderate nu; 4 se is generous
    assert abs(kappa - 0.3) < 4 * 0.3 / np.sqrt(2 * 20000) * 1.5
    with pytest.raises(ValueError, match="nu"):
        fits.student_t_scale(x, -1.0)


def test_student_t_nu_bootstrap_interval_covers_the_truth():
    x = np.random.default_rng(12).standard_t(3, 3000)
    lo, hi, reps = fits.student_t_nu_interval(x, n_boot=40, seed=1)
    assert reps.shape == (40,) and lo < hi
    assert lo < 3.0 < hi


def test_ks_bootstrap_pvalue_is_uniform_under_the_null():
    """Data drawn from a Student-t law, fitted and tested: the parametric-bootstrap p-values of 60
    independent samples are uniform (their KS distance to U(0, 1) is not significant at 1 %); the naive
    p-values, which ignore the fit, pile up near 1."""
    rng = np.random.default_rng(13)
    pvals, naive = [], []
    for i in range(60):
        x = rng.standard_t(4, 200)
        res = fits.ks_test(x, fits.student_t(x), n_boot=19, seed=i)
        pvals.append(res.pvalue)
        naive.append(res.pvalue_naive)
    # p-values from 19 bootstrap replicates live on the grid k/20: compare with the discrete uniform law
    grid = np.arange(1, 21) / 20
    counts = np.array([np.sum(np.isclose(pvals, g)) for g in grid])
    assert counts.sum() == 60
    assert stats.chisquare(counts.reshape(4, 5).sum(1)).pvalue > 0.01
    assert np.median(naive) > 0.75
