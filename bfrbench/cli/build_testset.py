"""``bfrbench build testset``: build a degraded test set (thin layer over :func:`bfrbench.testset.build_testset`).

Exit status: 0 all inputs ok; 3 the set was built but some inputs failed (listed in testset.json and on
stderr); 1 on an error (bad preset/recipe/arguments).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_SOME_FAILED = 3


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "testset", help="build a degraded test set (HQ/LQ PNGs, manifest.parquet, testset.json)",
        description="Degrade every face image under --src with a preset or recipe, seeded per image; resumes an "
                    "interrupted build in --out. Exit status 3 when some inputs failed.")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--preset", help="preset name (see datasets_build/presets), e.g. gfpgan")
    which.add_argument("--recipe", help="recipe YAML file")
    p.add_argument("--src", required=True, help="folder of aligned square face images")
    p.add_argument("--out", required=True, help="output test-set folder")
    p.add_argument("--seed", type=int, default=0, help="global seed (default 0)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N inputs (sorted by path)")
    p.add_argument("--workers", type=int, default=1, help="1 = in process; N = local dask cluster of N workers")
    p.add_argument("--scheduler", default=None, help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--lq-only", action="store_true",
                   help="register a real-world set: inputs are LQ already (no HQ, no degradation)")
    p.add_argument("--name", default=None, help="test-set name (default: the --out folder name)")
    p.add_argument("--refgroups", default=None, metavar="DIR",
                   help="attach references from a 'bfrbench build refgroups' folder (refs/, references.parquet)")
    p.add_argument("--max-refs", type=int, default=None, metavar="K",
                   help="with --refgroups: keep the first K references of each image (default: all)")
    p.add_argument("--ref-link", choices=("copy", "hardlink", "symlink"), default="copy",
                   help="with --refgroups: how reference files enter refs/ (default copy)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.errors import ConfigError
    from bfrbench.testset import build_testset

    which = args.preset or args.recipe
    if which is None and not args.lq_only:
        raise ConfigError("give --preset NAME or --recipe FILE (or --lq-only for a real-world set)")
    if args.max_refs is not None and args.refgroups is None:
        raise ConfigError("--max-refs needs --refgroups DIR")
    if args.refgroups is not None and not (Path(args.refgroups) / "refgroups.json").is_file():
        raise ConfigError(f"--refgroups {args.refgroups}: not a reference-groups folder (no refgroups.json)")
    res = build_testset(which, args.src, args.out, seed=args.seed, limit=args.limit, workers=args.workers,
                        scheduler=args.scheduler, lq_only=args.lq_only, name=args.name)
    attached = None
    if args.refgroups is not None:
        from bfrbench.refgroups import attach_references

        attached = attach_references(args.out, args.refgroups, max_refs=args.max_refs, link=args.ref_link)
    if args.json:
        from bfrbench.cli import print_json

        print_json({**res.to_dict(), **({"references": attached} if attached is not None else {})})
    else:
        print(f"{res.out}: {res.ok} images ({res.resumed} kept from an earlier run), {res.failed} failed; "
              f"preset {res.preset}; manifest sha256 {res.manifest_sha256[:12]}")
        if attached is not None:
            print(f"references: {attached['with_refs']} of {attached['ids']} images have references "
                  f"({attached['ref_files']} files in refs/)")
    for f in res.failures:
        print(f"bfrbench: skipped {f['input']}: {f['reason']}", file=sys.stderr)
    if attached is not None and attached.get("refused"):
        print(f"bfrbench: {attached['refused']} image(s) got no references: unsafe reference names "
              f"(listed in {args.out}/testset.json references.refused)", file=sys.stderr)
    for rz in res.resized[:10]:
        print(f"bfrbench: note: {rz['input']} resized {rz['from']} -> {rz['to']} (id {rz['id']}; listed in testset.json "
              "'resized', original size in the manifest column src_size)", file=sys.stderr)
    if len(res.resized) > 10:
        print(f"bfrbench: note: ... and {len(res.resized) - 10} more resized (see testset.json)", file=sys.stderr)
    for sk in res.skipped:
        print(f"bfrbench: skipped {sk['input']}: {sk['reason']}", file=sys.stderr)
    return EXIT_SOME_FAILED if res.failed or (attached is not None and attached.get("refused")) else 0
