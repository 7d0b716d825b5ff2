"""``bfrbench align``: detect faces in photos and warp them to the FFHQ 5-point template (512x512).

Thin layer over :func:`bfrbench.faces.align.align_folder` (flags left out take its defaults). Exit status
(:mod:`bfrbench.exitcodes`): 0 every input gave a face, 3 some inputs had no face or could not be read (listed in
OUT/align.json and on stderr), 1 on a BfrbenchError.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import status_for

#: API parameters this command forwards when given (the rest keep the API's defaults)
API_PARAMS = ("detector", "size", "all_faces", "min_eye_distance", "workers", "scheduler")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "align", help="detect faces and align them to the FFHQ 5-point template",
        description="Detect faces in every image under SRC, warp each to the FFHQ 5-point template used by "
                    "facexlib's FaceRestoreHelper and write OUT/<id>.png plus OUT/align.json.",
        argument_default=argparse.SUPPRESS)
    p.add_argument("--src", required=True, help="folder of photos (searched recursively)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--detector",
                   help="dlib (default, offline), dlib-cnn, mtcnn (offline), retinaface (downloaded weights)")
    p.add_argument("--device", help="device for torch detectors (retinaface): cpu, cuda, ...")
    p.add_argument("--size", type=int, help="output size in pixels (default 512)")
    p.add_argument("--all-faces", action="store_true", help="write every face (<id>_<k>.png), not only the largest")
    p.add_argument("--min-eye-distance", type=float, metavar="PX",
                   help="ignore faces whose eye distance in the input is below PX pixels")
    par = p.add_mutually_exclusive_group()
    par.add_argument("--workers", type=int, help="local dask worker processes")
    par.add_argument("--scheduler", metavar="ADDR", help="existing dask scheduler, tcp://host:8786")
    p.add_argument("--json", action="store_true", default=False, help="print align.json to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import given, print_json
    from bfrbench.faces.align import align_folder

    kwargs = given(args, *API_PARAMS)
    if getattr(args, "device", None):
        kwargs["detector_options"] = {"device": args.device}
    rep = align_folder(args.src, args.out, **kwargs)
    if args.json:
        print_json(rep)
    else:
        c = rep["counts"]
        print(f"aligned {c['outputs']} face(s) from {c['inputs']} input(s) with {rep['detector']['name']}: "
              f"{c['ok']} ok, {c['several_faces']} with several faces, {c['no_face']} without a face, "
              f"{c['unreadable']} unreadable, {c['failed']} failed -> {args.out}")
    for sk in rep.get("skipped", []):
        print(f"skipped: {sk['input']}: {flags(sk['reason'])}", file=sys.stderr)
    for prob in rep["problems"][:20]:
        print(f"{prob['status']}: {prob['input']}: {flags(prob['reason'])}", file=sys.stderr)
    if len(rep["problems"]) > 20:
        print(f"... and {len(rep['problems']) - 20} more (see align.json)", file=sys.stderr)
    return status_for(rep["problems"])
