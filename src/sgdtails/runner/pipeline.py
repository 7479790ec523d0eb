"""Execute the book's chapters through papermill for a profile, with progress, caching and failure reports.

Each chapter ``book/NAME.py`` (jupytext) is executed with the profile's parameters injected, into
``book/NAME.ipynb`` (what Jupyter Book renders). Results are cached under ``_build/cache`` and figures
written under ``_build/figures/NAME``. A failing cell stops the run: the partial notebook is kept and the
notebook, cell and error are named in ``_build/reports/NAME.log``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from sgdtails import __version__
from sgdtails._core.cache import LOG_ENV, PROGRESS_ENV, canonical_params, library_fingerprint
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


def show_parameters_once(nb: Any) -> None:
    """Hide the chapter's own parameters cell (its defaults) in the rendered page, so that the reader sees
    the values in effect once: in papermill's injected cell, which stays visible."""
    if not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def run_notebook(config: BookConfig, name: str, profile: str, *, progress: bool = True,
                 force: bool = False) -> NotebookRun:
    """Execute one chapter under ``profile``; raise :class:`NotebookFailed` naming the failing cell.

    A chapter whose source, parameters and library are unchanged since its last successful execution
    is not executed again (status ``"up-to-date"``) unless ``force``.
    """
    nb = config.notebook(name)
    dirs = build_dirs(config.root)
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    parameters = config.parameters_for(name, profile) | {
        "profile": profile,
        "seed": config.seed,
        # relative to the notebook's directory, where it runs: no machine paths in the published pages
        "cache_dir": os.path.relpath(dirs["cache"], nb.source.parent),
        "figures_dir": os.path.relpath(dirs["figures"], nb.source.parent),
    }
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
            jupytext.read(nb.source),
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


def run(
    profile: str,
    only: Sequence[str] | None = None,
    *,
    root: str | Path = ".",
    progress: bool = True,
    force: bool = False,
) -> list[NotebookRun]:
    """Run the chapters (all of ``_toc.yml``, or ``only``) under ``profile``; write a run summary.

    Chapters already executed with the same source, parameters and library are skipped unless ``force``.
    """
    check_profile(profile)
    config = load_config(root)
    names = list(only) if only else config.names
    for name in names:
        config.notebook(name)  # refuse unknown names before anything runs
    runs: list[NotebookRun] = []
    summary_path = build_dirs(config.root)["reports"] / f"summary-{profile}.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_as_interrupt():
        for i, name in enumerate(names, 1):
            print(f"[{i}/{len(names)}] {name} ({profile})", file=sys.stderr, flush=True)
            try:
                runs.append(run_notebook(config, name, profile, progress=progress, force=force))
            except NotebookFailed:
                runs.append(NotebookRun(name=name, status="failed"))
                raise
            except KeyboardInterrupt:
                runs.append(NotebookRun(name=name, status="interrupted"))
                raise
            finally:
                _write_summary(summary_path, profile, config.seed, runs)
    return runs


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
    return "\n".join([*lines, f"total {total:.1f} s"])
