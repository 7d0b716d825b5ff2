"""Unaligned inputs: detect every face of a photo, align it, restore it, paste it back.

This is the whole-image path of the official CodeFormer/GFPGAN/InterLCM scripts (facexlib's
``FaceRestoreHelper``: detect 5 landmarks, warp each face to the FFHQ template at 512x512, restore, warp
back with a soft mask), written on bfrbench's own faces stage:

* detection: ``bfrbench.faces.get_detector(name)`` (offline default ``dlib``; ``retinaface`` with downloaded
  weights for users who want the facexlib detector);
* alignment and paste-back: ``bfrbench.faces.align_face`` / ``paste_back`` (FFHQ 5-point template).

Per face *k* of image ``id`` the seed is ``item_seed(image_seed, f"face{k:02d}")``, with ``image_seed`` the
runner's per-image seed; faces are ordered by the detector (decreasing box area). ``OUT/<id>.png`` is the
full photo with restored faces; ``OUT/faces/<id>_<k:02d>.png`` keeps every restored 512x512 crop. A photo
without detected faces is written unchanged (not a failure); a face that fails to restore keeps its
original pixels and the image is recorded as a failure only when every face failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bfrbench.errors import BfrbenchError
from bfrbench.methods._worker import Batch, BatchResult, call_restorer, peak_end, peak_start, write_output

if TYPE_CHECKING:
    from bfrbench.methods._base import Restorer

__all__ = ["restore_photo", "run_unaligned_batch"]


def restore_photo(restorer: Restorer, image: np.ndarray, seed: int, detector: Any) -> tuple[np.ndarray, list[np.ndarray | None], list[str | None]]:
    """Restore every face of one photo.

    Args:
        restorer: any Restorer (aligned 512 faces in, out).
        image: (H, W, 3) uint8 RGB photo.
        seed: the photo's seed; face k uses ``item_seed(seed, f"face{k:02d}")``.
        detector: a ``bfrbench.faces.Detector``.

    Returns:
        ``(full, crops, reasons)``: the (H, W, 3) uint8 photo with restored faces pasted back, the restored
        (512, 512, 3) crops (None where a face failed) and per-face failure reasons (None when restored).
    """
    from bfrbench.faces import align_face, paste_back
    from bfrbench.rng import item_seed

    faces = detector.detect(image)
    aligned = [align_face(image, f.landmarks, 512) for f in faces]
    crops: list[np.ndarray | None] = []
    reasons: list[str | None] = []
    bs = max(1, restorer.batch_size)
    for start in range(0, len(aligned), bs):
        chunk = aligned[start:start + bs]
        seeds = [item_seed(seed, f"face{k:02d}") for k in range(start, start + len(chunk))]
        outs, why = call_restorer(restorer, [c for c, _ in chunk], None, seeds, [{"face": k} for k in range(start, start + len(chunk))])
        crops += outs
        reasons += why
    full = image
    for (_, affine), crop, reason in zip(aligned, crops, reasons):
        if reason is None and crop is not None:
            full = paste_back(full, crop, affine)
    return full, crops, reasons


def run_unaligned_batch(restorer: Restorer, batch: Batch, res: BatchResult) -> None:
    """Runner hook: restore each photo of ``batch`` and write its outputs (records go into ``res``)."""
    from bfrbench.faces import DEFAULT_DETECTOR, get_detector
    from bfrbench.io import read_image, write_png

    job = batch.job
    out = Path(job.out)
    detector = get_detector(job.detector or DEFAULT_DETECTOR)
    for i, item in enumerate(batch.ids):
        try:
            img = read_image(batch.lq_paths[i])
            active = peak_start(restorer.device)
            t0 = time.perf_counter()
            full, crops, reasons = restore_photo(restorer, img, batch.seeds[i], detector)
            seconds = time.perf_counter() - t0
        except Exception as exc:  # one photo only
            res.failed[item] = str(exc) if isinstance(exc, BfrbenchError) else f"{type(exc).__name__}: {exc}"
            continue
        failed = [f"face {k}: {r}" for k, r in enumerate(reasons) if r is not None]
        if reasons and len(failed) == len(reasons):
            res.failed[item] = "every detected face failed: " + "; ".join(failed)
            continue
        for k, crop in enumerate(crops):
            if crop is not None:
                write_png(out / "faces" / f"{item}_{k:02d}.png", crop)
        res.done[item] = write_output(out, item, full, seconds=seconds, peak=peak_end(restorer.device, active),
                                      run_key=job.run_key, seed=batch.seeds[i],
                                      extra={"faces": len(reasons), "faces_failed": failed})
