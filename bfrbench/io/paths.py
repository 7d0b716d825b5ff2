"""The one place that turns names read from an artifact (ids, relative paths) into file-system paths.

Artifact contents are untrusted (docs/security.md): a manifest, ``run.json``, ``references.parquet`` or
``results.json`` may have been written by someone else. Every stage that builds a path from such a value goes
through this module, so a crafted value can never make bfrbench read or write outside the artifact folder.

**Ids** (manifest ``id``, run.json image keys, reference ids) become file stems (``OUT/<id>.png``,
``OUT/.state/<id>.json``). The rule (:func:`check_id`): a non-empty string of at most
:data:`MAX_ID_BYTES` UTF-8 bytes, with no ``/``, ``\\``, NUL or other control character, and not starting
with ``.`` (which also excludes ``.`` and ``..``; hidden names are never inputs). Every id ``bfrbench build
testset`` has made is a file stem of a non-hidden file (``face``, ``face-2``, ``img (1)``, ``00001``) and
therefore passes; so do the ``a__b`` ids of ``restore --unaligned``.

**Relative paths** (manifest ``hq_path`` / ``lq_path``, ``ref_paths``, ``results.json`` artifact folders,
reference names of a reference-groups folder) are resolved by :func:`resolve_inside`: absolute paths and
``..`` components are refused before touching the disk, then the path is resolved (symlinks followed) and
must still lie inside the artifact folder (or one of the extra roots the caller names, e.g. the source
folders that ``--ref-link symlink`` references point into).

A refused value raises :class:`UnsafePathError` (an :class:`~bfrbench.errors.ArtifactError`) naming the
artifact file, the field, the value and the rule; callers treat it as a per-item failure (reported in the
artifact JSON, skipped, exit status 3).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

from bfrbench.errors import ArtifactError

__all__ = ["ID_RULE", "MAX_ID_BYTES", "UnsafePathError", "check_id", "id_problem", "resolve_inside"]

MAX_ID_BYTES = 250  # OUT/.state/<id>.json must fit the usual 255-byte file-name limit
ID_RULE = (f"an id must be a non-empty file stem of at most {MAX_ID_BYTES} UTF-8 bytes without '/', '\\', "
           "control characters or a leading '.'")


class UnsafePathError(ArtifactError):
    """A name or path read from an artifact would leave its folder (or is not a usable file stem).

    Attributes:
        where: the artifact file (and row) the value came from. field: column or key. value: the raw value.
    """

    def __init__(self, where: object, field: str, value: object, problem: str) -> None:
        self.where, self.field, self.value, self.problem = str(where), field, value, problem
        super().__init__(f"{self.where}: {field} {value!r} refused: {problem}")


def id_problem(item: object) -> str | None:
    """Why ``item`` is not a safe id (None when it is). See the module docstring for the rule."""
    if not isinstance(item, str):
        return f"not a string ({type(item).__name__})"
    if not item:
        return "empty"
    if item.startswith("."):
        return "starts with '.' (hidden names, '.' and '..' are not ids)"
    if "/" in item or "\\" in item:
        return "contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in item):
        return "contains a control character"
    if len(item.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"longer than {MAX_ID_BYTES} bytes"
    return None


def check_id(item: object, *, where: object, field: str = "id") -> str:
    """Return ``item`` when it is a safe file stem, else raise :class:`UnsafePathError`."""
    problem = id_problem(item)
    if problem is not None:
        raise UnsafePathError(where, field, item, f"{problem}; {ID_RULE}")
    return item  # type: ignore[return-value]


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def resolve_inside(root: str | os.PathLike[str], rel: object, *, where: object, field: str,
                   extra_roots: Iterable[str | os.PathLike[str]] = (), allow_dotdot: bool = False) -> Path:
    """``root / rel`` resolved, when it stays inside ``root`` (or an extra root); else UnsafePathError.

    Args:
        root: the artifact folder the value is relative to.
        rel: the value read from the artifact (a POSIX-style relative path such as ``hq/00001.png``).
        where: artifact file (and row) for the message; field: column or key name.
        extra_roots: other folders the resolved path may lie in (symlinked references).
        allow_dotdot: accept ``..`` components (only where the caller names ``extra_roots`` the user chose, e.g.
            a leaderboard work folder outside the suite); the resolved path must still be inside a root.

    Returns:
        The absolute, symlink-resolved path (it need not exist).
    """
    if not isinstance(rel, str) or not rel:
        raise UnsafePathError(where, field, rel, "not a non-empty path string")
    if "\x00" in rel:
        raise UnsafePathError(where, field, rel, "contains a NUL byte")
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        raise UnsafePathError(where, field, rel, "absolute paths are not allowed; paths must be relative to "
                                                 f"{root}")
    if not allow_dotdot and ".." in PurePosixPath(rel.replace("\\", "/")).parts:
        raise UnsafePathError(where, field, rel, f"'..' is not allowed; paths must stay inside {root}")
    base = Path(root).resolve()
    full = (base / rel).resolve()
    roots = [base, *(Path(r).resolve() for r in extra_roots)]
    if not any(_inside(full, r) for r in roots):
        raise UnsafePathError(where, field, rel, f"resolves (through a symlink) to {full}, outside {root}")
    return full
