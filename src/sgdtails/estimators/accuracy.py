"""Monte Carlo accuracy of the tail-index estimators (bias and RMSE against the sample size).

Samples with a known index (:func:`sample_law`: symmetric Pareto, Student-t, symmetric alpha-stable)
are fed to each estimator of :mod:`sgdtails.estimators.tailindex` with its automatic tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sgdtails._core.cache import cached
from sgdtails._core.seeding import derive_seed, numpy_rng
from sgdtails._core.validation import check_choice, check_in_interval, check_int, check_positive
from sgdtails.estimators.tailindex import IMPL_VERSION, METHODS, estimate

__all__ = ["LAWS", "estimator_accuracy", "sample_law", "summarize_accuracy"]

LAWS = ("pareto", "student_t", "stable")


def sample_law(law: str, alpha: float, n: int, size: int | tuple[int, ...] | None = None, *,
               seed: Any = 0) -> np.ndarray:
    """Draw a symmetric sample with tail index ``alpha``.

    ``"pareto"``: a random sign times a Pareto variable, :math:`P(|X|>x)=x^{-\\alpha}` for
    :math:`x \\ge 1` (symmetric, so that MMO, which needs centred data, applies);
    ``"student_t"``: :math:`\\nu=\\alpha`; ``"stable"``: symmetric :math:`\\alpha`-stable
    (S1, scale 1, ``alpha in (0, 2]``). Shape ``(n,)`` or ``(size..., n)``.
    """
    law = check_choice("law", law, LAWS)
    alpha = check_positive("alpha", alpha)
    if law == "stable":
        check_in_interval("alpha", alpha, 0.0, 2.0, closed_low=False)
    n = check_int("n", n, low=1)
    shape = (n,) if size is None else (*np.atleast_1d(size).tolist(), n)
    rng = numpy_rng(seed)
    if law == "pareto":
        mag = stats.pareto.rvs(alpha, size=shape, random_state=rng)
        return mag * rng.choice(np.array([-1.0, 1.0]), size=shape)
    if law == "student_t":
        return stats.t.rvs(alpha, size=shape, random_state=rng)
    return stats.levy_stable.rvs(alpha, 0.0, size=shape, random_state=rng)


def _accuracy_arrays(law: str, alpha: float, n: int, n_reps: int, methods: Sequence[str],
                     seed: int, n_dbs: int) -> dict[str, np.ndarray]:
    samples = sample_law(law, alpha, n, size=n_reps, seed=derive_seed(seed, law, alpha, n))
    out: dict[str, np.ndarray] = {}
    # Pickands' automatic k is (Hill double-bootstrap k) // 4: with the same seed it is the
    # same Hill k, so when Hill runs first we reuse it instead of recomputing it.
    order = sorted(methods, key=lambda m: m != "hill")
    for method in order:
        alphas = np.empty(n_reps)
        xis = np.empty(n_reps)
        ks = np.full(n_reps, -1, dtype=np.int64)
        for r in range(n_reps):
            sub = derive_seed(seed, "hill" if method == "pickands" else method, r)
            kw: dict[str, Any] = {"n_boot": 0, "seed": sub}
            if method == "pickands" and "k__hill" in out:
                kw["k"] = max(1, int(out["k__hill"][r]) // 4)
            elif method != "mmo":
                kw["n_dbs"] = n_dbs
            est = estimate(samples[r], method, **kw)
            alphas[r] = est.alpha
            xis[r] = est.xi
            ks[r] = -1 if est.k is None else est.k
        out[f"alpha_hat__{method}"] = alphas
        out[f"xi_hat__{method}"] = xis
        out[f"k__{method}"] = ks
    return out


def estimator_accuracy(law: str, alpha: float, n: int, n_reps: int,
                       methods: Sequence[str] = METHODS, seed: int = 0, *, n_dbs: int = 200,
                       cache_dir: str | None = None) -> pd.DataFrame:
    """Monte Carlo accuracy of the estimators on ``n_reps`` samples of size ``n``.

    Draws ``n_reps`` independent samples from ``law`` (see :func:`sample_law`) with tail
    index ``alpha`` and applies each method with its automatic tuning (double bootstrap with
    ``n_dbs`` resamples, default MMO block sizes) and no confidence interval. Returns a tidy
    DataFrame with columns ``law, alpha, n, method, rep, alpha_hat, xi_hat, k`` (``k = -1`` for
    MMO; ``xi_hat`` is the signed extreme-value index, finite even when ``alpha_hat = inf``).
    With ``cache_dir`` the raw arrays are cached by :func:`sgdtails._core.cache.cached` keyed by all
    arguments. Summarise with :func:`summarize_accuracy`.
    """
    law = check_choice("law", law, LAWS)
    alpha = check_positive("alpha", alpha)
    n = check_int("n", n, low=10)
    n_reps = check_int("n_reps", n_reps, low=1)
    methods = [check_choice("methods", m, METHODS) for m in methods]
    n_dbs = check_int("n_dbs", n_dbs, low=1)
    seed = check_int("seed", seed, low=0)

    def compute() -> dict[str, np.ndarray]:
        return _accuracy_arrays(law, alpha, n, n_reps, methods, seed, n_dbs)

    if cache_dir is None:
        arrays = compute()
    else:
        params = {"law": law, "alpha": alpha, "n": n, "n_reps": n_reps,
                  "methods": list(methods), "seed": seed, "n_dbs": n_dbs,
                  "impl": IMPL_VERSION}
        arrays = cached(cache_dir, "estimator_accuracy", params, compute)
    frames = [pd.DataFrame({"law": law, "alpha": alpha, "n": n, "method": m,
                            "rep": np.arange(n_reps),
                            "alpha_hat": np.asarray(arrays[f"alpha_hat__{m}"], dtype=float),
                            "xi_hat": np.asarray(arrays[f"xi_hat__{m}"], dtype=float),
                            "k": np.asarray(arrays[f"k__{m}"], dtype=np.int64)})
              for m in methods]
    return pd.concat(frames, ignore_index=True)


def summarize_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, median and spread of ``alpha_hat`` per ``(law, alpha, n, method)``.

    Infinite estimates (``xi <= 0``) count in ``frac_inf`` and are excluded from the ``alpha``
    bias/RMSE; ``rel_rmse_xi`` is :math:`\\sqrt{E(\\hat\\xi - \\xi)^2}/\\xi` over all
    replicates (``xi`` is always finite), the fair comparison when some ``alpha_hat`` are inf.
    """
    def agg(g: pd.DataFrame) -> pd.Series:
        a = g["alpha_hat"].to_numpy()
        truth = g["alpha"].iloc[0]
        fin = a[np.isfinite(a)]
        err = fin - truth
        xi = g["xi_hat"].to_numpy()
        xi = xi[np.isfinite(xi)]
        return pd.Series({
            "rel_bias": err.mean() / truth if fin.size else np.nan,
            "rel_rmse_xi": (np.sqrt(np.mean((xi - 1.0 / truth) ** 2)) * truth
                            if xi.size else np.nan),
            "bias": err.mean() if fin.size else np.nan,
            "rmse": np.sqrt(np.mean(err**2)) if fin.size else np.nan,
            "rel_rmse": np.sqrt(np.mean(err**2)) / truth if fin.size else np.nan,
            "median": np.median(fin) if fin.size else np.nan,
            "q10": np.quantile(fin, 0.1) if fin.size else np.nan,
            "q90": np.quantile(fin, 0.9) if fin.size else np.nan,
            "frac_inf": 1.0 - fin.size / a.size,
            "n_reps": a.size,
        })

    keys = ["law", "alpha", "n", "method"]
    return (df.groupby(keys, sort=True)[["alpha", "alpha_hat", "xi_hat"]].apply(agg)
            .reset_index())
