"""The accelerator harness (benchmarks/device_book.py, benchmarks/device_runner.py) runs the real chapters
where IPython, papermill and Jupyter are not installed, as on the accelerator's image.

Two of its runs there failed on exactly that (a chapter importing IPython's display, then a stand-in that
broke matplotlib), at a cost of device minutes; here the same scripts run on the CPU, smoke profile, with
those packages made unimportable for every process the runner starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, copy_book

#: what the accelerator's image lacks; the chapters' scripts and the runner must not need them
ABSENT = ("IPython", "papermill", "ipykernel", "jupyter_client", "nbformat", "jupytext")
#: the chapters that failed there, and the one jkr_open_question comes after
CHAPTERS = ("jkr_reproduce", "jkr_open_question", "relu_sweeps")


def _one_core() -> None:
    """Pin the runner and its chapters to one core (they inherit it): the chapters then use one worker
    each, and tests running beside this one on the other cores keep their timing."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def test_device_harness_runs_chapters_without_jupyter(tmp_path: Path) -> None:
    root = copy_book(tmp_path / "repo")
    device = root / ".device"
    prep = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_book.py"), "prepare",
                           "--profile", "smoke", "--device", "cpu", "--out", str(device)],
                          capture_output=True, text=True, timeout=120)
    assert prep.returncode == 0, prep.stderr[-3000:]
    plan = json.loads((device / "plan.json").read_text())
    assert plan["after"]["jkr_open_question"] == ["jkr_reproduce"]
    assert "reproduce" not in [c["name"] for c in plan["chapters"]]  # it needs the runner's packages

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(textwrap.dedent(f"""\
        import sys
        for name in {ABSENT!r}:
            sys.modules[name] = None  # "import name" raises ImportError, as where it is not installed
    """))
    env = os.environ | {"PYTHONPATH": str(blocker)}
    check = subprocess.run([sys.executable, "-c", "import IPython"], env=env, capture_output=True, text=True)
    assert check.returncode != 0 and "ModuleNotFoundError" in check.stderr  # the blocker works

    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(device / "run_chapters.py"), "--out", str(out), "--jobs", "2",
                          "--only", *CHAPTERS], env=env, capture_output=True, text=True, timeout=600,
                         preexec_fn=_one_core)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    report = json.loads((out / "device-smoke-jobs2.json").read_text())
    assert report["status"] == "ok"
    assert set(report["seconds"]) == set(CHAPTERS)
    assert report["device"] == "cpu"
    # the chapters ran against the copied book's build folders, and drew their figures
    assert any((root / "_build" / "cache").iterdir())
    for name in CHAPTERS:
        assert any((root / "_build" / "figures" / name).glob("*.png")), name


def test_device_runner_reports_a_failing_chapter(tmp_path: Path) -> None:
    """A chapter that raises: the runner names it, prints its traceback, exits 1 and still writes its
    report; the chapters after it are not started."""
    device = tmp_path / ".device"
    (device / "chapters").mkdir(parents=True)
    (tmp_path / "book").mkdir()
    (device / "chapters" / "first.py").write_text("raise ValueError('eta must be > 0')\n")
    (device / "chapters" / "second.py").write_text("print('second ran')\n")
    (device / "run_chapters.py").write_text((ROOT / "benchmarks" / "device_runner.py").read_text())
    (device / "plan.json").write_text(json.dumps({
        "profile": "smoke", "device": "cpu", "chapters": [{"name": "first"}, {"name": "second"}],
        "after": {"second": ["first"]}, "priority": {}}))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(device / "run_chapters.py"), "--out", str(out), "--jobs", "2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "first failed" in run.stdout and "eta must be > 0" in run.stdout
    assert "second ran" not in run.stdout
    report = json.loads((out / "device-smoke-jobs2.json").read_text())
    assert report["status"].startswith("first failed")
    assert list(report["seconds"]) == ["first"]
