"""The reduced samplers draw the same laws as the direct ones (sgdtails.reduced).

Statistical checks are seeded and use tolerances from Monte Carlo standard errors: one-step first and
second moments agree within 5 standard errors (a few hundred statistics in all, so a false alarm has
probability < 1e-3), two-sample KS tests on short runs have p > 1e-3, tail indices agree within 4
combined bootstrap standard errors.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from sgdtails import data
from sgdtails._core import blocks
from sgdtails.estimators import tailindex
from sgdtails.linear import reduced as linear_reduced
from sgdtails.linear.sgd import direct_gradient_sampler
from sgdtails.relu import law as relu_law
from sgdtails.relu import reduced as relu_reduced
from sgdtails.relu import simulate as relu_sim

CPU = torch.device("cpu")
Z_TOL = 5.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _features(g: torch.Tensor) -> torch.Tensor:
    """Per-sample statistics whose means are the first and second moments of ``g`` (N, d)."""
    g = g.double()
    iu = torch.triu_indices(g.shape[1], g.shape[1])
    return torch.cat([g, (g[:, :, None] * g[:, None, :])[:, iu[0], iu[1]]], dim=1)


def _max_z(g1: torch.Tensor, g2: torch.Tensor) -> float:
    """Largest |difference of means| / standard error over the first and second moments."""
    f1, f2 = _features(g1), _features(g2)
    se = torch.sqrt(f1.var(0) / f1.shape[0] + f2.var(0) / f2.shape[0])
    assert torch.all(se > 0), "degenerate statistics"
    return float(((f1.mean(0) - f2.mean(0)).abs() / se).max())


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# linear SGD: one-step moments
# --------------------------------------------------------------------------------------------------
PROBLEM = data.gaussian_design([2.0, 1.0, 0.5, 0.25], sigma=0.7, x_true="random", seed=3)
STATES = {"generic": [0.3, -1.0, 0.5, 2.0], "at_x_true": None}


@pytest.mark.parametrize("batch", [1, 3, 20])
@pytest.mark.parametrize("batch_sums", ["explicit", "wishart"])
@pytest.mark.parametrize("state", list(STATES))
def test_linear_one_step_moments(batch: int, batch_sums: str, state: str) -> None:
    n = 60_000
    x0 = PROBLEM.x_true if STATES[state] is None else STATES[state]
    x = torch.tensor(x0, dtype=torch.float64).expand(n, 4).clone()
    gd = direct_gradient_sampler(PROBLEM, batch, _gen(1), CPU, torch.float64)(x)
    gr = linear_reduced.linear_reduced_gradient(x, _gen(2), spectrum=PROBLEM.spectrum, batch=batch,
                                         x_true=PROBLEM.x_true, sigma=PROBLEM.sigma,
                                         batch_sums=batch_sums)
    assert _max_z(gd, gr) < Z_TOL


def test_linear_moment_check_has_power() -> None:
    """The same check rejects a sampler with a 15% wrong noise level (at x_true, where noise dominates)."""
    n = 60_000
    x = torch.tensor(PROBLEM.x_true, dtype=torch.float64).expand(n, 4).clone()
    gd = direct_gradient_sampler(PROBLEM, 3, _gen(1), CPU, torch.float64)(x)
    gr = linear_reduced.linear_reduced_gradient(x, _gen(2), spectrum=PROBLEM.spectrum, batch=3,
                                         x_true=PROBLEM.x_true, sigma=1.15 * PROBLEM.sigma)
    assert _max_z(gd, gr) > 2 * Z_TOL


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 1e-30])
def test_linear_noiseless_collapse_keeps_law(dtype: torch.dtype, scale: float) -> None:
    """sigma = 0: the gradient is homogeneous in z; tiny states (float32 down to ~1e-37) keep the law."""
    prob = data.gaussian_design([2.0, 1.0, 0.5, 0.25], sigma=0.0)
    n = 60_000
    x = (scale * torch.tensor([0.3, -1.0, 0.5, 2.0], dtype=dtype)).expand(n, 4).clone()
    gd = direct_gradient_sampler(prob, 3, _gen(1), CPU, dtype)(x).double() / scale
    for mode in ("explicit", "wishart"):
        gr = linear_reduced.linear_reduced_gradient(x, _gen(2), spectrum=prob.spectrum, batch=3, sigma=0.0,
                                             batch_sums=mode).double() / scale
        assert torch.isfinite(gr).all()
        assert _max_z(gd, gr) < Z_TOL


def test_linear_step_matches_sgd_update() -> None:
    """``linear_reduced_step`` is ``x - gamma (g + delta x)`` with the reduced gradient ``g``."""
    x = torch.randn(50, 4, generator=_gen(0), dtype=torch.float64)
    kw = {"spectrum": PROBLEM.spectrum, "batch": 3, "x_true": PROBLEM.x_true, "sigma": 0.7}
    g = linear_reduced.linear_reduced_gradient(x, _gen(5), **kw)
    step = linear_reduced.linear_reduced_step(x, _gen(5), gamma=0.3, delta=0.1, **kw)
    torch.testing.assert_close(step, x - 0.3 * (g + 0.1 * x))


# --------------------------------------------------------------------------------------------------
# ReLU gate: one-step moments
# --------------------------------------------------------------------------------------------------
W_STAR = torch.tensor([0.5, -0.5, 0.5, 0.5], dtype=torch.float64)
RELU_CASES = [("realizable", 0.0, 0.0), ("realizable", 0.3, 0.0), ("binary", 0.0, 0.0),
              ("binary", 0.0, 0.2)]


def _relu_state(state: str, setup: str) -> torch.Tensor:
    if state == "generic":
        return torch.tensor([0.3, -1.0, 0.5, 0.2], dtype=torch.float64)
    if state == "parallel":  # w parallel to w*: the plane span(w, w*) degenerates
        return (-0.4 if setup == "realizable" else 0.8) * W_STAR
    return 1e-30 * torch.tensor([0.3, -1.0, 0.5, 0.2], dtype=torch.float64)  # collapsing run


RELU_STATES = [(*case, state) for case in RELU_CASES for state in ("generic", "parallel", "tiny")
               if state != "tiny" or case == ("realizable", 0.0, 0.0)]  # only noiseless runs collapse


@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
@pytest.mark.parametrize("setup,label_noise,flip_prob,state", RELU_STATES)
def test_relu_one_step_moments(algorithm: str, setup: str, label_noise: float, flip_prob: float,
                               state: str) -> None:
    n, d = 50_000, 4
    law = relu_law.DataLaw.make(setup, d, label_noise, flip_prob)
    for dtype in (torch.float64, torch.float32) if state == "tiny" else (torch.float64,):
        z = _relu_state(state, setup).to(dtype).expand(n, d).clone()
        scale = 1e-30 if state == "tiny" else 1.0
        w = W_STAR.to(dtype)
        direct = relu_sim.make_stepper("direct", algorithm=algorithm, law=law, batch=3, eta=0.3, w_star=w)
        red = relu_reduced.relu_stepper(algorithm=algorithm, law=law, batch=3, eta=0.3, w_star=w)
        dd = (direct(z, _gen(1)) - z).double() / scale
        dr = (red(z, _gen(2)) - z).double() / scale
        assert torch.isfinite(dr).all()
        assert _max_z(dd, dr) < Z_TOL


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
def test_relu_one_step_moments_low_dimension(d: int, algorithm: str) -> None:
    n = 50_000
    ws = torch.ones(d, dtype=torch.float64) / math.sqrt(d)
    law = relu_law.DataLaw.make("realizable", d, 0.3)
    z = (0.7 * torch.arange(1, d + 1, dtype=torch.float64) - 0.3).expand(n, d).clone()
    direct = relu_sim.make_stepper("direct", algorithm=algorithm, law=law, batch=2, eta=0.3, w_star=ws)
    red = relu_reduced.relu_stepper(algorithm=algorithm, law=law, batch=2, eta=0.3, w_star=ws)
    assert _max_z(direct(z, _gen(1)) - z, red(z, _gen(2)) - z) < Z_TOL


def test_relu_fixed_points_stay_fixed() -> None:
    """z = 0 is a fixed point of noiseless realizable data (both algorithms) and of binary SGD."""
    z = torch.zeros(100, 4, dtype=torch.float64)
    for setup, algs in (("realizable", ("sgd", "variant")), ("binary", ("sgd",))):
        law = relu_law.DataLaw.make(setup, 4)
        for alg in algs:
            step = relu_reduced.relu_stepper(algorithm=alg, law=law, batch=3, eta=0.3, w_star=W_STAR)
            out = step(z, _gen(0))
            assert torch.equal(out, z)


def test_orthonormal_fallback() -> None:
    for d in (2, 3, 17):
        u = torch.randn(d, generator=_gen(d), dtype=torch.float64)
        u /= u.norm()
        f = relu_reduced.orthonormal_fallback(u)
        assert abs(float(f @ u)) < 1e-14 and abs(float(f.norm()) - 1) < 1e-14
    assert relu_reduced.orthonormal_fallback(torch.ones(1)) is None


# --------------------------------------------------------------------------------------------------
# short runs: two-sample KS tests, tail indices, float32 versus float64
# --------------------------------------------------------------------------------------------------
def _run_linear(sampler: str, problem: data.GaussianDesign, *, gamma: float, batch: int, delta: float,
                n: int, n_iter: int, seed: int, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """The SGD recursion of ``sgd.run_sgd`` with the named gradient sampler (final iterates - x*)."""
    gen = _gen(seed)
    factory = linear_reduced.linear_gradient_sampler if sampler == "reduced" else direct_gradient_sampler
    grad = factory(problem, batch, gen, CPU, dtype)
    x_star = torch.as_tensor(problem.x_star(delta), dtype=dtype)
    x = x_star.expand(n, problem.d).clone()
    for _ in range(n_iter):
        x = x - gamma * (grad(x) + delta * x)
    return (x - x_star).double().numpy()


def _run_relu(sampler: str, *, algorithm: str, law: relu_law.DataLaw, batch: int, eta: float, n: int,
              n_iter: int, seed: int, dtype: torch.dtype = torch.float64) -> np.ndarray:
    ws = relu_law.random_teacher(law.d, 11, dtype=dtype)
    if sampler == "reduced":
        step = relu_reduced.relu_stepper(algorithm=algorithm, law=law, batch=batch, eta=eta, w_star=ws)
    else:
        step = relu_sim.make_stepper("direct", algorithm=algorithm, law=law, batch=batch, eta=eta, w_star=ws)
    gen = _gen(seed)
    z = torch.randn(n, law.d, generator=_gen(seed + 1), dtype=dtype) / math.sqrt(law.d)
    for _ in range(n_iter):
        z = step(z, gen)
    return z.double().numpy()


def _ks_ok(a: np.ndarray, b: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    u = rng.standard_normal(a.shape[1])
    u /= np.linalg.norm(u)
    for name, fa, fb in (("norm", np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)),
                         ("projection", a @ u, b @ u)):
        p = stats.ks_2samp(fa, fb).pvalue
        assert p > 1e-3, f"KS on the {name}: p = {p:.2g}"


def _alpha_close(a: np.ndarray, b: np.ndarray, k: int = 300) -> tuple[float, float]:
    ha = tailindex.hill(np.linalg.norm(a, axis=1), k=k, n_boot=100, seed=1)
    hb = tailindex.hill(np.linalg.norm(b, axis=1), k=k, n_boot=100, seed=2)
    assert abs(ha.alpha - hb.alpha) < 4 * math.hypot(ha.se, hb.se), (ha, hb)
    return ha.alpha, hb.alpha


LIN = data.gaussian_design(np.linspace(1.0, 0.5, 8), sigma=1.0, x_true="random", seed=4)
LIN_KW = {"gamma": 0.38, "batch": 2, "delta": 0.05, "n": 12_000, "n_iter": 80}  # Kesten alpha ~ 5.6


def test_linear_short_runs_same_law_and_tail_index() -> None:
    a = _run_linear("direct", LIN, seed=1, **LIN_KW)
    b = _run_linear("reduced", LIN, seed=2, **LIN_KW)
    _ks_ok(a, b)
    alpha, _ = _alpha_close(a, b)
    assert 1.0 < alpha < 8.0  # a genuine power-law regime, where Hill is informative


def test_linear_reduced_float32_matches_float64() -> None:
    a = _run_linear("reduced", LIN, seed=3, dtype=torch.float64, **LIN_KW)
    b = _run_linear("reduced", LIN, seed=4, dtype=torch.float32, **LIN_KW)
    _ks_ok(a, b)
    _alpha_close(a, b)


RELU_RUN = {"batch": 2, "eta": 0.6, "n": 8_000, "n_iter": 40}


@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
def test_relu_short_runs_same_law_and_tail_index(algorithm: str) -> None:
    law = relu_law.DataLaw.make("binary", 6, flip_prob=0.1)
    a = _run_relu("direct", algorithm=algorithm, law=law, seed=1, **RELU_RUN)
    b = _run_relu("reduced", algorithm=algorithm, law=law, seed=2, **RELU_RUN)
    _ks_ok(a, b)
    _alpha_close(a, b, k=200)


def test_relu_reduced_float32_matches_float64() -> None:
    law = relu_law.DataLaw.make("realizable", 6, label_noise=0.5)
    a = _run_relu("reduced", algorithm="variant", law=law, seed=3, dtype=torch.float64, **RELU_RUN)
    b = _run_relu("reduced", algorithm="variant", law=law, seed=4, dtype=torch.float32, **RELU_RUN)
    _ks_ok(a, b)
    _alpha_close(a, b, k=200)


# --------------------------------------------------------------------------------------------------
# exactness conditions, accounting, blocks
# --------------------------------------------------------------------------------------------------
def test_reduced_refuses_where_not_exact() -> None:
    finite = data.FiniteDataset(features=np.eye(5, 3), targets=np.arange(5.0))
    with pytest.raises(ValueError, match="sampler"):
        linear_reduced.linear_gradient_sampler(finite, 2, _gen(0), CPU, torch.float32)
    assert linear_reduced.linear_reduced_why_not(PROBLEM) is None
    law = relu_law.DataLaw.make("realizable", 4, input_law="student_t")
    with pytest.raises(ValueError, match="sampler.*Gaussian inputs"):
        relu_reduced.relu_stepper(algorithm="sgd", law=law, batch=2, eta=0.1, w_star=W_STAR)
    assert relu_reduced.relu_reduced_why_not(relu_law.DataLaw.make("binary", 4)) is None
    with pytest.raises(ValueError, match="batch_sums"):
        linear_reduced.resolve_batch_sums("bogus", 3, torch.float32)


def test_normals_per_step() -> None:
    assert linear_reduced.normals_per_step("linear", d=100, batch=10)["normal"] == 120
    assert linear_reduced.normals_per_step("linear", d=100, batch=10, sampler="direct")["normal"] == 1010
    assert linear_reduced.normals_per_step("linear", d=100, batch=10, batch_sums="wishart") == {
        "normal": 101, "gamma": 2, "uniform": 0}
    assert linear_reduced.normals_per_step("relu", d=100, batch=10)["normal"] == 120
    assert linear_reduced.normals_per_step("relu", d=100, batch=10, sampler="direct")["normal"] == 1000


def test_blocks_do_not_change_shapes_or_reuse_state() -> None:
    """Many CPU blocks (N > block size): every chain is updated once, and repeated calls differ."""
    d = 300
    n = 3 * blocks.block_chains(d) + 7
    prob = data.isotropic(d, sigma=1.0)
    gen = _gen(0)
    grad = linear_reduced.linear_gradient_sampler(prob, 4, gen, CPU, torch.float32)
    x = torch.zeros(n, d)
    g1, g2 = grad(x), grad(x)
    assert g1.shape == (n, d) and torch.isfinite(g1).all()
    assert not torch.equal(g1, g2)
    # each block's rows have the right scale: E|g|^2 = sigma^2 tr(Sigma)/B at x = x_true
    row_var = (g1.double() ** 2).sum(1).mean() / (d / 4)
    assert abs(float(row_var) - 1.0) < 0.05


# --------------------------------------------------------------------------------------------------
# the peer implementation (benchmarks/peer.py) and the library agree on a small grid point
# --------------------------------------------------------------------------------------------------
def _load_peer():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "peer.py"
    spec = importlib.util.spec_from_file_location("sgdtails_bench_peer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_peer_and_library_same_tail_index() -> None:
    """Gurbuzbalaban et al.'s loop (re-implemented) and ``run_sgd`` on the same finite data set, at a
    small point (n=500, d=10, b=3, eta=0.44: online Kesten index ~1.5), give the same MMO index."""
    peer = _load_peer()
    dat = peer.make_data(n=500, d=10, seed=0)
    px, _ = peer.run_peer(dat, 3, 0.44, 200, K=300, seed=1)
    lx, _, n_div = peer.run_library(dat, 3, 0.44, 800, K=300, seed=2, dtype=torch.float64)
    assert n_div == 0
    cmp = peer.compare_alpha(px, lx)
    assert cmp["z"] < 4, cmp
    assert 1.0 < cmp["alpha_lib"] < 2.0


# --------------------------------------------------------------------------------------------------
# dispatch: sampler="auto" | "direct" | "reduced" in sgd.run_sgd and relu_sim.run_relu
# --------------------------------------------------------------------------------------------------
def test_run_relu_dispatch() -> None:
    kw = {"d": 6, "eta": 0.2, "n_chains": 40, "n_iters": 5, "seed": 3, "label_noise": 0.3,
          "dtype": "float64"}
    auto, red, direct = (relu_sim.run_relu("sgd", "realizable", batch=3, sampler=s, **kw).last
                         for s in ("auto", "reduced", "direct"))
    np.testing.assert_array_equal(auto, red)  # b >= 2, Gaussian inputs: auto = reduced
    assert not np.array_equal(auto, direct)
    auto1, direct1 = (relu_sim.run_relu("sgd", "realizable", batch=1, sampler=s, **kw).last
                      for s in ("auto", "direct"))
    np.testing.assert_array_equal(auto1, direct1)  # b = 1: auto = direct (no fewer normals to draw)
    t_auto, t_direct = (relu_sim.run_relu("sgd", "realizable", batch=3, sampler=s, input_law="student_t",
                                      **kw).last for s in ("auto", "direct"))
    np.testing.assert_array_equal(t_auto, t_direct)
    with pytest.raises(ValueError, match="sampler='reduced'.*Gaussian inputs"):
        relu_sim.run_relu("sgd", "realizable", batch=3, sampler="reduced", input_law="uniform", **kw)


def test_run_relu_reduced_same_law_end_to_end() -> None:
    kw = {"d": 8, "batch": 4, "eta": 0.3, "n_chains": 6000, "n_iters": 30, "flip_prob": 0.1,
          "dtype": "float64", "w_star": np.arange(1.0, 9.0)}  # same teacher; seeds differ
    a = relu_sim.run_relu("variant", "binary", sampler="direct", seed=1, **kw).last
    b = relu_sim.run_relu("variant", "binary", sampler="reduced", seed=2, **kw).last
    _ks_ok(a, b)


def test_noiseless_collapse_float32_same_rate() -> None:
    """Noiseless realizable SGD collapses onto w* (|w - w*| ~ 1e-25 after 1500 steps in float32):
    the reduced sampler follows the direct one all the way down (KS on log |w - w*|)."""
    kw = {"d": 5, "batch": 4, "eta": 0.05, "n_chains": 1000, "n_iters": 1500, "dtype": "float32",
          "w_star": np.ones(5), "n_trajectories": 0}
    logs = [np.log(np.linalg.norm(relu_sim.run_relu("sgd", "realizable", sampler=s, seed=k, **kw).last_dev,
                                  axis=1)) for k, s in enumerate(("direct", "reduced"))]
    assert np.median(logs[1]) < np.log(1e-12)
    assert stats.ks_2samp(*logs).pvalue > 1e-3


def test_run_sgd_dispatch() -> None:
    from sgdtails.linear.sgd import run_sgd

    prob = data.isotropic(5, sigma=1.0)
    kw = {"n_chains": 50, "n_iter": 5, "seed": 0}
    assert run_sgd(prob, 0.1, 3, **kw).method == "sgd-online-reduced"
    assert run_sgd(prob, 0.1, 3, sampler="reduced", **kw).method == "sgd-online-reduced"
    assert run_sgd(prob, 0.1, 3, sampler="direct", **kw).method == "sgd-online-direct"
    finite = data.FiniteDataset(features=np.eye(6, 5), targets=np.arange(6.0))
    assert run_sgd(finite, 0.1, 3, **kw).method == "sgd-offline-direct"
    with pytest.raises(ValueError, match="sampler='reduced'.*online Gaussian"):
        run_sgd(finite, 0.1, 3, sampler="reduced", **kw)
