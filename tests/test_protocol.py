"""The Part II measurement protocol: recovery on synthetic iterates, centring, exclusion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sgdtails.estimators.protocol import ESTIMATORS, frame_from_arrays, measure_tail_index


def _student(nu: float, n: int, d: int, seed: int) -> np.ndarray:
    return stats.t.rvs(nu, size=(n, d), random_state=np.random.default_rng(seed))


def test_hill_recovers_student_t_index() -> None:
    # iid Student-t "iterates" in d = 2: coordinates and norms have index nu
    nu = 1.5
    x = _student(nu, 4000, 2, seed=1)
    res = measure_tail_index(x, None, None, n_boot=200, seed=2)
    for est in ("hill_norm", "hill_coord"):
        e = res.get("last", est)
        assert abs(e.alpha - nu) < 4 * e.se, (est, e)
        assert e.ci_low < e.alpha < e.ci_high


def test_mmo_recovers_stable_index() -> None:
    # MMO is derived for symmetric alpha-stable data: iid stable coordinates, alpha = 1.3
    alpha = 1.3
    x = stats.levy_stable.rvs(alpha, 0.0, size=(4000, 3), random_state=np.random.default_rng(3))
    e = measure_tail_index(x, None, None, estimators=["mmo"], n_boot=200, seed=4).get("last", "mmo")
    assert abs(e.alpha - alpha) < 4 * e.se, e


def test_centring_rules() -> None:
    x = _student(2.0, 500, 3, seed=5)
    shift = np.array([3.0, -2.0, 10.0])
    base = measure_tail_index(x, x, None, n_boot=0, seed=0)
    given = measure_tail_index(x + shift, x + shift, shift, n_boot=0, seed=0)
    med = measure_tail_index(x + shift, x + shift, "median", n_boot=0, seed=0)
    for est in ESTIMATORS:
        assert given.get("last", est).alpha == pytest.approx(base.get("last", est).alpha, rel=1e-9)
    np.testing.assert_allclose(med.centres["last"], np.median(x + shift, axis=0))
    np.testing.assert_allclose(given.centres["average"], shift)
    assert base.centre_rule == "none" and given.centre_rule == "given"
    assert med.centre_rule == "median"
    # uncentred data give a different (wrong) answer
    raw = measure_tail_index(x + shift, None, None, n_boot=0, seed=0)
    assert raw.get("last", "hill_norm").alpha != pytest.approx(base.get("last", "hill_norm").alpha)


def test_diverged_and_nonfinite_rows_are_excluded() -> None:
    x = _student(2.0, 300, 2, seed=6)
    bad = x.copy()
    bad[:10] = 1e12  # diverged runs (flagged)
    bad[10] = np.nan  # a non-finite run (not flagged)
    flag = np.zeros(300, dtype=bool)
    flag[:10] = True
    res = measure_tail_index(bad, bad, "median", diverged=flag, n_boot=0, seed=0)
    ref = measure_tail_index(x[11:], x[11:], "median", n_boot=0, seed=0)
    assert res.n_used == 289 and res.n_diverged == 11 and res.n_runs == 300
    for est in ESTIMATORS:
        assert res.get("last", est).alpha == pytest.approx(ref.get("last", est).alpha)
    np.testing.assert_allclose(res.centres["last"], np.median(x[11:], axis=0))


def test_too_few_runs_give_nan_not_error() -> None:
    x = _student(2.0, 30, 2, seed=7)
    flag = np.ones(30, dtype=bool)
    flag[:5] = False
    res = measure_tail_index(x, None, None, diverged=flag, n_boot=0)
    assert res.n_used == 5
    assert all(np.isnan(res.get("last", e).alpha) for e in ESTIMATORS)


def test_frame_and_arrays_round_trip() -> None:
    x = _student(2.0, 400, 2, seed=8)
    res = measure_tail_index(x, x, None, n_boot=20, seed=0)
    df = res.to_frame()
    assert len(df) == 6 and set(df["iterate"]) == {"last", "average"}
    back = frame_from_arrays(res.to_arrays(), eta=0.1)
    assert np.allclose(back["alpha"], df["alpha"]) and (back["eta"] == 0.1).all()
    assert (back["n_used"] == 400).all()


def test_coordinate_median_summary() -> None:
    x = _student(1.5, 2000, 3, seed=9)
    e = measure_tail_index(x, None, None, coordinates="median", n_boot=100,
                           estimators=["hill_coord"]).get("last", "hill_coord")
    assert e.method == "hill-coord-median"
    assert abs(e.alpha - 1.5) < 4 * e.se


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"centre": "mean"}, "centre"), ({"centre": [1.0]}, "centre"),
     ({"coordinates": "all"}, "coordinates"), ({"estimators": ["pickands"]}, "estimators"),
     ({"diverged": np.zeros(3, dtype=bool)}, "diverged"), ({"average": np.zeros((5, 2))}, "average"),
     ({"n_boot": -1}, "n_boot")],
)
def test_bad_arguments(kwargs: dict, name: str) -> None:
    x = _student(2.0, 50, 2, seed=0)
    with pytest.raises(ValueError, match=name):
        measure_tail_index(x, **kwargs)
