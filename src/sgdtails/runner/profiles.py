"""The book's notebooks and their run profiles: read ``_toc.yml`` and ``book/profiles.yml``, refuse bad ones.

``book/profiles.yml``::

    seed: 20241121            # root seed; every per-point seed is derived from it
    after:                    # optional: chapters that read results another chapter caches
      NAME: [OTHER, ...]      # start NAME after OTHER when chapters run in parallel ("*": every earlier one)
    expected_seconds:         # optional: measured times per profile and chapter, used until a run of
      paper: {NAME: 94, ...}  # this checkout has recorded its own (_build/reports/timings-<profile>.json)
    notebooks:
      NAME:                   # a chapter book/NAME.py listed in _toc.yml
        smoke:   {key: value, ...}
        default: {...}
        paper:   {...}

Every key must be a variable of the chapter's ``parameters`` cell, with a value of the same type as the
cell's default (an int is accepted where the default is a float). A chapter may only come after chapters
that precede it in ``_toc.yml`` (so the sequential order always respects ``after``). Everything is checked
before anything runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import yaml

PROFILES = ("smoke", "default", "paper")
INJECTED = ("profile", "seed", "cache_dir", "figures_dir")


class ConfigError(ValueError):
    """A malformed profiles file, toc, or an unknown notebook/profile name."""


@dataclass(frozen=True)
class Notebook:
    """A runnable chapter: its name, jupytext source and the defaults of its parameters cell."""

    name: str
    source: Path
    defaults: Mapping[str, Any] = field(repr=False)

    def output_path(self) -> Path:
        return self.source.with_suffix(".ipynb")


@dataclass(frozen=True)
class BookConfig:
    root: Path
    seed: int
    notebooks: tuple[Notebook, ...]
    parameters: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(repr=False)
    repository: str = ""
    #: chapter -> the chapters it must start after (their cached results are its inputs)
    after: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: profile -> chapter -> seconds measured on the development machine (the first run's expectations)
    expected_seconds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [nb.name for nb in self.notebooks]

    def notebook(self, name: str) -> Notebook:
        for nb in self.notebooks:
            if nb.name == name:
                return nb
        raise ConfigError(f"unknown notebook {name!r}; valid names: {', '.join(self.names)}")

    def parameters_for(self, name: str, profile: str) -> dict[str, Any]:
        check_profile(profile)
        return dict(self.parameters[name][profile])


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    return profile


def toc_files(root: Path) -> list[str]:
    """Files listed in ``_toc.yml`` (root first), as written there (no suffix)."""
    toc_path = root / "_toc.yml"
    try:
        toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{toc_path}: cannot read the table of contents ({exc})") from exc
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if "file" in node:
                files.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    if not isinstance(toc, Mapping) or "root" not in toc:
        raise ConfigError(f"{toc_path}: expected a mapping with a 'root' entry")
    files.append(str(toc["root"]))
    walk(toc)
    return files


def parameter_defaults(source: Path) -> dict[str, Any]:
    """The literal assignments of the unique cell tagged ``parameters`` in a jupytext source."""
    nb = jupytext.read(source)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ConfigError(f"{source}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    defaults: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError as exc:
                raise ConfigError(f"{source}: parameter {node.targets[0].id!r} is not a literal") from exc
    missing = [k for k in INJECTED if k not in defaults]
    if missing:
        raise ConfigError(f"{source}: parameters cell lacks {missing}")
    return defaults


def _type_ok(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _type_name(default: Any) -> str:
    if isinstance(default, float):
        return "float"
    if isinstance(default, (list, tuple)):
        return "list"
    return type(default).__name__


def load_config(root: str | Path = ".") -> BookConfig:
    """Read and validate ``_toc.yml`` and ``book/profiles.yml`` under ``root``."""
    root = Path(root).resolve()
    notebooks = []
    for entry in toc_files(root):
        source = (root / entry).with_suffix(".py")
        if source.exists():
            notebooks.append(Notebook(source.stem, source, parameter_defaults(source)))
        elif not any((root / entry).with_suffix(s).exists() for s in (".md", ".ipynb")):
            raise ConfigError(f"_toc.yml lists {entry!r} but no {entry}.py or {entry}.md exists")
    path = root / "book" / "profiles.yml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with keys 'seed' and 'notebooks'")
    unknown = set(raw) - {"seed", "notebooks", "after", "expected_seconds"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; "
                          "expected 'seed', 'after', 'expected_seconds', 'notebooks'")
    seed = raw.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"{path}: key 'seed' must be a non-negative int, got {seed!r}")
    blocks = raw.get("notebooks")
    if not isinstance(blocks, Mapping):
        raise ConfigError(f"{path}: key 'notebooks' must be a mapping of notebook names to profiles")
    by_name = {nb.name: nb for nb in notebooks}
    params: dict[str, dict[str, dict[str, Any]]] = {}
    for name, profiles in blocks.items():
        if name not in by_name:
            raise ConfigError(f"{path}: notebooks.{name}: unknown notebook; "
                              f"valid names: {', '.join(by_name)}")
        if not isinstance(profiles, Mapping):
            raise ConfigError(f"{path}: notebooks.{name} must be a mapping of profiles")
        extra = set(profiles) - set(PROFILES)
        if extra:
            raise ConfigError(f"{path}: notebooks.{name}: unknown profile(s) {sorted(extra)}; "
                              f"valid profiles: {', '.join(PROFILES)}")
        params[name] = {}
        defaults = by_name[name].defaults
        for profile in PROFILES:
            values = profiles.get(profile) or {}
            if not isinstance(values, Mapping):
                raise ConfigError(f"{path}: notebooks.{name}.{profile} must be a mapping")
            for key, value in values.items():
                where = f"{path}: notebooks.{name}.{profile}.{key}"
                if key in INJECTED:
                    raise ConfigError(f"{where}: set by the pipeline, not by a profile")
                if key not in defaults:
                    raise ConfigError(f"{where}: unknown key; the parameters cell of "
                                      f"{by_name[name].source.name} defines {sorted(defaults)}")
                if not _type_ok(value, defaults[key]):
                    raise ConfigError(f"{where}: expected {_type_name(defaults[key])}, "
                                      f"got {type(value).__name__} {value!r}")
            params[name][profile] = dict(values)
    for nb in notebooks:
        params.setdefault(nb.name, {p: {} for p in PROFILES})
    return BookConfig(root=root, seed=seed, notebooks=tuple(notebooks), parameters=params,
                      repository=repository_url(root),
                      after=_read_after(raw.get("after"), [nb.name for nb in notebooks], path),
                      expected_seconds=_read_expected(raw.get("expected_seconds"),
                                                      [nb.name for nb in notebooks], path))


def _read_expected(raw: Any, names: list[str], path: Path) -> dict[str, dict[str, float]]:
    """``expected_seconds`` of ``profiles.yml``: profile -> chapter -> positive seconds."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: key 'expected_seconds' must map profiles to {{chapter: seconds}}")
    out: dict[str, dict[str, float]] = {}
    for profile, times in raw.items():
        if profile not in PROFILES:
            raise ConfigError(f"{path}: expected_seconds.{profile}: unknown profile; "
                              f"valid profiles: {', '.join(PROFILES)}")
        if not isinstance(times, Mapping):
            raise ConfigError(f"{path}: expected_seconds.{profile} must map chapter names to seconds")
        out[profile] = {}
        for name, sec in times.items():
            if name not in names:
                raise ConfigError(f"{path}: expected_seconds.{profile}.{name}: unknown notebook; "
                                  f"valid names: {', '.join(names)}")
            if isinstance(sec, bool) or not isinstance(sec, (int, float)) or not sec > 0:
                raise ConfigError(f"{path}: expected_seconds.{profile}.{name} must be a positive number of "
                                  f"seconds, got {sec!r}")
            out[profile][name] = float(sec)
    return out


def _read_after(raw: Any, names: list[str], path: Path) -> dict[str, tuple[str, ...]]:
    """``after`` of ``profiles.yml``: each chapter's prerequisites, all earlier in the ToC (``"*"``: every
    earlier chapter)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: key 'after' must map chapter names to lists of chapter names")
    after: dict[str, tuple[str, ...]] = {}
    for name, before in raw.items():
        if name not in names:
            raise ConfigError(f"{path}: after.{name}: unknown notebook; valid names: {', '.join(names)}")
        earlier = names[:names.index(name)]
        if before == "*":
            after[name] = tuple(earlier)
            continue
        if not isinstance(before, list) or not all(isinstance(b, str) for b in before):
            raise ConfigError(f"{path}: after.{name} must be a list of chapter names or \"*\", "
                              f"got {before!r}")
        for b in before:
            if b not in earlier:
                raise ConfigError(f"{path}: after.{name}: {b!r} is not a chapter before {name!r} in "
                                  f"_toc.yml; valid: {', '.join(earlier) or 'none'}")
        after[name] = tuple(before)
    return after


def repository_url(root: Path) -> str:
    """The repository's address: ``repository.url`` of ``_config.yml``, the one setting the launch buttons
    and the chapters' install cell use (``""`` when the book has no ``_config.yml`` or no address)."""
    path = root / "_config.yml"
    if not path.exists():
        return ""
    try:
        conf = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML ({exc})") from exc
    repo = conf.get("repository") if isinstance(conf, Mapping) else None
    url = repo.get("url", "") if isinstance(repo, Mapping) else ""
    if url and not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+/?", str(url)):
        raise ConfigError(f"{path}: repository.url must look like https://host/owner/name, got {url!r}")
    return str(url).rstrip("/")
