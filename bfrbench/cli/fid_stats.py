"""``bfrbench fid-stats --src DIR --out FILE.npz``: FID reference statistics of a folder, streamed."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import status_for


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("fid-stats", help="compute FID statistics (mu, sigma) of an image folder")
    p.add_argument("--src", required=True, help="folder of images (searched recursively)")
    p.add_argument("--out", required=True, help="output .npz (mu, sigma, n, extractor, resize, source_sha256)")
    p.add_argument("--resize", choices=("legacy", "clean"), default="legacy",
                   help="legacy = pytorch-fid torch bilinear; clean = clean-fid PIL bicubic (default: legacy)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.metrics.fid import compute_fid_stats

    res = compute_fid_stats(args.src, args.out, resize=args.resize, batch_size=args.batch_size, device=args.device)
    if args.json:
        print_json(res)
    else:
        print(f"wrote {res['out']}: n={res['n']} resize={res['resize']} failed={len(res['failures'])}")
        for f in res["failures"]:
            print(f"  skipped {f['path']}: {f['reason']}")
    return status_for(res["failures"])
