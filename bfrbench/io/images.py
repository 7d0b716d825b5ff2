"""Image decode/encode policy used by every stage.

Decoding policy (``read_image``), documented in ``docs/io.md``:

* Formats: anything Pillow decodes (PNG, JPEG, WebP, TIFF, BMP, ...).
* EXIF orientation is applied (``ImageOps.exif_transpose``), so a rotated phone photo is upright.
* Mode conversion to RGB uint8 (HxWx3):
  - ``L``/``P``/``RGB``/``CMYK``/``YCbCr``: Pillow's ``convert("RGB")`` (palette expanded, gray replicated).
  - ``LA``/``PA``/``RGBA``: alpha composited over **white** (``alpha * c + (1 - alpha) * 255``, rounded).
  - 16-bit (``I;16``, ``I``) and 16-bit RGB PNG (decoded via OpenCV): scaled to 8 bits with
    ``round(v / 257)``; 32-bit float ``F``: clipped to [0, 1] then ``round(v * 255)`` (NaN/inf: ImageError).
* Decompression-bomb limit: images with more than ``MAX_PIXELS`` (default 64 Mpx, env
  ``BFRBENCH_MAX_PIXELS``) are refused before decoding pixels.
* Every failure raises :class:`~bfrbench.errors.ImageError` naming the file and the problem.

Encoding: PNG only for outputs (lossless; ``compress_level=6`` with no metadata chunks, so the bytes are a
function of the pixels alone).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bfrbench.errors import ImageError
from bfrbench.io.atomic import atomic_write_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
MAX_PIXELS = int(os.environ.get("BFRBENCH_MAX_PIXELS", 64 * 1024 * 1024))

__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "read_image", "encode_png", "write_png", "list_images", "list_skipped"]


def _to_uint8_rgb(img: Image.Image, path: str) -> np.ndarray:  # type: ignore[name-defined]  # noqa: F821

    mode = img.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3:4] / 255.0
        out = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        if mode == "I" and arr.max(initial=0) <= 255:
            arr8 = arr
        else:
            arr8 = arr / 257.0
        g = np.clip(np.rint(arr8), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "F":
        raw = np.asarray(img, dtype=np.float64)
        if not np.isfinite(raw).all():
            bad = int((~np.isfinite(raw)).sum())
            raise ImageError(path, f"float image has {bad} NaN/inf pixel(s); cannot convert to 8 bits")
        arr = np.clip(raw, 0.0, 1.0)
        g = np.rint(arr * 255.0).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "1":
        img = img.convert("L")
    try:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
    except Exception as exc:  # pragma: no cover - exotic modes
        raise ImageError(path, f"cannot convert image mode {mode!r} to RGB: {exc}") from exc


def _read_16bit_png(data: bytes, path: str) -> np.ndarray | None:
    """Decode 16-bit colour PNGs (Pillow reduces them to 8 bits inexactly); None if not 16-bit colour."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    if arr.shape[2] == 4:
        bgr = arr[..., :3].astype(np.float64)
        alpha = arr[..., 3:4].astype(np.float64) / 65535.0
        rgb16 = bgr[..., ::-1] * alpha + 65535.0 * (1 - alpha)
    else:
        rgb16 = arr[..., ::-1].astype(np.float64)
    return np.clip(np.rint(rgb16 / 257.0), 0, 255).astype(np.uint8)


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W, C) array, as ``ImageOps.exif_transpose`` does."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1)}
    fn = ops.get(orientation)
    return np.ascontiguousarray(fn(arr)) if fn else arr


def read_image(path: str | os.PathLike[str], *, min_size: int = 1) -> np.ndarray:
    """Decode an image file to RGB uint8, shape (H, W, 3), following the module's policy.

    Args:
        path: image file.
        min_size: smallest accepted height and width in pixels.

    Raises:
        ImageError: missing, unreadable, not an image, too large (decompression bomb) or too small.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = str(path)
    try:
        data = Path(p).read_bytes()
    except FileNotFoundError:
        raise ImageError(p, "file not found") from None
    except IsADirectoryError:
        raise ImageError(p, "is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(p, f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ImageError(p, "file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(p, f"image is {w}x{h} = {w * h} pixels, above the limit of {MAX_PIXELS} "
                                    "(decompression-bomb guard; raise BFRBENCH_MAX_PIXELS to allow it)")
            img.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(p, "not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(p, f"refused as a possible decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(p, f"corrupt or truncated image: {exc}") from None
    # exif_transpose returns a copy whose .format is None: remember the format and orientation first
    fmt = img.format
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:
        orientation = 1
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not make the pixels unusable
        pass
    arr = None
    if fmt == "PNG" and img.mode in ("RGB", "RGBA", "I;16", "I;16B", "I;16L", "I") and data[24:25] == b"\x10":
        arr = _read_16bit_png(data, p)
        if arr is not None:
            arr = _orient(arr, orientation)
    if arr is None:
        arr = _to_uint8_rgb(img, p)
    h, w = arr.shape[:2]
    if h < min_size or w < min_size:
        raise ImageError(p, f"image is {w}x{h}, smaller than the minimum {min_size}x{min_size}")
    return arr


def _check_rgb_uint8(arr: np.ndarray, what: str) -> None:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        desc = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise ValueError(f"{what}: expected an RGB uint8 array of shape (H, W, 3), got {desc}")


def encode_png(arr: np.ndarray) -> bytes:
    """Encode RGB uint8 (H, W, 3) as PNG bytes (deterministic: no timestamps or text chunks)."""
    import cv2

    _check_rgb_uint8(arr, "encode_png")
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover
        raise ValueError("PNG encoding failed")
    return bytes(buf.tobytes())


def write_png(path: str | os.PathLike[str], arr: np.ndarray) -> bytes:
    """Write ``arr`` as PNG atomically; returns the bytes written (so callers can hash them)."""
    data = encode_png(arr)
    atomic_write_bytes(path, data)
    return data


def list_skipped(src: str | os.PathLike[str], suffixes: Iterable[str] = IMAGE_SUFFIXES) -> list[dict[str, str]]:
    """Image-named entries under ``src`` that :func:`list_images` leaves out, as ``{input, reason}``:
    hidden files (a path part starting with ``.``) and dangling symlinks. Sorted by relative path."""
    root = Path(src)
    sfx = {s.lower() for s in suffixes}
    out = []
    for p in root.rglob("*"):
        if p.suffix.lower() not in sfx:
            continue
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            if p.is_file():
                out.append({"input": rel.as_posix(), "reason": "hidden file (a name in its path starts with '.')"})
        elif p.is_symlink() and not p.exists():
            out.append({"input": rel.as_posix(), "reason": f"dangling symlink (target {os.readlink(p)!r} missing)"})
    return sorted(out, key=lambda d: d["input"])


def list_images(src: str | os.PathLike[str], suffixes: Iterable[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files directly in ``src`` and below, sorted by relative path (hidden files skipped)."""
    root = Path(src)
    sfx = {s.lower() for s in suffixes}
    out = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in sfx and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(out, key=lambda q: q.relative_to(root).as_posix())
