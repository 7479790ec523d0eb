"""Execute the book's chapters through papermill for a profile, with progress, caching and failure reports.

Each chapter ``book/NAME.py`` (jupytext) is executed with the profile's parameters injected, into
``book/NAME.ipynb`` (what Jupyter Book renders). Results are cached under ``_build/cache`` and figures
written under ``_build/figures/NAME``. A failing cell stops the run: the partial notebook is kept and the
notebook, cell and error are named in ``_build/reports/NAME.log``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm.std import tqdm

from sgdtails import __version__
from sgdtails._core.cache import LOG_ENV, PROGRESS_ENV, canonical_params, library_fingerprint
from sgdtails._core.validation import check_int
from sgdtails.runner.profiles import BookConfig, check_profile, load_config

#: environment variables that set the thread count of numpy's BLAS in the kernels
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class NotebookRun:
    """What happened to one chapter: status, time, cache use and where its outputs are."""

    name: str
    status: str = "pending"
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    output: str = ""
    figures: list[str] = field(default_factory=list)
    error: str = ""


class NotebookFailed(RuntimeError):
    """A chapter raised; the message names the notebook and the failing cell."""


def build_dirs(root: Path) -> dict[str, Path]:
    build = root / "_build"
    return {"cache": build / "cache", "figures": build / "figures", "reports": build / "reports"}


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so the kernel is shut down and finished work stays on disk."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cache_counts(log: Path) -> tuple[int, int]:
    if not log.exists():
        return 0, 0
    events = [json.loads(line)["event"] for line in log.read_text().splitlines() if line.strip()]
    return events.count("hit"), events.count("miss")


def _failure_message(name: str, exc: PapermillExecutionError, output: Path) -> str:
    source = (exc.source or "").strip().splitlines()
    excerpt = "\n".join(f"    {line}" for line in source[:8])
    return (f"notebook {name!r} failed in cell {exc.cell_index} (execution count {exc.exec_count}):\n"
            f"{excerpt}\n  {exc.ename}: {exc.evalue}\n"
            f"  partial executed notebook kept at {output}")


def notebook_fingerprint(source: Path, parameters: dict[str, Any]) -> str:
    """Hash of a chapter's source, its parameters and the library (version and source files)."""
    payload = "\n".join([source.read_text(encoding="utf-8"), canonical_params(parameters),
                         library_fingerprint()])
    return hashlib.sha256(payload.encode()).hexdigest()


def _executed_fingerprint(output: Path) -> str | None:
    """The fingerprint stored in a successfully executed notebook, if any."""
    try:
        meta = nbformat.read(output, as_version=4).metadata
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return meta.get("sgdtails", {}).get("fingerprint")


def install_cell(repository: str) -> Any:
    """The first code cell of every executed chapter (hidden on the page): on Colab or Binder without the
    package, install it from ``repository`` (``_config.yml``'s ``repository.url``); elsewhere it does
    nothing."""
    source = ("# On Colab or Binder without the package, install it first; anywhere else this cell does "
              "nothing.\n"
              "import importlib.util\nimport subprocess\nimport sys\n\n"
              'if importlib.util.find_spec("sgdtails") is None:\n'
              '    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",\n'
              f'                           "sgdtails @ git+{repository}"])')
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})


def with_install_cell(nb: Any, repository: str) -> Any:
    """``nb`` with :func:`install_cell` before its first code cell (nothing added without a repository)."""
    if repository:
        first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(first, install_cell(repository))
    return nb


def show_parameters_once(nb: Any) -> None:
    """Hide the chapter's own parameters cell (its defaults) in the rendered page, so that the reader sees
    the values in effect once: in papermill's injected cell, which stays visible."""
    if not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def chapter_parameters(config: BookConfig, name: str, profile: str, device: str | None = None
                       ) -> dict[str, Any]:
    """The parameters injected into chapter ``name``: its profile's values, the root seed, the build folders
    (relative to the chapter), and ``device`` for the chapters whose parameters cell has one."""
    nb = config.notebook(name)
    dirs = build_dirs(config.root)
    extra = {"device": device} if device is not None and "device" in nb.defaults else {}
    return config.parameters_for(name, profile) | extra | {
        "profile": profile,
        "seed": config.seed,
        # relative to the notebook's directory, where it runs: no machine paths in the published pages
        "cache_dir": os.path.relpath(dirs["cache"], nb.source.parent),
        "figures_dir": os.path.relpath(dirs["figures"], nb.source.parent),
    }


def run_notebook(config: BookConfig, name: str, profile: str, *, progress: bool = True,
                 force: bool = False, device: str | None = None) -> NotebookRun:
    """Execute one chapter under ``profile``; raise :class:`NotebookFailed` naming the failing cell.

    A chapter whose source, parameters and library are unchanged since its last successful execution
    is not executed again (status ``"up-to-date"``) unless ``force``. ``device`` (e.g. ``"cuda"``) is
    passed to the chapters that take one. ``progress``: papermill's bar of the chapter's cells.
    """
    nb = config.notebook(name)
    dirs = build_dirs(config.root)
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    parameters = chapter_parameters(config, name, profile, device)
    fingerprint = notebook_fingerprint(nb.source, parameters)
    output = nb.output_path()
    fig_dir = dirs["figures"] / name
    if not force and output.exists() and _executed_fingerprint(output) == fingerprint:
        figures = sorted(str(p) for p in fig_dir.glob("*.png")) if fig_dir.exists() else []
        return NotebookRun(name=name, status="up-to-date", output=str(output), figures=figures)
    cache_log = dirs["reports"] / f"{name}.cache.jsonl"
    cache_log.unlink(missing_ok=True)
    report = dirs["reports"] / f"{name}.log"
    report.unlink(missing_ok=True)
    run = NotebookRun(name=name, output=str(output))
    previous_log = os.environ.get(LOG_ENV)
    os.environ[LOG_ENV] = str(cache_log)
    os.environ[PROGRESS_ENV] = "0"  # the kernel inherits it: papermill's bar is the progress display
    # numpy's BLAS with several threads on a busy machine waits on descheduled threads (an SVD of 2000 x 200
    # measured 10 ms alone, up to 3 s beside other work); the library parallelises over blocks of runs itself
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    start = time.perf_counter()
    try:
        executed = papermill.execute_notebook(
            with_install_cell(jupytext.read(nb.source), config.repository),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=progress,
            cwd=str(nb.source.parent),
        )
        executed.metadata["sgdtails"] = {"fingerprint": fingerprint, "profile": profile,
                                         "root_seed": config.seed}
        show_parameters_once(executed)
        nbformat.write(executed, str(output))
        run.status = "ok"
    except PapermillExecutionError as exc:
        run.status = "failed"
        run.error = _failure_message(name, exc, output)
        report.write_text(run.error + "\n\n" + "".join(exc.traceback or []), encoding="utf-8")
        raise NotebookFailed(run.error + f"\n  report: {report}") from None
    finally:
        run.seconds = time.perf_counter() - start
        run.cache_hits, run.cache_misses = _cache_counts(cache_log)
        run.figures = sorted(str(p) for p in fig_dir.glob("*.png")) if fig_dir.exists() else []
        if previous_log is None:
            os.environ.pop(LOG_ENV, None)
        else:
            os.environ[LOG_ENV] = previous_log
    return run


def load_timings(reports_dir: str | Path, profile: str) -> dict[str, float]:
    """Seconds each chapter took at its last successful execution under ``profile`` (``{}`` if none)."""
    path = Path(reports_dir) / f"timings-{profile}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def expected_times(config: BookConfig, profile: str) -> dict[str, float]:
    """Seconds each chapter is expected to take under ``profile``: this checkout's last run
    (:func:`load_timings`), else the times measured when the book was written (``expected_seconds`` of
    ``book/profiles.yml``)."""
    reports = build_dirs(config.root)["reports"]
    return dict(config.expected_seconds.get(profile, {})) | load_timings(reports, profile)


def _record_timing(reports_dir: Path, profile: str, run: NotebookRun) -> None:
    if run.status != "ok":
        return
    timings = load_timings(reports_dir, profile) | {run.name: round(run.seconds, 2)}
    path = reports_dir / f"timings-{profile}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(timings, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class _RunBar:
    """One progress bar for a whole profile run, in expected seconds: each chapter's time at its last run
    (the median of the known ones for a chapter never run); it advances with the clock inside a chapter
    (never past the chapter's expectation) and takes the true time when the chapter ends."""

    def __init__(self, names: Sequence[str], expected: dict[str, float], profile: str, enabled: bool) -> None:
        known = sorted(expected[n] for n in names if n in expected)
        fallback = known[len(known) // 2] if known else 30.0
        self.expected = {n: expected.get(n, fallback) for n in names}
        self.guessed = {n for n in names if n not in expected}
        self.remaining = dict(self.expected)
        self.done = 0.0
        self.current = ""
        self.started = time.perf_counter()
        self.bar = tqdm(total=round(sum(self.expected.values()), 1), disable=not enabled,
                        desc=f"book ({profile})", bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                        "{n:.0f}/{total:.0f} s expected [{elapsed}<{remaining}]{postfix}")
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        if enabled:
            self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(0.5):
            name = self.current
            if name:
                inside = min(time.perf_counter() - self.started, 0.99 * self.expected[name])
                self.bar.n = round(self.done + inside, 1)
                self.bar.refresh()

    def start(self, name: str) -> None:
        self.current, self.started = name, time.perf_counter()
        guess = " (a guess: never run)" if name in self.guessed else ""
        self.bar.set_postfix_str(f"{name}, expected {self.expected[name]:.0f} s{guess}")

    def running(self, names: Sequence[str]) -> None:
        """Chapters in parallel: the bar advances only as they finish; it names those running."""
        self.bar.set_postfix_str("running: " + (", ".join(names) or "-"))

    def finish(self, name: str, seconds: float) -> None:
        self.current = ""
        self.remaining.pop(name, None)
        self.done += seconds
        self.bar.total = round(self.done + sum(self.remaining.values()), 1)
        self.bar.n = round(self.done, 1)
        self.bar.refresh()

    def close(self) -> None:
        self.stop.set()
        self.bar.close()


def run(
    profile: str,
    only: Sequence[str] | None = None,
    *,
    root: str | Path = ".",
    progress: bool = True,
    force: bool = False,
    device: str | None = None,
    jobs: int = 1,
) -> list[NotebookRun]:
    """Run the chapters (all of ``_toc.yml``, or ``only``) under ``profile``; write a run summary and each
    chapter's time (``_build/reports/timings-<profile>.json``, the next run's expectations).

    Chapters already executed with the same source, parameters and library are skipped unless ``force``.
    ``progress`` shows one bar for the whole run, in expected seconds. ``device`` goes to the chapters
    that take one. ``jobs`` > 1 executes up to that many chapters at once, each in its own process, a chapter
    starting only after those it reads (``after`` in ``book/profiles.yml``); the numbers are the same as in
    a sequential run (each result has its own seed and cache entry).
    """
    check_profile(profile)
    config = load_config(root)
    names = list(only) if only else config.names
    for name in names:
        config.notebook(name)  # refuse unknown names before anything runs
    runs: list[NotebookRun] = []
    reports = build_dirs(config.root)["reports"]
    summary_path = reports / f"summary-{profile}.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    bar = _RunBar(names, expected_times(config, profile), profile, progress)
    jobs = check_int("jobs", jobs, low=1)
    if jobs > 1:
        try:
            with _sigterm_as_interrupt():
                return _run_parallel(config, names, profile, jobs, force=force, device=device, bar=bar,
                                     summary_path=summary_path)
        finally:
            bar.close()
    try:
        with _sigterm_as_interrupt():
            for i, name in enumerate(names, 1):
                if not progress:
                    print(f"[{i}/{len(names)}] {name} ({profile})", file=sys.stderr, flush=True)
                bar.start(name)
                try:
                    runs.append(run_notebook(config, name, profile, progress=False, force=force,
                                             device=device))
                    bar.finish(name, runs[-1].seconds)
                    _record_timing(reports, profile, runs[-1])
                except NotebookFailed:
                    runs.append(NotebookRun(name=name, status="failed"))
                    raise
                except KeyboardInterrupt:
                    runs.append(NotebookRun(name=name, status="interrupted"))
                    raise
                finally:
                    _write_summary(summary_path, profile, config.seed, runs)
    finally:
        bar.close()
    return runs


def chapter_priorities(names: Sequence[str], after: Mapping[str, Sequence[str]],
                       expected: Mapping[str, float]) -> dict[str, float]:
    """Each chapter's expected time plus the longest chain of chapters that come after it (its critical
    path, in seconds): ``--jobs`` starts the ready chapter with the largest first, so a chapter others wait
    for starts early."""
    dependents = {n: [m for m in names if n in after.get(m, ())] for n in names}
    priority: dict[str, float] = {}
    for name in reversed(list(names)):  # after: only lists earlier chapters, so dependents are done
        priority[name] = expected.get(name, 0.0) + max((priority[m] for m in dependents[name]), default=0.0)
    return priority


def _interruptible_worker() -> None:
    """Initializer of the chapter workers: SIGINT raises KeyboardInterrupt there even when the run was
    started with SIGINT ignored (``nohup make book &``, or any background job of a non-interactive shell),
    which the workers would inherit; :func:`_interrupt_workers` relies on it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Send SIGINT to the pool's workers: a chapter being executed stops (papermill shuts its kernel down),
    its finished points stay cached, and the worker returns to the pool, which then shuts down."""
    for process in list(getattr(pool, "_processes", {}).values()):  # no public handle on the workers
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGINT)


def _run_parallel(config: BookConfig, names: Sequence[str], profile: str, jobs: int, *, force: bool,
                  device: str | None, bar: _RunBar, summary_path: Path) -> list[NotebookRun]:
    """Up to ``jobs`` chapters at once on worker processes; a chapter is submitted once every chapter it comes
    after (among ``names``) has finished, the one with the longest critical path first
    (:func:`chapter_priorities`). A failure lets the running chapters
    finish, submits nothing more and raises :class:`NotebookFailed`; an interrupt cancels what has not
    started."""
    reports = summary_path.parent
    pending = list(names)
    prerequisites = {n: set(config.after.get(n, ())) & set(names) for n in names}
    priority = chapter_priorities(names, config.after, bar.expected)
    done: dict[str, NotebookRun] = {}
    running: dict[Future, str] = {}
    failure: str | None = None

    def record() -> None:
        _write_summary(summary_path, profile, config.seed,
                       [done.get(n, NotebookRun(name=n, status="pending")) for n in names])

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=context,
                               initializer=_interruptible_worker)
    try:
        while pending or running:
            finished_ok = {d for d, r in done.items() if r.status != "failed"}
            ready = [n for n in pending if prerequisites[n] <= finished_ok]
            ready.sort(key=lambda n: -priority[n])
            while failure is None and ready and len(running) < jobs:
                name = ready.pop(0)
                pending.remove(name)
                running[pool.submit(run_notebook, config, name, profile, progress=False, force=force,
                                    device=device)] = name
            bar.running(sorted(running.values(), key=names.index))
            if not running:
                break  # a failure left chapters that cannot start
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                name = running.pop(fut)
                try:
                    done[name] = fut.result()
                    bar.finish(name, done[name].seconds)
                    _record_timing(reports, profile, done[name])
                except NotebookFailed as exc:
                    done[name] = NotebookRun(name=name, status="failed", error=str(exc))
                    failure = failure or str(exc)
            record()
    except KeyboardInterrupt:
        for fut, name in running.items():
            fut.cancel()
            done.setdefault(name, NotebookRun(name=name, status="interrupted"))
        record()
        _interrupt_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if failure is not None:
        raise NotebookFailed(failure)
    return [done[n] for n in names]


def _write_summary(path: Path, profile: str, root_seed: int, runs: Sequence[NotebookRun]) -> None:
    """Rewrite the run summary: root seed, version, per-notebook status, time, cache use, figures."""
    summary = {
        "profile": profile,
        "root_seed": root_seed,
        "sgdtails_version": __version__,
        "notebooks": [asdict(r) for r in runs],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def load_summaries(reports_dir: str | Path) -> list[dict[str, Any]]:
    """The run summaries found in ``reports_dir`` (one per profile that has been run)."""
    out = []
    for path in sorted(Path(reports_dir).glob("summary-*.json")):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def format_summary(runs: Sequence[NotebookRun]) -> str:
    """A plain table: notebook, status, seconds, cache hits/misses, figures directory."""
    rows = [("notebook", "status", "time", "cache hit/miss", "figures")]
    for r in runs:
        fig_dir = str(Path(r.figures[0]).parent) if r.figures else "-"
        rows.append((r.name, r.status, f"{r.seconds:6.1f} s", f"{r.cache_hits}/{r.cache_misses}", fig_dir))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    total = sum(r.seconds for r in runs)
    return "\n".join([*lines, f"total {total:.1f} s (the chapters' times added up)"])
