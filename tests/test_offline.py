"""Offline SGD at scale, multirate hSGD and the rigorous facts about offline SGD's tail (linear.offline,
linear.hsgd_multirate, linear.offline_index)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from sgdtails import data
from sgdtails.estimators import student_t
from sgdtails.linear import hsgd_multirate
from sgdtails.linear import offline_index as oi
from sgdtails.linear.hsgd import run_hsgd
from sgdtails.linear.hsgd_multirate import multirate_scheme, run_hsgd_multirate
from sgdtails.linear.offline import distinct_rows, run_offline_sgd, top_direction
from sgdtails.linear.sgd import run_sgd

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal((200, 5)))
    a[:, 0] *= 3
    b = a @ rng.standard_normal(5) + rng.standard_normal(200)
    return data.FiniteDataset(a, b, name="small")


def test_one_row_data_set_follows_the_deterministic_recursion():
    a = np.array([[0.6, -0.8, 0.5]])
    ds = data.FiniteDataset(a, np.array([1.5]), name="one row")
    x0 = np.array([[1.0, 2.0, -1.0], [0.0, 0.5, 0.25]])
    res = run_offline_sgd(ds, 0.3, n_runs=2, n_updates=7, x0=x0, keep_final=True, dtype=torch.float64,
                          progress=False)
    x = x0.copy()
    for _ in range(7):
        x = x - 0.3 * (x @ a[0] - 1.5)[:, None] * a[0]
    np.testing.assert_allclose(res.final, x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.projections[:, 0], x @ top_direction(ds), rtol=1e-12, atol=1e-12)


def test_same_seed_same_numbers_whatever_the_workers(small):
    args = dict(n_runs=300, n_updates=50, seed=5, block_size=64, progress=False)
    one = run_offline_sgd(small, 0.05, workers=1, **args)
    two = run_offline_sgd(small, 0.05, workers=2, **args)
    np.testing.assert_array_equal(one.projections, two.projections)
    other = run_offline_sgd(small, 0.05, workers=1, **(args | {"seed": 6}))
    assert not np.array_equal(one.projections, other.projections)


def test_offline_sgd_has_the_law_of_the_reference_simulator(small):
    gamma, n = 0.3 / small.spectrum[0], 4000
    fast = run_offline_sgd(small, gamma, n_runs=n, n_updates=300, seed=1, dtype=torch.float64, progress=False)
    x0 = 0.5 * np.random.default_rng(2).standard_normal((n, small.d))
    ref = run_sgd(small, gamma, 1, n_chains=n, n_iter=300, x0=x0, seed=3, dtype=torch.float64)
    assert ref.n_diverged == 0 and fast.n_diverged == 0
    y_fast = fast.projections[:, 0]
    y_ref = ref.final @ top_direction(small)
    # two independent samples of one law: the two-sample KS test has an exact null distribution
    assert stats.ks_2samp(y_fast, y_ref).pvalue > 1e-3
    d_ref = np.linalg.norm(ref.final - small.x_ref, axis=1)
    assert stats.ks_2samp(fast.distance, d_ref).pvalue > 1e-3


def test_distinct_rows_are_distinct_and_uniform():
    gen = torch.Generator().manual_seed(0)
    idx = distinct_rows(gen, 6, (30000,), 4)
    assert idx.shape == (30000, 4)
    assert all(len(set(row)) == 4 for row in idx[:2000].tolist())
    counts = np.bincount(idx[:, 3].numpy(), minlength=6)
    assert stats.chisquare(counts).pvalue > 1e-4
    with pytest.raises(ValueError, match="batch_size"):
        distinct_rows(gen, 3, (2,), 4)


def test_divergent_runs_are_counted_and_frozen(small):
    res = run_offline_sgd(small, 5.0, n_runs=50, n_updates=200, seed=0, progress=False,
                          divergence_threshold=1e6)
    assert res.n_diverged == 50 and np.all(np.isfinite(res.projections))


@pytest.mark.parametrize("bad,match", [
    (dict(gamma=-0.1), "gamma"), (dict(batch_size=0), "batch_size"), (dict(n_runs=0), "n_runs"),
    (dict(batch_rows="sometimes"), "batch_rows"), (dict(x0=np.ones(3)), "x0"),
    (dict(batch_size=500), "batch_size"),
])
def test_bad_arguments_are_named(small, bad, match):
    args = dict(gamma=0.01, batch_size=1, n_runs=4, n_updates=2, progress=False) | bad
    with pytest.raises(ValueError, match=match):
        run_offline_sgd(small, **args)


def test_multirate_hsgd_has_the_exact_one_dimensional_student_t_law():
    """d = 1: hSGD is a Pearson diffusion whose stationary law is Student-t with nu = 1 + 2B/(gamma s)
    and scale sqrt(2 L_min / (s nu)) around x_ref (this project's derivation, the paper's nu_1)."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, size=(400, 1))
    ds = data.FiniteDataset(a, 2.0 * a[:, 0] + rng.standard_normal(400), name="1-d")
    s = float(ds.spectrum[0])
    gamma = 0.5 / s  # nu = 1 + 2/(gamma s) = 5
    res = run_hsgd_multirate(ds, gamma, n_runs=40000, n_iter=60, init_scale=0.0, substeps=32, seed=4,
                             progress=False, dtype=torch.float64, directions=np.array([1.0]))
    fit = student_t(res.projections[:, 0] - ds.x_ref[0])
    nu = 1 + 2 / (gamma * s)
    se = (fit.nu_ci_high - fit.nu_ci_low) / (2 * 1.96)
    assert abs(fit.nu - nu) < 4 * se, (fit, nu)
    assert fit.scale == pytest.approx(math.sqrt(ds.noise2 / (s * nu)), rel=0.03)


def test_multirate_hsgd_agrees_with_fine_euler_maruyama(small):
    gamma = 0.3 / small.spectrum[0]
    scheme = multirate_scheme(gamma * small.spectrum, substeps=8)
    assert scheme.fast.size >= 1 and sum(idx.size for idx in scheme.windows.values()) >= 1
    n = 6000
    x0 = 0.5 * np.random.default_rng(0).standard_normal((n, small.d))
    em = run_hsgd(small, gamma, 1, n_chains=n, n_iter=150, x0=x0, max_step=0.02, seed=1, dtype=torch.float64)
    mr = run_hsgd_multirate(small, gamma, n_runs=n, n_iter=150, substeps=8, seed=2, progress=False,
                            dtype=torch.float64)
    y_em = em.final @ top_direction(small)
    # both schemes discretise the same diffusion: their laws agree up to sampling noise (KS, exact null)
    assert stats.ks_2samp(y_em, mr.projections[:, 0]).pvalue > 1e-3
    d_em = np.linalg.norm(em.final - small.x_ref, axis=1)
    assert stats.ks_2samp(d_em, mr.distance).pvalue > 1e-3


class _RecordedStep:
    """Stands in for a CUDA graph: recording does not run the step, each replay runs it."""

    def __init__(self, step):
        self.step = step
        self.replays = 0

    def replay(self):
        self.replays += 1
        self.step()


def test_graph_replays_follow_the_eager_loop(small, monkeypatch):
    """The replay logic of the CUDA-graph path (one recording per pattern of moving groups, recorded but
    not run, replayed from step 2 on) gives the eager loop's numbers; checked here with recordings that
    replay the Python step, since this machine has no GPU (tests/test_cuda.py checks real graphs)."""
    recorded = []

    def record(step):
        recorded.append(_RecordedStep(step))
        return recorded[-1]

    monkeypatch.setattr(hsgd_multirate, "_graphs_supported", lambda device: True)
    monkeypatch.setattr(hsgd_multirate, "_captured", record)
    gamma = 0.6 / small.spectrum[0]
    args = dict(n_runs=300, n_iter=37, substeps=8, seed=3, progress=False, dtype=torch.float64)
    graphs = run_hsgd_multirate(small, gamma, cuda_graphs=True, **args)
    eager = run_hsgd_multirate(small, gamma, cuda_graphs=False, **args)
    np.testing.assert_array_equal(graphs.projections, eager.projections)
    scheme = multirate_scheme(gamma * small.spectrum, substeps=8)
    assert 1 <= len(recorded) <= len(scheme.windows) + 1
    assert sum(r.replays for r in recorded) == 37 * 8 - 2  # every step but the first and the last


def test_cuda_graphs_need_a_cuda_device(small):
    with pytest.raises(ValueError, match="cuda_graphs=True needs a CUDA device"):
        run_hsgd_multirate(small, 0.1, n_runs=10, n_iter=2, cuda_graphs=True, progress=False)


def test_windows_follow_the_rates():
    theta = np.array([1.0, 0.2, 0.01, 1e-5, 0.0])
    scheme = multirate_scheme(theta, substeps=16, max_step=0.05)
    window = {int(i): w for w, idx in scheme.windows.items() for i in idx}
    assert window[0] == 1  # theta dt = 1/16 > 0.05
    assert window[1] == 4 and 0.2 * 4 / 16 <= 0.05 < 0.2 * 8 / 16
    assert window[2] == 64 and window[3] == window[4] == 16 * 4096
    assert scheme.normals_per_iteration == pytest.approx(16 + 4 + 0.25 + 2 / 4096)


def test_refining_the_scheme_moves_the_law_by_less_than_its_noise(small):
    gamma = 0.6 / small.spectrum[0]
    args = dict(n_runs=8000, n_iter=100, progress=False, dtype=torch.float64)
    coarse = run_hsgd_multirate(small, gamma, substeps=8, max_step=0.1, seed=9, **args)
    fine = run_hsgd_multirate(small, gamma, substeps=32, max_step=0.025, seed=10, **args)
    assert stats.ks_2samp(coarse.projections[:, 0], fine.projections[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(coarse.distance, fine.distance).pvalue > 1e-3


def test_one_step_norms_match_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 4))
    ds = data.FiniteDataset(a, rng.standard_normal(30))
    res = oi.one_step_norms(ds, 0.4, delta=0.1)
    ref = [np.linalg.norm((1 - 0.04) * np.eye(4) - 0.4 * np.outer(r, r), 2) for r in a]
    np.testing.assert_allclose(res.norms, ref, rtol=1e-12)
    assert res.nonexpansive == (res.max_norm <= 1 + 1e-12)
    assert res.gamma_row == pytest.approx(2 / (a**2).sum(1).max())


def _dense_t(ds, gamma, b):
    """T(S) = E[M'SM] as a dense matrix on the row space (with replacement), by brute force."""
    _, _, vt = np.linalg.svd(ds.features, full_matrices=False)
    ar = ds.features @ vt[: ds.rank].T
    r = ar.shape[1]
    cols = []
    for k in range(r * r):
        e = np.zeros(r * r)
        e[k] = 1
        s = e.reshape(r, r)
        acc = np.zeros((r, r))
        for i in range(ds.n):
            for j in range(ds.n):
                m = np.eye(r) - gamma / b * (np.outer(ar[i], ar[i]) + (b - 1) * np.outer(ar[j], ar[j]))
                acc += m.T @ s @ m / ds.n**2 if b == 2 else 0
        if b == 1:
            acc = sum((np.eye(r) - gamma * np.outer(x, x)).T @ s @ (np.eye(r) - gamma * np.outer(x, x))
                      for x in ar) / ds.n
        cols.append(acc.reshape(-1))
    return np.array(cols).T


@pytest.mark.parametrize("b", [1, 2])
def test_second_moment_bracket_contains_the_brute_force_spectral_radius(b):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((8, 3))
    ds = data.FiniteDataset(a, rng.standard_normal(8))
    gamma = 0.9 / (a**2).sum(1).max()
    rho = max(abs(np.linalg.eigvals(_dense_t(ds, gamma, b))))
    res = oi.second_moment_rate(ds, gamma, b, n_power=50)
    assert res.rho_low - 1e-12 <= rho <= res.rho_high + 1e-12
    start = oi.second_moment_rate(ds, gamma, b, n_power=0)
    assert start.rho_high == pytest.approx(start.one_step)  # max_u E|Mu|^2 = lambda_max T(I)
    assert res.rho_high - res.rho_low < 0.5 * (start.rho_high - start.rho_low)


def test_repeat_path_bound():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((50, 3))
    ds = data.FiniteDataset(a, rng.standard_normal(50))
    row2 = (a**2).sum(1)
    gamma = 3.0 / row2.max()  # the longest row expands by a factor 2
    assert oi.repeat_path_bound(ds, gamma) == pytest.approx(math.log(50) / math.log(2.0))
    assert oi.repeat_path_bound(ds, 1.0 / row2.max()) == math.inf


def test_lyapunov_exponent_of_one_row_is_exact():
    """One row: M u = u - gamma a (a.u); the walker aligns with a at once when |1 - gamma |a|^2| > 1 and
    the exponent is log |1 - gamma |a|^2|; with d = 1 every step multiplies by the same number."""
    ds = data.FiniteDataset(np.array([[2.0]]), np.array([1.0]))
    res = oi.lyapunov_exponent(ds, 0.6, n_walkers=8, n_steps=50, burn_in=0)
    assert res.value == pytest.approx(math.log(abs(1 - 0.6 * 4.0)), rel=1e-12) and res.se == pytest.approx(0)


def test_lyapunov_exponent_sign_follows_stability(small):
    stable = oi.lyapunov_exponent(small, 0.3 / small.spectrum[0], n_walkers=64, n_steps=300, seed=1)
    assert stable.value + 4 * stable.se < 0
    row2 = (small.features**2).sum(1)
    wild = oi.lyapunov_exponent(small, 6.0 / row2.min(), n_walkers=64, n_steps=300, seed=1)
    assert wild.value - 4 * wild.se > 0
