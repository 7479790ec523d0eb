"""The book's computations on a machine with an accelerator, where papermill and Jupyter are not installed.

Two steps::

    python benchmarks/device_book.py prepare --profile paper --device cuda --out .device
    # then, on the accelerator's machine, in the repository root (standard library + the book's runtime deps):
    python3 .device/run_chapters.py --out $OUT

``prepare`` (here) writes, for every chapter of ``_toc.yml`` in order, a plain Python script: the chapter's
code cells as the pipeline executes them (the parameters cell, then the values the pipeline injects for the
profile: ``sgdtails.runner.pipeline.chapter_parameters``, with ``device`` for the chapters that take one),
IPython magics commented out. It also writes a stub ``myst_nb`` (``glue`` does nothing) and the runner.
The runner executes the scripts one by one in ``book/`` with ``src`` on the path, matplotlib's Agg backend and
one BLAS thread, times each, stops at the first failure (naming the chapter and the error), and writes a JSON
and a table of the times. The chapter ``reproduce`` (the build's environment, which needs the runner's
packages) is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from profile_book import _strip_magics, code_cells, resolve  # noqa: E402

from sgdtails.runner.profiles import load_config  # noqa: E402

SKIPPED = ("reproduce",)

RUNNER = r'''"""Run the prepared chapters in order, timing each (written by benchmarks/device_book.py)."""
import argparse, json, os, sys, time, traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ["MPLBACKEND"] = "Agg"
os.environ["SGDTAILS_PROGRESS"] = "0"
sys.path[:0] = [str(HERE / "stubs"), str(ROOT / "src")]
ap = argparse.ArgumentParser()
ap.add_argument("--out", default=str(HERE))
ap.add_argument("--only", nargs="*")
args = ap.parse_args()
plan = json.loads((HERE / "plan.json").read_text())
times, status = {}, "ok"
start_all = time.perf_counter()
os.chdir(ROOT / "book")
for entry in plan["chapters"]:
    name = entry["name"]
    if args.only and name not in args.only:
        continue
    code = compile((HERE / "chapters" / f"{name}.py").read_text(), f"<{name}>", "exec")
    t0 = time.perf_counter()
    try:
        exec(code, {"__name__": "__main__"})
    except BaseException:
        times[name] = round(time.perf_counter() - t0, 2)
        status = f"{name} failed: " + traceback.format_exc()[-3000:]
        print(status, flush=True)
        break
    times[name] = round(time.perf_counter() - t0, 2)
    import matplotlib.pyplot as plt
    plt.close("all")
    print(f"{name:20s} {times[name]:8.1f} s", flush=True)
total = round(time.perf_counter() - start_all, 2)
import torch
report = {"profile": plan["profile"], "device": plan["device"], "status": status, "seconds": times,
          "total_seconds": total, "torch": torch.__version__,
          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
          "cores": os.cpu_count()}
Path(args.out).mkdir(parents=True, exist_ok=True)
(Path(args.out) / f"device-{plan['profile']}.json").write_text(json.dumps(report, indent=2))
print(f"total {total:.1f} s ({status.splitlines()[0]})")
'''


def prepare(profile: str, device: str | None, out: Path) -> list[str]:
    """Write the chapter scripts, the ``myst_nb`` stub and the runner under ``out``; return the chapters."""
    config = load_config(ROOT)
    (out / "chapters").mkdir(parents=True, exist_ok=True)
    (out / "stubs" / "myst_nb").mkdir(parents=True, exist_ok=True)
    (out / "stubs" / "myst_nb" / "__init__.py").write_text(
        '"""Stand-in for myst_nb outside a book build: glue does nothing."""\n\n\n'
        "def glue(*args, **kwargs):\n    return None\n")
    names = [n for n in config.names if n not in SKIPPED]
    for name in names:
        nb, parameters = resolve(ROOT, name, profile, device=device)
        injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        parts = []
        for src, tags in code_cells(nb.source):
            parts.append(_strip_magics(src)[0])
            if "parameters" in tags:
                parts.append("# injected parameters\n" + injected)
        (out / "chapters" / f"{name}.py").write_text("\n\n".join(parts) + "\n")
    plan = {"profile": profile, "device": device or "cpu", "chapters": [{"name": n} for n in names]}
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    (out / "run_chapters.py").write_text(RUNNER)
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="write the chapter scripts and the runner")
    prep.add_argument("--profile", default="paper")
    prep.add_argument("--device", default="cuda")
    prep.add_argument("--out", default=str(ROOT / ".device"))
    args = ap.parse_args(argv)
    names = prepare(args.profile, args.device, Path(args.out))
    print(f"prepared {len(names)} chapters under {args.out}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
