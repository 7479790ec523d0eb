"""Shared fixtures: a miniature book (toc, profiles, chapters) in a temporary directory."""

from __future__ import annotations

import os

# one BLAS thread, as in the book's kernels (runner.pipeline): set before numpy is imported
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import shutil
import textwrap
from pathlib import Path

import pytest

from sgdtails._core.threads import single_thread

ROOT = Path(__file__).resolve().parents[1]

HEADER = textwrap.dedent("""\
    # ---
    # jupyter:
    #   jupytext:
    #     formats: ipynb,py:percent
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---
""")

PARAMS = textwrap.dedent("""\
    # %% tags=["parameters"]
    profile = "default"
    seed = 20241121
    cache_dir = "../_build/cache"
    figures_dir = "../_build/figures"
""")


def write_chapter(root: Path, name: str, body: str, extra_params: str = "") -> Path:
    path = root / "book" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "\n# %% [markdown]\n# # " + name + "\n\n" + PARAMS + extra_params
                    + "\n" + textwrap.dedent(body))
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one intra-op thread avoids oversubscribing shared cores (tenfold slower otherwise);
    results do not depend on the thread count. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    with single_thread():
        yield


@pytest.fixture
def mini_book(tmp_path: Path) -> Path:
    """A book with chapters `alpha` (uses the cache) and `beta` (plain), and valid profiles."""
    root = tmp_path / "book_root"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: book/intro
        chapters:
          - file: book/alpha
          - file: book/beta
    """))
    (root / "book" / "intro.md").write_text("# Intro\n")
    write_chapter(root, "alpha", """
        # %%
        from sgdtails._core.cache import cached
        out = cached(cache_dir, "alpha", {"n": n, "seed": seed}, lambda: {"n": n * 2})
        print(int(out["n"]))
    """, extra_params="n = 3\nrate = 0.5\nnames = ['a']\n")
    write_chapter(root, "beta", """
        # %%
        x = 1 + 1
    """)
    (root / "book" / "profiles.yml").write_text(textwrap.dedent("""\
        seed: 7
        notebooks:
          alpha:
            smoke: {n: 1, rate: 1}
            default: {n: 2}
            paper: {n: 4, rate: 0.25, names: [x, y]}
    """))
    return root


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def copy_book(dest: Path) -> Path:
    """Copy the real book's sources (no build outputs) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "_ext", dest / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "book", dest / "book",
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
    return dest
