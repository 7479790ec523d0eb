"""Where a chapter's time goes: run one chapter of the book under cProfile and print the top functions.

Usage::

    python benchmarks/profile_book.py NAME [--profile smoke|default|paper] [--top 30]
                                      [--sort cumulative|tottime] [--cache-dir DIR] [--out FILE.prof]
    python benchmarks/profile_book.py --list

``NAME`` is a chapter of ``_toc.yml`` (``book/NAME.py``). The chapter is executed as the pipeline executes it
(``python -m sgdtails run``), without papermill or a kernel: its jupytext source is read cell by cell, the
``parameters`` cell runs with its defaults and is followed by the values the pipeline injects for the profile
(``sgdtails.runner.pipeline.chapter_parameters``: the profile's values from ``book/profiles.yml``, the root
seed, the build folders), in the chapter's folder, with matplotlib's Agg backend, numpy's BLAS on one thread
(as the pipeline sets it) and ``myst_nb.glue`` replaced by a no-op. So the chapter builds its experiments'
parameter objects and calls the experiment functions (``sgdtails.experiments.<module>``) exactly as in the
book.

The cache: by default the chapter writes to a fresh temporary cache (the profile shows the computations, not
cache reads); ``--cache-dir _build/cache`` profiles against the book's cache instead. Figures go to a
temporary folder.

Threads: the library runs blocks of runs on worker threads (``sgdtails._core.parallel.map_blocks``), which
cProfile alone does not see; every ``threading.Thread`` started during the run is profiled too and its
statistics are added to the main thread's. Cumulative times of functions that run on the workers are
therefore summed over the threads (CPU-seconds on several cores, larger than the wall time), and the main
thread's waiting for them shows up as ``acquire`` of a lock.

Prints: the time of every code cell (wall clock), the experiment functions (every function defined in
``sgdtails/experiments/``) by cumulative time, and the ``--top`` functions by ``--sort``. ``--out`` writes
the combined statistics for ``snakeviz`` or ``python -m pstats``.
"""

from __future__ import annotations

import os

# as the pipeline (sgdtails.runner.pipeline.BLAS_THREAD_VARIABLES): numpy's BLAS on one thread; set before
# numpy is imported
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import jupytext  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")

from sgdtails._core.cache import PROGRESS_ENV  # noqa: E402
from sgdtails.runner.pipeline import chapter_parameters  # noqa: E402
from sgdtails.runner.profiles import PROFILES, ConfigError, load_config, toc_files  # noqa: E402

EXPERIMENTS_DIR = str(Path("sgdtails") / "experiments") + os.sep
STDLIB = os.path.dirname(os.__file__) + os.sep


class ChapterError(RuntimeError):
    """A cell of the chapter raised."""


# --------------------------------------------------------------------------------------------------
# the chapter
# --------------------------------------------------------------------------------------------------
def chapter_names(root: Path) -> tuple[list[str], list[str]]:
    """(chapters with code, every entry of _toc.yml) as names."""
    config = load_config(root)
    return config.names, [Path(f).name for f in toc_files(root)]


def resolve(root: Path, name: str, profile: str, *, device: str | None = None):
    """The chapter's notebook entry and the parameters the pipeline would inject; clear errors."""
    config = load_config(root)
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    if name not in config.names:
        toc = [Path(f).name for f in toc_files(root)]
        what = ("is a page without code (nothing to profile)" if name in toc
                else "is not a chapter of _toc.yml")
        raise ConfigError(f"{name!r} {what}; valid names: {', '.join(config.names)}")
    return config.notebook(name), chapter_parameters(config, name, profile, device)


def code_cells(source: Path) -> list[tuple[str, list[str]]]:
    """The chapter's code cells: (source, tags)."""
    nb = jupytext.read(source)
    return [(c.source, list(c.get("metadata", {}).get("tags", [])))
            for c in nb.cells if c.cell_type == "code"]


def _strip_magics(src: str) -> tuple[str, int]:
    """Comment out IPython magics and shell escapes (they need a kernel); count them."""
    out, n = [], 0
    for line in src.splitlines():
        if line.lstrip().startswith(("%", "!")):
            out.append("# (magic, skipped) " + line)
            n += 1
        else:
            out.append(line)
    return "\n".join(out), n


@contextlib.contextmanager
def chapter_environment(workdir: Path) -> Iterator[None]:
    """cwd = the chapter's folder, ``myst_nb.glue`` a no-op, no progress bars; all restored afterwards."""
    stub = types.ModuleType("myst_nb")
    stub.glue = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    saved_mod = sys.modules.get("myst_nb")
    saved_env = os.environ.get(PROGRESS_ENV)
    cwd = os.getcwd()
    sys.modules["myst_nb"] = stub
    os.environ[PROGRESS_ENV] = "0"
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(cwd)
        if saved_mod is None:
            sys.modules.pop("myst_nb", None)
        else:
            sys.modules["myst_nb"] = saved_mod
        if saved_env is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = saved_env


@contextlib.contextmanager
def profile_threads(collected: list[cProfile.Profile]) -> Iterator[list[threading.Thread]]:
    """Profile every ``threading.Thread`` whose ``run`` is the base class's (executor workers included);
    each finished thread's profile is appended to ``collected``. Yields the list of profiled threads."""
    original = threading.Thread.run
    started: list[threading.Thread] = []

    def run(self: threading.Thread) -> None:
        started.append(self)
        prof = cProfile.Profile()
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()
            collected.append(prof)

    threading.Thread.run = run  # type: ignore[method-assign]
    try:
        yield started
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]


def execute(name: str, cells: list[tuple[str, list[str]]], parameters: dict[str, Any],
            prof: cProfile.Profile) -> list[tuple[int, str, float]]:
    """Run the cells in one namespace, the injected parameters right after the parameters cell (papermill's
    order), profiling them with ``prof``. Returns (cell number, first line, seconds) per executed cell."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    plan: list[tuple[int, str]] = []
    for i, (src, tags) in enumerate(cells, start=1):
        plan.append((i, src))
        if "parameters" in tags:
            plan.append((0, "# injected parameters\n" + injected))
    timings = []
    for i, src in plan:
        code_src, n_magic = _strip_magics(src)
        label = f"<{name} cell {i}>" if i else f"<{name} injected parameters>"
        code = compile(code_src, label, "exec")
        first = next((ln.strip() for ln in src.splitlines() if ln.strip() and not ln.startswith("#")),
                     src.splitlines()[0] if src else "")
        if n_magic:
            first += f"  [{n_magic} magic line(s) skipped]"
        t0 = time.perf_counter()
        prof.enable()
        try:
            exec(code, namespace)  # noqa: S102 (the book's own chapter)
        except BaseException as exc:
            prof.disable()
            raise ChapterError(f"{label} raised {type(exc).__name__}: {exc}") from exc
        prof.disable()
        timings.append((i, first, time.perf_counter() - t0))
    with contextlib.suppress(Exception):
        import matplotlib.pyplot as plt

        plt.close("all")
    return timings


# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------
def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":  # built-ins
        return func
    p = file
    for marker in ("site-packages" + os.sep, str(ROOT / "src") + os.sep, str(ROOT) + os.sep, STDLIB):
        if marker in p:
            p = p.split(marker, 1)[1]
            break
    return f"{p}:{line}({func})"


def _area(key: tuple[str, int, str]) -> str:
    """Where a function lives: a package (site-packages), a part of the library, the chapter's cells, the
    import machinery, or a C built-in (attributed to torch, numpy, ... where its name says so)."""
    file, _line, func = key
    if file == "~":
        if "_thread.lock" in func:
            return "waiting on locks (threads)"
        for lib in ("torch", "numpy", "scipy", "pandas", "matplotlib"):
            if lib in func:
                return f"{lib} (C)"
        return "built-in (C)"
    if file.startswith("<frozen"):
        return "import machinery"
    if file.startswith("<") and (" cell " in file or "injected parameters" in file):
        return "chapter cells"
    src = str(ROOT / "src") + os.sep
    if src in file:
        parts = Path(file.split(src, 1)[1]).parts
        return ".".join(p.removesuffix(".py") for p in parts[:2])
    if "site-packages" + os.sep in file:
        return Path(file.split("site-packages" + os.sep, 1)[1]).parts[0].removesuffix(".py")
    return "python stdlib" if file.startswith(STDLIB) else file


def _rows(stats: pstats.Stats, keep=lambda key: True) -> list[tuple[tuple[str, int, str], int, float, float]]:
    out = []
    for key, (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if keep(key):
            out.append((key, nc, tt, ct))
    return out


def _print_rows(rows, wall: float, limit: int) -> None:
    print(f"  {'cumulative s':>12s} {'% wall':>7s} {'own s':>8s} {'calls':>9s}  function")
    for key, nc, tt, ct in rows[:limit]:
        print(f"  {ct:12.3f} {100 * ct / wall:7.1f} {tt:8.3f} {nc:9d}  {_where(key)}")


def report(name: str, profile: str, timings: list[tuple[int, str, float]], stats: pstats.Stats,
           wall: float, *, top: int, sort: str, n_threads: int, n_alive: int) -> None:
    print(f"\nCells of {name} ({profile}), wall clock, {wall:.2f} s in all:")
    print(f"  {'cell':>4s} {'s':>8s} {'%':>6s}  first line")
    for i, first, secs in timings:
        lab = f"{i:4d}" if i else " inj"
        print(f"  {lab} {secs:8.3f} {100 * secs / wall:6.1f}  {first[:80]}")

    areas: dict[str, float] = {}
    for key, _nc, tt, _ct in _rows(stats):
        areas[_area(key)] = areas.get(_area(key), 0.0) + tt
    total = sum(areas.values())
    print(f"\nOwn time by area ({total:.2f} s in all, main thread and {n_threads} worker thread(s)):")
    for area, tt in sorted(areas.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {tt:8.3f} s {100 * tt / total:6.1f} %  {area}")

    exp = [r for r in _rows(stats, lambda k: EXPERIMENTS_DIR in k[0]) if r[3] >= 0.001]
    exp.sort(key=lambda r: -r[3])
    print(f"\nExperiment functions (defined in src/sgdtails/experiments/), by cumulative time "
          f"(main thread and {n_threads} worker thread(s) summed):")
    _print_rows(exp, wall, 25)

    rows = _rows(stats)
    rows.sort(key=lambda r: -(r[3] if sort == "cumulative" else r[2]))
    print(f"\nTop {top} functions by {'cumulative' if sort == 'cumulative' else 'own (tottime)'} time "
          f"(main thread and {n_threads} worker thread(s) summed; % of the chapter's wall time):")
    _print_rows(rows, wall, top)
    if n_alive:
        print(f"\n  note: {n_alive} profiled thread(s) were still running at the end; their time is not "
              "included")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?", help="a chapter of _toc.yml (book/NAME.py)")
    ap.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)} (default smoke)")
    ap.add_argument("--top", type=int, default=30, help="functions to list (default 30)")
    ap.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative")
    ap.add_argument("--cache-dir", default=None,
                    help="the chapter's cache (default: a fresh temporary one: nothing is read from cache)")
    ap.add_argument("--device", default=None, help="passed to chapters that take a device (e.g. cuda)")
    ap.add_argument("--out", default=None, help="write the combined statistics (pstats format) here")
    ap.add_argument("--list", action="store_true", help="list the chapters and exit")
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    try:
        if args.list or not args.name:
            names, _ = chapter_names(root)
            print("chapters: " + ", ".join(names))
            return 0 if args.list else 2
        nb, parameters = resolve(root, args.name, args.profile, device=args.device)
    except ConfigError as exc:
        print(f"profile_book: {exc}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="sgdtails-profile-") as tmp:
        parameters["cache_dir"] = (str(Path(args.cache_dir).resolve()) if args.cache_dir
                                   else str(Path(tmp) / "cache"))
        parameters["figures_dir"] = str(Path(tmp) / "figures")
        print(f"profiling {nb.source.relative_to(root)} (profile {args.profile}) with "
              + ", ".join(f"{k}={v!r}" for k, v in parameters.items()
                          if k not in ("cache_dir", "figures_dir"))
              + f"; cache {'given' if args.cache_dir else 'fresh (temporary)'}")
        cells = code_cells(nb.source)
        prof = cProfile.Profile()
        thread_profiles: list[cProfile.Profile] = []
        t0 = time.perf_counter()
        try:
            with chapter_environment(nb.source.parent), profile_threads(thread_profiles) as started:
                timings = execute(args.name, cells, parameters, prof)
        except ChapterError as exc:
            print(f"profile_book: {exc}", file=sys.stderr)
            return 1
        wall = time.perf_counter() - t0
    n_alive = sum(t.is_alive() for t in started)
    stats = pstats.Stats(prof)
    for p in thread_profiles:
        stats.add(p)
    report(args.name, args.profile, timings, stats, wall, top=args.top, sort=args.sort,
           n_threads=len(thread_profiles), n_alive=n_alive)
    if args.out:
        stats.dump_stats(args.out)
        print(f"\nwrote {args.out} (python -m pstats {args.out}, or snakeviz)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
