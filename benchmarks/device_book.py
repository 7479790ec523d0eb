"""The book's computations on a machine with an accelerator, where papermill and Jupyter are not installed.

Two steps::

    python benchmarks/device_book.py prepare --profile paper --device cuda --out .device
    # then, on the accelerator's machine, in the repository root (standard library + the book's runtime deps):
    python3 .device/run_chapters.py --out $OUT --jobs 10

``prepare`` (here) writes, for every chapter of ``_toc.yml`` in order, a plain Python script: the chapter's
code cells as the pipeline executes them (the parameters cell, then the values the pipeline injects for the
profile: ``sgdtails.runner.pipeline.chapter_parameters``, with ``device`` for the chapters that take one),
IPython magics commented out and IPython's display import replaced (the image may have no IPython). It also
writes a stub ``myst_nb`` (``glue`` does nothing), ``plan.json`` (the chapters, their ``after`` of
``book/profiles.yml`` and their critical paths from the profile's last timings) and the runner,
``benchmarks/device_runner.py``: it runs each chapter in its own process, up to ``--jobs`` at once in the
order ``--jobs`` of ``python -m sgdtails run`` would, and writes a JSON of the times. The chapter
``reproduce`` (the build's environment, which needs the runner's packages) is skipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from profile_book import _strip_magics, code_cells, resolve  # noqa: E402

from sgdtails.runner.pipeline import chapter_priorities, expected_times  # noqa: E402
from sgdtails.runner.profiles import load_config  # noqa: E402

SKIPPED = ("reproduce",)

#: imports of display helpers the chapters glue, replaced here (``glue`` is a no-op outside a book build, and
#: the accelerator's image may have no IPython)
DISPLAY_IMPORTS = {"from IPython.display import Markdown": "Markdown = str  # (device harness)"}


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
            code = _strip_magics(src)[0]
            for line, stand_in in DISPLAY_IMPORTS.items():
                code = code.replace(line, stand_in)
            parts.append(code)
            if "parameters" in tags:
                parts.append("# injected parameters\n" + injected)
        (out / "chapters" / f"{name}.py").write_text("\n\n".join(parts) + "\n")
    after = {n: [b for b in config.after.get(n, ()) if b in names] for n in names}
    expected = expected_times(config, profile)
    plan = {"profile": profile, "device": device or "cpu", "chapters": [{"name": n} for n in names],
            "after": after, "priority": chapter_priorities(names, after, expected)}
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    shutil.copyfile(HERE / "device_runner.py", out / "run_chapters.py")
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
