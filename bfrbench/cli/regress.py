"""``bfrbench regress``: the regression gate (exit 1 when a metric worsens beyond tolerance or significantly)."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import EXIT_ERROR, EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("regress", help="compare candidate results with a baseline; exit 1 on regression")
    p.add_argument("--baseline", required=True, help="baseline results.json (or evaluation summary.json)")
    p.add_argument("--candidate", required=True, help="candidate results.json (or evaluation summary.json)")
    p.add_argument("--tolerance", action="append", default=None, metavar="METRIC=VALUE",
                   help="allowed worsening, per metric:variant or base name (repeatable), e.g. psnr:rgb=0.05")
    p.add_argument("--default-tolerance", type=float, default=0.0, help="for metrics without --tolerance (default 0)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the paired tests (default 0.05)")
    p.add_argument("--no-significance", action="store_true", help="ignore the paired tests; tolerances only")
    p.add_argument("--junit", default=None, metavar="FILE", help="also write JUnit XML here")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.io import atomic_write_text
    from bfrbench.leaderboard.regress import compare_results, diff_table, junit_xml, load_comparable, parse_tolerances

    diffs = compare_results(load_comparable(args.baseline), load_comparable(args.candidate),
                            tolerances=parse_tolerances(args.tolerance), default_tolerance=args.default_tolerance,
                            alpha=args.alpha, significance=not args.no_significance)
    if args.junit:
        atomic_write_text(args.junit, junit_xml(diffs))
    failed = sum(d.failed for d in diffs)
    if args.json:
        from bfrbench.cli import print_json

        print_json({"failed": failed, "diffs": [d.__dict__ for d in diffs]})
    else:
        print(diff_table(diffs), end="")
        print(f"{len(diffs)} metric(s) compared, {failed} regression(s)")
    return EXIT_ERROR if failed else EXIT_OK
