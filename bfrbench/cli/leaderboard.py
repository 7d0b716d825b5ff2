"""``bfrbench leaderboard run|render|list``: reproducible leaderboards (thin layer over bfrbench.leaderboard)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import EXIT_OK, EXIT_USAGE, status_for


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("leaderboard", help="run, render and list leaderboard suites")
    sub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), EXIT_USAGE)[1])

    r = sub.add_parser("run", help="build what is missing, restore, evaluate (cached), then render")
    r.add_argument("suite", help="suite name under leaderboards/, a suite folder or a suite.yaml")
    r.add_argument("--workers", type=int, default=1, help="dask workers per stage (default 1: in process)")
    r.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1 (default cpu)")
    r.add_argument("--work", default=None, help="artifact cache folder (default <suite>/_work)")
    r.add_argument("--method", action="append", default=None, help="only these method labels (repeatable)")
    r.add_argument("--no-render", action="store_true", help="do not render after running")
    r.add_argument("--json", action="store_true", help="print the run report as JSON")
    r.set_defaults(func=run_cmd)

    d = sub.add_parser("render", help="write README.md, results.csv, results.json, index.html and plots/")
    d.add_argument("suite")
    d.add_argument("--work", default=None, help="artifact cache folder (default <suite>/_work)")
    d.add_argument("--out", default=None, help="output folder (default the suite folder)")
    d.set_defaults(func=render_cmd)

    ls = sub.add_parser("list", help="list published suites")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_cmd)


def run_cmd(args: argparse.Namespace) -> int:
    from bfrbench.io.outdir import output_lock
    from bfrbench.leaderboard.render import render_suite
    from bfrbench.leaderboard.run import run_suite
    from bfrbench.leaderboard.suite import load_suite

    suite = load_suite(args.suite)
    with output_lock(args.work or suite.path / "_work", "bfrbench leaderboard run " + " ".join(map(str, [args.suite]))):
        report = run_suite(suite, work_dir=args.work, workers=args.workers, device=args.device, methods=args.method)
    if args.json:
        from bfrbench.cli import print_json

        print_json(report.as_dict())
    else:
        for s in report.stages:
            extra = f"  {flags(s.detail)}" if s.detail else ""
            print(f"{s.status:8s} {s.stage:9s} {s.name}  {s.seconds:.1f}s{extra}", file=sys.stderr)
        print(f"{report.count('built')} built, {report.count('cached')} cached, {len(report.failures)} failed",
              file=sys.stderr)
    if not args.no_render:
        res = render_suite(suite, work_dir=args.work)
        print(f"rendered {suite.path}/README.md, results.json ({len(res['rows'])} rows), index.html", file=sys.stderr)
    return status_for(report.failures)  # partial failure: 3, like every command (README "Exit status")


def render_cmd(args: argparse.Namespace) -> int:
    from bfrbench.leaderboard.render import render_suite

    if args.out is not None:
        from bfrbench.io.outdir import check_out
        from bfrbench.leaderboard.suite import load_suite

        check_out(args.out, {"`work`": args.work or load_suite(args.suite).path / "_work"})
    res = render_suite(args.suite, work_dir=args.work, out_dir=args.out)
    print(f"{len(res['rows'])} rows, content_sha256 {res['content_sha256']}")
    return EXIT_OK


def list_cmd(args: argparse.Namespace) -> int:
    from bfrbench.leaderboard.suite import suite_summaries

    rows = suite_summaries()
    if args.json:
        from bfrbench.cli import print_json

        print_json(rows)
    else:
        for r in rows:
            print(f"{r['name']:12s} {r['title']}  ({len(r['methods'])} methods, {len(r['testsets'])} test sets, "
                  f"{r['reported_rows']} reported rows{', rendered' if r['rendered'] else ''})")
    return EXIT_OK
