"""Output folders: never inside an input, and one writer at a time (docs/security.md).

* :func:`check_out`: refuse an output folder (or file) equal to or inside any input artifact or source
  folder, so a command can never overwrite its own inputs or ground truth, or read its own outputs back
  as inputs on a re-run.
* :func:`output_lock`: an advisory lock file ``OUT/.bfrbench.lock`` created with ``O_CREAT | O_EXCL`` and
  holding ``{pid, host, command, started}``. A second writer gets :class:`OutputLockedError` naming the
  holder. A lock whose pid is dead on this host is stale: it is taken over with a note on stderr (and the
  previous holder recorded in the new lock file). Locks held on another host are never taken over (delete
  the file by hand when that job is known to be gone).
* :func:`writes_output`: a decorator applying both to a public API function (``restore``, ``evaluate``,
  ``build_testset``, ``align_folder``, ``build_refgroups``, ``compute_fid_stats``, ``run_suite``, ...),
  naming its output and input arguments; the function's signature is unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bfrbench.errors import ArtifactError, ConfigError

__all__ = ["LOCK_NAME", "OutputLockedError", "check_out", "output_lock", "writes_output"]

LOCK_NAME = ".bfrbench.lock"
F = TypeVar("F", bound=Callable[..., Any])


class OutputLockedError(ArtifactError):
    """Another bfrbench process is writing the same output folder."""


def check_out(out: str | os.PathLike[str], inputs: Mapping[str, Any], *, param: str = "out") -> None:
    """Raise ConfigError when ``out`` equals or lies inside one of ``inputs`` (label -> folder or None).

    Inputs may be single paths or lists of paths; None entries are ignored. Symlinks are resolved.
    """
    o = Path(out).resolve()
    for label, value in inputs.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None or not isinstance(v, (str, os.PathLike)):
                continue
            i = Path(v).resolve()
            if o == i or i in o.parents:
                rel = "is" if o == i else "is inside"
                raise ConfigError(f"`{param}` {str(out)!r} {rel} {label} {str(v)!r}: outputs must not overwrite "
                                  f"or mix with inputs; choose an output folder outside {str(v)!r}")


def _holder_text(info: Mapping[str, Any]) -> str:
    return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')!s:.120}), "
            f"started {info.get('started')}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _try_create(lock: Path, info: Mapping[str, Any]) -> bool:
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(info), sort_keys=True) + "\n")
    return True


@contextlib.contextmanager
def output_lock(out: str | os.PathLike[str], command: str, *, name: str = LOCK_NAME) -> Iterator[dict[str, Any]]:
    """Hold ``OUT/.bfrbench.lock`` (or ``OUT/<name>``) for the duration of the block (``out`` is created if
    needed, and removed again when it was created here and is still empty at the end).

    Yields the lock record (``took_over`` set when a stale lock was replaced).

    Raises:
        OutputLockedError: the folder is locked by a live process (or by a process on another host).
    """
    d = Path(out)
    created = not d.exists()
    d.mkdir(parents=True, exist_ok=True)
    lock = d / name
    info: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for _ in range(5):
        if _try_create(lock, info):
            break
        try:
            held = json.loads(lock.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # released meanwhile: try again
        except (OSError, ValueError):
            held = None
        if not isinstance(held, dict) or not isinstance(held.get("pid"), int):
            raise OutputLockedError(f"{lock}: output folder {str(out)!r} is locked by an unreadable lock file; "
                                    "delete it if no bfrbench command is writing there")
        if held.get("host") != info["host"] or _pid_alive(held["pid"]):
            raise OutputLockedError(f"{out}: another bfrbench command is writing this folder: {_holder_text(held)}; "
                                    f"wait for it, or use another `out` (lock file {lock})")
        stale = lock.with_name(f"{name}.stale.{os.getpid()}")
        try:
            os.replace(lock, stale)  # only one taker wins the O_EXCL create below
        except FileNotFoundError:
            continue
        stale.unlink(missing_ok=True)
        info["took_over"] = dict(held)
        print(f"bfrbench: note: {out}: took over a stale lock ({_holder_text(held)} is no longer running)",
              file=sys.stderr)
    else:
        raise OutputLockedError(f"{lock}: could not take the output lock (contended); try again")
    try:
        yield info
    finally:
        try:
            cur = json.loads(lock.read_text(encoding="utf-8"))
            if cur.get("pid") == info["pid"] and cur.get("started") == info["started"]:
                lock.unlink()
        except (OSError, ValueError):
            pass
        if created:  # a command refused before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                d.rmdir()


def writes_output(out: str, *, inputs: tuple[str, ...], command: str, lock: bool = True,
                  is_file: bool = False) -> Callable[[F], F]:
    """Decorate an API function: check that argument ``out`` is outside the ``inputs`` arguments, then hold
    the output lock while it runs. ``is_file``: ``out`` names a file (the lock sits beside it as
    ``<file>.bfrbench.lock``)."""

    def deco(fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            dest = bound.arguments[out]
            if dest is None:
                return fn(*args, **kwargs)
            check_out(dest, {f"`{name}`": bound.arguments.get(name) for name in inputs})
            if not lock:
                return fn(*args, **kwargs)
            folder = Path(dest).parent if is_file else Path(dest)
            label = " ".join([command, *map(str, sys.argv[1:])]) if sys.argv[1:] else command
            name = f".{Path(dest).name}{LOCK_NAME}" if is_file else LOCK_NAME
            with output_lock(folder, label, name=name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
