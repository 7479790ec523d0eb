"""The locked environment: what ``requirements.lock`` pins, its SHA-256, the ``environment.yml`` made from it.

``requirements.lock`` is written by ``make lock`` (pip-compile with hashes, from ``pyproject.toml``) and
installed by ``make install`` with ``pip install --require-hashes``. This module reads it. It imports only the
standard library, so that the Makefile can run it as a script before anything is installed::

    python src/sgdtails/runner/lockfile.py check-target  # is this Python the one the lock is for?
    python src/sgdtails/runner/lockfile.py finish        # after pip-compile: record it, write environment.yml
    python src/sgdtails/runner/lockfile.py summary       # the lock's SHA-256 and the versions the book shows
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: only `finish` and the tests need it, on 3.11
    tomllib = None

LOCK_FILE = "requirements.lock"
#: The repository this module was imported from (an editable install: ``make install``, Binder); a lock is
#: found there whatever the working directory, e.g. a chapter executed in a copy of ``book/``.
SOURCE_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT_FILE = "environment.yml"
PROJECT = "sgdtails"

#: Packages whose locked versions the "Reproduce this book" page shows: those whose defaults (generators,
#: solvers, plotting, execution) decide the published numbers and figures.
SHOWN = ("numpy", "scipy", "torch", "pandas", "matplotlib", "seaborn", "scikit-learn", "powerlaw",
         "papermill", "jupytext", "jupyter-book", "myst-nb")

_TARGET_PREFIX = "# Resolved for: "
_INPUTS_PREFIX = "# From pyproject.toml requirements with sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def normalise(name: str) -> str:
    """PEP 503 form of a distribution name: ``Jinja2`` -> ``jinja2``, ``ruamel.yaml`` -> ``ruamel-yaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class LockedPackage:
    """One entry of the lock: an exact version, the hashes pip accepts for it, and who asked for it."""

    name: str
    version: str
    hashes: tuple[str, ...]
    via: tuple[str, ...]

    @property
    def direct(self) -> bool:
        """Asked for by ``pyproject.toml``'s dependencies or its ``dev`` extra."""
        return f"{PROJECT} (pyproject.toml)" in self.via

    @property
    def build(self) -> bool:
        """Asked for by ``pyproject.toml``'s build system (needed to install the package itself)."""
        return any(v.startswith(f"{PROJECT} (pyproject.toml::build-system") for v in self.via)


@dataclass(frozen=True)
class LockSummary:
    """What the reproduce page shows of the lock.

    ``sha256`` is the digest of the lock file's bytes (``sha256sum requirements.lock`` prints the same);
    ``target`` the interpreter and platform it was resolved for; ``versions`` the locked version of each
    package in :data:`SHOWN` (``"not locked"`` for one that is absent).
    """

    path: Path
    sha256: str
    target: str
    n_packages: int
    versions: dict[str, str]

    @property
    def short_sha256(self) -> str:
        return self.sha256[:12]


def parse_lock(text: str) -> dict[str, LockedPackage]:
    """The entries of a pip-compile lock (``name==version``, ``--hash``, ``# via``), by PEP 503 name."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _PIN.match(line):
            blocks.append([line])
        elif blocks and blocks[-1] and line.startswith((" ", "\t")):
            blocks[-1].append(line)
        elif line.strip():
            blocks.append([])  # a comment or option at column 0 ends the entry before it
    entries: dict[str, LockedPackage] = {}
    for block in filter(None, blocks):
        pin = _PIN.match(block[0])
        assert pin is not None
        name, version = pin.groups()
        via: list[str] = []
        for line in map(str.strip, block[1:]):
            if line.startswith("# via") and line != "# via":
                via.append(line[len("# via"):].strip())  # one asker, on the same line
            elif line.startswith("#   "):
                via.append(line[1:].strip())  # one of several, a line each
        entries[normalise(name)] = LockedPackage(normalise(name), version,
                                                 tuple(_HASH.findall("\n".join(block))), tuple(via))
    return entries


def _header(text: str, prefix: str) -> str:
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return "unknown"


def lock_target(text: str) -> str:
    """The ``# Resolved for: ...`` line that ``finish`` writes in the lock's header, or ``"unknown"``."""
    return _header(text, _TARGET_PREFIX)


def lock_inputs(text: str) -> str:
    """The :func:`requirements_digest` of what the lock was made from, or ``"unknown"``."""
    return _header(text, _INPUTS_PREFIX)


def requirements_digest(pyproject_text: str) -> str:
    """SHA-256 of what ``make lock`` resolves: the dependencies, ``dev`` extra and build requirements of
    ``pyproject.toml``.

    Any edit of those lists changes it, so a lock not remade since is detected without resolving anything.
    """
    if tomllib is None:  # pragma: no cover
        raise RuntimeError("reading pyproject.toml needs Python 3.11 or newer (tomllib)")
    data = tomllib.loads(pyproject_text)
    inputs = {"dependencies": data["project"].get("dependencies", []),
              "dev": data["project"].get("optional-dependencies", {}).get("dev", []),
              "build-system": data.get("build-system", {}).get("requires", [])}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def interpreter_target() -> str:
    """This interpreter and platform in the lock's words, e.g. ``"CPython 3.11 on Linux x86_64"``."""
    major, minor = sys.version_info[:2]
    return f"{platform.python_implementation()} {major}.{minor} on {platform.system()} {platform.machine()}"


def lock_summary(root: str | Path | None = None, packages: tuple[str, ...] = SHOWN) -> LockSummary:
    """SHA-256, target, size and the pinned versions of ``packages`` of ``root/requirements.lock``.

    ``root`` defaults to :data:`SOURCE_ROOT`. Raises ``FileNotFoundError`` where there is no lock (the package
    installed without its repository, as on Colab).
    """
    path = Path(SOURCE_ROOT if root is None else root) / LOCK_FILE
    data = path.read_bytes()
    text = data.decode("utf-8")
    entries = parse_lock(text)
    versions = {p: entries[normalise(p)].version if normalise(p) in entries else "not locked"
                for p in packages}
    return LockSummary(path=path, sha256=hashlib.sha256(data).hexdigest(), target=lock_target(text),
                       n_packages=len(entries), versions=versions)


def public_version(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: the default index serves no local-label build (torch's CPU one)."""
    return version.split("+", 1)[0]


def render_environment(lock_text: str, sha256: str) -> str:
    """``environment.yml`` (conda, Binder): every version of the lock, without hashes; the package editable.

    Hashes are left out because conda's pip step installs ``-e .`` beside them, which ``--require-hashes``
    refuses; a local version label (``torch==2.13.0+cpu``) becomes the public release (``torch==2.13.0``).
    """
    entries = parse_lock(lock_text)
    target = lock_target(lock_text)
    python = re.search(r"(\d+\.\d+)", target)
    relabelled = sorted(e.name for e in entries.values() if public_version(e.version) != e.version)
    lines = [
        f"# Generated by `make lock` from {LOCK_FILE} (sha256 {sha256}); do not edit.",
        f"# The lock's exact versions (resolved for {target}) without its hashes: conda's pip",
        "# step installs `-e .` beside them, which pip's hash-checking mode refuses.",
        "# tests/test_packaging.py checks that this file is the one the lock gives.",
    ]
    if relabelled:
        lines.append(f"# Local builds pinned by their public release here: {', '.join(relabelled)} "
                     "(the default index has no local-label builds).")
    lines += [
        "name: sgdtails",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python.group(1) if python else '3.11'}",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {e.name}=={public_version(e.version)}" for e in entries.values()]
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def finish(root: str | Path = ".") -> LockSummary:
    """After pip-compile: record in the lock's header this Python (its target) and the digest of the
    requirements it was made from; write ``environment.yml`` from the lock."""
    root = Path(root)
    path = root / LOCK_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    ours = (_TARGET_PREFIX, _INPUTS_PREFIX)
    old = {i for i, line in enumerate(lines) if line.startswith(ours)}
    old |= {i + 1 for i in old if lines[i + 1:i + 2] == ["#"]}
    lines = [line for i, line in enumerate(lines) if i not in old]
    header_end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    inputs = requirements_digest((root / "pyproject.toml").read_text(encoding="utf-8"))
    lines[header_end:header_end] = [_TARGET_PREFIX + interpreter_target(), _INPUTS_PREFIX + inputs, "#"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = lock_summary(root)
    (root / ENVIRONMENT_FILE).write_text(render_environment(path.read_text(encoding="utf-8"), summary.sha256),
                                         encoding="utf-8")
    return summary


def check_target(root: str | Path = ".") -> str | None:
    """``None`` when this Python is the one the lock is for (or there is no lock yet), else what to do."""
    path = Path(root) / LOCK_FILE
    if not path.is_file():
        return None
    wanted = lock_target(path.read_text(encoding="utf-8"))
    here = interpreter_target()
    if here == wanted:
        return None
    return (f"{LOCK_FILE} is resolved for {wanted}, and this Python is {here}.\n"
            f"Run make with PYTHON=<a Python that matches>, on such a machine, or install the same versions "
            f"from {ENVIRONMENT_FILE} (conda; no hash checking).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lockfile.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=("check-target", "finish", "summary"))
    parser.add_argument("root", nargs="?", default=".", help="the repository root (default: .)")
    args = parser.parse_args(argv)
    if args.command == "check-target":
        message = check_target(args.root)
        if message:
            print(message, file=sys.stderr)
        return 1 if message else 0
    summary = finish(args.root) if args.command == "finish" else lock_summary(args.root)
    print(f"{summary.path}: sha256 {summary.sha256}, {summary.n_packages} packages, for {summary.target}")
    print("  " + ", ".join(f"{name} {version}" for name, version in summary.versions.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
