"""``bfrbench evaluate --testset DIR --restored DIR --out DIR``: score a restored folder.

Exit status: 0 all images scored cleanly; 3 some images are missing or have an error text in
``per_image.parquet`` (the outputs are still written); 1 on a bfrbench error (bad arguments, missing
weights, not a test set).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import status_for


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="score restored images against a test set")
    p.add_argument("--testset", required=True, help="test-set folder (manifest.parquet, hq/)")
    p.add_argument("--restored", required=True, help="folder of restored <id>.png")
    p.add_argument("--out", required=True, help="evaluation folder to write (per_image.parquet, summary.json)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated specs, e.g. psnr,ssim:y,fid:clean-hq (default: the registry's default set; "
                        "a default whose weights are missing falls back or is left out, with a note; see "
                        "`bfrbench metrics list`)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass and per shard")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=1, help="local dask worker processes (default 1: in process)")
    g.add_argument("--scheduler", default=None, help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--protocol", default=None,
                   help="a paper's evaluation protocol (datasets_build/protocols: vqfr, refldm, dtbfr, ...) or a YAML "
                        "file: fixes the metric set and FID statistics (docs/metrics/protocols.md)")
    p.add_argument("--fid-stats", default=None, help="reference statistics .npz (or registered name) for fid:*-stats")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--no-verify", action="store_true",
                   help="score HQ/restored files whose SHA-256 differs from the manifest / run.json (recorded as "
                        "warnings in summary.json)")
    p.add_argument("--json", action="store_true", help="print summary.json instead of a table")
    p.set_defaults(func=run)


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text metric table of a summary dict."""
    from bfrbench.tables import Column
    from bfrbench.tables import format_table as table

    def better(hib: object) -> str:
        return "higher" if hib else "lower"

    rows: list[tuple[object, ...]] = []
    for col, m in summary["metrics"].items():
        lo, hi = m["ci95"]
        rows.append((col, "n/a" if m["mean"] is None else f"{m['mean']:.4f}",
                     "" if lo is None else f"[{lo:.4f}, {hi:.4f}]", m["n"], better(m["higher_is_better"])))
    for col, s in summary.get("set_metrics", {}).items():
        rows.append((col, "n/a" if s.get("value") is None else f"{s['value']:.4f}", "", s.get("n", ""),
                     better(s.get("higher_is_better")) + (f"  ({s['error']})" if s.get("error") else "")))
    cols: list[str | Column] = [Column("metric", min_width=22), Column("mean", ">", 10), Column("95% CI", ">", 23),
                                Column("n", ">", 6), "better"]
    c = summary["counts"]
    return (table(cols, rows, sep=(" ", " ", " ", "  ")) +
            f"\nimages: {c['scored']} scored of {c['expected']} expected; {c['missing']} missing, "
            f"{c['extra']} extra, {c['with_errors']} with errors")


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.errors import ConfigError
    from bfrbench.metrics.engine import evaluate

    metrics = None
    if args.metrics:
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if not metrics:
            raise ConfigError(f"--metrics {args.metrics!r} names no metric")
    summary = evaluate(args.testset, args.restored, args.out, metrics=metrics, device=args.device,
                       batch_size=args.batch_size, workers=args.workers, scheduler=args.scheduler,
                       fid_stats=args.fid_stats, cache=not args.no_cache, command=sys.argv,
                       verify=not args.no_verify, protocol=args.protocol)
    if args.json:
        print_json(summary)
    else:
        print(format_table(summary))
        print(f"wrote {args.out}/per_image.parquet and {args.out}/summary.json")
    for f in summary.get("verification", {}).get("failures", [])[:10]:
        print(f"bfrbench evaluate: not scored {f['id']}: {flags(f['reason'])}", file=sys.stderr)
    for w in summary.get("verification", {}).get("warnings", [])[:10]:
        print(f"bfrbench evaluate: warning (--no-verify): {flags(w)}", file=sys.stderr)
    c = summary["counts"]
    if c["with_errors"] or c["missing"]:
        print(f"bfrbench evaluate: {c['with_errors']} image(s) with errors ({c['missing']} missing); "
              "see the 'error' column of per_image.parquet", file=sys.stderr)
    return status_for(c["with_errors"] or c["missing"])
