"""Run the chapter scripts that ``benchmarks/device_book.py prepare`` wrote, timing each; copied next to them.

Standard library only (plus torch for the report), so that it runs under the accelerator image's python3::

    python3 .device/run_chapters.py --out $OUT [--jobs N] [--only NAME ...]

Each chapter runs in its own process (``--one NAME``), in ``book/``, with the stubs and ``src`` on the path,
matplotlib's Agg backend and one BLAS thread. ``--jobs N`` runs up to N chapters at once, a chapter starting
only after those it comes after (``after`` of ``book/profiles.yml``, copied into ``plan.json``), the longest
critical path first (``priority``: the profile's last timings); ``--jobs 1`` runs them in the book's order. A
failed chapter's dependents are not started; the others still run (to measure as much as one call allows).
Writes ``device-<profile>-jobs<N>.json``: each chapter's wall time, the total, the GPU and the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _one(name: str) -> int:
    """Execute one chapter script here; 1 (and the traceback) if it raises."""
    sys.path[:0] = [str(HERE / "stubs"), str(ROOT / "src")]
    os.chdir(ROOT / "book")
    code = compile((HERE / "chapters" / f"{name}.py").read_text(), f"<{name}>", "exec")
    try:
        exec(code, {"__name__": "__main__"})
    except BaseException:
        print(f"{name} failed: " + traceback.format_exc()[-3000:], flush=True)
        return 1
    return 0


def _schedule(plan: dict, names: list[str], jobs: int) -> tuple[dict[str, float], str, float]:
    """Run ``names`` on up to ``jobs`` processes respecting ``plan["after"]``; (times, status, total)."""
    after = {n: set(plan.get("after", {}).get(n, [])) & set(names) for n in names}
    priority = plan.get("priority", {})
    times: dict[str, float] = {}
    status = "ok"
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    pending, done = list(names), set()
    start = time.perf_counter()
    while pending or running:
        ready = sorted((n for n in pending if after[n] <= done), key=lambda n: -priority.get(n, 0.0))
        while ready and len(running) < jobs:  # after a failure, what does not depend on it still runs
            name = ready.pop(0)
            pending.remove(name)
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--one", name])
            running[name] = (proc, time.perf_counter())
        if not running:
            break
        time.sleep(0.2)
        for name, (proc, t0) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            times[name] = round(time.perf_counter() - t0, 2)
            if proc.returncode == 0:
                done.add(name)
                print(f"{name:20s} {times[name]:8.1f} s  (ends at {time.perf_counter() - start:6.1f} s)",
                      flush=True)
            elif status == "ok":
                status = f"{name} failed (exit {proc.returncode}); its traceback is printed above"
    return times, status, round(time.perf_counter() - start, 2)


def main() -> int:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["SGDTAILS_PROGRESS"] = "0"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(args.one)
    if args.jobs < 1:
        ap.error(f"--jobs must be an integer >= 1, got {args.jobs}")
    plan = json.loads((HERE / "plan.json").read_text())
    names = [e["name"] for e in plan["chapters"] if not args.only or e["name"] in args.only]
    times, status, total = _schedule(plan, names, args.jobs)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    report = {"profile": plan["profile"], "device": plan["device"], "jobs": args.jobs, "status": status,
              "seconds": times, "total_seconds": total, "torch": torch.__version__, "gpu": gpu,
              "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0))}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"device-{plan['profile']}-jobs{args.jobs}.json").write_text(json.dumps(report, indent=2))
    print(f"total {total:.1f} s with --jobs {args.jobs} ({status.splitlines()[0]})")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
