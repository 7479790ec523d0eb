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
# # Index against step size, batch size and dimension
#
# {cite}`karmakar2022empirical` report that the tail index of the late iterates depends on the input
# dimension $d$, the mini-batch size $b$ and the step size $\eta$. Their figures and parameters are not
# available here, so this chapter runs its own three sweeps around one base point, for SGD and the
# variant, on noiseless realizable, noisy realizable and binary data, with the protocol of the previous
# chapter. For the variant on noisy and binary data the exact index (root of $\Lambda(\alpha) = 0$,
# population Monte Carlo) is drawn as the theory line.
#
# The sweeps sit where the index is of order one to ten. That window is narrow: the
# variant's exact index goes from above 20 to the edge of stability (where $\Lambda'(0) = 0$, the top
# Lyapunov exponent of $M_t$, and the index falls to 0) within a factor of about two in $\eta/b$.
# Beyond that edge runs diverge; they are counted, excluded and reported in each panel.

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
exact_walkers = 300
exact_steps = 100
exact_replicas = 4
noiseless_iters = [250, 500, 1000, 2000, 4000]

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.ticker import NullFormatter, ScalarFormatter
from myst_nb import glue
from scipy import stats

from sgdtails import plotting
from sgdtails._core.cache import sweep
from sgdtails._core.seeding import derive_seed
from sgdtails.experiments.relu_points import exact_params, exact_point, run_sweep, sweep_frame, sweep_grid

plotting.set_theme()
NAME = "relu_sweeps"
HILL_FRACTION = 0.05
grid = sweep_grid(seed, d=d, batch=batch, eta=eta, etas=etas, batches=batches, dims=dims,
                  label_noise=label_noise, n_chains=n_chains, n_iters=n_iters, n_boot=n_boot,
                  hill_k=HILL_FRACTION)
results = run_sweep(cache_dir, [p for _, p in grid])

exact_keys = []
for labels, p in grid:
    if labels["algorithm"] == "variant":
        e = exact_params(dict(p, n_walkers=exact_walkers, n_steps=exact_steps,
                              burn_in=exact_steps // 3, n_replicas=exact_replicas, seed=seed))
        if e not in exact_keys:
            exact_keys.append(e)
exact_res = sweep(cache_dir, "relu-exact", exact_keys, exact_point, desc="exact index")


def exact_of(p: dict) -> dict:
    e = exact_params(dict(p, n_walkers=exact_walkers, n_steps=exact_steps,
                          burn_in=exact_steps // 3, n_replicas=exact_replicas, seed=seed))
    r = exact_res[exact_keys.index(e)]
    return {"exact": float(r["alpha"]), "exact_se": float(r["se"]), "exact_status": str(r["status"])}


def lognormal_hill(sd: float, frac: float = HILL_FRACTION) -> float:
    """Hill index at k = frac n of a lognormal law with log-sd ``sd`` (large-n limit)."""
    z = stats.norm.isf(frac)
    return 1.0 / (sd * (stats.norm.pdf(z) / frac - z))


df = sweep_frame(grid, results, [exact_of(p) | {"lognormal": lognormal_hill(float(r["log_norm_sd"]))}
                                 for (_, p), r in zip(grid, results, strict=True)])

# %% tags=["remove-cell"]
SWEEPS = {"eta": r"step size $\eta$", "b": r"batch size $b$", "d": r"dimension $d$"}
DATA = {"noiseless": "realizable, noiseless", "noisy": f"realizable, $\\sigma$ = {label_noise:g}",
        "binary": "binary"}
ALGO_STYLE = {"sgd": dict(color="C0", marker="o", label="SGD"),
              "variant": dict(color="C1", marker="s", label="variant")}


def sweep_figure(estimator: str, iterate: str = "last", cap: float = 16.0):
    fig, axes = plt.subplots(3, 3, figsize=(11, 9.5))
    for i, (sw, xlabel) in enumerate(SWEEPS.items()):
        for j, (data, title) in enumerate(DATA.items()):
            ax = axes[i, j]
            sub = df[(df.sweep == sw) & (df.data == data) & (df.iterate == iterate)
                     & (df.estimator == estimator)]
            for k, (alg, style) in enumerate(ALGO_STYLE.items()):
                s = sub[sub.algorithm == alg].sort_values("x")
                shift = (k - 0.5) * 0.012 * (s.x.max() - s.x.min() + 1e-9)
                a = s.alpha.clip(upper=cap)
                plotting.plot_estimates(s.x + shift, a, s.ci_low.clip(upper=cap),
                                        s.ci_high.clip(upper=cap), ax=ax, color=style["color"],
                                        fmt=style["marker"], label=style["label"])
            ex = sub[sub.algorithm == "variant"].sort_values("x")
            ok = ex.exact_status.isin(["ok", "above_bracket"])  # unstable points: no line
            ls = ":" if data == "noiseless" else "--"
            lab = ("Kesten root (no stationary law)" if data == "noiseless"
                   else "variant, exact index")
            ax.plot(ex.x[ok], ex.exact[ok].clip(upper=cap), ls=ls, color="C1", lw=1.2, label=lab)
            if data == "noiseless" and estimator == "hill_norm":
                ax.plot(ex.x, ex.lognormal.clip(upper=cap), ls="none", marker="x", color="C1",
                        ms=6, label="lognormal prediction")
            ndiv = int(sub.n_diverged.sum())
            nrun = int(sub.n_runs.sum())
            ax.text(0.02, 0.96, f"diverged: {ndiv}/{nrun}", transform=ax.transAxes, va="top",
                    fontsize=8)
            if i == 0:
                ax.set_title(title)
            if j == 0:
                ax.set_ylabel(r"$\hat\alpha$")
            ax.set_xlabel(xlabel)
            if sw == "b":
                ax.set_xscale("log", base=2)
                ax.set_xticks(sorted(set(s.x)), [str(int(v)) for v in sorted(set(s.x))])
            ax.set_ylim(0, 1.05 * cap if estimator != "mmo" else 2.5)
    handles, labels_ = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels_:
                handles.append(h)
                labels_.append(lab)
    fig.legend(handles, labels_, loc="lower center", ncol=len(labels_), frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


fig = sweep_figure("hill_norm")
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-sweeps-hill")
glue("fig-relu-sweeps-hill", fig, display=False)
plt.close(fig)
fig = sweep_figure("mmo")
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-sweeps-mmo")
glue("fig-relu-sweeps-mmo", fig, display=False)
plt.close(fig)

base = df[(df.d == d) & (df.b == batch) & (df.eta == eta) & (df.iterate == "last")
          & (df.estimator == "hill_norm") & (df.sweep == "eta")]  # the base point is in every sweep
glue("sw_d", d, display=False)
glue("sw_b", batch, display=False)
glue("sw_eta", eta, display=False)
glue("sw_sigma", label_noise, display=False)
glue("sw_n_runs", n_chains, display=False)
glue("sw_n_iters", n_iters, display=False)
glue("sw_n_points", len(grid), display=False)
glue("sw_n_diverged", int(df[(df.iterate == "last") & (df.estimator == "mmo")].n_diverged.sum()),
     display=False)
glue("sw_hill_pct", 100 * HILL_FRACTION, display=False)
for _, r in base.iterrows():
    glue(f"sw_base_{r.algorithm}_{r.data}", float(r.alpha), display=False)
ex_base = base[base.algorithm == "variant"].set_index("data")
glue("sw_base_exact_noisy", float(ex_base.loc["noisy", "exact"]), display=False)
glue("sw_base_exact_binary", float(ex_base.loc["binary", "exact"]), display=False)
base_res = {(lab["algorithm"], lab["data"]): r for (lab, p), r in zip(grid, results, strict=True)
            if (p["d"], p["batch"], p["eta"]) == (d, batch, eta)}
for alg in ALGO_STYLE:
    glue(f"sw_offset_{alg}_noisy", float(base_res[(alg, "noisy")]["median_offset"]), display=False)
    glue(f"sw_spread_{alg}_noisy", float(base_res[(alg, "noisy")]["final_median_norm"]),
         display=False)
noiseless_res = [r for (lab, _), r in zip(grid, results, strict=True) if lab["data"] == "noiseless"]
glue("sw_nl_min_norm", float(min(r["final_min_norm"] for r in noiseless_res)), display=False)
glue("sw_n_underflow", int(sum(int(r["n_underflow"]) for r in results)), display=False)

# agreement of the variant's simulated index with its exact index (noisy and binary data)
var = df[(df.algorithm == "variant") & (df.iterate == "last") & (df.estimator == "hill_norm")
         & (df.data != "noiseless") & (df.exact_status == "ok") & np.isfinite(df.alpha)
         & (df.exact < 8)]
var = var.drop_duplicates(subset=["data", "d", "b", "eta"])
z = (var.alpha - var.exact) / np.hypot(var.se, var.exact_se)
glue("sw_exact_n", len(var), display=False)
glue("sw_exact_within2", int((np.abs(z) < 2).sum()), display=False)
glue("sw_exact_median_rel", float(np.median(var.alpha / var.exact)) if len(var) else np.nan,
     display=False)

# noiseless: lognormal prediction against the protocol's number
nl = df[(df.data == "noiseless") & (df.iterate == "last") & (df.estimator == "hill_norm")
        & np.isfinite(df.alpha) & (df.n_used > 0)].drop_duplicates(
            subset=["algorithm", "d", "b", "eta"])
glue("sw_nl_n", len(nl), display=False)
glue("sw_nl_median_ratio", float(np.median(nl.alpha / nl.lognormal)) if len(nl) else np.nan,
     display=False)

# noiseless runs at the base point for several K: the protocol's number against K
k_points = [dict(algorithm=alg, setup="realizable", label_noise=0.0, d=d, batch=batch, eta=eta,
                 n_chains=n_chains, n_iters=int(k), n_boot=n_boot, hill_k=HILL_FRACTION,
                 dtype="float64", n_trajectories=0, sampler="direct",
                 seed=derive_seed(seed, "relu-noiseless-K", alg, int(k)))
            for alg in ALGO_STYLE for k in noiseless_iters]
k_res = run_sweep(cache_dir, k_points, desc="noiseless, K")
kdf = pd.DataFrame([dict(algorithm=p["algorithm"], K=p["n_iters"],
                         alpha=float(r["last.hill_norm.alpha"]),
                         ci_low=float(r["last.hill_norm.ci_low"]),
                         ci_high=float(r["last.hill_norm.ci_high"]),
                         lognormal=lognormal_hill(float(r["log_norm_sd"])),
                         n_diverged=int(r["n_diverged"]))
                    for p, r in zip(k_points, k_res, strict=True)])
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for k, (alg, style) in enumerate(ALGO_STYLE.items()):
    s = kdf[kdf.algorithm == alg]
    plotting.plot_estimates(s.K * (1 + 0.04 * (k - 0.5)), s.alpha, s.ci_low, s.ci_high, ax=ax,
                            color=style["color"], fmt=style["marker"], label=style["label"])
    ax.plot(s.K, s.lognormal, ls="none", marker="x", color=style["color"], ms=7,
            label=f"{style['label']}: lognormal prediction")
kk = np.geomspace(min(noiseless_iters), max(noiseless_iters), 50)
a0 = float(kdf[kdf.K == min(noiseless_iters)].alpha.mean())
ax.plot(kk, a0 * np.sqrt(min(noiseless_iters) / kk), color="0.5", lw=1, ls="--",
        label=r"$\propto K^{-1/2}$")
ax.set_xscale("log")
ax.set_yscale("log")
for axis in (ax.xaxis, ax.yaxis):
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())
ax.set_xticks(noiseless_iters)
ax.set_xlabel(r"iterations $K$")
ax.set_ylabel(r"Hill $\hat\alpha$ of $|w_K - w^*|$")
ax.set_title(rf"noiseless, $\eta$ = {eta:g}, $b$ = {batch}, $d$ = {d}")
ax.legend(fontsize=8)
fig.tight_layout()
plotting.save_figure(fig, figures_dir, NAME, "fig-relu-noiseless-k")
glue("fig-relu-noiseless-k", fig, display=False)
plt.close(fig)
kv = kdf[kdf.algorithm == "variant"].set_index("K")
glue("sw_k_min", int(min(noiseless_iters)), display=False)
glue("sw_k_max", int(max(noiseless_iters)), display=False)
glue("sw_k_alpha_min", float(kv.loc[min(noiseless_iters), "alpha"]), display=False)
glue("sw_k_alpha_max", float(kv.loc[max(noiseless_iters), "alpha"]), display=False)
glue("sw_k_sqrt_ratio", float(np.sqrt(max(noiseless_iters) / min(noiseless_iters))),
     display=False)
glue("sw_k_ratio", float(kv.loc[min(noiseless_iters), "alpha"]
                         / kv.loc[max(noiseless_iters), "alpha"]), display=False)
glue("sw_k_n_diverged", int(kdf.n_diverged.sum()), display=False)


def trend_word(sw: str, alg: str, data: str) -> str:
    s = df[(df.sweep == sw) & (df.algorithm == alg) & (df.data == data) & (df.iterate == "last")
           & (df.estimator == "hill_norm") & np.isfinite(df.alpha)]
    if len(s) < 3:
        return "is undetermined"
    rho = stats.spearmanr(s.x, s.alpha).statistic
    return "rises" if rho > 0.5 else "falls" if rho < -0.5 else "shows no clear trend"


for sw in SWEEPS:
    for alg in ALGO_STYLE:
        for data in DATA:
            glue(f"sw_trend_{sw}_{alg}_{data}", Markdown(trend_word(sw, alg, data)), display=False)

# %% [markdown]
# ## The sweeps
#
# Base point: $d$ = {glue:text}`sw_d:d`, $b$ = {glue:text}`sw_b:d`, $\eta$ = {glue:text}`sw_eta:.2f`,
# label noise $\sigma$ = {glue:text}`sw_sigma:.2f`; each sweep changes one of the three. Every point is
# {glue:text}`sw_n_runs:d` independent runs of $K$ = {glue:text}`sw_n_iters:d` iterations
# ({glue:text}`sw_n_points:d` points in all); Hill uses the top {glue:text}`sw_hill_pct:.0f`% of the
# sample. Intervals are 95% bootstrap intervals; estimates and bounds above 16 are drawn at 16.
#
# ```{glue:figure} fig-relu-sweeps-hill
# :name: fig-relu-sweeps-hill
#
# Hill index of $|w_K - c|$ (last iterates, $c = w^*$ on realizable data, the coordinate-wise median over
# runs on binary data) against $\eta$ (top), $b$ (middle) and $d$ (bottom), for SGD (circles) and the
# variant (squares). Dashed: the variant's exact index; dotted (noiseless): the same Kesten root, which
# describes no stationary law there; crosses: the lognormal prediction explained below. Each panel
# states how many runs diverged (excluded); {glue:text}`sw_n_diverged:d` in all.
# ```
#
# At the base point the Hill index of the last iterates is
# {glue:text}`sw_base_sgd_noisy:.2f` for SGD and {glue:text}`sw_base_variant_noisy:.2f` for the variant
# on noisy data (exact index of the variant {glue:text}`sw_base_exact_noisy:.2f`), and
# {glue:text}`sw_base_sgd_binary:.2f` against {glue:text}`sw_base_variant_binary:.2f` on binary data
# (exact {glue:text}`sw_base_exact_binary:.2f`).
#
# **The variant against its exact index.** On noisy and binary data, at the
# {glue:text}`sw_exact_n:d` points where the exact index is below 8, the simulated Hill index is within
# two combined standard errors of it at {glue:text}`sw_exact_within2:d`; the median ratio simulated/exact
# is {glue:text}`sw_exact_median_rel:.2f`. The Kesten tail $P(|w - c| > x) \sim C x^{-\alpha}$ is reached
# only far out, so with {glue:text}`sw_n_runs:d` runs Hill sees a mixture of bulk and tail; the exact
# index, not the estimate, is the reference.
#
# **Trends** (Spearman correlation of the Hill index with the swept parameter, $|\rho| > 0.5$ counted
# as a trend). On noisy data the index of SGD {glue:md}`sw_trend_eta_sgd_noisy` with $\eta$,
# {glue:md}`sw_trend_b_sgd_noisy` with $b$ and {glue:md}`sw_trend_d_sgd_noisy` with $d$; that of the
# variant {glue:md}`sw_trend_eta_variant_noisy` with $\eta$, {glue:md}`sw_trend_b_variant_noisy` with
# $b$ and {glue:md}`sw_trend_d_variant_noisy` with $d$. On binary data SGD's index
# {glue:md}`sw_trend_eta_sgd_binary` with $\eta$, {glue:md}`sw_trend_b_sgd_binary` with $b$,
# {glue:md}`sw_trend_d_sgd_binary` with $d$; the variant's {glue:md}`sw_trend_eta_variant_binary`,
# {glue:md}`sw_trend_b_variant_binary`, {glue:md}`sw_trend_d_variant_binary`.
#
# ## What the protocol measures on noiseless data
#
# On noiseless realizable data there is no stationary law: $q_t = 0$, and $w_K - w^* = M_K\cdots M_1
# (w_0 - w^*)$ for the variant (and asymptotically for SGD, whose gate agrees with the label's near
# $w^*$). Across runs, $\log|w_K - w^*|$ is a sum of $K$ weakly dependent terms, close to Gaussian with a
# standard deviation $s$ growing like $\sqrt K$: $|w_K - w^*|$ is close to *lognormal*, which has no
# power-law tail. The protocol still returns a number. For a lognormal law with log-standard-deviation
# $s$, Hill at $k = pn$ converges to
#
# $$
# \hat\alpha_H \to \frac{1}{s\,\big(\varphi(z_p)/p - z_p\big)}, \qquad z_p = \Phi^{-1}(1 - p)
# $$
#
# (our derivation: $\mathbb E[\log X - \log x_p \mid X > x_p] = s\,\mathbb E[Z - z_p \mid Z > z_p]$), so the
# reported "index" falls like $K^{-1/2}$ and says nothing about a tail. With $s$ the standard deviation
# of $\log|w_K - w^*|$ measured over the runs, this lognormal prediction (crosses) matches the protocol's
# number: over the {glue:text}`sw_nl_n:d` noiseless points the median ratio measured/predicted is
# {glue:text}`sw_nl_median_ratio:.2f`. {numref}`fig-relu-noiseless-k` runs the noiseless base point for
# several $K$: from $K$ = {glue:text}`sw_k_min:d` to {glue:text}`sw_k_max:d` the variant's "index" falls
# from {glue:text}`sw_k_alpha_min:.2f` to {glue:text}`sw_k_alpha_max:.2f`, a factor
# {glue:text}`sw_k_ratio:.2f` against the factor {glue:text}`sw_k_sqrt_ratio:.2f` of the $K^{-1/2}$ law.
#
# ```{glue:figure} fig-relu-noiseless-k
# :name: fig-relu-noiseless-k
#
# The protocol's Hill index on noiseless realizable data at the base point, against the number of
# iterations $K$, for SGD and the variant (95% bootstrap intervals), with the lognormal prediction
# (crosses) and a $K^{-1/2}$ line. {glue:text}`sw_k_n_diverged:d` runs diverged.
# ```
#
# The dotted Kesten root is what the index *would* be with any
# non-zero $q_t$ (e.g. the slightest label noise); the protocol cannot see it on noiseless data.
# Karmakar & Mukherjee's noiseless-realizable indices, whatever their values, should be read in this
# light: they depend on $K$ and $N$.
#
# These runs are simulated in float64 and in the deviation $z = w - w^*$ itself: the smallest final
# distance over all noiseless runs is {glue:text}`sw_nl_min_norm:.1e`, and
# {glue:text}`sw_n_underflow:d` runs in the whole grid came near the underflow range of their number
# format. (In float32 an earlier version of this chapter hit the subnormal range at the larger $b$ and
# smaller $d$, and Hill reported a spurious, much larger "index" there.)
#
# ## MMO
#
# ```{glue:figure} fig-relu-sweeps-mmo
# :name: fig-relu-sweeps-mmo
#
# The same sweeps measured with the MMO estimator on the $d$-dimensional centred last iterates (median
# over block sizes). MMO is built for stable laws and cannot exceed about 2: it separates
# $\alpha < 2$ from $\alpha \ge 2$ and no more. Diverged runs per panel as stated.
# ```
#
# MMO sums blocks of centred iterates, so it is sensitive to the centre. On noisy realizable data the
# protocol centres at $w^*$, but the variant's stationary law is not centred there: its gate
# $\mathbf 1\{y_i > 0\}$ opens on positive label noise, so $\mathbb E\,q_t \neq 0$. At the base point the
# coordinate-wise median over runs of $w_K - w^*$ has norm {glue:text}`sw_offset_variant_noisy:.2f` for
# the variant (against a median distance to $w^*$ of {glue:text}`sw_spread_variant_noisy:.2f`), and
# {glue:text}`sw_offset_sgd_noisy:.2f` for SGD (median distance {glue:text}`sw_spread_sgd_noisy:.2f`),
# whose gradient has mean zero at $w^*$. A block sum of offset vectors grows like $m$, which pushes MMO
# towards 1 (and more so on the running averages, whose spread is smaller): the variant's lower MMO on
# noisy data is partly this offset, not a heavier tail. Hill on the norms is not affected in the limit
# (a fixed offset does not change a tail index), though it does shift the finite-sample estimate.
