"""``bfrbench metrics list [--json]``: every metric variant, its metadata and whether its weights are present."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("metrics", help="list metrics and their variants")
    sub = p.add_subparsers(dest="metrics_command", metavar="WHAT")
    lp = sub.add_parser("list", help="list every metric variant (name, kind, direction, range, weights present)")
    lp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lp.set_defaults(func=run)
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), 2)[1])


def _range(r: list[Any]) -> str:
    lo, hi = r
    return f"[{'-inf' if lo is None else format(lo, 'g')}, {'inf' if hi is None else format(hi, 'g')}]"


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.metrics import list_metrics
    from bfrbench.tables import format_table

    rows = list_metrics()
    if args.json:
        print_json(rows)
        return EXIT_OK
    header = ("spec", "kind", "better", "range", "default", "weights", "reference")
    print(format_table(header, [(r["spec"], r["kind"], "higher" if r["higher_is_better"] else "lower",
                                 _range(r["range"]), "*" if r["default"] else "", "yes" if r["weights_present"] else "no",
                                 r["reference"][:60]) for r in rows]))
    return EXIT_OK
