"""The papermill pipeline: runs chapters, reports a failing cell, refuses bad names, caches results."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import nbformat
import pytest

from sgdtails.runner.pipeline import (
    NotebookFailed,
    chapter_parameters,
    chapter_priorities,
    expected_times,
    format_summary,
    load_timings,
    run,
)
from sgdtails.runner.profiles import ConfigError, load_config
from tests.conftest import write_chapter


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sgdtails", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_run_injects_profile_parameters_and_caches(mini_book):
    runs = run("smoke", root=mini_book, progress=False)
    assert [r.status for r in runs] == ["ok", "ok"]
    nb = nbformat.read(mini_book / "book" / "alpha.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "n = 1" in injected.source and "seed = 7" in injected.source
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "2" in printed
    assert (runs[0].cache_hits, runs[0].cache_misses) == (0, 1)
    # unchanged source, parameters and library: not executed again
    unchanged = run("smoke", ["alpha"], root=mini_book, progress=False)
    assert unchanged[0].status == "up-to-date" and unchanged[0].seconds == 0.0
    # forced: executed again, every result read from the cache
    again = run("smoke", ["alpha"], root=mini_book, progress=False, force=True)
    assert again[0].status == "ok"
    assert (again[0].cache_hits, again[0].cache_misses) == (1, 0)
    # another profile's parameters: executed
    other = run("paper", ["alpha"], root=mini_book, progress=False)
    assert other[0].status == "ok" and other[0].cache_misses == 1
    summary = json.loads((mini_book / "_build" / "reports" / "summary-smoke.json").read_text())
    assert summary["root_seed"] == 7 and summary["notebooks"][0]["name"] == "alpha"
    assert "alpha" in format_summary(runs)


def test_failing_notebook_names_cell_and_keeps_partial_output(mini_book):
    write_chapter(mini_book, "beta", """
        # %%
        reached = True

        # %%
        raise ValueError("deliberate failure")

        # %%
        never = True
    """)
    with pytest.raises(NotebookFailed) as info:
        run("smoke", root=mini_book, progress=False)
    message = str(info.value)
    assert "'beta'" in message and "ValueError: deliberate failure" in message
    assert "failed in cell" in message and 'raise ValueError("deliberate failure")' in message
    partial = nbformat.read(mini_book / "book" / "beta.ipynb", as_version=4)
    assert any("reached = True" in c.source and c.get("execution_count") for c in partial.cells)
    report = (mini_book / "_build" / "reports" / "beta.log").read_text()
    assert "deliberate failure" in report
    summary = json.loads((mini_book / "_build" / "reports" / "summary-smoke.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["ok", "failed"]


def test_cli_exit_codes_and_messages(mini_book):
    ok = cli("run", "--profile", "smoke", "--only", "beta", "--no-progress", cwd=mini_book)
    assert ok.returncode == 0, ok.stderr
    assert "beta" in ok.stdout and "total" in ok.stdout and "wall clock" in ok.stdout
    bad_profile = cli("run", "--profile", "fast", cwd=mini_book)
    assert bad_profile.returncode == 2 and "valid profiles: smoke, default, paper" in bad_profile.stderr
    bad_name = cli("run", "--profile", "smoke", "--only", "gamma", cwd=mini_book)
    assert bad_name.returncode == 2 and "unknown notebook 'gamma'" in bad_name.stderr
    assert "alpha, beta" in bad_name.stderr
    listing = cli("list", cwd=mini_book)
    assert listing.returncode == 0 and "alpha, beta" in listing.stdout
    write_chapter(mini_book, "beta", "# %%\n1 / 0\n")
    failing = cli("run", "--profile", "smoke", "--no-progress", cwd=mini_book)
    assert failing.returncode == 1
    assert "notebook 'beta' failed in cell" in failing.stderr and "ZeroDivisionError" in failing.stderr


SLOW_CHAPTER = """
# %%
import time
from sgdtails._core.cache import sweep
def compute(p):
    time.sleep(0.5)
    return {"y": p["i"]}
out = sweep(cache_dir, "slow", [{"i": i, "seed": seed} for i in range(n)], compute, progress=False)
"""


def _terminate_slow_run(mini_book, n_points: int, *args: str, sigint: Any = signal.SIG_DFL
                        ) -> tuple[subprocess.Popen, str, float, int]:
    """Run the book with ``alpha`` = :data:`SLOW_CHAPTER` of ``n_points`` points (``args`` added to the
    command line; SIGINT's disposition ``sigint`` at its start: as in a terminal, or ``SIG_IGN`` as in
    ``nohup make book &``), SIGTERM it once 3 points are cached; return the process, its stderr, the seconds
    it took to exit after the signal and the points cached by then."""
    params = f"n = {n_points}\nrate = 0.5\nnames = ['a']\n"
    write_chapter(mini_book, "alpha", SLOW_CHAPTER, extra_params=params)
    (mini_book / "book" / "profiles.yml").write_text("seed: 7\nnotebooks: {}\n")
    command = [sys.executable, "-m", "sgdtails", "run", "--profile", "smoke", "--no-progress", *args]
    proc = subprocess.Popen(command, cwd=mini_book, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    slow = mini_book / "_build" / "cache" / "slow"
    deadline = time.monotonic() + 120
    while len(list(slow.glob("*.npz"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "run ended or stalled before the kill"
        time.sleep(0.05)
    killed = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc, err.decode(), time.monotonic() - killed, len(list(slow.glob("*.npz")))


def test_terminated_run_resumes_from_finished_points(mini_book):
    proc, err, _, finished = _terminate_slow_run(mini_book, 12, "--only", "alpha")
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert 3 <= finished < 12
    resumed = run("smoke", ["alpha"], root=mini_book, progress=False)
    # every point finished before the kill is reused; only the rest is computed
    assert (resumed[0].cache_hits, resumed[0].cache_misses) == (finished, 12 - finished)


WRITER = """
# %%
import time
from sgdtails._core.cache import cached
time.sleep(1.0)
out = cached(cache_dir, "shared", {"seed": seed}, lambda: {"t": time.time()})
"""
READER = """
# %%
import time
from sgdtails._core.cache import read_entry
from pathlib import Path
entries = list(Path(cache_dir, "shared").glob("*.npz"))
assert entries, "started before the chapter it comes after"
started = time.time()
assert started >= float(read_entry(entries[0])["t"])
"""


def test_parallel_run_respects_after_and_reports_in_toc_order(mini_book):
    write_chapter(mini_book, "alpha", WRITER, extra_params="n = 3\nrate = 0.5\nnames = ['a']\n")
    write_chapter(mini_book, "beta", READER)
    (mini_book / "book" / "profiles.yml").write_text("seed: 7\nafter: {beta: [alpha]}\nnotebooks: {}\n")
    runs = run("smoke", root=mini_book, progress=False, jobs=2)
    assert [(r.name, r.status) for r in runs] == [("alpha", "ok"), ("beta", "ok")]
    summary = json.loads((mini_book / "_build" / "reports" / "summary-smoke.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["ok", "ok"]
    with pytest.raises(ValueError, match="jobs"):
        run("smoke", root=mini_book, progress=False, jobs=0)


def test_a_chapter_others_wait_for_starts_first():
    names = ["a", "b", "c", "d"]
    pr = chapter_priorities(names, {"c": ["a"], "d": ["c"]}, {"a": 10.0, "b": 50.0, "c": 30.0, "d": 20.0})
    assert pr == {"a": 60.0, "b": 50.0, "c": 50.0, "d": 20.0}  # a: 10 + c's 30 + d's 20
    assert max(["a", "b"], key=pr.get) == "a"  # not b, the longest on its own


def test_parallel_run_names_the_failing_chapter_and_skips_what_comes_after_it(mini_book):
    write_chapter(mini_book, "alpha", "# %%\n1 / 0\n", extra_params="n = 3\nrate = 0.5\nnames = ['a']\n")
    (mini_book / "book" / "profiles.yml").write_text("seed: 7\nafter: {beta: [alpha]}\nnotebooks: {}\n")
    with pytest.raises(NotebookFailed, match="'alpha' failed in cell"):
        run("smoke", root=mini_book, progress=False, jobs=2)
    summary = json.loads((mini_book / "_build" / "reports" / "summary-smoke.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["failed", "pending"]
    bad_jobs = cli("run", "--profile", "smoke", "--jobs", "0", cwd=mini_book)
    assert bad_jobs.returncode == 2 and "--jobs must be an integer >= 1, got 0" in bad_jobs.stderr


@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["terminal", "sigint-ignored"])
def test_terminated_parallel_run_stops_its_chapters_and_resumes(mini_book, sigint):
    """The workers are stopped by SIGINT; a run started with SIGINT ignored (a background job) must not pass
    that on to them."""
    proc, err, stop_seconds, finished = _terminate_slow_run(mini_book, 40, "--jobs", "2", sigint=sigint)
    assert proc.returncode == 130, err[-2000:]
    assert stop_seconds < 15, "the running chapter was not stopped"
    assert 3 <= finished < 40
    summary = json.loads((mini_book / "_build" / "reports" / "summary-smoke.json").read_text())
    assert {n["name"]: n["status"] for n in summary["notebooks"]}["alpha"] == "interrupted"
    resumed = run("smoke", ["alpha"], root=mini_book, progress=False)
    assert resumed[0].cache_hits >= finished and resumed[0].cache_misses <= 40 - finished


def test_timings_are_recorded_and_device_goes_only_where_taken(mini_book):
    path = mini_book / "book" / "profiles.yml"
    path.write_text(path.read_text() + "expected_seconds: {smoke: {alpha: 12, beta: 3.5}}\n")
    assert expected_times(load_config(mini_book), "smoke") == {"alpha": 12.0, "beta": 3.5}  # before any run
    run("smoke", root=mini_book, progress=True)
    measured = expected_times(load_config(mini_book), "smoke")
    assert measured == load_timings(mini_book / "_build" / "reports", "smoke")  # this checkout's own
    timings = load_timings(mini_book / "_build" / "reports", "smoke")
    assert set(timings) == {"alpha", "beta"} and all(v > 0 for v in timings.values())
    config = load_config(mini_book)
    assert "device" not in chapter_parameters(config, "alpha", "smoke", "cuda")
    assert load_timings(mini_book / "_build" / "reports", "paper") == {}


def test_the_install_cell_comes_from_the_one_repository_setting(mini_book):
    (mini_book / "_config.yml").write_text("repository:\n  url: https://example.org/someone/fork\n")
    run("smoke", ["beta"], root=mini_book, progress=False)
    executed = nbformat.read(mini_book / "book" / "beta.ipynb", as_version=4)
    first_code = next(c for c in executed.cells if c.cell_type == "code")
    assert "git+https://example.org/someone/fork" in first_code.source
    assert "remove-cell" in first_code.metadata["tags"]
    (mini_book / "_config.yml").write_text("repository:\n  url: not a url\n")
    with pytest.raises(ConfigError, match="repository.url"):
        load_config(mini_book)


def test_no_chapter_hard_codes_the_repository(repo_root):
    for path in (repo_root / "book").glob("*.py"):
        assert "git+" not in path.read_text(encoding="utf-8"), path.name
