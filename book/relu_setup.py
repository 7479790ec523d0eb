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
# # A ReLU gate: data, two algorithms and the measurement protocol
#
# Part II follows {cite}`karmakar2022empirical`, who measure the tail index of the iterates of SGD while
# training a single ReLU gate, and of a variant of SGD that {cite}`karmakar2022nn` proved to converge on
# realizable data. Their text and code are not available to us: this chapter states the model this book
# adopts, which parts of it are our reconstruction, and how every index of Part II is measured.
#
# ## The model
#
# Inputs $x \in \mathbb{R}^d$ have iid $N(0, 1)$ coordinates (other symmetric unit-variance laws are
# options of the library: Student-t, uniform, Rademacher). The teacher $w^*$ is a uniformly random unit
# vector. Two data setups:
#
# - **realizable**: $y = \mathrm{ReLU}(w^* \cdot x) + \sigma\xi$ with $\xi \sim N(0, 1)$; $\sigma = 0$ is
#   the *noiseless* case, $\sigma > 0$ the *noisy* one;
# - **binary**: $y = \mathbf 1\{w^* \cdot x > 0\}$, each label optionally flipped with a fixed probability.
#
# Two algorithms, with step size $\eta$ and mini-batch size $b$ (a fresh batch of $b$ samples per step):
#
# - **SGD** on $\frac12 (y - \mathrm{ReLU}(w\cdot x))^2$:
#   $\;w \leftarrow w + \frac{\eta}{b} \sum_{i} \mathbf 1\{w \cdot x_i > 0\}\,(y_i - \mathrm{ReLU}(w \cdot x_i))\,x_i$;
# - **the variant** ("Algorithm 2" of {cite}`karmakar2022nn`):
#   $\;w \leftarrow w + \frac{\eta}{b} \sum_{i} \mathbf 1\{y_i > 0\}\,(y_i - w \cdot x_i)\,x_i$.
#
# The variant is **reconstructed from the authors' description**, not from their code: the gate is
# opened by the *label* ($y_i > 0$) instead of the current pre-activation, and the residual is linear in
# $w$. Whatever its exact original form, this reconstruction has the property the authors use to prove
# convergence: it is *affine* in $w$.
#
# ## The variant is a random affine recursion (our derivation)
#
# Write $g_i = \mathbf 1\{y_i > 0\}$; it depends on $x_i$ and on the label noise, never on $w$. Then
#
# $$
# w_{t+1} - c = M_t\,(w_t - c) + q_t, \qquad M_t = I - \frac{\eta}{b}\sum_{i} g_i\, x_i x_i^\top ,
# $$
#
# with, on realizable data, $c = w^*$ and
# $q_t = \frac{\eta}{b}\sum_i g_i\,(\mathrm{ReLU}(w^*\cdot x_i) - w^*\cdot x_i + \sigma\xi_i)\,x_i$
# (expand $y_i - w\cdot x_i = (y_i - w^*\cdot x_i) - (w - w^*)\cdot x_i$), and on binary data $c = 0$ and
# $q_t = \frac{\eta}{b}\sum_i y_i x_i$ (there $g_i = y_i$). On noiseless realizable data
# $g_i = \mathbf 1\{w^*\cdot x_i > 0\}$, so $\mathrm{ReLU}(w^*\cdot x_i) = w^*\cdot x_i$ whenever $g_i = 1$:
# **$q_t = 0$**, and the iterates contract onto $w^*$ (at small $\eta$) with no stationary spread at all.
# With label noise or on binary data $q_t \neq 0$; the pairs $(M_t, q_t)$ are iid, so by Kesten–Goldie
# theory, as used for linear regression by {cite}`gurbuzbalaban2021`, the iterates have a stationary
# law whose tail index $\alpha$ solves $\Lambda(\alpha) = 0$,
# $\Lambda(\alpha) = \lim_k \frac1k \log \mathbb E\,|M_k\cdots M_1 u|^\alpha$. We compute that root by
# population Monte Carlo (`sgdtails.relu.exact.variant_tail_index`): it is the variant's **exact index**, the
# theory line of the next chapters. Its law depends on the data only through the gates, so the
# noiseless realizable and the (unflipped) binary setups share the same $M_t$ and the same root.
# SGD is not affine (its gate moves with $w$), and has no such formula.
#
# ## The measurement protocol
#
# We follow the public code of {cite}`gurbuzbalaban2021`, as {cite}`karmakar2022empirical` did
# (`sgdtails.estimators.protocol.measure_tail_index`, shared with the linear-regression contrast):
# $N$ independent runs of $K$ iterations from $w_0 \sim N(0, I/d)$; keep the last iterate $w_K$ and the
# running average of $w_t$ over the second half; centre by $w^*$ (realizable) or by the coordinate-wise
# median over runs (binary); exclude diverged runs (non-finite or $|w - c| > 10^8$; they are counted
# and reported in every figure); estimate $\alpha$ with the MMO estimator {cite}`mohammadi2015`
# (median over block sizes, on the $d$-dimensional centred iterates; it cannot exceed about 2), and
# with Hill {cite}`hill1975` on the norms $|w_K - c|$ and on the pooled coordinates, each with a
# bootstrap interval.
#
# ## How the runs are simulated (our derivation)
#
# With Gaussian inputs every quantity above is computed exactly from a few numbers per run and step. The
# law of the whole path is unchanged by any rotation that fixes $w^*$: the inputs' law is, the labels
# see $x$ only through $p_1 = w^*\cdot x$, and $w_0 \sim N(0, I/d)$. Write the state
# $z = w - w^*$ (realizable; $z = w$ on binary data) as $z = a\,w^* + r\,e$ with $r = |z_\perp|$ and $e$
# a unit vector orthogonal to $w^*$. A sample enters the update only through $p_{i1} = x_i\cdot w^*$,
# $p_{i2} = x_i\cdot e$ and the rest $h_i$ of $x_i$, an $N(0, I_{d-2})$ vector independent of both, so with
# $k_i$ the coefficient of $x_i$ in the update (a function of $p_{i1}$, $c_i = a p_{i1} + r p_{i2}$ and the
# label noise),
#
# $$
# a' = a + \sum_i k_i p_{i1}, \qquad r'^2 = \Big(r + \sum_i k_i p_{i2}\Big)^2 + \Big(\sum_i k_i^2\Big)\,
# \chi^2_{d-2} .
# $$
#
# The running average needs two more numbers (the components of the running sum along $e$ and across
# it), and at the end the vectors are rebuilt with uniformly random directions orthogonal to $w^*$,
# which is exactly their conditional law by the same symmetry (`sgdtails.relu.radial`; a test compares
# it with the direct simulation in law). Each step costs $2b$ normals (plus $b$ for label noise) and a
# $\chi^2_{d-2}$ draw per run, instead of $b\,d$ normals and $d$-vectors.
#
# The state is the deviation from $w^*$ itself, never $w^* + z$: noiseless runs shrink many orders of
# magnitude below the rounding error of $w^* + z$, and the protocol must see those deviations, not
# rounding noise. For the same reason noiseless runs are simulated in float64 (in float32 they would
# reach the subnormal range, $10^{-38}$ and below, within a few thousand steps); the other runs use
# float32, whose estimates agree with float64 within their errors (a test checks this). The simulator
# counts runs that come near the underflow range of their number format.

# %% tags=["parameters"]
profile = "default"
seed = 20241121
cache_dir = "../_build/cache"
figures_dir = "../_build/figures"
d = 10
batch = 4
eta = 0.5
label_noise = 0.5
n_chains = 1000
n_iters = 2000
n_trajectories = 4
n_boot = 100

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
from myst_nb import glue

from sgdtails import plotting
from sgdtails.experiments import relu_setup
from sgdtails.plotting import relu as relu_plots

plotting.set_theme()
NAME = "relu_setup"
params = relu_setup.SetupParams(d=d, batch=batch, eta=eta, label_noise=label_noise, n_chains=n_chains,
                                n_iters=n_iters, n_trajectories=n_trajectories, n_boot=n_boot)

# %% tags=["remove-cell"]
traj = relu_setup.trajectories(params, seed=seed, cache_dir=cache_dir)
fig = relu_plots.trajectories_figure(traj.frame, eta=eta, batch=batch, d=d)
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-trajectories")
glue("fig-relu-trajectories", fig, display=False)
plt.close(fig)

glue("setup_n_underflow", traj.summary.n_underflow, display=False)
glue("setup_d", d, display=False)
glue("setup_b", batch, display=False)
glue("setup_eta", eta, display=False)
glue("setup_sigma", label_noise, display=False)
glue("setup_n_runs", n_chains, display=False)
glue("setup_n_iters", n_iters, display=False)
glue("setup_n_traj", n_trajectories, display=False)
glue("setup_n_diverged", traj.summary.n_diverged, display=False)
for key, value in traj.summary.median_distance.items():
    glue(f"setup_med_{key}", value, display=False)

# %% [markdown]
# ## Trajectories
#
# {numref}`fig-relu-trajectories` follows {glue:text}`setup_n_traj:d` runs of each algorithm at
# $d$ = {glue:text}`setup_d:d`, $b$ = {glue:text}`setup_b:d`, $\eta$ = {glue:text}`setup_eta:.2f`, with
# noisy labels at $\sigma$ = {glue:text}`setup_sigma:.2f`.
#
# ```{glue:figure} fig-relu-trajectories
# :name: fig-relu-trajectories
#
# Distance $|w_t - w^*|$ to the teacher along {glue:text}`setup_n_traj:d` runs of SGD (left) and of the
# variant (right) on noiseless realizable, noisy realizable and binary data. Out of
# {glue:text}`setup_n_runs:d` runs per curve family, {glue:text}`setup_n_diverged:d` diverged in all
# six settings together.
# ```
#
# On noiseless data both algorithms converge geometrically: after {glue:text}`setup_n_iters:d` steps the
# median distance to $w^*$ over the {glue:text}`setup_n_runs:d` runs is
# {glue:text}`setup_med_sgd_noiseless:.1e` for SGD and {glue:text}`setup_med_variant_noiseless:.1e` for
# the variant ({glue:text}`setup_n_underflow:d` runs came near the underflow range of their number
# format). This is expected: near $w^*$ the SGD gate $\mathbf 1\{w\cdot x > 0\}$ differs from
# $\mathbf 1\{w^*\cdot x > 0\}$ only on a slab of probability $O(|w - w^*|)$, so on noiseless data SGD
# becomes the variant's linear recursion $z_{t+1} = M_t z_t$ as it converges. With label noise the runs
# settle at a spread of order one (median distance {glue:text}`setup_med_sgd_noisy:.2f` for SGD,
# {glue:text}`setup_med_variant_noisy:.2f` for the variant). On binary data $w^*$ is not the target
# at all: the iterates fluctuate around another point (SGD: median distance
# {glue:text}`setup_med_sgd_binary:.2f`; variant: {glue:text}`setup_med_variant_binary:.2f`), which is why
# the protocol centres binary runs at the coordinate-wise median over runs.
#
# ## The protocol's output at this point
#
# For each setting the protocol returns one row per estimate: iterate (last or average), estimator,
# $\hat\alpha$, its 95% bootstrap interval, and the numbers of runs used and excluded; the table shows
# the last iterates (the running averages are estimated too, without intervals: no figure of Part II
# uses them). Hill uses the top
# 5% of the sample ($k = 0.05\,n$): on these iterates the double bootstrap sometimes chose $k$ near half
# the sample, where the Kesten tail is not yet a power law, and reported intervals far too narrow.

# %%
relu_setup.protocol_table(params, seed=seed, cache_dir=cache_dir)
