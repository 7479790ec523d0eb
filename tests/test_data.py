"""Data sets of Part I: Gaussian designs with a spectrum and random ReLU features of digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sgdtails import data


def test_isotropic_and_power_law_spectra():
    iso = data.isotropic(4, lam=2.0)
    assert np.array_equal(iso.spectrum, np.full(4, 2.0)) and iso.trace == 8.0
    pl = data.power_law(5, exponent=1.0, lam_max=3.0)
    assert np.allclose(pl.spectrum, 3.0 / np.arange(1, 6))
    assert pl.d == 5 and pl.eigvecs is None and pl.online


def test_spectrum_sorted_decreasingly():
    g = data.gaussian_design([0.5, 2.0, 1.0])
    assert np.array_equal(g.spectrum, [2.0, 1.0, 0.5])


@pytest.mark.parametrize("bad", [[1.0, 0.0], [-1.0], [1.0, np.nan], [np.inf]])
def test_bad_spectrum_named(bad):
    with pytest.raises(ValueError, match="spectrum"):
        data.gaussian_design(bad)


@pytest.mark.parametrize("call,name", [(lambda: data.isotropic(0), "d"),
                                       (lambda: data.isotropic(3, lam=-1), "lam"),
                                       (lambda: data.isotropic(3, sigma=np.nan), "sigma"),
                                       (lambda: data.isotropic(3, x_true="ones"), "x_true"),
                                       (lambda: data.gaussian_design([1.0], x_true=[1, 2]),
                                        "x_true"),
                                       (lambda: data.digits_features(0), "n_features")])
def test_bad_arguments_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_sample_moments_and_loss():
    g = data.power_law(3, exponent=1.0, sigma=0.5, x_true="random", seed=3)
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    a, y = g.sample((n,), gen, dtype=torch.float64)
    a, y = a.numpy(), y.numpy()
    cov = a.T @ a / n
    se = np.sqrt(np.outer(g.spectrum, g.spectrum) * 2 / n)
    assert np.all(np.abs(cov - np.diag(g.spectrum)) < 5 * se)
    x = np.array([0.3, -0.2, 0.1])
    emp = 0.5 * np.mean((a @ x - y) ** 2)
    assert emp == pytest.approx(float(g.loss(x)), rel=0.02)
    assert float(g.loss(g.x_true)) == pytest.approx(0.5 * 0.25)
    assert g.noise2 == pytest.approx(0.25)


def test_ridge_minimiser():
    g = data.gaussian_design([2.0, 1.0], x_true=[1.0, -1.0])
    assert np.allclose(g.x_star(1.0), [2 / 3, -0.5])
    assert np.allclose(g.x_star(0.0), g.x_true)


def test_digits_features_empirical_quantities():
    ds = data.digits_features(16, seed=0)
    assert ds.features.shape == (1797, 16) and ds.n == 1797 and ds.d == 16 and not ds.online
    assert np.allclose(ds.features.mean(0), 0, atol=1e-12)
    assert ds.trace == pytest.approx(16.0)
    s, v = ds.spectrum, ds.eigvecs
    assert np.all(np.diff(s) <= 0) and np.all(s > 0)
    assert np.allclose(v @ np.diag(s) @ v.T, ds.sigma_matrix, atol=1e-8)
    # L(x) = 1/2 (x - x_ref)' Sigma (x - x_ref) + noise2 / 2
    x = np.linspace(-1, 1, 16)
    z = x - ds.x_ref
    assert float(ds.loss(x)) == pytest.approx(0.5 * z @ ds.sigma_matrix @ z + 0.5 * ds.noise2)
    assert np.allclose(ds.x_star(0.0), ds.x_ref, atol=1e-6)
    assert np.allclose((ds.sigma_matrix + 0.3 * np.eye(16)) @ ds.x_star(0.3),
                       ds.features.T @ ds.targets / ds.n)


def test_digits_features_seeded():
    a, b = data.digits_features(4, seed=1), data.digits_features(4, seed=1)
    c = data.digits_features(4, seed=2)
    assert np.array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)
