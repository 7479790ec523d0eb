"""Command line: ``python -m sgdtails run --profile {smoke,default,paper} [--only NAME ...] [--device D]
[--jobs N]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sgdtails.runner.pipeline import NotebookFailed, format_summary, run
from sgdtails.runner.profiles import PROFILES, ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sgdtails", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters through papermill")
    run.add_argument("--profile", default="default",
                     help=f"parameter profile: one of {', '.join(PROFILES)} (default: default)")
    run.add_argument("--only", nargs="+", metavar="NAME", help="run only these chapters")
    run.add_argument("--root", default=".", help="book root holding _toc.yml (default: .)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    run.add_argument("--device", default=None,
                     help="run the chapters that take a device there (e.g. cuda); default: their own (cpu)")
    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="execute up to N chapters at once, each in its own process (default: 1); a chapter "
                          "starts after those whose results it reads (after: in book/profiles.yml)")
    run.add_argument("--force", action="store_true",
                     help="execute chapters even when their source, parameters and library are unchanged")
    lst = sub.add_parser("list", help="list the chapters and profiles")
    lst.add_argument("--root", default=".")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run" and args.jobs < 1:
        parser.error(f"--jobs must be an integer >= 1, got {args.jobs}")
    try:
        if args.command == "list":
            config = load_config(args.root)
            print("profiles:", ", ".join(PROFILES))
            print("notebooks:", ", ".join(config.names))
            return 0
        start = time.perf_counter()
        try:
            runs = run(args.profile, args.only, root=args.root, progress=not args.no_progress,
                       force=args.force, device=args.device, jobs=args.jobs)
        except NotebookFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted: finished sweep points are cached; run again to resume", file=sys.stderr)
            return 130
        print(format_summary(runs))
        print(f"wall clock {time.perf_counter() - start:.1f} s")
        return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
