"""``bfrbench validate TARGET``: check a recipe (file or preset name) or re-hash a test-set folder
(:func:`bfrbench.validation.validate`).

* recipe: loads it (includes, keys, ops, ranges), draws the parameters of 3 sample images and prints them;
* test set (a folder with testset.json): re-hashes every HQ/LQ PNG against manifest.parquet and the manifest
  against testset.json.
Exit status 0 when valid, 1 otherwise (problems listed).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bfrbench.exitcodes import EXIT_ERROR, EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check a recipe file/preset, or re-hash a test set",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("target", help="recipe YAML, preset name, or test-set folder")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.validation import validate

    target = Path(args.target)
    report = validate(args.target)
    if args.json:
        from bfrbench.cli import print_json

        print_json(report)
    elif report["kind"] == "recipe":
        print(f"recipe {report['name']} v{report['version']} ok: steps {', '.join(report['steps'])}; "
              f"sha256 {report['sha256'][:12]}")
        for s in report["samples"]:
            print("  sample:", {k: v for k, v in s.items() if v is not None})
    else:
        status = "ok" if report["ok"] else f"{len(report['problems'])} problem(s)"
        print(f"test set {target}: {report['checked']} files checked, {status}")
        for prob in report["problems"]:
            print("  " + prob)
    return EXIT_OK if report["ok"] else EXIT_ERROR
