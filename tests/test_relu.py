"""SGD and the Karmakar–Mukherjee variant on a ReLU gate: convergence, the affine recursion, the exact
index, argument checks, divergence bookkeeping and float32 against float64; the radial simulator and the
reduced Kesten walkers against the direct ones, in law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgdtails._core.seeding import derive_seed, torch_generator
from sgdtails.estimators.protocol import measure_tail_index
from sgdtails.experiments.relu_points import exact_params, sweep_point
from sgdtails.kesten import kesten_lambda_mc
from sgdtails.linear.designs import gaussian_design
from sgdtails.linear.sgd import run_sgd
from sgdtails.relu.exact import variant_random_matrix, variant_random_matrix_reduced, variant_tail_index
from sgdtails.relu.law import DataLaw, draw_batch, variant_affine_terms
from sgdtails.relu.radial import RADIAL_BLOCK, draw_counts, radial_blocks, run_relu_radial
from sgdtails.relu.simulate import run_relu

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("algorithm", ["sgd", "variant"])
def test_noiseless_realizable_converges_to_teacher(algorithm: str) -> None:
    run = run_relu(algorithm, "realizable", d=5, batch=4, eta=0.05, n_chains=200, n_iters=3000,
                   seed=1, dtype="float64")
    assert run.n_diverged == 0
    dist = np.linalg.norm(run.last_dev, axis=1)
    assert dist.max() < 1e-6
    # w_0 ~ N(0, I/d): the initial distances are of order one
    assert np.median(run.trajectory[:, 0]) > 0.5
    np.testing.assert_allclose(np.linalg.norm(run.w_star), 1.0)
    np.testing.assert_allclose(run.last - run.w_star, run.last_dev, atol=1e-12)


@pytest.mark.parametrize(
    ("setup", "noise", "flip"),
    [("realizable", 0.0, 0.0), ("realizable", 0.7, 0.0), ("binary", 0.0, 0.0), ("binary", 0.0, 0.2)],
)
def test_variant_is_the_affine_recursion(setup: str, noise: float, flip: float) -> None:
    d, b, eta, n, steps, seed = 4, 3, 0.2, 7, 6, 11
    rng = np.random.default_rng(0)
    w_star = rng.normal(size=d)
    w_star /= np.linalg.norm(w_star)
    w0 = rng.normal(size=(n, d))
    run = run_relu("variant", setup, d=d, batch=b, eta=eta, n_chains=n, n_iters=steps,
                   label_noise=noise, flip_prob=flip, seed=seed, w_star=w_star, w0=w0,
                   dtype="float64", sampler="direct")
    law = DataLaw.make(setup, d, noise, flip)
    gen = torch_generator(derive_seed(seed, "batches"))
    ws = torch.as_tensor(w_star)
    c = ws if setup == "realizable" else torch.zeros(d, dtype=torch.float64)
    u = torch.as_tensor(w0) - c
    for _ in range(steps):
        m, q = variant_affine_terms(draw_batch(gen, n, b, law, ws), eta, setup)
        if setup == "realizable" and noise == 0.0:
            assert torch.count_nonzero(q) == 0  # q_t = 0 on noiseless realizable data
        u = torch.einsum("nij,nj->ni", m, u) + q
    w = (u + c).numpy()
    np.testing.assert_allclose(run.last, w, rtol=1e-12, atol=1e-12)
    # M is I - (eta/b) sum 1{y>0} x x': symmetric, with eigenvalues <= 1
    assert torch.allclose(m, m.transpose(1, 2))
    assert torch.linalg.eigvalsh(m).max() <= 1 + 1e-12


def test_random_matrix_sampler_matches_affine_terms() -> None:
    d, b, eta, n = 3, 2, 0.3, 5
    apply = variant_random_matrix(d, b, eta, "realizable", 0.5)
    u = torch.randn(n, d, generator=torch_generator(0), dtype=torch.float64)
    got = apply(u, torch_generator(9))
    law = DataLaw.make("realizable", d, 0.5)
    ws = torch.zeros(d, dtype=torch.float64)
    ws[0] = 1.0
    m, _ = variant_affine_terms(draw_batch(torch_generator(9), n, b, law, ws), eta, "realizable")
    torch.testing.assert_close(got, torch.einsum("nij,nj->ni", m, u))


def test_variant_simulation_agrees_with_exact_index() -> None:
    # noisy realizable data, d = 2, eta = 0.6: exact index about 1.2 (between 1 and 4)
    d, b, eta, noise = 2, 1, 0.6, 0.5
    exact = variant_tail_index(d, b, eta, "realizable", noise, n_walkers=500, n_steps=150,
                               burn_in=50, n_replicas=4, alpha_bracket=(0.5, 8.0), seed=3,
                               xtol=0.005)
    assert exact.status == "ok" and 1.0 < exact.alpha < 4.0
    run = run_relu("variant", "realizable", d=d, batch=b, eta=eta, label_noise=noise,
                   n_chains=4000, n_iters=500, seed=5, dtype="float64")
    est = run.measure(estimators=["hill_norm"], hill_k=0.05, n_boot=200, seed=1).get(
        "last", "hill_norm")
    tol = 4 * math.hypot(est.se, exact.se)
    assert abs(est.alpha - exact.alpha) < tol, (est, exact)


def test_float32_and_float64_estimates_agree() -> None:
    kw = dict(d=3, batch=1, eta=0.4, label_noise=0.5, n_chains=4000, n_iters=400, seed=2)
    ests = []
    for dtype in ("float32", "float64"):
        run = run_relu("variant", "realizable", dtype=dtype, **kw)
        assert run.dtype == dtype and run.n_diverged == 0
        ests.append(run.measure(estimators=["hill_norm"], hill_k=0.05, n_boot=200, seed=1).get(
            "last", "hill_norm"))
    a32, a64 = ests
    assert abs(a32.alpha - a64.alpha) < 4 * math.hypot(a32.se, a64.se), (a32, a64)


def test_diverged_runs_are_counted_frozen_and_excluded() -> None:
    run = run_relu("variant", "realizable", d=10, batch=1, eta=0.2, label_noise=0.5,
                   n_chains=300, n_iters=600, seed=4, divergence_threshold=1e4)
    assert 0 < run.n_diverged < run.n_chains
    assert run.n_diverged == int(run.diverged.sum())
    assert np.all(np.isfinite(run.last)) and np.all(np.isfinite(run.average))
    res = run.measure(n_boot=0)
    assert res.n_diverged == run.n_diverged and res.n_used == run.n_chains - run.n_diverged
    keep = ~run.diverged
    ref = measure_tail_index(run.last_dev[keep], run.average_dev[keep], None, n_boot=0)
    assert res.get("last", "hill_norm").alpha == pytest.approx(ref.get("last", "hill_norm").alpha)


def test_all_diverged_gives_nan_estimates() -> None:
    run = run_relu("sgd", "binary", d=10, batch=1, eta=1.0, n_chains=50, n_iters=200, seed=0)
    assert run.n_diverged == 50
    res = run.measure(n_boot=0)
    assert res.n_used == 0 and np.isnan(res.get("last", "mmo").alpha)


@pytest.mark.parametrize("law", ["student_t", "uniform", "rademacher"])
def test_other_input_laws(law: str) -> None:
    run = run_relu("variant", "realizable", d=4, batch=2, eta=0.05, n_chains=50, n_iters=2000,
                   input_law=law, seed=0, dtype="float64")
    assert run.input_law == law and run.last.shape == (50, 4)
    assert np.linalg.norm(run.last_dev, axis=1).max() < 1e-4


def test_same_seed_same_result_and_seeds_differ() -> None:
    kw = dict(d=3, batch=2, eta=0.1, n_chains=20, n_iters=50, label_noise=0.3)
    a, b = run_relu("sgd", "realizable", seed=1, **kw), run_relu("sgd", "realizable", seed=1, **kw)
    c = run_relu("sgd", "realizable", seed=2, **kw)
    np.testing.assert_array_equal(a.last, b.last)
    assert not np.array_equal(a.last, c.last)


def test_binary_setup_has_a_stationary_spread() -> None:
    run = run_relu("sgd", "binary", d=5, batch=4, eta=0.1, n_chains=200, n_iters=1000, seed=0)
    res = run.measure(n_boot=0)
    assert res.centre_rule == "median" and res.n_used == 200
    assert np.linalg.norm(run.last - res.centres["last"], axis=1).min() > 0


def test_sweep_point_and_exact_params() -> None:
    point = dict(algorithm="variant", setup="realizable", d=3, batch=1, eta=0.1, n_chains=100,
                 n_iters=100, label_noise=0.5, seed=1, n_boot=10, n_dbs=20)
    out = sweep_point(point)
    assert {"last.hill_norm.alpha", "n_diverged", "log_norm_sd", "trajectory"} <= set(out)
    noiseless = exact_params(dict(point, label_noise=0.0))
    binary = exact_params(dict(point, setup="binary", label_noise=0.0))
    assert noiseless == binary  # the same gate 1{w*.x > 0}, hence the same law of M


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"algorithm": "adam"}, "algorithm"), ({"setup": "ternary"}, "setup"), ({"d": 0}, "d"),
     ({"batch": 0}, "batch"), ({"eta": 0.0}, "eta"), ({"eta": -1.0}, "eta"),
     ({"eta": float("nan")}, "eta"), ({"setup": "binary", "flip_prob": 1.0}, "flip_prob"),
     ({"setup": "binary", "flip_prob": -0.1}, "flip_prob"),
     ({"setup": "binary", "flip_prob": float("nan")}, "flip_prob"),
     ({"label_noise": float("nan")}, "label_noise"), ({"label_noise": -1.0}, "label_noise"),
     ({"n_chains": 0}, "n_chains"), ({"n_iters": 2.5}, "n_iters"),
     ({"input_law": "cauchy"}, "input_law"), ({"sampler": "reduced-x"}, "sampler"),
     ({"dtype": "float16"}, "dtype"), ({"w0": np.zeros(7)}, "w0"), ({"w_star": np.zeros(3)}, "w_star")],
)
def test_bad_arguments_are_refused(kwargs: dict, name: str) -> None:
    args = dict(algorithm="sgd", setup="realizable", d=3, batch=1, eta=0.1, n_chains=4, n_iters=2)
    args.update(kwargs)
    algorithm, setup = args.pop("algorithm"), args.pop("setup")
    with pytest.raises(ValueError, match=name):
        run_relu(algorithm, setup, **args)


def test_bad_arguments_of_the_matrix_sampler() -> None:
    with pytest.raises(ValueError, match="batch"):
        variant_random_matrix(3, 0, 0.1)
    with pytest.raises(ValueError, match="setup"):
        variant_random_matrix(3, 1, 0.1, "regression")
    with pytest.raises(ValueError, match="flip_prob"):
        variant_random_matrix(3, 1, 0.1, "binary", flip_prob=1.5)


# --------------------------------------------------------------------------------------------------
# the radial simulator (sgdtails.relu.radial) against the direct one, in law
# --------------------------------------------------------------------------------------------------
def _moments_agree(x: np.ndarray, y: np.ndarray) -> None:
    """Mean and second moment of two iid samples agree within 4 combined standard errors."""
    for f in (lambda v: v, np.square):
        a, b = f(x), f(y)
        se = math.hypot(a.std(ddof=1) / math.sqrt(a.size), b.std(ddof=1) / math.sqrt(b.size))
        assert abs(a.mean() - b.mean()) < 4 * se, (a.mean(), b.mean(), se)


@pytest.mark.parametrize(
    ("algorithm", "setup", "noise", "flip", "d"),
    [("sgd", "realizable", 0.5, 0.0, 10), ("variant", "realizable", 0.5, 0.0, 6),
     ("sgd", "binary", 0.0, 0.1, 5), ("variant", "binary", 0.0, 0.0, 4), ("sgd", "realizable", 0.0, 0.0, 3),
     ("variant", "realizable", 0.3, 0.0, 2), ("sgd", "realizable", 0.3, 0.0, 1)],
)
def test_radial_simulator_has_the_law_of_the_direct_one(algorithm, setup, noise, flip, d) -> None:
    kw = dict(d=d, batch=3, eta=0.4, n_chains=6000, n_iters=40, label_noise=noise, flip_prob=flip,
              n_trajectories=3, dtype="float64")
    direct = run_relu(algorithm, setup, sampler="direct", seed=11, **kw)
    radial = run_relu_radial(algorithm, setup, seed=12, **kw)
    assert radial.n_diverged == 0 and radial.last.shape == direct.last.shape
    for name in ("last_dev", "average_dev"):
        a, b = getattr(direct, name), getattr(radial, name)
        _moments_agree(np.log(np.linalg.norm(a, axis=1)), np.log(np.linalg.norm(b, axis=1)))
        _moments_agree(a @ direct.w_star, b @ radial.w_star)  # along w*
        if d > 1:  # one coordinate of the part orthogonal to w*, rescaled
            pa = a - np.outer(a @ direct.w_star, direct.w_star)
            pb = b - np.outer(b @ radial.w_star, radial.w_star)
            _moments_agree(pa[:, 0] / math.sqrt(1 - direct.w_star[0] ** 2),
                           pb[:, 0] / math.sqrt(1 - radial.w_star[0] ** 2))
    # trajectories start from the same w_0 (same seeds of the teacher and the initial point)
    same = run_relu_radial(algorithm, setup, seed=11, **kw)
    np.testing.assert_allclose(same.trajectory[:, 0], direct.trajectory[:, 0], rtol=1e-12)


def test_radial_vectors_are_rebuilt_consistently() -> None:
    run = run_relu_radial("variant", "realizable", d=7, batch=2, eta=0.3, n_chains=50, n_iters=30,
                          label_noise=0.5, seed=3, n_trajectories=50)
    np.testing.assert_allclose(run.last - run.w_star, run.last_dev, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(run.last_dev, axis=1), run.trajectory[:, -1], rtol=1e-5)
    again = run_relu_radial("variant", "realizable", d=7, batch=2, eta=0.3, n_chains=50, n_iters=30,
                            label_noise=0.5, seed=3, n_trajectories=50)
    np.testing.assert_array_equal(run.last, again.last)


def test_radial_noiseless_runs_reach_far_below_float32() -> None:
    run = run_relu_radial("variant", "realizable", d=5, batch=4, eta=0.5, n_chains=200, n_iters=1500,
                          seed=0, dtype="float64", n_trajectories=0)
    dist = np.linalg.norm(run.last_dev, axis=1)
    assert run.n_diverged == 0 and np.all(dist > 0) and np.median(dist) < 1e-40
    res = run.measure(estimators=["hill_norm"], hill_k=0.1, n_boot=0)
    assert np.isfinite(res.get("last", "hill_norm").alpha)


def test_radial_divergence_is_counted_and_frozen() -> None:
    run = run_relu_radial("variant", "realizable", d=10, batch=1, eta=0.2, label_noise=0.5,
                          n_chains=300, n_iters=600, seed=4, divergence_threshold=1e4)
    assert 0 < run.n_diverged < run.n_chains
    assert np.all(np.isfinite(run.last)) and np.all(np.isfinite(run.average))
    assert np.all(np.linalg.norm(run.last_dev[run.diverged], axis=1) <= 1e4)


def test_radial_draw_counts() -> None:
    assert draw_counts(4, 10, "realizable", 0.5, 0.0) == (2 * 4 + 4 + 1 + 1, 3)
    assert draw_counts(4, 2, "binary", 0.0, 0.1) == (8, 4)
    assert draw_counts(3, 1, "realizable", 0.0, 0.0) == (3, 0)


@pytest.mark.parametrize(("kwargs", "name"), [({"d": 0}, "d"), ({"eta": -1.0}, "eta"),
                                              ({"dtype": "float16"}, "dtype"),
                                              ({"algorithm": "adam"}, "algorithm")])
def test_radial_bad_arguments(kwargs: dict, name: str) -> None:
    args = dict(algorithm="sgd", setup="realizable", d=3, batch=1, eta=0.1, n_chains=4, n_iters=2) | kwargs
    algorithm, setup = args.pop("algorithm"), args.pop("setup")
    with pytest.raises(ValueError, match=name):
        run_relu_radial(algorithm, setup, **args)


# --------------------------------------------------------------------------------------------------
# the reduced Kesten walkers of the variant against the direct ones
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("d", "setup", "noise", "flip"),
                         [(6, "realizable", 0.5, 0.0), (3, "binary", 0.0, 0.2), (2, "realizable", 0.0, 0.0)])
def test_reduced_walkers_give_the_same_lambda(d: int, setup: str, noise: float, flip: float) -> None:
    kw = dict(n_walkers=400, n_steps=60, burn_in=20, n_replicas=6)
    direct = kesten_lambda_mc(variant_random_matrix(d, 3, 0.5, setup, noise, flip), d, 2.0, seed=1, **kw)
    reduced = kesten_lambda_mc(variant_random_matrix_reduced(d, 3, 0.5, setup, noise, flip), 2, 2.0,
                               seed=2, **kw)
    assert abs(direct.value - reduced.value) < 4 * math.hypot(direct.se, reduced.se) + 1e-3


def test_reduced_walkers_preserve_the_norm_of_m_u() -> None:
    # the reduced walker's norm is |M u|: its first two moments at u = w* match the direct sampler's
    n = 40000
    u_direct = torch.zeros(n, 4, dtype=torch.float64)
    u_direct[:, 0] = 1.0
    u_red = torch.zeros(n, 2, dtype=torch.float64)
    u_red[:, 0] = 1.0
    a = variant_random_matrix(4, 2, 0.5, "realizable", 0.5)(u_direct, torch_generator(0)).square().sum(1)
    b = variant_random_matrix_reduced(4, 2, 0.5, "realizable", 0.5)(u_red, torch_generator(1)).square().sum(1)
    _moments_agree(a.numpy(), b.numpy())


def test_reduced_exact_index_refuses_other_input_laws() -> None:
    with pytest.raises(ValueError, match="reduced"):
        variant_tail_index(3, 1, 0.3, "realizable", 0.5, input_law="uniform", sampler="reduced",
                           n_walkers=10, n_steps=5, burn_in=1, n_replicas=2)


def test_radial_least_squares_is_online_sgd_on_linear_regression() -> None:
    d, n = 6, 8000
    radial = run_relu_radial("sgd", "linear", d=d, batch=3, eta=0.5, n_chains=n, n_iters=60, label_noise=0.5,
                             seed=1, n_trajectories=0, dtype="float64")
    problem = gaussian_design(np.ones(d), sigma=0.5, x_true=radial.w_star)
    x0 = np.random.default_rng(2).standard_normal((n, d)) / math.sqrt(d)
    sgd = run_sgd(problem, 0.5, 3, n_chains=n, n_iter=60, x0=x0, average=True, seed=3, dtype=torch.float64)
    for a, b in ((radial.last_dev, sgd.final - sgd.x_star), (radial.average_dev, sgd.average - sgd.x_star)):
        _moments_agree(np.log(np.linalg.norm(a, axis=1)), np.log(np.linalg.norm(b, axis=1)))
        _moments_agree(a @ radial.w_star, b @ radial.w_star)


def test_radial_blocks_and_workers() -> None:
    blocks = radial_blocks(2 * RADIAL_BLOCK + 5)
    assert len(blocks) == 3 and blocks[0][0] == 0 and blocks[-1][1] == 2 * RADIAL_BLOCK + 5
    assert max(b - a for a, b in blocks) - min(b - a for a, b in blocks) <= 1
    kw = dict(d=4, batch=2, eta=0.3, n_chains=RADIAL_BLOCK + 10, n_iters=4, label_noise=0.5, seed=2,
              n_trajectories=2)
    one = run_relu_radial("variant", "realizable", workers=1, **kw)
    two = run_relu_radial("variant", "realizable", workers=2, **kw)
    np.testing.assert_array_equal(one.last, two.last)
    np.testing.assert_array_equal(one.trajectory, two.trajectory)
