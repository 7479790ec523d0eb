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
# # Reproduce this book
#
# Every figure and every number in this book is computed when the book is built. This page says how to
# rebuild it, what each run profile costs, and exactly what the published build ran on: the tables below are
# filled in at build time, not typed.

# %% tags=["parameters"]
profile = "default"
seed = 20241121
cache_dir = "../_build/cache"
figures_dir = "../_build/figures"

# %% tags=["remove-cell"]
from pathlib import Path

import pandas as pd
from myst_nb import glue

from sgdtails.runner.environment import describe, package_versions
from sgdtails.runner.lockfile import lock_summary
from sgdtails.runner.pipeline import load_summaries

env = describe()
reports_dir = Path(cache_dir).parent / "reports"
glue("root_seed", seed, display=False)
glue("build_profile", profile, display=False)
try:
    lock = lock_summary()
except FileNotFoundError:  # installed without its repository (Colab): no lock file to show
    lock = None
glue("lock_sha256", lock.sha256 if lock else "not available (installed without the repository)", display=False)
glue("lock_target", lock.target if lock else "-", display=False)
glue("lock_n_packages", lock.n_packages if lock else 0, display=False)

# %% [markdown]
# ## Two commands
#
# ```bash
# git clone <this repository> sgdtails && cd sgdtails
# make book    # creates .venv, installs pinned dependencies, runs every chapter (default profile), builds _build/html
# make test    # the same set-up, then unit tests, every chapter under the smoke profile, and the book build
# ```
#
# `make book PROFILE=paper` builds with publication-sized simulations. Results are cached in `_build/cache`,
# keyed by parameters, seed and library version: a second build only re-plots, and an interrupted build resumes
# from the sweep points already finished.
#
# ## Profiles
#
# | profile | purpose |
# |---|---|
# | `smoke` | tiny sizes; checks that every chapter runs (used by the tests) |
# | `default` | the published book, sized for a 2-core machine |
# | `paper` | publication-quality estimates: more chains, longer runs, finer grids |
#
# This build used the profile {glue:text}`build_profile` with root seed {glue:text}`root_seed`; every
# simulation's seed is derived from it, so the same profile gives the same numbers and figures.
# The measured cost of each chapter, for every profile run on the build machine:

# %% tags=["remove-input"]
rows = []
for summary in load_summaries(reports_dir):
    for nb in summary["notebooks"]:
        rows.append({"profile": summary["profile"], "chapter": nb["name"], "status": nb["status"],
                     "seconds": round(nb["seconds"], 1),
                     "cache hits / misses": f"{nb['cache_hits']} / {nb['cache_misses']}"})
costs = pd.DataFrame(rows, columns=["profile", "chapter", "status", "seconds", "cache hits / misses"])
costs

# %% [markdown]
# ## The locked environment
#
# Every package this build installed is pinned, with its SHA-256 hashes, in `requirements.lock`:
# {glue:text}`lock_n_packages` packages, resolved for {glue:text}`lock_target`, torch as its CPU build.
# This book was built from the lock whose SHA-256 is {glue:text}`lock_sha256`. The table gives the locked
# version of the packages whose defaults decide the numbers, next to the version the build ran.

# %% tags=["remove-input"]
if lock is None:
    locked = pd.DataFrame(columns=["package", "locked", "installed"])
else:
    installed = package_versions(tuple(lock.versions))
    locked = pd.DataFrame([(name, version, installed[name]) for name, version in lock.versions.items()],
                          columns=["package", "locked", "installed"])
locked

# %% [markdown]
# To rebuild with exactly the published environment:
#
# ```bash
# git clone <this repository> sgdtails && cd sgdtails
# git checkout <the commit this book was built from>
# sha256sum requirements.lock   # prints the SHA-256 above
# make book                     # installs requirements.lock with pip --require-hashes, then sgdtails with --no-deps
# ```
#
# pip refuses any file whose hash is not in the lock, so the install either matches the published one or
# stops. The lock is for CPython 3.11 on Linux x86_64; elsewhere `make install` stops rather than install
# other versions, and `conda env create -f environment.yml` gives the same versions without the hash check
# (torch from the default index: release 2.13.0, not necessarily the CPU build).
#
# ## Re-executing one chapter with other parameters
#
# ```bash
# .venv/bin/python -m sgdtails list                                  # chapters and profiles
# .venv/bin/python -m sgdtails run --profile paper --only estimators  # one chapter, one profile
# .venv/bin/jupytext --to ipynb book/estimators.py                    # or papermill with any parameter:
# .venv/bin/papermill book/estimators.ipynb out.ipynb -p n_reps 200 -p seed 1
# ```
#
# A chapter that fails stops the run with a non-zero exit, naming the chapter and the failing cell; the partial
# notebook is kept and `_build/reports/NAME.log` holds the traceback.
#
# ## On a GPU
#
# The simulators are written in PyTorch and take `device` and `dtype` arguments (`device="cuda"`); the
# experiments of the paper-1 chapters take a `device` parameter. Install the CUDA build of `torch` in
# `.venv` instead of the CPU wheel and pass `device="cuda"`. On an accelerator all runs of a simulation form
# one block, so the random streams differ from the CPU's blocks: the estimates agree within their
# intervals, not to the last digit.
#
# ## What this build ran on

# %% tags=["remove-input"]
machine = pd.DataFrame(
    [("Python", env["python"]), ("platform", env["platform"]), ("CPU", env["cpu"]),
     ("cores", env["cores"]), ("memory (GiB)", env["memory_gib"]), ("torch threads", env["torch_threads"]),
     ("GPU", env["gpu"])],
    columns=["", "value"],
)
machine

# %% tags=["remove-input"]
pd.DataFrame(sorted(env["packages"].items()), columns=["package", "version"])
