"""``bfrbench methods list [--json]``: every registered method with its metadata and weight status."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("methods", help="list restoration methods")
    sub = p.add_subparsers(dest="methods_command", metavar="WHAT")
    ls = sub.add_parser("list", help="every method: paper, references, stochastic, steps, weights present")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run)
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.methods.listing import list_methods
    from bfrbench.tables import format_table

    rows = list_methods()
    if args.json:
        print_json(rows)
        return EXIT_OK
    print(format_table(("name", "refs", "stochastic", "steps", "weights", "paper"), [(
        r["name"],
        ("required" if r["needs_refs"] else "optional") + f" <= {r['max_refs']}" if r.get("uses_refs") else "-",
        "yes" if r.get("stochastic") else "no",
        str(r.get("default_steps") if r.get("default_steps") is not None else "-"),
        r["weights_status"],
        (r.get("paper") or r.get("error") or "")[:60],
    ) for r in rows]))
    return EXIT_OK
