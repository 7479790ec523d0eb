# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SGD against the variant, point by point
#
# {cite}`karmakar2022empirical` conjecture that SGD and the variant of {cite}`karmakar2022nn` have
# similar heavy-tail behaviour wherever the variant provably converges. This chapter puts the two
# indices side by side at every point of the three sweeps of the previous chapter (same parameters,
# same seeds: the results are read from its cache, nothing is re-simulated).

# %% tags=["remove-cell"]
# On Colab or Binder without the package, install it first; anywhere else this cell does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("sgdtails") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "sgdtails @ git+https://github.com/sgdtails/sgdtails"])

# %% tags=["parameters"]
profile = "default"
seed = 20241121
cache_dir = "../_build/cache"
figures_dir = "../_build/figures"
d = 10
batch = 4
eta = 0.5
etas = [0.4, 0.45, 0.5, 0.55, 0.6]
batches = [4, 5, 6, 8]
dims = [6, 8, 10, 12]
label_noise = 0.5
n_chains = 1000
n_iters = 1000
n_boot = 100

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

from sgdtails import plotting
from sgdtails.experiments.relu_points import run_sweep, sweep_frame, sweep_grid

plotting.set_theme()
NAME = "relu_conjecture"
grid = sweep_grid(seed, d=d, batch=batch, eta=eta, etas=etas, batches=batches, dims=dims,
                  label_noise=label_noise, n_chains=n_chains, n_iters=n_iters, n_boot=n_boot,
                  hill_k=0.05)
df = sweep_frame(grid, run_sweep(cache_dir, [p for _, p in grid]))
# one row per distinct (data, d, b, eta, iterate, estimator): the base point is in all three sweeps
key = ["data", "d", "b", "eta", "iterate", "estimator"]
df = df.drop_duplicates(subset=[*key, "algorithm"])
wide = df.pivot_table(index=key, columns="algorithm",
                      values=["alpha", "ci_low", "ci_high", "se", "n_diverged"]).reset_index()
wide.columns = ["_".join(c).rstrip("_") for c in wide.columns]

# %% tags=["remove-cell"]
DATA = {"noiseless": "realizable, noiseless", "noisy": f"realizable, $\\sigma$ = {label_noise:g}",
        "binary": "binary"}
MARK = {"noiseless": "o", "noisy": "s", "binary": "^"}
CAP = 16.0


def scatter(ax, estimator: str, iterate: str, lim: float):
    sub = wide[(wide.estimator == estimator) & (wide.iterate == iterate)]
    for i, (data, label) in enumerate(DATA.items()):
        s = sub[sub.data == data]
        x, y = s.alpha_sgd.clip(upper=CAP), s.alpha_variant.clip(upper=CAP)
        xerr = np.vstack([x - s.ci_low_sgd.clip(upper=CAP), s.ci_high_sgd.clip(upper=CAP) - x])
        yerr = np.vstack([y - s.ci_low_variant.clip(upper=CAP),
                          s.ci_high_variant.clip(upper=CAP) - y])
        ax.errorbar(x, y, xerr=np.clip(xerr, 0, None), yerr=np.clip(yerr, 0, None),
                    fmt=MARK[data], color=f"C{i}", ms=5, capsize=2, lw=0.8, alpha=0.85,
                    label=label)
    ax.plot([0, lim], [0, lim], color="0.4", lw=1, ls="--", label="$y = x$")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"SGD: $\hat\alpha$")
    ax.set_ylabel(r"variant: $\hat\alpha$")
    return ax


fig, axes = plt.subplots(1, 2, figsize=(10, 5))
scatter(axes[0], "hill_norm", "last", 1.05 * CAP)
axes[0].set_title("Hill on $|w_K - c|$")
scatter(axes[1], "mmo", "last", 2.3)
axes[1].set_title("MMO on $w_K - c$")
axes[0].legend(loc="upper left", fontsize=9)
fig.tight_layout()
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-conjecture")
glue("fig-relu-conjecture", fig, display=False)
plt.close(fig)

hill = wide[(wide.estimator == "hill_norm") & (wide.iterate == "last")
            & np.isfinite(wide.alpha_sgd) & np.isfinite(wide.alpha_variant)]
overlap = (hill.ci_low_sgd <= hill.ci_high_variant) & (hill.ci_low_variant <= hill.ci_high_sgd)
glue("cj_n_points", len(hill), display=False)
glue("cj_n_diverged", int(wide[(wide.estimator == "hill_norm") & (wide.iterate == "last")]
                          [["n_diverged_sgd", "n_diverged_variant"]].sum().sum()), display=False)
for data in DATA:
    h = hill[hill.data == data]
    o = overlap[hill.data == data]
    glue(f"cj_{data}_n", len(h), display=False)
    glue(f"cj_{data}_overlap", int(o.sum()), display=False)
    glue(f"cj_{data}_ratio", float(np.median(h.alpha_sgd / h.alpha_variant)) if len(h) else np.nan,
         display=False)
    glue(f"cj_{data}_sgd_heavier", int((h.ci_high_sgd < h.ci_low_variant).sum()), display=False)
    glue(f"cj_{data}_var_heavier", int((h.ci_high_variant < h.ci_low_sgd).sum()), display=False)

# %% [markdown]
# ```{glue:figure} fig-relu-conjecture
# :name: fig-relu-conjecture
#
# Tail index of the last iterates of the variant against that of SGD at every distinct point of the
# three sweeps ({glue:text}`cj_n_points:d` points), with 95% bootstrap intervals in both directions;
# left Hill on the norms (values above 16 drawn at 16), right MMO (at most about 2). Dashed: $y = x$.
# {glue:text}`cj_n_diverged:d` runs diverged over all these points (excluded).
# ```
#
# Reading {numref}`fig-relu-conjecture` point by point (Hill on the norms of the last iterates):
#
# - **Noiseless realizable data**, the only setting where the variant provably converges
#   {cite}`karmakar2022nn`: the intervals of the two algorithms overlap at
#   {glue:text}`cj_noiseless_overlap:d` of {glue:text}`cj_noiseless_n:d` points, median ratio
#   SGD/variant {glue:text}`cj_noiseless_ratio:.2f`. Agreement here is what the previous chapter
#   predicts: both runs collapse onto $w^*$, SGD's gate then agrees with the label's gate, and both
#   indices are the lognormal artefact of finite $K$, not the index of a stationary law.
# - **Noisy realizable data**: overlap at {glue:text}`cj_noisy_overlap:d` of
#   {glue:text}`cj_noisy_n:d` points, median ratio {glue:text}`cj_noisy_ratio:.2f`; SGD's tail is
#   significantly heavier at {glue:text}`cj_noisy_sgd_heavier:d` points and the variant's at
#   {glue:text}`cj_noisy_var_heavier:d`.
# - **Binary data**: overlap at {glue:text}`cj_binary_overlap:d` of {glue:text}`cj_binary_n:d` points,
#   median ratio {glue:text}`cj_binary_ratio:.2f`; SGD heavier at {glue:text}`cj_binary_sgd_heavier:d`,
#   the variant heavier at {glue:text}`cj_binary_var_heavier:d`.
#
# A ratio above one means SGD's iterates have lighter tails than the variant's. Overlapping intervals
# are weak evidence of equality: the Hill intervals here are wide (a few hundred to a thousand runs,
# top 5%), and the comparison is only as sharp as they are.
