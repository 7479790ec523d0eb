"""The paper's data sets and bounds (Jiao & Keller-Ressel 2024): published values, constructions, units."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sgdtails import data, theory


@pytest.fixture(scope="module", params=data.JKR_DATASETS)
def paper_set(request):
    name = request.param
    return name, data.jkr_dataset(name), data.jkr_settings(name)


def test_published_values_reproduced_to_1e_9(paper_set):
    name, ds, st = paper_set
    pub = data.JKR_PUBLISHED[name]
    b = theory.jkr_bounds(ds, gamma=st.gamma, batch_size=st.batch_size, delta=st.delta)
    assert b.lambda_1 == pytest.approx(pub.lambda_1, rel=1e-9)
    assert b.eta_upper == pytest.approx(pub.eta_upper, rel=1e-9)
    assert b.eta_lower == pytest.approx(pub.eta_lower, rel=1e-9)
    assert b.gamma_bar == pytest.approx(pub.gamma_bar, rel=1e-9)
    assert b.lower_valid  # the paper's settings satisfy gamma < gamma_bar


@pytest.mark.parametrize("name,shape,rank", [("X", (2000, 200), 200), ("Y", (1797, 64), 61),
                                             ("Z", (1797, 200), 192)])
def test_shapes_ranks_and_min_max_scaling(name, shape, rank):
    ds = data.jkr_dataset(name)
    assert ds.features.shape == shape and ds.targets.shape == (shape[0],)
    assert ds.rank == rank
    assert ds.features.min() == 0.0 and ds.features.max() == 1.0


def test_synthetic_set_follows_the_published_stream():
    ds = data.jkr_dataset("X")
    stream = np.random.RandomState(1)
    raw = stream.randn(2000, 200)
    assert np.array_equal(ds.features, (raw - raw.min()) / (raw.max() - raw.min()))
    x_true = 3.0 * stream.randn(200)
    assert np.allclose(ds.targets, ds.features @ x_true + 3.0 * stream.randn(2000), rtol=0, atol=1e-12)


def test_digits_responses_and_the_last_one_left_at_zero():
    labels = load_digits(return_X_y=True)[1]
    for name in ("Y", "Z"):
        b = data.jkr_dataset(name).targets
        assert np.array_equal(b[:-1], labels[:-1] / 10.0) and b[-1] == 0.0 and labels[-1] != 0


def test_construction_leaves_global_numpy_state_alone():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is what is checked)
    data.jkr_dataset("X")
    data.jkr_dataset("Z")
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_unknown_data_set_names_the_three():
    with pytest.raises(ValueError, match=r"\['X', 'Y', 'Z'\]"):
        data.jkr_dataset("W")
    with pytest.raises(ValueError, match="name must be one of"):
        data.jkr_settings("x")


def test_settings_table():
    assert [(s.gamma, s.n_iterations, s.batch_size, s.delta, s.init_scale) for s in
            map(data.jkr_settings, data.JKR_DATASETS)] == [(0.02, 1000, 1, 0.0, 0.5),
                                                          (0.1, 10000, 1, 0.0, 0.5),
                                                          (0.2, 10000, 1, 0.0, 0.1)]
    assert data.jkr_settings("X").n_updates == 999


@pytest.mark.parametrize("d,lam,gamma,b,delta_h", [(5, 1.0, 0.2, 1, 0.0), (10, 2.5, 0.05, 4, 0.3)])
def test_isotropic_lower_bound_is_the_exact_student_t_index(d, lam, gamma, b, delta_h):
    n = 1000
    sv, delta = theory.paper_units(np.full(d, lam), n, delta_h)
    bounds = theory.jkr_bounds(sv, n, gamma, b, delta)
    exact = theory.hsgd_isotropic_index(lam, d, gamma, b, delta_h)
    assert bounds.eta_lower == pytest.approx(exact, rel=1e-12)
    assert bounds.eta_upper - bounds.eta_lower == pytest.approx(d - 1)


def test_upper_bound_is_nu_1_not_the_radial_upper_end():
    lam = np.array([4.0, 2.0, 1.0, 0.5])
    n, gamma, b = 100, 0.05, 1
    sv, _ = theory.paper_units(lam, n)
    bounds = theory.jkr_bounds(sv, n, gamma, b)
    radial = theory.radial_index_range(lam, gamma, b)
    assert bounds.eta_upper == pytest.approx(bounds.nu[0])
    assert bounds.eta_lower == pytest.approx(radial.lower)  # both are 2 + phi(s_1) below gamma_bar
    assert radial.upper > bounds.eta_upper  # the radial range's upper end is another quantity


def test_rho_star_solves_its_equation_and_is_below_the_first_pole():
    sv = np.array([10.0, 6.0, 3.0, 1.0])
    n, b, delta = 50, 2, 0.5
    g_prime = theory.jkr_bounds(sv, n, 1.0, b, delta).gamma_prime
    for gamma in (0.1 * g_prime, 0.5 * g_prime, 0.99 * g_prime):
        res = theory.jkr_bounds(sv, n, gamma, b, delta)
        assert 0 < res.rho_star < gamma * (sv[-1] ** 2 + delta) / n
        scale = n * b / (2 * gamma)
        assert abs(theory.rho_star_equation(res.rho_star, sv, n, gamma, b, delta)) < 1e-9 * scale
    assert math.isnan(theory.jkr_bounds(sv, n, 1.01 * g_prime, b, delta).rho_star)


def test_bounds_move_as_corollary_3_5_says():
    sv = np.array([10.0, 6.0, 3.0])
    base = theory.jkr_bounds(sv, 100, 0.5, 1, 0.0)
    for other in (theory.jkr_bounds(sv, 100, 0.5, 1, 1.0), theory.jkr_bounds(sv, 100, 0.5, 2, 0.0),
                  theory.jkr_bounds(sv, 100, 0.4, 1, 0.0)):
        assert other.eta_upper > base.eta_upper and other.eta_lower > base.eta_lower
    bigger = theory.jkr_bounds(sv * np.array([1.2, 1, 1]), 100, 0.5, 1, 0.0)
    assert bigger.eta_upper < base.eta_upper and bigger.eta_lower < base.eta_lower


@pytest.mark.parametrize("bad", [dict(gamma=0.0), dict(gamma=-1.0), dict(batch_size=0), dict(delta=-0.1),
                                 dict(n=0)])
def test_bad_arguments_are_named(bad):
    args = dict(singular_values=[3.0, 1.0], n=10, gamma=0.1, batch_size=1, delta=0.0) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        theory.jkr_bounds(**args)


def test_data_set_argument_checks_n():
    ds = data.jkr_dataset("Y")
    with pytest.raises(ValueError, match="n=5"):
        theory.jkr_bounds(ds, n=5, gamma=0.1)


def test_hessian_units_agree_with_the_paper_units():
    ds = data.jkr_dataset("Y")
    st = data.jkr_settings("Y")
    paper = theory.jkr_bounds(ds, gamma=st.gamma)
    hessian = theory.jkr_bounds_hessian(ds.singular_values**2 / ds.n, st.gamma)
    for field in ("eta_upper", "eta_lower", "gamma_bar", "gamma_prime"):
        assert getattr(hessian, field) == pytest.approx(getattr(paper, field), rel=1e-12)
