"""Packaging: environment.yml is the lock's; the Makefile, CI and the Pages workflow install from the lock;
torch is pinned everywhere. (tests/test_lock.py checks the lock against pyproject.toml.)"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from sgdtails.runner.lockfile import LOCK_FILE, lock_target, parse_lock, public_version, render_environment

ROOT = Path(__file__).resolve().parents[1]


def _normalise(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower()


def test_environment_yml_lists_the_locked_versions():
    lock_text = (ROOT / LOCK_FILE).read_text()
    wanted = {f"{e.name}=={public_version(e.version)}" for e in parse_lock(lock_text).values()}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(s) for s in pip_block if not s.startswith("-e")}
    assert listed == wanted, (f"run `make lock`: only in the lock: {wanted - listed}; "
                              f"only in environment.yml: {listed - wanted}")
    assert "-e ." in pip_block
    python = lock_target(lock_text).split()[1]
    assert f"python={python}" in env["dependencies"]


def test_environment_yml_is_the_one_make_lock_writes():
    lock_text = (ROOT / LOCK_FILE).read_text()
    sha256 = hashlib.sha256((ROOT / LOCK_FILE).read_bytes()).hexdigest()
    assert (ROOT / "environment.yml").read_text() == render_environment(lock_text, sha256), "run `make lock`"


def test_torch_is_pinned_everywhere():
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()
    assert parse_lock((ROOT / LOCK_FILE).read_text())["torch"].version == "2.13.0+cpu"
    assert "      - torch==2.13.0\n" in (ROOT / "environment.yml").read_text()
    assert "2.13.0+cpu" in (ROOT / "Makefile").read_text()


def test_make_install_installs_the_lock_with_hashes_and_the_package_without_dependencies():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK    := requirements.lock" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    assert "$(STAMP): $(LOCK) pyproject.toml" in makefile
    assert '-e ".[dev]"' not in makefile, "an unlocked install"
    assert "lock:" in makefile and "--generate-hashes" in makefile


def test_ci_and_the_pages_workflow_install_from_the_lock():
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make lock" in (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make install" in ci and "make test" in ci
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "pip install" not in workflow, "the workflow installs through `make`, that is from the lock"
    assert workflow.count("cache-dependency-path: requirements.lock") == 2
    assert "restore-keys: results-${{ env.PROFILE }}-${{ hashFiles('requirements.lock') }}-" in workflow, \
        "results are restored only from a build with the same lock"
