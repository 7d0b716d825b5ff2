"""Command-line interface: a thin layer over the public Python API.

Each subcommand lives in its own module ``bfrbench.cli.<module>`` exposing ``register(subparsers)``,
which adds a parser whose ``func`` default is ``run(args) -> int``. Modules import nothing heavy at
top level so ``bfrbench --help`` stays fast. A :class:`~bfrbench.errors.BfrbenchError` becomes a one-line
message on stderr and exit status 1; every status is a constant of :mod:`bfrbench.exitcodes`. Library
messages name parameters in backquotes (```out```, ```verify=False```); :func:`flags` shows them as flags.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from bfrbench.errors import BfrbenchError
from bfrbench.exitcodes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

# (group, module) pairs; group None = top-level command(s) registered by the module itself.
COMMAND_MODULES: tuple[tuple[str | None, str], ...] = (
    (None, "bfrbench.cli.align"),
    ("build", "bfrbench.cli.build_testset"),
    ("build", "bfrbench.cli.build_refgroups"),
    (None, "bfrbench.cli.restore"),
    (None, "bfrbench.cli.finetune"),
    (None, "bfrbench.cli.methods"),
    (None, "bfrbench.cli.evaluate"),
    (None, "bfrbench.cli.metrics"),
    (None, "bfrbench.cli.fid_stats"),
    (None, "bfrbench.cli.weights"),
    (None, "bfrbench.cli.leaderboard"),
    (None, "bfrbench.cli.verify"),
    (None, "bfrbench.cli.regress"),
    (None, "bfrbench.cli.validate"),
    (None, "bfrbench.cli.env"),
    (None, "bfrbench.cli.demo"),
    (None, "bfrbench.cli.train"),
)

GROUP_HELP = {"build": "build artifacts: degraded test sets, reference groups"}


def build_parser() -> argparse.ArgumentParser:
    from bfrbench import __version__

    parser = argparse.ArgumentParser(
        prog="bfrbench",
        description="Reproducible blind-face-restoration benchmarks: build test sets, restore, evaluate, rank.",
    )
    parser.add_argument("--version", action="version", version=f"bfrbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, Any] = {}
    for group, mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:  # command not built yet
                continue
            raise
        target = sub
        if group is not None:
            if group not in groups:
                gp = sub.add_parser(group, help=GROUP_HELP.get(group, group))
                groups[group] = gp.add_subparsers(dest=f"{group}_command", metavar="WHAT")
                gp.set_defaults(func=lambda a, _gp=gp: (_gp.print_help(), EXIT_USAGE)[1])
            target = groups[group]
        mod.register(target)
    return parser


def print_json(obj: Any) -> None:
    """Print a JSON result for ``--json`` output."""
    from bfrbench.io.atomic import canonical_json

    sys.stdout.write(canonical_json(obj))


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The API keyword arguments the user gave on the command line.

    Subcommands that forward to one API function declare their optional flags with
    ``argument_default=argparse.SUPPRESS``: a flag left out is absent from ``args`` and the API function's own
    default applies (the CLI never repeats a default).
    """
    return {n: getattr(args, n) for n in names if hasattr(args, n)}


#: parameters whose flag is not ``--`` + the name with dashes (``True`` values of store_true flags are implied)
FLAG_NAMES: dict[str, str] = {
    "options": "--option", "base_options": "--base-option", "pseudo_options": "--pseudo-option",
    "verify=False": "--no-verify", "cache=False": "--no-cache", "significance=False": "--no-significance",
    "tensorboard=False": "--no-tensorboard", "check_hashes=False": "--no-hash",
}
_PARAM = re.compile(r"`([a-z][a-z0-9_]*)(?:=([^`]*))?`")


def flags(message: str) -> str:
    """A library message with its backquoted parameters shown as command-line flags.

    ```src``` -> ``--src``; ```refs_csv``` -> ``--refs-csv``; ```device=cpu``` -> ``--device cpu``;
    ```unaligned=True``` -> ``--unaligned``; ```verify=False``` -> ``--no-verify``; ```options``` -> ``--option``.
    """
    def one(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if m.group(0)[1:-1] in FLAG_NAMES:
            return FLAG_NAMES[m.group(0)[1:-1]]
        flag = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        return flag if value in (None, "True") else f"{flag} {value}"

    return _PARAM.sub(one, message)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except BfrbenchError as exc:
        print(f"bfrbench: error: {flags(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bfrbench: interrupted; finished outputs are kept and the next run resumes", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:  # console_scripts target
    sys.exit(main())


__all__ = ["main", "build_parser", "print_json", "json"]
