"""``bfrbench build refgroups``: FFHQ-Ref-style reference groups from a folder of aligned faces."""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "refgroups", help="build FFHQ-Ref-style identity groups, splits and reference lists",
        description="Embed aligned faces, link pairs under a cosine-distance threshold, take connected components "
                    "as identities, split them identity-disjointly and write FFHQ-Ref files plus parquet and a "
                    "report (docs/refgroups.md).")
    p.add_argument("--src", required=True, help="folder of aligned 512x512 faces (targets)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--embedder", default="arcface", help="identity embedder: arcface (default), dlib, facenet")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine-distance threshold (default: the embedder's documented default, 0.4 for ArcFace)")
    p.add_argument("--min-dist", type=float, default=None,
                   help="val/test references at distance >= this (default threshold/4: 0.1 for ArcFace's 0.4)")
    p.add_argument("--max-refs", type=int, default=9, help="at most this many references per val/test target (9)")
    p.add_argument("--min-refs", type=int, default=2, help="val/test targets need at least this many (2)")
    p.add_argument("--train-max-refs", type=int, default=None, help="cap for train targets (default: all)")
    p.add_argument("--split", default="train=0.9,val=0.05,test=0.05",
                   help="identities per split: fractions (train=0.9,val=0.05,test=0.05) or counts "
                        "(train=*,val=300,test=150)")
    p.add_argument("--stratify-by", default=None, metavar="COLUMN", help="attribute column to balance in test")
    p.add_argument("--attributes", default=None, metavar="FILE", help="CSV/parquet with columns image, COLUMN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", default=None, metavar="DIR",
                   help="take references from this second collection (CelebA-Test-Ref style; all --src are test)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=1, help="dask workers for embedding (1 = in process)")
    p.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    p.add_argument("--memory", type=float, default=1.0, help="GiB for one similarity tile (default 1)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the similarity products")
    p.add_argument("--json", action="store_true", help="print the refgroups.json record")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.refgroups import build_refgroups

    rec = build_refgroups(
        args.src, args.out, embedder=args.embedder, threshold=args.threshold, pool=args.pool, device=args.device,
        batch_size=args.batch_size, workers=args.workers, scheduler=args.scheduler, min_dist=args.min_dist,
        max_refs=args.max_refs, min_refs=args.min_refs, train_max_refs=args.train_max_refs, split=args.split,
        seed=args.seed, stratify_by=args.stratify_by, attributes=args.attributes,
        memory_bytes=int(args.memory * (1 << 30)), threads=args.threads)
    if args.json:
        print_json({k: v for k, v in rec.items() if k != "environment"})
    else:
        c = rec["counts"]
        print(f"{c['images']} images, {c['identities']} identities, {c['images_with_refs']} with references, "
              f"{c['targets']} targets -> {args.out}")
        for w in rec.get("warnings", []):
            print(f"warning: {flags(w)}")
    return EXIT_OK
