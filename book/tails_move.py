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
# # How the tails move
#
# The second figure of {cite:t}`jiao2024` shows empirical ccdfs of SGD iterates on log-log axes as the
# learning rate $\gamma$, the batch size $B$ and the dimension $d$ vary; a straight tail of slope
# $-\alpha$ is a power law of index $\alpha$. We draw the same for isotropic Gaussian data
# ($\Sigma = I_d$, $x_{\rm true} = 0$, $\sigma = 1$) and add the ridge $\delta$. Each curve is labelled
# with the exact SGD index $\alpha$ (Kesten–Goldie, one-step formula) and the exact hSGD index $\nu$;
# the dashed segments have slope $-\alpha$. The baseline and the ranges are this project's choices.

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
n_chains = 20000
n_iter = 200
base_d = 5
gammas = [0.15, 0.2, 0.25, 0.3]
batch_gamma = 0.5
batch_sizes = [2, 3, 4, 8]
dim_gamma = 0.12
dims = [2, 5, 10, 14]
delta_gamma = 0.3
deltas = [0.0, 0.2, 0.5, 1.0]

# %% tags=["remove-cell"]
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from sgdtails import data, theory
from sgdtails._core.cache import sweep
from sgdtails._core.seeding import derive_seed
from sgdtails.estimators import tailindex
from sgdtails.linear.sgd import run_sgd
from sgdtails.plotting import plot_ccdf, save_figure, set_theme

NAME = "tails_move"
torch.set_num_threads(1)  # small tensors: one thread avoids oversubscription on shared cores
set_theme()


def compute(p: dict) -> dict:
    prob = data.isotropic(p["d"])
    res = run_sgd(prob, p["gamma"], p["B"], delta=p["delta"], n_chains=n_chains, n_iter=n_iter,
                  seed=derive_seed(seed, NAME, p))
    x = res.centered()[:, 0]
    return {"x": x, "n_diverged": res.n_diverged}


panels = {
    "gamma": [dict(d=base_d, gamma=g, B=1, delta=0.0) for g in gammas],
    "B": [dict(d=base_d, gamma=batch_gamma, B=b, delta=0.0) for b in batch_sizes],
    "d": [dict(d=d, gamma=dim_gamma, B=1, delta=0.0) for d in dims],
    "delta": [dict(d=base_d, gamma=delta_gamma, B=1, delta=dl) for dl in deltas],
}
rows, samples = [], {}
for panel, pts in panels.items():
    points = [p | {"n_chains": n_chains, "n_iter": n_iter, "seed": seed} for p in pts]
    for p, out in zip(pts, sweep(cache_dir, NAME, points, compute, desc=panel), strict=True):
        kes = theory.sgd_tail_index(data.isotropic(p["d"]), p["gamma"], p["B"], p["delta"],
                                    alpha_bracket=(0.01, 40.0))
        try:
            nu = theory.hsgd_isotropic_index(1.0, p["d"], p["gamma"], p["B"], p["delta"])
        except ValueError:
            nu = math.nan
        x = out["x"]
        est = tailindex.hill(x, k=max(10, x.size // 100), seed=0, n_boot=100)
        samples[(panel, len(rows))] = x
        rows.append({"panel": panel} | p | {"alpha (Kesten)": kes.alpha, "nu (hSGD)": nu,
                                            "Hill": est.alpha, "Hill lo": est.ci_low,
                                            "Hill hi": est.ci_high,
                                            "diverged": int(out["n_diverged"])})
df = pd.DataFrame(rows)

# %% tags=["remove-cell"]
labels = {"gamma": r"\gamma", "B": "B", "d": "d", "delta": r"\delta"}
fixed = {"gamma": rf"$d={base_d}$, $B=1$, $\delta=0$",
         "B": rf"$d={base_d}$, $\gamma={batch_gamma}$, $\delta=0$",
         "d": rf"$\gamma={dim_gamma}$, $B=1$, $\delta=0$",
         "delta": rf"$d={base_d}$, $\gamma={delta_gamma}$, $B=1$"}
fig, axes = plt.subplots(2, 2, figsize=(10.5, 8))
for ax, panel in zip(axes.ravel(), panels, strict=True):
    sub = df[df["panel"] == panel]
    for c, (i, r) in enumerate(sub.iterrows()):
        x = samples[(panel, i)]
        a, nu = r["alpha (Kesten)"], r["nu (hSGD)"]
        nu_txt = rf"{nu:.2f}" if np.isfinite(nu) else "none"
        plot_ccdf(x, ax=ax, color=f"C{c}",
                  label=rf"${labels[panel]}={r[panel]:g}$: $\alpha={a:.2f}$, $\nu$={nu_txt}")
        xs, p = np.sort(np.abs(x))[::-1], np.arange(1, x.size + 1) / x.size
        j = max(1, x.size // 100)
        if np.isfinite(a) and a > 0:
            seg = np.geomspace(xs[j], xs[j] * 30, 20)
            ax.loglog(seg, p[j] * (seg / xs[j]) ** (-a), "--", color=f"C{c}", lw=1)
    ax.set_ylim(0.5 / n_chains, 1.5)
    ax.set_xlim(1e-2, None)
    ax.set_title(f"varying ${labels[panel]}$ ({fixed[panel]})", fontsize=10)
    ax.set_xlabel(r"$|x_1 - x^*_1|$")
    ax.legend(fontsize=7, loc="lower left")
fig.tight_layout()
save_figure(fig, figures_dir, NAME, "fig-tails-move")
glue("fig-tails-move", fig, display=False)
plt.close(fig)

for panel in panels:
    sub = df[df["panel"] == panel]
    glue(f"tm-{panel}-first", float(sub["alpha (Kesten)"].iloc[0]), display=False)
    glue(f"tm-{panel}-last", float(sub["alpha (Kesten)"].iloc[-1]), display=False)
    glue(f"tm-{panel}-hill-first", float(sub["Hill"].iloc[0]), display=False)
    glue(f"tm-{panel}-hill-last", float(sub["Hill"].iloc[-1]), display=False)
    glue(f"tm-{panel}-lo", float(sub[panel].iloc[0]), display=False)
    glue(f"tm-{panel}-hi", float(sub[panel].iloc[-1]), display=False)
glue("tm-diverged", int(df["diverged"].sum()), display=False)
ok = df[np.isfinite(df["alpha (Kesten)"]) & (df["alpha (Kesten)"] > 1)
        & (df["alpha (Kesten)"] < 4)]
glue("tm-n-cover", int(((ok["Hill lo"] <= ok["alpha (Kesten)"])
                        & (ok["alpha (Kesten)"] <= ok["Hill hi"])).sum()), display=False)
glue("tm-n-ok", len(ok), display=False)
both = df[np.isfinite(df["nu (hSGD)"]) & (df["alpha (Kesten)"] > 0)]
glue("tm-nu-heavier", int((both["nu (hSGD)"] < both["alpha (Kesten)"]).sum()), display=False)
glue("tm-n-both", len(both), display=False)

# %% [markdown]
# ```{glue:figure} fig-tails-move
# :name: fig-tails-move
#
# Empirical ccdfs of one coordinate of the SGD iterates (isotropic Gaussian data, centred at
# $x^*$), log-log. Dashed: slope $-\alpha$ with $\alpha$ the exact SGD index. Legends give $\alpha$
# and the exact hSGD index $\nu$ ("none" where hSGD has no stationary law).
# ```
#
# The tails move as the linear-regression theory predicts {cite}`gurbuzbalaban2021`. As $\gamma$
# grows from {glue:text}`tm-gamma-lo` to {glue:text}`tm-gamma-hi` the exact index falls from
# {glue:text}`tm-gamma-first:.2f` to {glue:text}`tm-gamma-last:.2f` (Hill, $k = n/100$:
# {glue:text}`tm-gamma-hill-first:.2f` to {glue:text}`tm-gamma-hill-last:.2f`). As $B$ grows from
# {glue:text}`tm-B-lo` to {glue:text}`tm-B-hi` it rises from {glue:text}`tm-B-first:.2f` to
# {glue:text}`tm-B-last:.2f`. As $d$ grows from {glue:text}`tm-d-lo` to {glue:text}`tm-d-hi` it falls
# from {glue:text}`tm-d-first:.2f` to {glue:text}`tm-d-last:.2f`. The ridge makes the tails lighter:
# from $\delta =$ {glue:text}`tm-delta-lo` to {glue:text}`tm-delta-hi` the index goes from
# {glue:text}`tm-delta-first:.2f` to {glue:text}`tm-delta-last:.2f`. Where $1 < \alpha < 4$, the Hill
# interval covers the exact index at {glue:text}`tm-n-cover` of {glue:text}`tm-n-ok` curves. The hSGD
# index moves in the same directions but is smaller than the SGD index (hSGD heavier) at only
# {glue:text}`tm-nu-heavier` of the {glue:text}`tm-n-both` settings where both exist. Diverged chains:
# {glue:text}`tm-diverged`.

# %% tags=["remove-input"]
df.round(3)
