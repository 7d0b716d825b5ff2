"""``bfrbench build testset``: build a degraded test set (thin layer over
:func:`bfrbench.testset.build_testset_with_references`).

Exit status (:mod:`bfrbench.exitcodes`): 0 all inputs ok; 3 the set was built but some inputs failed (listed in
testset.json and on stderr) or some images were refused their references; 1 on an error (bad
preset/recipe/arguments). Flags left out take the API function's defaults.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import status_for

#: API parameters this command forwards when given (the rest keep the API's defaults)
API_PARAMS = ("seed", "limit", "workers", "scheduler", "lq_only", "name", "refgroups", "max_refs", "ref_link")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "testset", help="build a degraded test set (HQ/LQ PNGs, manifest.parquet, testset.json)",
        description="Degrade every face image under --src with a preset or recipe, seeded per image; resumes an "
                    "interrupted build in --out. Exit status 3 when some inputs failed.",
        argument_default=argparse.SUPPRESS)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--preset", default=None, help="preset name (see datasets_build/presets), e.g. gfpgan")
    which.add_argument("--recipe", default=None, help="recipe YAML file")
    p.add_argument("--src", required=True, help="folder of aligned square face images")
    p.add_argument("--out", required=True, help="output test-set folder")
    p.add_argument("--seed", type=int, help="global seed (default 0)")
    p.add_argument("--limit", type=int, help="use only the first N inputs (sorted by path)")
    p.add_argument("--workers", type=int, help="1 = in process (default); N = local dask cluster of N workers")
    p.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--lq-only", action="store_true",
                   help="register a real-world set: inputs are LQ already (no HQ, no degradation)")
    p.add_argument("--name", help="test-set name (default: the --out folder name)")
    p.add_argument("--refgroups", metavar="DIR",
                   help="attach references from a 'bfrbench build refgroups' folder (refs/, references.parquet)")
    p.add_argument("--max-refs", type=int, metavar="K",
                   help="with --refgroups: keep the first K references of each image (default: all)")
    p.add_argument("--ref-link", choices=("copy", "hardlink", "symlink"),
                   help="with --refgroups: how reference files enter refs/ (default copy)")
    p.add_argument("--json", action="store_true", default=False, help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import given
    from bfrbench.errors import ConfigError
    from bfrbench.testset import build_testset_with_references

    which = args.preset or args.recipe
    if which is None and not getattr(args, "lq_only", False):
        raise ConfigError("give --preset NAME or --recipe FILE (or --lq-only for a real-world set)")
    res = build_testset_with_references(which, args.src, args.out, **given(args, *API_PARAMS))
    attached = res.references
    if args.json:
        from bfrbench.cli import print_json

        print_json(res.to_dict())
    else:
        print(f"{res.out}: {res.ok} images ({res.resumed} kept from an earlier run), {res.failed} failed; "
              f"preset {res.preset}; manifest sha256 {res.manifest_sha256[:12]}")
        if attached is not None:
            print(f"references: {attached['with_refs']} of {attached['ids']} images have references "
                  f"({attached['ref_files']} files in refs/)")
    for f in res.failures:
        print(f"bfrbench: skipped {f['input']}: {flags(f['reason'])}", file=sys.stderr)
    if attached is not None and attached.get("refused"):
        print(f"bfrbench: {attached['refused']} image(s) got no references: unsafe reference names "
              f"(listed in {args.out}/testset.json references.refused)", file=sys.stderr)
    for rz in res.resized[:10]:
        print(f"bfrbench: note: {rz['input']} resized {rz['from']} -> {rz['to']} (id {rz['id']}; listed in testset.json "
              "'resized', original size in the manifest column src_size)", file=sys.stderr)
    if len(res.resized) > 10:
        print(f"bfrbench: note: ... and {len(res.resized) - 10} more resized (see testset.json)", file=sys.stderr)
    for sk in res.skipped:
        print(f"bfrbench: skipped {sk['input']}: {flags(sk['reason'])}", file=sys.stderr)
    return status_for(res.any_failed)
