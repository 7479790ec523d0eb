"""Fault handling: bad arguments are refused with a ValueError naming the argument, bad data are
refused by the estimators, and runaway chains are counted as diverged (never NaN figures).

Deterministic, seeded and fast. Each test asserts the behaviour the conventions ask for
(CONTRIBUTING.md: "every error is a ValueError naming the argument"; diverged chains "excluded by the
estimators' callers, never turned into NaN figures silently").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgdtails import data
from sgdtails.estimators import protocol
from sgdtails.estimators import tailindex as ti
from sgdtails.linear import hsgd, sgd
from sgdtails.relu import law as relu_law
from sgdtails.relu import simulate as relu_sim

BAD_STEPS = [-1.0, 0.0, math.nan, math.inf, -math.inf]
SMALL = dict(n_chains=4, n_iter=3)
SMALL_RELU = dict(d=3, n_chains=4, n_iters=3)


@pytest.fixture(scope="module")
def problem() -> data.GaussianDesign:
    return data.isotropic(3, sigma=1.0)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.random.default_rng(0).standard_t(3.0, size=200)


def _sim(kind: str, problem, gamma=0.1, batch_size=1, **kw):
    fn = sgd.run_sgd if kind == "sgd" else hsgd.run_hsgd
    return fn(problem, gamma, batch_size, **{**SMALL, **kw})


# --------------------------------------------------------------------------------------------
# simulator arguments
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sgd", "hsgd"])
@pytest.mark.parametrize("gamma", BAD_STEPS)
def test_bad_step_size_linear(problem, kind, gamma):
    with pytest.raises(ValueError, match=r"^gamma must be finite and > 0"):
        _sim(kind, problem, gamma=gamma)


@pytest.mark.parametrize("eta", BAD_STEPS)
def test_bad_step_size_relu(eta):
    with pytest.raises(ValueError, match=r"^eta must be finite and > 0"):
        relu_sim.run_relu(eta=eta, **SMALL_RELU)


@pytest.mark.parametrize("kind", ["sgd", "hsgd"])
@pytest.mark.parametrize(("kw", "name"), [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1.5}, "batch_size"),
    ({"n_chains": 0}, "n_chains"),
    ({"n_iter": 0}, "n_iter"),
    ({"delta": -0.1}, "delta"),
    ({"delta": math.nan}, "delta"),
    ({"divergence_threshold": 0.0}, "divergence_threshold"),
    ({"divergence_threshold": math.nan}, "divergence_threshold"),
    ({"x0": [math.nan, 0.0, 0.0]}, "x0"),
    ({"x0": np.zeros(2)}, "x0"),
    ({"snapshot_steps": [0]}, "snapshot_steps"),
    ({"burn_in": 3}, "burn_in"),
    ({"seed": None}, "seed"),
])
def test_bad_run_arguments_linear(problem, kind, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        _sim(kind, problem, **kw)


@pytest.mark.parametrize(("kw", "name"), [
    ({"substeps": 0}, "substeps"),
    ({"coarsen": 0}, "coarsen"),
    ({"max_step": math.nan}, "max_step"),
])
def test_bad_hsgd_arguments(problem, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        _sim("hsgd", problem, **kw)


def test_unknown_sampler_and_problem_linear(problem):
    with pytest.raises(ValueError, match=r"^sampler must be one of"):
        sgd.run_sgd(problem, 0.1, 1, sampler="bogus", **SMALL)
    with pytest.raises(ValueError, match=r"^problem must be"):
        sgd.run_sgd(None, 0.1, 1, **SMALL)


@pytest.mark.parametrize(("make", "name"), [
    (lambda: data.isotropic(0), "d"),
    (lambda: data.power_law(0), "d"),
    (lambda: data.gaussian_design([]), "spectrum"),
    (lambda: data.gaussian_design([1.0, math.nan]), "spectrum"),
    (lambda: data.gaussian_design([1.0, 0.0]), "spectrum"),
    (lambda: data.isotropic(2, sigma=math.inf), "sigma"),
    (lambda: data.isotropic(2, x_true="bogus"), "x_true"),
])
def test_bad_problem_arguments(make, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        make()


@pytest.mark.parametrize(("kw", "name"), [
    ({"algorithm": "adam"}, "algorithm"),
    ({"setup": "regression"}, "setup"),
    ({"input_law": "cauchy"}, "input_law"),
    ({"sampler": "bogus"}, "sampler"),
    # the reduced sampler is exact for Gaussian inputs only: refused, naming the sampler
    ({"sampler": "reduced", "input_law": "uniform"}, "sampler"),
    ({"d": 0}, "d"),
    ({"batch": 0}, "batch"),
    ({"n_chains": 0}, "n_chains"),
    ({"n_iters": 0}, "n_iters"),
    ({"label_noise": math.nan}, "label_noise"),
    ({"label_noise": -1.0}, "label_noise"),
    ({"setup": "binary", "flip_prob": 1.0}, "flip_prob"),
    ({"setup": "binary", "label_noise": 0.1}, "label_noise"),
    ({"input_law": "student_t", "input_df": 2}, "input_df"),
    ({"w_star": [0.0, 0.0, 0.0]}, "w_star"),
    ({"w0": [math.inf, 0.0, 0.0]}, "w0"),
    ({"dtype": "float16"}, "dtype"),
    ({"dtype": torch.int64}, "dtype"),
    ({"divergence_threshold": -1.0}, "divergence_threshold"),
    # run_relu derives its streams from an integer seed (documented); a generator is refused clearly
    ({"seed": torch.Generator()}, "seed"),
    ({"seed": -1}, "seed"),
])
def test_bad_relu_arguments(kw, name):
    args = {**SMALL_RELU, **kw}
    with pytest.raises(ValueError, match=rf"^{name}\b|^sampler='reduced'"):
        relu_sim.run_relu(**args)


@pytest.mark.parametrize("kind", ["sgd", "hsgd"])
def test_integer_dtype_is_refused_linear(problem, kind):
    with pytest.raises(ValueError, match="dtype"):
        _sim(kind, problem, dtype=torch.int64)


def test_numpy_generator_seed_is_refused_linear(problem):
    with pytest.raises(ValueError, match="seed"):
        sgd.run_sgd(problem, 0.1, 1, seed=np.random.default_rng(0), **SMALL)


# --------------------------------------------------------------------------------------------
# estimator arguments and data
# --------------------------------------------------------------------------------------------
ESTIMATORS = {
    "hill": lambda x, **kw: ti.hill(x, n_boot=5, n_dbs=20, **kw),
    "moments": lambda x, **kw: ti.moments(x, n_boot=5, n_dbs=20, **kw),
    "pickands": lambda x, **kw: ti.pickands(x, n_boot=5, n_dbs=20, **kw),
    "mmo": lambda x, **kw: ti.mmo(x, n_boot=5, **kw),
    "hill_curve": lambda x, **kw: ti.hill_curve(x, **kw),
    "double_bootstrap_k": lambda x, **kw: ti.double_bootstrap_k(x, n_dbs=20, **kw),
}
ORDER_STAT = ["hill", "moments", "pickands", "hill_curve", "double_bootstrap_k"]


@pytest.mark.parametrize("est", list(ESTIMATORS))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_data_refused(sample, est, bad):
    x = sample.copy()
    x[[3, 50]] = bad
    with pytest.raises(ValueError, match=r"^x contains 2 non-finite value\(s\)"):
        ESTIMATORS[est](x)


@pytest.mark.parametrize("est", list(ESTIMATORS))
def test_fewer_than_ten_observations_refused(sample, est):
    with pytest.raises(ValueError, match=r"^x needs at least 10 finite observations, got 9"):
        ESTIMATORS[est](sample[:9])
    with pytest.raises(ValueError, match=r"^x needs at least 10 finite observations, got 0"):
        ESTIMATORS[est](np.array([]))


@pytest.mark.parametrize("est", ORDER_STAT)
def test_fewer_than_ten_nonzero_refused(sample, est):
    x = np.concatenate([np.zeros(100), sample[:9]])
    with pytest.raises(ValueError, match=r"^x needs at least 10 nonzero values, got 9"):
        ESTIMATORS[est](x)


def test_mmo_needs_enough_blocks(sample):
    with pytest.raises(ValueError, match=r"^x has 15 observations; MMO needs at least 20"):
        ti.mmo(sample[:15])
    with pytest.raises(ValueError, match=r"^block_sizes must be an integer in \[2, 20\]"):
        ti.mmo(sample, [1])
    with pytest.raises(ValueError, match=r"^block_sizes must be an integer in \[2, 20\]"):
        ti.mmo(sample, [21])
    with pytest.raises(ValueError, match=r"^block_sizes must be a non-empty"):
        ti.mmo(sample, [])


@pytest.mark.parametrize("est", list(ESTIMATORS))
def test_all_equal_data_refused(est):
    with pytest.raises(ValueError, match=r"^x has all-equal values"):
        ESTIMATORS[est](np.full(50, 2.5))


@pytest.mark.parametrize("est", ORDER_STAT)
def test_all_equal_absolute_values_refused(est):
    with pytest.raises(ValueError, match=r"^x has all-equal \|values\|"):
        ESTIMATORS[est](np.tile([1.0, -1.0], 25))


@pytest.mark.parametrize("est", list(ESTIMATORS))
@pytest.mark.parametrize("shape", [(), (2, 10, 10)])
def test_wrong_rank_refused(est, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    with pytest.raises(ValueError, match=r"^x must be an array of rank 1"):
        ESTIMATORS[est](x)


@pytest.mark.parametrize("est", ORDER_STAT)
def test_matrix_refused_by_univariate_estimators(est):
    with pytest.raises(ValueError, match=r"^x must be an array of rank 1, got rank 2"):
        ESTIMATORS[est](np.random.default_rng(1).standard_normal((20, 10)))


def test_non_numeric_data_refused():
    with pytest.raises(ValueError, match="could not convert"):
        ti.hill(["a"] * 20)


@pytest.mark.parametrize(("method", "k", "high"), [
    ("hill", 0, 199), ("hill", -1, 199), ("hill", 200, 199),
    ("moments", 0, 199), ("moments", 200, 199),
    ("pickands", 0, 50), ("pickands", 51, 50), ("pickands", 199, 50),
])
def test_k_out_of_range_refused(sample, method, k, high):
    with pytest.raises(ValueError, match=rf"^k must be an integer in \[1, {high}\], got {k}"):
        ti.estimate(sample, method, k=k, n_boot=5)


@pytest.mark.parametrize("k", [1.5, True, "3"])
def test_k_not_an_integer_refused(sample, k):
    with pytest.raises(ValueError, match=r"^k must be an integer"):
        ti.hill(sample, k=k, n_boot=0)


def test_k_at_the_edges_is_accepted(sample):
    for method, k in (("hill", 199), ("moments", 199), ("pickands", 50), ("hill", 1)):
        est = ti.estimate(sample, method, k=k, n_boot=5)
        assert est.k == k and not math.isnan(est.alpha)


@pytest.mark.parametrize(("call", "name"), [
    (lambda x: ti.estimate(x, "kernel"), "method"),
    (lambda x: ti.double_bootstrap_k(x, "pickands"), "method"),
    (lambda x: ti.hill(x, ci=1.0), "ci"),
    (lambda x: ti.hill(x, n_boot=-1), "n_boot"),
    (lambda x: ti.hill(x, n_dbs=0), "n_dbs"),
    (lambda x: ti.hill(x, seed=None), "seed"),
    (lambda x: ti.hill_curve(x, k_max=500), "k_max"),
    (lambda x: ti.mmo(x, min_blocks=1), "min_blocks"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), estimators=["bogus"]), "estimators"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), coordinates="mean"), "coordinates"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), centre="mean"), "centre"),
    (lambda x: protocol.measure_tail_index(x), "last"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), x[:10]), "average"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), diverged=[True]), "diverged"),
    (lambda x: protocol.measure_tail_index(x.reshape(20, 10), hill_k=40), "hill_k"),
])
def test_bad_estimator_and_protocol_arguments(sample, call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call(sample)


def test_torch_generator_seed_is_refused_by_estimators(sample):
    with pytest.raises(ValueError, match="seed"):
        ti.hill(sample, seed=torch.Generator())


# --------------------------------------------------------------------------------------------
# divergence: counted, frozen finite, excluded with the count reported
# --------------------------------------------------------------------------------------------
def _assert_all_diverged_finite(res, n: int) -> None:
    assert res.n_diverged == n == int(res.diverged.sum())
    assert np.all(np.isfinite(res.final))
    if res.average is not None:
        assert np.all(np.isfinite(res.average))
    assert res.centered().shape == (0, res.final.shape[1])


def test_sgd_far_beyond_stability_float32_overflow_is_counted():
    # threshold above float32's range: only the non-finite test can stop the chains (overflow)
    problem = data.isotropic(5, sigma=1.0)
    n = 40
    for thr in (1e300, 1e8):
        res = sgd.run_sgd(problem, 5.0, 1, n_chains=n, n_iter=200, average=True, seed=1,
                             dtype=torch.float32, divergence_threshold=thr)
        _assert_all_diverged_finite(res, n)
        m = protocol.measure_tail_index(res.final, res.average, res.x_star,
                                        diverged=res.diverged, n_boot=0)
        assert (m.n_runs, m.n_used, m.n_diverged) == (n, 0, n)
        # documented: all-NaN estimates when fewer than MIN_RUNS runs are usable, and said so
        assert all(math.isnan(e.alpha) and e.n == 0 for e in m.estimates.values())


def test_hsgd_far_beyond_stability_float32_overflow_is_counted():
    problem = data.isotropic(50, sigma=1.0)
    res = hsgd.run_hsgd(problem, 1.5, 1, n_chains=40, n_iter=100, average=True, seed=1,
                        dtype=torch.float32, divergence_threshold=1e300)
    _assert_all_diverged_finite(res, 40)


def test_relu_far_beyond_stability_float32_overflow_is_counted():
    for algorithm in relu_law.ALGORITHMS:
        run = relu_sim.run_relu(algorithm, "realizable", d=5, batch=1, eta=20.0, n_chains=40,
                            n_iters=200, label_noise=0.5, seed=1, dtype="float32",
                            divergence_threshold=1e300)
        assert run.n_diverged == 40 == int(run.diverged.sum())
        for name in ("last", "average", "last_dev", "average_dev", "trajectory"):
            assert np.all(np.isfinite(getattr(run, name))), name
        m = run.measure(n_boot=0)
        assert (m.n_used, m.n_diverged) == (0, 40)


def test_partial_divergence_is_excluded_and_reported():
    problem = data.isotropic(2, sigma=1.0)
    res = sgd.run_sgd(problem, 0.5, 1, n_chains=400, n_iter=200, average=True, seed=3,
                         dtype=torch.float32, divergence_threshold=10.0)
    assert 0 < res.n_diverged < 400
    m = protocol.measure_tail_index(res.final, res.average, res.x_star, diverged=res.diverged,
                                    n_boot=10, n_dbs=30, seed=1)
    assert m.n_diverged == res.n_diverged and m.n_used == 400 - res.n_diverged
    frame = m.to_frame()
    assert (frame["n_diverged"] == res.n_diverged).all()
    assert np.all(np.isfinite(frame["alpha"])) and np.all(np.isfinite(frame["se"]))
    # the estimates are those of the kept chains only
    kept = protocol.measure_tail_index(res.final[~res.diverged], res.average[~res.diverged],
                                       res.x_star, n_boot=10, n_dbs=30, seed=1)
    np.testing.assert_equal(kept.get().as_dict(), m.get().as_dict())


def test_non_finite_rows_given_to_the_protocol_are_excluded_and_counted():
    z = np.random.default_rng(1).standard_t(2.0, size=(40, 3))
    z[:5, 0] = np.nan
    z[5, 2] = np.inf
    m = protocol.measure_tail_index(z, n_boot=5, n_dbs=20)
    assert (m.n_runs, m.n_used, m.n_diverged) == (40, 34, 6)
    assert all(np.isfinite(e.alpha) for e in m.estimates.values())


@pytest.mark.parametrize("kind", ["sgd", "hsgd", "relu"])
def test_stable_step_gives_no_divergence(kind):
    if kind == "relu":
        res = relu_sim.run_relu("variant", d=5, batch=1, eta=0.05, n_chains=200, n_iters=200,
                            label_noise=0.5, seed=1)
    else:
        res = _sim(kind, data.isotropic(5, sigma=1.0), gamma=0.05, n_chains=200, n_iter=200,
                   seed=1)
    assert res.n_diverged == 0 and not res.diverged.any()


def test_protocol_survives_underflowed_noiseless_runs():
    run = relu_sim.run_relu("sgd", "realizable", d=2, batch=4, eta=0.8, n_chains=30, n_iters=2000,
                        dtype="float32", sampler="direct", seed=0)
    assert run.n_underflow == 30 and run.n_diverged == 0
    m = run.measure(n_boot=5, n_dbs=20)
    assert m.n_runs == 30


def test_protocol_survives_mostly_zero_rows():
    z = np.zeros((25, 3))
    z[:5] = np.random.default_rng(1).standard_normal((5, 3))
    m = protocol.measure_tail_index(z, n_boot=5, n_dbs=20)
    assert m.n_runs == 25
