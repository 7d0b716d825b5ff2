"""``bfrbench demo``: the embedded default job (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import status_for


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on real offline face photos (README's main job)",
                       description="Align real offline face photos, build degraded test sets, restore with the "
                                   "baselines, evaluate with the offline metrics, render the demo leaderboard.")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--workers", type=int, default=1, help="dask workers per stage (default 1: in process)")
    p.add_argument("--device", default="cpu", help="torch device for restoration and metrics")
    p.add_argument("--suite", default="demo", help="suite name or folder (default: demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.demo import run_demo

    summary = run_demo(args.out, workers=args.workers, device=args.device, suite=args.suite)
    return status_for(summary["failures"])
