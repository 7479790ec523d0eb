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
device = "cpu"

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
from myst_nb import glue

from sgdtails import plotting
from sgdtails.experiments import relu_conjecture
from sgdtails.plotting import relu as relu_plots

plotting.set_theme()
NAME = "relu_conjecture"
params = relu_conjecture.ConjectureParams(d=d, batch=batch, eta=eta, etas=etas, batches=batches,
                                          dims=dims, label_noise=label_noise, n_chains=n_chains,
                                          n_iters=n_iters, n_boot=n_boot, device=device)

# %% tags=["remove-cell"]
cj = relu_conjecture.conjecture(params, seed=seed, cache_dir=cache_dir)
fig = relu_plots.conjecture_figure(cj.frame, label_noise=label_noise)
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-conjecture")
glue("fig-relu-conjecture", fig, display=False)
plt.close(fig)

glue("cj_n_points", cj.summary.n_points, display=False)
glue("cj_n_runs", n_chains, display=False)
glue("cj_hill_pct", 100 * params.hill_fraction, display=False)
glue("cj_n_diverged", cj.summary.n_diverged, display=False)
for data, s in cj.summary.by_data.items():
    glue(f"cj_{data}_n", s.n, display=False)
    glue(f"cj_{data}_overlap", s.overlap, display=False)
    glue(f"cj_{data}_ratio", s.ratio, display=False)
    glue(f"cj_{data}_sgd_heavier", s.sgd_heavier, display=False)
    glue(f"cj_{data}_var_heavier", s.variant_heavier, display=False)

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
# are weak evidence of equality: with {glue:text}`cj_n_runs:d` runs per point Hill uses the top
# {glue:text}`cj_hill_pct:.0f`% of them, its bootstrap intervals measure variance only (not the bias
# seen in the previous chapters), and the comparison is only as sharp as they are.
