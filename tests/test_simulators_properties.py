"""Property tests of the simulators and of the estimators' seeding (hypothesis, derandomised, few examples).

For random small sizes, for :func:`sgdtails.linear.run_sgd`, :func:`sgdtails.hsgd.run_hsgd` and
:func:`sgdtails.relu.run_relu`:

- shapes follow ``(n_chains, d)`` (snapshots ``(S, n_chains, d)``, trajectories ``(runs, steps)``);
- the returned arrays are float64 numpy (documented), and the *computation* dtype follows ``dtype``:
  a float32 run's iterates are exactly representable in float32, a float64 run's are not;
- the same seed gives identical arrays, different seeds different arrays; a ``torch.Generator``
  (documented for run_sgd / run_hsgd: "a generator is passed through") seeded with ``s`` reproduces
  ``seed=s``;
- ``n_diverged`` equals the count of the boolean ``diverged`` mask and lies in ``[0, n_chains]``;
  diverged chains are frozen at a finite state (never NaN/inf in ``final``/``average``/``last``...)
  and the centred iterates / the protocol exclude them, reporting the count.

For :mod:`sgdtails.tailindex`: the same seed gives exactly the same frozen result (and a numpy
Generator seeded with ``s`` gives the result of ``seed=s``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgdtails import data
from sgdtails.estimators import protocol
from sgdtails.estimators import tailindex as ti
from sgdtails.linear import hsgd, sgd
from sgdtails.relu import law as relu_law
from sgdtails.relu import simulate as relu_sim

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(min_value=0, max_value=2**31 - 1)
dims = st.integers(min_value=1, max_value=4)
chains = st.integers(min_value=1, max_value=8)
iters = st.integers(min_value=1, max_value=12)
batches = st.integers(min_value=1, max_value=3)
dtypes = st.sampled_from([torch.float32, torch.float64])


def _f32_exact(a: np.ndarray) -> bool:
    """True when every entry of the float64 array ``a`` is exactly a float32 number."""
    return bool(np.array_equal(a.astype(np.float32).astype(np.float64), a))


def _problem(d: int, spread: bool) -> data.GaussianDesign:
    if spread:
        return data.power_law(d, exponent=1.0, sigma=1.0, x_true="random", seed=d)
    return data.isotropic(d, sigma=1.0)


def _run_linear(kind: str, problem, **kw):
    fn = sgd.run_sgd if kind == "sgd" else hsgd.run_hsgd
    return fn(problem, kw.pop("gamma", 0.2), kw.pop("batch_size", 1), **kw)


def _check_chain_result(res: sgd.ChainResult, n: int, d: int, steps: tuple[int, ...]) -> None:
    assert res.final.shape == (n, d) and res.final.dtype == np.float64
    assert res.average is not None and res.average.shape == (n, d)
    assert res.x_star.shape == (d,)
    assert res.n_chains == n
    assert res.diverged.shape == (n,) and res.diverged.dtype == np.bool_
    assert res.n_diverged == int(res.diverged.sum())
    assert 0 <= res.n_diverged <= n
    assert res.snapshot_steps == steps
    if steps:
        assert res.snapshots is not None and res.snapshots.shape == (len(steps), n, d)
    else:
        assert res.snapshots is None
    assert np.all(np.isfinite(res.final)) and np.all(np.isfinite(res.average))
    assert res.centered().shape == (n - res.n_diverged, d)
    assert res.centered("average").shape == (n - res.n_diverged, d)


# --------------------------------------------------------------------------------------------
# Part I simulators: run_sgd and run_hsgd
# --------------------------------------------------------------------------------------------
@SETTINGS
@given(kind=st.sampled_from(["sgd", "hsgd"]), d=dims, n=chains, k=iters, b=batches,
       dtype=dtypes, spread=st.booleans(), seed=seeds, data_=st.data())
def test_linear_shapes_dtype_and_reproducibility(kind, d, n, k, b, dtype, spread, seed, data_):
    problem = _problem(d, spread)
    steps = tuple(sorted(set(data_.draw(st.lists(st.integers(1, k), max_size=3)))))
    kw = dict(gamma=0.2, batch_size=b, n_chains=n, n_iter=k, average=True,
              snapshot_steps=list(steps), dtype=dtype)
    res = _run_linear(kind, problem, seed=seed, **kw)
    _check_chain_result(res, n, d, steps)
    # computation dtype: float32 iterates are float32 numbers; float64 ones (generically) are not
    if dtype == torch.float32:
        assert _f32_exact(res.final)
        if res.snapshots is not None:
            assert _f32_exact(res.snapshots)
    else:
        assert not _f32_exact(res.final)
    # same seed, same arrays; a torch.Generator seeded with `seed` is the same stream
    again = _run_linear(kind, problem, seed=seed, **kw)
    gen = torch.Generator().manual_seed(seed)
    via_gen = _run_linear(kind, problem, seed=gen, **kw)
    for other in (again, via_gen):
        np.testing.assert_array_equal(other.final, res.final)
        np.testing.assert_array_equal(other.average, res.average)
        np.testing.assert_array_equal(other.diverged, res.diverged)
        if steps:
            np.testing.assert_array_equal(other.snapshots, res.snapshots)
    # different seed, different arrays
    diff = _run_linear(kind, problem, seed=seed + 1, **kw)
    assert not np.array_equal(diff.final, res.final)


@SETTINGS
@given(kind=st.sampled_from(["sgd", "hsgd"]), n=st.integers(5, 30), thr=st.floats(0.5, 40.0),
       dtype=dtypes, seed=seeds)
def test_linear_divergence_mask_is_consistent_and_excluded(kind, n, thr, dtype, seed):
    """Near-unstable steps with a random threshold: any mix of diverged chains is counted, flagged,
    frozen at a finite state within the threshold, and excluded by ``centered`` and the protocol."""
    problem = data.isotropic(3, sigma=1.0)
    gamma = 0.6 if kind == "sgd" else 0.9
    res = _run_linear(kind, problem, gamma=gamma, batch_size=1, n_chains=n, n_iter=30,
                      average=True, seed=seed, dtype=dtype, divergence_threshold=thr)
    assert res.n_diverged == int(res.diverged.sum())
    assert 0 <= res.n_diverged <= n
    assert np.all(np.isfinite(res.final)) and np.all(np.isfinite(res.average))
    # frozen states never exceed the threshold (up to float32 rounding of the test distance)
    dist = np.linalg.norm(res.final - res.x_star, axis=1)
    assert np.all(dist <= thr * (1 + 1e-5))
    assert res.centered().shape[0] == n - res.n_diverged
    m = protocol.measure_tail_index(res.final, res.average, res.x_star, diverged=res.diverged,
                                    n_boot=0, hill_k=0.2, estimators=["hill_norm"])
    assert m.n_diverged == res.n_diverged
    assert m.n_used == n - res.n_diverged
    assert m.n_runs == n


# --------------------------------------------------------------------------------------------
# Part II simulator: run_relu
# --------------------------------------------------------------------------------------------
@SETTINGS
@given(algorithm=st.sampled_from(relu_law.ALGORITHMS), setup=st.sampled_from(relu_law.SETUPS), d=dims,
       n=chains, k=iters, b=batches, dtype=st.sampled_from(["float32", "float64"]),
       sampler=st.sampled_from(["auto", "direct"]), n_traj=st.integers(0, 10), seed=seeds)
def test_relu_shapes_dtype_and_reproducibility(algorithm, setup, d, n, k, b, dtype, sampler,
                                               n_traj, seed):
    kw = dict(algorithm=algorithm, setup=setup, d=d, batch=b, eta=0.1, n_chains=n, n_iters=k,
              label_noise=0.3 if setup == "realizable" else 0.0,
              flip_prob=0.1 if setup == "binary" else 0.0, dtype=dtype, sampler=sampler,
              n_trajectories=n_traj)
    run = relu_sim.run_relu(seed=seed, **kw)
    for name in ("last", "average", "last_dev", "average_dev"):
        arr = getattr(run, name)
        assert arr.shape == (n, d) and arr.dtype == np.float64, name
        assert np.all(np.isfinite(arr)), name
    assert run.w_star.shape == (d,)
    assert run.trajectory.shape == (min(n_traj, n), run.trajectory_steps.size)
    assert run.trajectory_steps[0] == 0 and run.trajectory_steps[-1] == k
    assert not np.any(np.isnan(run.trajectory))
    assert run.diverged.shape == (n,) and run.diverged.dtype == np.bool_
    assert run.n_diverged == int(run.diverged.sum()) and 0 <= run.n_diverged <= n
    assert run.dtype == dtype and run.n_chains == n and run.d == d
    state = run.last_dev if setup == "realizable" else run.last  # the simulated state z
    assert _f32_exact(state) == (dtype == "float32")
    again = relu_sim.run_relu(seed=seed, **kw)
    for name in ("last", "average", "last_dev", "average_dev", "trajectory", "w_star", "diverged"):
        np.testing.assert_array_equal(getattr(again, name), getattr(run, name), err_msg=name)
    diff = relu_sim.run_relu(seed=seed + 1, **kw)
    assert not np.array_equal(diff.last, run.last)


@SETTINGS
@given(n=st.integers(5, 30), thr=st.floats(1.5, 20.0), dtype=st.sampled_from(["float32", "float64"]),
       seed=seeds)
def test_relu_divergence_mask_is_consistent_and_excluded(n, thr, dtype, seed):
    run = relu_sim.run_relu("variant", "realizable", d=3, batch=1, eta=0.5, n_chains=n, n_iters=30,
                        label_noise=0.5, dtype=dtype, seed=seed, divergence_threshold=thr)
    assert run.n_diverged == int(run.diverged.sum()) and 0 <= run.n_diverged <= n
    for name in ("last", "average", "last_dev", "average_dev"):
        assert np.all(np.isfinite(getattr(run, name))), name
    assert not np.any(np.isnan(run.trajectory))
    m = run.measure(n_boot=0, hill_k=0.2, estimators=["hill_norm"])
    assert m.n_diverged == run.n_diverged and m.n_used == n - run.n_diverged


# --------------------------------------------------------------------------------------------
# Estimators: same seed, same frozen result
# --------------------------------------------------------------------------------------------
def _assert_same(a: ti.TailIndexEstimate, b: ti.TailIndexEstimate) -> None:
    np.testing.assert_equal(a.as_dict(), b.as_dict())  # NaN == NaN here, everything else exact


@SETTINGS
@given(method=st.sampled_from(ti.METHODS), n=st.integers(40, 300), nu=st.floats(0.8, 5.0),
       seed=seeds, data_seed=seeds, auto_k=st.booleans())
def test_estimators_same_seed_same_result(method, n, nu, seed, data_seed, auto_k):
    x = np.random.default_rng(data_seed).standard_t(nu, size=n)
    kw: dict = {"n_boot": 20}
    if method != "mmo":
        kw["k"] = None if auto_k else max(1, n // 10)
        if auto_k:
            kw["n_dbs"] = 20
    a = ti.estimate(x, method, seed=seed, **kw)
    b = ti.estimate(x.copy(), method, seed=seed, **kw)
    _assert_same(a, b)
    # a numpy Generator seeded with `seed` is the same stream as seed=seed
    c = ti.estimate(x, method, seed=np.random.default_rng(seed), **kw)
    _assert_same(a, c)
    # the frozen result cannot be altered
    with pytest.raises(AttributeError):
        a.alpha = 0.0  # type: ignore[misc]


@SETTINGS
@given(n=st.integers(20, 60), d=dims, seed=seeds)
def test_protocol_same_seed_same_result(n, d, seed):
    z = np.random.default_rng(seed).standard_t(2.0, size=(n, d))
    kw = dict(n_boot=10, n_dbs=20, seed=seed)
    a = protocol.measure_tail_index(z, z * 0.5, None, **kw).to_arrays()
    b = protocol.measure_tail_index(z.copy(), z * 0.5, None, **kw).to_arrays()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
