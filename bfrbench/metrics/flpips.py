"""fLPIPS: LPIPS on the face region only, the "fLPIPS" column of ReF-LDM (Hsiao et al., NeurIPS 2024, Table 7).

Definition (ReF-LDM's evaluation script, ``scripts/eval.py`` of github.com/ChiWeiHsiao/ref-ldm): a binary
face mask is taken from the face-parsing map of the *HQ* image; both the restored and the HQ image are
multiplied by it (``img * mask[..., None]`` on the uint8 arrays, so the background becomes black) and the
usual LPIPS is computed on the two masked images. The mask keeps the classes skin, nose, eyeglasses, both
eyes, both brows, both ears, inner mouth and both lips (:data:`FACE_CLASSES`); hair, hat, earrings, neck,
necklace, cloth and background are zeroed.

Parser: ReF-LDM's semantic maps came from a parser it does not name; bfrbench uses facexlib's ParseNet
(``parsing_parsenet.pth``, weights ``facexlib-parsenet``), 19 CelebAMask-HQ classes in the order of
:data:`PARSENET_CLASSES` (facexlib's ``inference/inference_parsing_parsenet.py``). Preprocessing mirrors
facexlib's ``FaceRestoreHelper`` / ``inference_parsing_parsenet.py``: resize to 512x512 (``cv2.INTER_LINEAR``;
skipped for 512x512 images), RGB, ``x / 255`` then normalised with mean = std = 0.5 to [-1, 1]; labels are the
argmax of the first output (the parsing logits). For other sizes the label map is resized back to the image
with nearest-neighbour interpolation. LPIPS is bfrbench's ``lpips`` metric (same nets and weights).

Masks are cached per HQ image (content hash) in the feature cache, bit-packed; values per (restored, HQ)
pair as for ``lpips``. An HQ image whose parsing has no face pixel gives NaN with an error text (ReF-LDM's
formula would give 0, which says nothing about the restoration).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.metrics._base import ImageItem, Shared
from bfrbench.metrics.lpips import LPIPS, lpips_distances

__all__ = ["FACE_CLASSES", "FACE_LABELS", "FLPIPS", "PARSENET_CLASSES", "PARSENET_WEIGHTS", "apply_mask",
           "build_parsenet", "face_mask", "masked_lpips", "parse_labels"]

PARSENET_WEIGHTS = "facexlib-parsenet"

#: facexlib ParseNet output channels (CelebAMask-HQ classes), index = label
PARSENET_CLASSES: tuple[str, ...] = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)

#: ReF-LDM's "face" definition: skin, ears, nose, inner mouth, lips, brows, eyes, eyeglasses
FACE_CLASSES: tuple[str, ...] = ("skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
                                 "mouth", "u_lip", "l_lip")

#: the ParseNet labels of :data:`FACE_CLASSES`
FACE_LABELS: tuple[int, ...] = tuple(PARSENET_CLASSES.index(c) for c in FACE_CLASSES)

PARSENET_SIZE = 512


def face_mask(parsing_labels: np.ndarray) -> np.ndarray:
    """Boolean face mask (True on :data:`FACE_LABELS`) of an integer ParseNet label map."""
    labels = np.asarray(parsing_labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"face_mask expects integer parsing labels, got dtype {labels.dtype}")
    return np.isin(labels, FACE_LABELS)


def apply_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image * mask[..., None]`` for an RGB uint8 (H, W, 3) image and a boolean (H, W) mask (uint8 result)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ConfigError(f"expected an RGB uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ConfigError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    return image * mask.astype(bool)[..., None]


def masked_lpips(model: Any, mask: np.ndarray, restored: np.ndarray, hq: np.ndarray, *, device: str = "cpu") -> float:
    """fLPIPS of one pair: ``model`` (an ``lpips.LPIPS``) on both uint8 images multiplied by ``mask``."""
    return float(lpips_distances(model, [apply_mask(restored, mask)], [apply_mask(hq, mask)], device=device)[0])


@lru_cache(maxsize=2)
def build_parsenet(path: str, device: str = "cpu") -> Any:
    """facexlib's ParseNet (512 in, 512 out, 19 classes) with the weights at ``path`` (loaded weights-only)."""
    from facexlib.parsing.parsenet import ParseNet

    from bfrbench.weights import load_checkpoint

    model = ParseNet(in_size=PARSENET_SIZE, out_size=PARSENET_SIZE, parsing_ch=len(PARSENET_CLASSES))
    state = load_checkpoint(path)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a facexlib ParseNet checkpoint ({str(exc).splitlines()[0]})") from None
    return model.eval().to(device)


def parse_labels(model: Any, images: list[np.ndarray], *, device: str = "cpu", batch_size: int = 8) -> list[np.ndarray]:
    """ParseNet label maps (uint8, same H x W as each RGB uint8 image), preprocessed as facexlib does."""
    import cv2
    import torch

    size = (PARSENET_SIZE, PARSENET_SIZE)
    out: list[np.ndarray] = []
    for s in range(0, len(images), batch_size):
        chunk = images[s:s + batch_size]
        x = np.stack([im if im.shape[:2] == size else cv2.resize(im, size, interpolation=cv2.INTER_LINEAR)
                      for im in chunk])
        t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
        t = (t - 0.5) / 0.5
        with torch.inference_mode():
            logits = model(t.to(device))[0]
        labels = logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
        for im, lab in zip(chunk, labels):
            h, w = im.shape[:2]
            out.append(lab if (h, w) == size else cv2.resize(lab, (w, h), interpolation=cv2.INTER_NEAREST))
    return out


@lru_cache(maxsize=8)
def _file_sha256(path: str) -> str:
    from bfrbench.io import sha256_file

    return sha256_file(path)


class FLPIPS(LPIPS):
    """LPIPS on the face region (mask from ParseNet on the HQ image), ReF-LDM's fLPIPS."""

    name: ClassVar[str] = "flpips"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)
    variants: ClassVar[dict[str, str]] = {
        "vgg": "LPIPS-VGG16 on the face region, ParseNet mask of the HQ image (default; ReF-LDM's fLPIPS)",
        "alex": "LPIPS-AlexNet on the face region, ParseNet mask of the HQ image",
    }
    default_variant: ClassVar[str] = "vgg"
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"vgg": ("torchvision-vgg16", PARSENET_WEIGHTS),
                                                             "alex": ("torchvision-alexnet", PARSENET_WEIGHTS)}
    reference: ClassVar[str] = ("ReF-LDM scripts/eval.py fLPIPS definition (img * face mask of the HQ parsing, "
                                "then LPIPS); lpips 0.1.4 nets; facexlib 0.3.0 ParseNet as the face parser")
    paper: ClassVar[str] = "Hsiao et al., ReF-LDM, NeurIPS 2024 (Table 7); LPIPS: Zhang et al., CVPR 2018"

    def __init__(self, variant: str | None = None, *, device: str = "cpu", batch_size: int = 8,
                 backbone_path: str | Path | None = None, parsenet_path: str | Path | None = None) -> None:
        super().__init__(variant, device=device, batch_size=batch_size, backbone_path=backbone_path)
        self.parsenet_path = str(parsenet_path) if parsenet_path is not None else None

    def _parsenet_file(self) -> tuple[str, str]:
        """(path, SHA-256) of the ParseNet weights (registry entry, verified, unless a path was given)."""
        if self.parsenet_path is not None:
            return self.parsenet_path, _file_sha256(self.parsenet_path)
        from bfrbench.weights import file_sha256, resolve

        path = resolve(PARSENET_WEIGHTS)  # verified against the registered / recorded digest
        return str(path), file_sha256(PARSENET_WEIGHTS, path)

    def mask_extractor_id(self) -> str:
        """Feature-cache id of the HQ face masks (parser weights, preprocessing, class list)."""
        _, sha = self._parsenet_file()
        labels = "-".join(map(str, FACE_LABELS))
        return f"facemask/facexlib-parsenet/{sha}/{PARSENET_SIZE}-bilinear-nearest/labels{labels}/v1"

    def cache_id(self) -> str:
        return super().cache_id() + f"/parsenet:{self._parsenet_file()[1]}"

    def masks(self, hq: list[ImageItem], shared: Shared) -> list[np.ndarray]:
        """Boolean face masks of the HQ images, cached bit-packed per HQ content hash."""

        def compute(idx: list[int]) -> np.ndarray:
            path, _ = self._parsenet_file()
            model = build_parsenet(path, self.device)
            labels = parse_labels(model, [hq[i].image for i in idx], device=self.device,  # type: ignore[misc]
                                  batch_size=self.batch_size)
            packed = np.empty(len(idx), dtype=object)  # masks of different sizes cannot share one array
            for j, lab in enumerate(labels):
                packed[j] = np.packbits(face_mask(lab), axis=-1)
            return packed

        stored = shared.get_keyed(self.mask_extractor_id(), [h.sha256 for h in hq], compute)
        return [np.unpackbits(p, axis=-1, count=h.image.shape[1]).astype(bool)  # type: ignore[union-attr]
                for p, h in zip(stored, hq)]

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        keys = [f"{r.sha256}-{h.sha256}" for r, h in zip(restored, hq)]

        def compute(idx: list[int]) -> np.ndarray:
            masks = self.masks([hq[i] for i in idx], shared)
            vals = np.full(len(idx), np.nan)
            ok = [j for j, m in enumerate(masks) if m.any()]
            if ok:
                a = [apply_mask(restored[idx[j]].image, masks[j]) for j in ok]  # type: ignore[arg-type]
                b = [apply_mask(hq[idx[j]].image, masks[j]) for j in ok]  # type: ignore[arg-type]
                vals[ok] = lpips_distances(self._model(), a, b, device=self.device, batch_size=self.batch_size)
            return vals

        vals = np.array([float(v) for v in shared.get_keyed(self.cache_id(), keys, compute)], dtype=np.float64)
        errs: list[str | None] = [None if np.isfinite(v) else
                                  f"{self.spec}: the face parser found no face pixels in the HQ image; fLPIPS undefined"
                                  for v in vals]
        return vals, errs
