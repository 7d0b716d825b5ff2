"""``bfrbench env [--json]``: what this machine offers bfrbench (prints
:func:`bfrbench.provenance.environment_report`: versions, git revision, torch/CUDA/GPUs, the cache folder, which
weight files are present, and whether the optional offline backends import).
"""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="versions, torch/CUDA/GPU, cache folder, weights present, optional backends")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.provenance import environment_report

    rec = environment_report()
    if args.json:
        print_json(rec)
        return EXIT_OK
    env = rec["environment"]
    print(f"bfrbench {env['bfrbench']} (git {env.get('git') or 'n/a'}), Python {env['python']}, {env['platform']}")
    gpus = ", ".join(env.get("gpus") or []) or "none"
    print(f"torch {env.get('torch')}  CUDA {env.get('cuda')}  available={env.get('cuda_available')}  GPUs: {gpus}")
    print("packages:")
    for name, ver in env["packages"].items():
        print(f"  {name:24s} {ver or '-'}")
    print(f"cache: {rec['bfrbench_home']}" + ("  (BFRBENCH_OFFLINE is set)" if rec["offline"] else ""))
    w = rec["weights"]
    total = sum(len(v) for v in w.values())
    present = w.get("present", []) + w.get("unchecked", [])
    print(f"weights: {len(present)} of {total} present" + (f": {', '.join(sorted(present))}" if present else ""))
    if w.get("bad"):
        print(f"  bad: {', '.join(w['bad'])} (run `bfrbench weights verify`)")
    print("optional offline backends:")
    for dist, info in rec["optional_packages"].items():
        state = "imports" if info["imports"] else f"unavailable ({info['error']})"
        print(f"  {dist:28s} {info['version'] or '-':14s} {state}")
    return EXIT_OK
