"""``bfrbench restore``: run a restoration method over a test set (thin layer over ``bfrbench.restore``).

Exit status (:mod:`bfrbench.exitcodes`): 0 all images restored, 3 some images failed (listed in run.json and
run.log), 1 on a BfrbenchError (bad arguments or inputs; nothing restored). Flags left out take the defaults of
:func:`bfrbench.methods.runner.restore`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.exitcodes import status_for

#: API parameters this command forwards when given (the rest keep the API's defaults)
API_PARAMS = ("device", "dtype", "batch_size", "seed", "refs", "refs_csv", "workers", "scheduler", "options",
              "limit", "unaligned", "detector", "verify")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "restore", help="restore a test set with a method (resumable, seeded, timed)",
        description="Restore every LQ face of a test set with METHOD into OUT (OUT/<id>.png, OUT/run.json). "
                    "Re-running resumes: finished, verified images are skipped.",
        argument_default=argparse.SUPPRESS)
    p.add_argument("--method", required=True, help="method name (see `bfrbench methods list`)")
    p.add_argument("--testset", required=True, help="test-set folder (or a folder of photos with --unaligned)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (cuda with --workers N: one GPU per worker)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], help="compute dtype of the method")
    p.add_argument("--batch-size", type=int, help="images per batch (default: the method's)")
    p.add_argument("--seed", type=int, help="run seed; image id gets item_seed(seed, id)")
    p.add_argument("--refs", type=int, metavar="K", help="references per image (first K)")
    p.add_argument("--refs-csv", metavar="FILE", help="refs.csv with columns id, ref_paths")
    par = p.add_mutually_exclusive_group()
    par.add_argument("--workers", type=int, help="local dask worker processes")
    par.add_argument("--scheduler", metavar="ADDR", help="existing dask scheduler, tcp://host:8786")
    p.add_argument("--option", dest="options", action="append", metavar="KEY=VALUE",
                   help="method option (repeatable), typed by the method's signature")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N ids")
    p.add_argument("--unaligned", action="store_true", help="detect, align, restore and paste back faces of photos")
    p.add_argument("--detector", help="face detector for --unaligned (bfrbench.faces)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="use LQ files whose SHA-256 differs from the manifest (recorded as warnings in run.json)")
    p.add_argument("--json", action="store_true", default=False, help="print run.json to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import flags, given, print_json
    from bfrbench.methods.runner import restore

    summary = restore(args.method, args.testset, args.out, **given(args, *API_PARAMS))
    if args.json:
        print_json(summary)
    else:
        c, t = summary["counts"], summary["timings"]
        mean = t["mean_seconds_per_image"]
        print(f"{summary['method']}: {c['ok']}/{c['total']} restored ({c['resumed']} resumed), {c['failed']} failed, "
              f"{t['total_seconds']:.1f} s" + (f", {mean:.3f} s/image" if mean is not None else "") + f" -> {args.out}")
    for w in summary.get("verification", {}).get("warnings", [])[:10]:
        print(f"bfrbench: warning (--no-verify): {flags(w)}", file=sys.stderr)
    for f in summary["failures"][:10]:
        print(f"failed {f['id']}: {flags(f['reason'])}", file=sys.stderr)
    if len(summary["failures"]) > 10:
        print(f"... and {len(summary['failures']) - 10} more (see run.json)", file=sys.stderr)
    return status_for(summary["failures"])
