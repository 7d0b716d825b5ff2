"""``bfrbench verify RESULTS``: re-hash the inputs and outputs a results.json names; exit 1 on drift."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.exitcodes import EXIT_ERROR, EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="re-hash what a leaderboard results.json names and report drift")
    p.add_argument("results", help="results.json (or the suite folder holding it)")
    p.add_argument("--work", action="append", default=[], metavar="DIR",
                   help="also accept artifact folders under DIR (a work folder outside the suite folder)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.leaderboard.verify import verify_results

    rep = verify_results(args.results, roots=tuple(args.work))
    if args.json:
        from bfrbench.cli import print_json

        print_json(rep.as_dict())
    else:
        for d in rep.drifts:
            print(d.line(), file=sys.stderr)
        print(f"{rep.checked} checks, {len(rep.drifts)} drift(s): {'OK' if rep.ok else 'DRIFT'}")
    return EXIT_OK if rep.ok else EXIT_ERROR
