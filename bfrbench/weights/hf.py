"""Hugging Face repositories in the weights registry: pinned revision, listed files, each verified.

A Hugging Face repository (e.g. a diffusers pipeline) is registered as one :class:`~bfrbench.weights.WeightFile`
per needed file, made by :func:`hf_files`; each entry carries in ``extra``:

* ``hf_repo``: ``owner/name``; ``hf_revision``: the pinned commit hash; ``hf_path``: the file's path in the repo;
* ``hf_group``: the group name shared by the repository's entries (``bfrbench weights fetch GROUP`` selects them
  all, since entry names are ``GROUP-...``).

:func:`fetch_hf` downloads one file with ``huggingface_hub.hf_hub_download(repo, path, revision=...)`` into a
scratch folder inside the entry's cache folder, checks its SHA-256 (registered, or recorded on first use like
every other entry) and moves it to the usual cache path. Offline (``BFRBENCH_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``)
it fails at once with how to import a snapshot by hand. :func:`import_snapshot` takes a local snapshot folder
(``huggingface-cli download REPO --revision REV --local-dir DIR``, or a copy of the repository) and imports every
listed file of a group from it, refusing the whole import when any file is missing or has the wrong digest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from bfrbench.errors import ChecksumError, DownloadError, RegistryError, WeightsError
from bfrbench.io.hashing import sha256_file
from bfrbench.weights.cache import check_file, expected_sha256, import_file
from bfrbench.weights.download import offline
from bfrbench.weights.registry import WeightFile, all_weights

__all__ = ["HFFile", "fetch_hf", "group_entries", "hf_files", "hf_offline", "hf_url", "import_snapshot", "is_hf"]

HFFile = tuple[str, str, str | None]  # (entry name suffix, path in the repository, sha256 or None)


def hf_url(repo: str, revision: str, path: str) -> str:
    """The file's ``resolve`` URL at the pinned revision (what huggingface_hub downloads)."""
    return f"https://huggingface.co/{repo}/resolve/{revision}/{path}"


def hf_files(group: str, repo: str, revision: str, files: Sequence[HFFile], *, license: str, source: str,
             note: str = "") -> list[WeightFile]:
    """One entry per listed file of a Hugging Face repository at a pinned revision.

    Args:
        group: entry-name prefix; entry ``i`` is named ``f"{group}-{files[i][0]}"``.
        repo: ``owner/name`` on huggingface.co.
        revision: a full commit hash (40 hex digits), never a branch name.
        files: (name suffix, path in the repository, SHA-256 or None for trust on first use).
    """
    if len(revision) != 40 or any(c not in "0123456789abcdef" for c in revision):
        raise ValueError(f"{repo}: revision must be a 40-hex commit hash, got {revision!r}")
    return [
        WeightFile(name=f"{group}-{suffix}", filename=Path(path).name, urls=(hf_url(repo, revision, path),),
                   sha256=sha, license=license, source=f"{source} ({path})", note=note,
                   extra={"hf_repo": repo, "hf_revision": revision, "hf_path": path, "hf_group": group})
        for suffix, path, sha in files
    ]


def is_hf(w: WeightFile) -> bool:
    """True for an entry that is a file of a Hugging Face repository."""
    return bool(w.extra.get("hf_repo"))


def hf_offline() -> bool:
    """True when ``BFRBENCH_OFFLINE`` or ``HF_HUB_OFFLINE`` is set."""
    return offline() or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _snapshot_hint(w: WeightFile) -> str:
    repo, rev, group = w.extra["hf_repo"], w.extra["hf_revision"], w.extra["hf_group"]
    return (f"To install it by hand, download the repository snapshot (e.g. `huggingface-cli download {repo} "
            f"--revision {rev} --local-dir DIR`) and run `bfrbench weights import {group} DIR`, or import this one "
            f"file with `bfrbench weights import {w.name} /path/to/{w.extra['hf_path']}`.")


def fetch_hf(w: WeightFile, dest: Path, cache_dir: Path) -> Path:
    """Download ``w`` with huggingface_hub at its pinned revision, verify, place at ``dest``. Caller holds the lock.

    Raises:
        DownloadError: offline, or the hub/network failed (the message says how to import a snapshot).
        ChecksumError: the downloaded file's SHA-256 differs from the registered/recorded one (nothing placed).
    """
    label = f"{w.name} ({w.extra['hf_repo']}@{w.extra['hf_revision'][:12]}:{w.extra['hf_path']})"
    if hf_offline():
        raise DownloadError(f"{label}: offline (BFRBENCH_OFFLINE or HF_HUB_OFFLINE is set). {_snapshot_hint(w)}")
    scratch = cache_dir / ".hf"
    try:
        from huggingface_hub import hf_hub_download

        got = Path(hf_hub_download(w.extra["hf_repo"], w.extra["hf_path"], revision=w.extra["hf_revision"],
                                   local_dir=scratch))
    except Exception as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise DownloadError(f"{label}: download failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})."
                            f" {_snapshot_hint(w)}") from exc
    try:
        check_file(w, got, force=True)  # records the digest on first use when none is registered
        os.replace(got, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    check_file(w, dest)  # refresh the verification stamp for the final path
    return dest


def group_entries(group: str) -> list[WeightFile]:
    """Entries of a Hugging Face group (``hf_group == group``), in registration order."""
    hits = [w for w in all_weights().values() if w.extra.get("hf_group") == group]
    if not hits:
        groups = sorted({w.extra["hf_group"] for w in all_weights().values() if w.extra.get("hf_group")})
        raise RegistryError(f"{group!r} is not a Hugging Face repository group; known groups: "
                            f"{', '.join(groups) or '(none)'}")
    return hits


def import_snapshot(name: str, folder: str | os.PathLike[str], *, copy: bool = True,
                    trust_on_first_use: bool = False) -> list[Path]:
    """Import files from a local snapshot folder of a Hugging Face repository.

    Args:
        name: a group (every listed file of the repository) or one Hugging Face entry name.
        folder: the snapshot root; file ``p`` of the repository is read from ``folder / p``.
        copy: copy (True) or move (False).
        trust_on_first_use: accept (and record) files whose entry has no registered or recorded SHA-256;
            without it such a file is refused, as for :func:`bfrbench.weights.import_file`.

    Returns:
        The cache paths, in entry order.

    Raises:
        WeightsError: a listed file is missing from the folder (nothing imported).
        ChecksumError: a file's SHA-256 differs from the registered/recorded one (nothing imported).
    """
    table = all_weights()
    entries = [table[name]] if name in table and is_hf(table[name]) else group_entries(name)
    root = Path(folder)
    if not root.is_dir():
        raise WeightsError(f"{root}: not a folder; expected a snapshot of {entries[0].extra['hf_repo']}")
    srcs = [root / w.extra["hf_path"] for w in entries]
    missing = [str(p.relative_to(root)) for p in srcs if not p.is_file()]
    if missing:
        raise WeightsError(f"{root}: snapshot of {entries[0].extra['hf_repo']} lacks {', '.join(missing)}; "
                           "nothing imported")
    for w, src in zip(entries, srcs):  # check every digest before placing anything
        exp = expected_sha256(w)
        if exp is None and not trust_on_first_use:
            raise ChecksumError(f"{src}: {w.name!r} has no registered SHA-256, so it cannot be checked: pass "
                                "`trust_on_first_use=True` to accept this snapshot and verify "
                                "every later use against its digests; nothing imported")
        if exp is not None and sha256_file(src) != exp:
            raise ChecksumError(f"{src}: SHA-256 does not match the expected {exp} for {w.name!r} "
                                f"({w.extra['hf_repo']}@{w.extra['hf_revision'][:12]}:{w.extra['hf_path']}); "
                                "nothing imported")
    return [import_file(w, src, copy=copy, trust_on_first_use=trust_on_first_use) for w, src in zip(entries, srcs)]

