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

# %% tags=["remove-cell"]
from pathlib import Path

import pandas as pd
from myst_nb import glue

from sgdtails.runner.environment import describe
from sgdtails.runner.pipeline import load_summaries

env = describe()
reports_dir = Path(cache_dir).parent / "reports"
glue("root_seed", seed, display=False)
glue("build_profile", profile, display=False)

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
# The simulators are written in PyTorch and take `device` and `dtype` arguments (`device="cuda"`). Install the
# CUDA build of `torch==2.13.0` in `.venv` instead of the CPU wheel, and pass `device="cuda"` to the
# simulators; the estimates do not depend on the device beyond floating-point rounding.
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
