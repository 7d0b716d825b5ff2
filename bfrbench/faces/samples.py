"""Real face photos available offline, as files (for the demo and for tests).

Sources (all reachable here and in CI without general internet access):

* ``astronaut.png``: ``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain).
* ``t1.jpg`` (group photo, 6 faces) and ``tom_hanks.png`` (112x112, already ArcFace-aligned) from the
  insightface 2.1 wheel (``insightface/data/images/``).
* ``obama.jpg``, ``obama2.jpg``, ``obama3.jpg``, ``biden.jpg`` from the face_recognition 1.3.0 *sdist*
  (``tests/test_images/``; the wheel does not ship them). The sdist is fetched once with
  ``pip download --no-deps --no-binary :all: face_recognition==1.3.0`` (PyPI is reachable), its SHA-256
  checked, and the four images extracted.

Everything is copied into ``$BFRBENCH_HOME/samples`` (or ``dest``) and reused on later calls.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from bfrbench.errors import BfrbenchError
from bfrbench.io.atomic import atomic_write_bytes

__all__ = ["sample_photos", "copy_samples", "SamplesError", "SAMPLE_NAMES", "FACE_RECOGNITION_SDIST_SHA256"]

FACE_RECOGNITION_SDIST = "face_recognition-1.3.0.tar.gz"
FACE_RECOGNITION_SDIST_SHA256 = "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
#: SHA-256 of the four images inside the sdist (checked after extraction).
_FR_IMAGES = {
    "obama.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "obama2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "obama3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "biden.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
}
_INSIGHTFACE_IMAGES = {"t1": "insightface/data/images/t1.jpg", "tom_hanks": "insightface/data/images/Tom_Hanks_54745.png"}

#: Names returned by :func:`sample_photos` (keys of its dict).
SAMPLE_NAMES = ("astronaut", "t1", "tom_hanks", "obama", "obama2", "obama3", "biden")


class SamplesError(BfrbenchError):
    """A sample photo could not be obtained (missing package, PyPI unreachable, bad checksum)."""


def _default_dest() -> Path:
    from bfrbench.weights import bfrbench_home

    return bfrbench_home() / "samples"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _astronaut(dest: Path) -> Path:
    out = dest / "astronaut.png"
    if not out.is_file():
        from skimage import data

        from bfrbench.io.images import write_png

        write_png(out, data.astronaut())
    return out


def _insightface(dest: Path, key: str) -> Path:
    rel = _INSIGHTFACE_IMAGES[key]
    out = dest / (key + Path(rel).suffix)
    if out.is_file():
        return out
    try:
        src = Path(str(metadata.distribution("insightface").locate_file(rel)))
    except metadata.PackageNotFoundError:
        raise SamplesError(f"sample photo {key!r} ships in the insightface wheel, which is not installed: "
                           "pip install insightface==2.1") from None
    if not src.is_file():
        raise SamplesError(f"sample photo {key!r}: {src} is missing from the installed insightface package")
    atomic_write_bytes(out, src.read_bytes())
    return out


def _fetch_sdist(cache: Path) -> Path:
    """Download (once) and verify the face_recognition 1.3.0 sdist into ``cache``."""
    tar_path = cache / FACE_RECOGNITION_SDIST
    if tar_path.is_file() and _sha256(tar_path) == FACE_RECOGNITION_SDIST_SHA256:
        return tar_path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
               "-q", "face_recognition==1.3.0", "-d", tmp]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SamplesError(f"cannot run pip to fetch the face_recognition 1.3.0 sdist (sample photos "
                               f"obama/biden): {exc}") from exc
        got = Path(tmp) / FACE_RECOGNITION_SDIST
        if res.returncode != 0 or not got.is_file():
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise SamplesError("could not download the face_recognition 1.3.0 sdist from PyPI for the sample photos "
                               f"obama/biden ({' '.join(cmd[2:])}): {tail[0]}. Is PyPI reachable?")
        digest = _sha256(got)
        if digest != FACE_RECOGNITION_SDIST_SHA256:
            raise SamplesError(f"{FACE_RECOGNITION_SDIST}: SHA-256 {digest} differs from the expected "
                               f"{FACE_RECOGNITION_SDIST_SHA256}")
        os.replace(got, tar_path)
    return tar_path


def _face_recognition_images(dest: Path) -> dict[str, Path]:
    outs = {Path(n).stem: dest / n for n in _FR_IMAGES}
    if all(p.is_file() for p in outs.values()):
        return outs
    tar_path = _fetch_sdist(dest / ".downloads")
    with tarfile.open(tar_path, "r:gz") as tf:
        for fname, digest in _FR_IMAGES.items():
            member = f"face_recognition-1.3.0/tests/test_images/{fname}"
            fh = tf.extractfile(member)
            if fh is None:  # pragma: no cover - the archive is checksummed
                raise SamplesError(f"{tar_path}: member {member} is missing")
            data = fh.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise SamplesError(f"{tar_path}: {member} has an unexpected SHA-256")
            atomic_write_bytes(dest / fname, data)
    return outs


def sample_photos(dest: str | os.PathLike[str] | None = None, *, names: tuple[str, ...] = SAMPLE_NAMES) -> dict[str, Path]:
    """Real face photos as local files, copied into ``dest`` (default ``$BFRBENCH_HOME/samples``).

    Args:
        dest: folder to copy into; reused when the files are already there.
        names: which photos to provide (subset of :data:`SAMPLE_NAMES`). The obama/biden photos need
            one PyPI download (about 3 MB) the first time.

    Returns:
        ``{name: path}`` in the order of ``names``. ``astronaut`` is a PNG, ``t1``/obama/biden JPEGs,
        ``tom_hanks`` a 112x112 PNG.

    Raises:
        SamplesError: a source package is missing, PyPI is unreachable or a checksum differs.
    """
    unknown = [n for n in names if n not in SAMPLE_NAMES]
    if unknown:
        raise SamplesError(f"unknown sample photo(s) {unknown}; known: {', '.join(SAMPLE_NAMES)}")
    root = Path(dest) if dest is not None else _default_dest()
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    fr: dict[str, Path] = {}
    for n in names:
        if n == "astronaut":
            out[n] = _astronaut(root)
        elif n in _INSIGHTFACE_IMAGES:
            out[n] = _insightface(root, n)
        else:
            if not fr:
                fr = _face_recognition_images(root)
            out[n] = fr[n]
    return out


def copy_samples(dest: str | os.PathLike[str], names: tuple[str, ...] = SAMPLE_NAMES) -> dict[str, Path]:
    """Copy sample photos into a plain folder (e.g. a demo's input folder); returns the new paths."""
    src = sample_photos(names=names)
    d = Path(dest)
    d.mkdir(parents=True, exist_ok=True)
    res = {}
    for n, p in src.items():
        q = d / p.name
        shutil.copyfile(p, q)
        res[n] = q
    return res
