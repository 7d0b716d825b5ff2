"""RAW-domain degradation ops of DT-BFR's synthetic test set (pure numpy/OpenCV, explicit generators).

Source: SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``data_prep/generate_LQ_from_HQ.py``
and what it imports (``data_prep/demo_ccm_sampling.py``, ``data_prep/utils/raw_utils.py``,
``data_prep/utils/image_utils.py``, ``data_prep/noise_profiler/image_synthesizer.py``). docs/degradations.md
("RAW pipeline") defines every op; this module restates the arithmetic, dtypes included:

=====================  ======================================================================  ===========
op                     definition                                                              dtype
=====================  ======================================================================  ===========
:func:`degamma`        ``x ** 2.2``                                                            float64
:func:`inverse_ccm_wb` ``M = C / C.sum(1)`` (rows), ``y = (M^-1 x) / (1 / illum)``             float64
:func:`bayer_mosaic`   GRBG sampling, ``v * (white - black) + black`` (raw units)              float32
:func:`sensor_noise`   ``var_c = x * shot_c + read_c`` (>= 0), ``x + N(0,1) * sqrt(var)``,     float32
                       clip to ``[0, white]``; c = position in the 2x2 CFA cell
:func:`black_level`    ``clip((x - black) / (white - black), 0, 1)``                           float32
:func:`demosaic_opencv` OpenCV edge-aware Bayer demosaic at 14 bits (classical variant)        float32
:func:`render`         ``clip(x * wb)``, ``clip(x @ C^T)``, ``** (1 / 2.2)`` with wb = 1/illum float64
=====================  ======================================================================  ===========

Images between RAW ops: the **3-channel mosaic** layout of the official code
(``process_bayer_raw_for_visualization``): float (H, W, 3) in RGB channel order where each pixel holds its
CFA sample in the channel of its colour and 0 in the other two. GRBG means the 2x2 cell
``[[G, R], [B, G]]`` (R at row 0, column 1). Official images are BGR (OpenCV); the inverse CCM is applied in
RGB there too (``demo_ccm_sampling.main`` flips the channels first), so only the layout differs here.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

__all__ = [
    "BLACK_LEVEL",
    "CFA_PATTERNS",
    "WHITE_LEVEL",
    "bayer_mosaic",
    "black_level",
    "cfa_channels",
    "degamma",
    "demosaic_opencv",
    "inverse_ccm_wb",
    "mosaic_from_plane",
    "plane_from_mosaic",
    "render",
    "sensor_noise",
    "truncate_uint8",
]

BLACK_LEVEL = 64  # raw_utils.BLACK_LEVEL
WHITE_LEVEL = 1023  # raw_utils.WHITE_LEVEL (10-bit sensor)
_DEMOSAIC_MAX = 16383  # image_utils.demosaic: 14-bit integer image fed to OpenCV

# RGB channel index (0 R, 1 G, 2 B) of the 2x2 cell positions (0,0), (0,1), (1,0), (1,1).
CFA_PATTERNS: dict[str, tuple[int, int, int, int]] = {
    "GRBG": (1, 0, 2, 1),
    "GBRG": (1, 2, 0, 1),
    "RGGB": (0, 1, 1, 2),
    "BGGR": (2, 1, 1, 0),
}
# image_utils.get_opencv_demosaic_flag: DT-BFR's CFA name -> OpenCV Bayer code (OpenCV names the pattern by
# the second row's first two pixels, hence GRBG -> "GB").
_OPENCV_CODE = {"RGGB": "BG", "BGGR": "RG", "GRBG": "GB", "GBRG": "GR"}
_OPENCV_ALG = {"ea": "_EA", "bilinear": "", "vng": "_VNG"}


def cfa_channels(pattern: str) -> tuple[int, int, int, int]:
    """RGB channel of the cell positions (0,0), (0,1), (1,0), (1,1) for a CFA name (GRBG, GBRG, RGGB, BGGR)."""
    try:
        return CFA_PATTERNS[pattern.upper()]
    except KeyError:
        raise ValueError(f"unknown CFA pattern {pattern!r}; accepted: {', '.join(CFA_PATTERNS)}") from None


_POS = ((0, 0), (0, 1), (1, 0), (1, 1))


def mosaic_from_plane(plane: np.ndarray, pattern: str = "GRBG") -> np.ndarray:
    """(H, W) CFA plane -> (H, W, 3) 3-channel mosaic (zeros off the sampled channel); dtype preserved."""
    chans = cfa_channels(pattern)
    out = np.zeros((*plane.shape, 3), dtype=plane.dtype)
    for (i, j), c in zip(_POS, chans):
        out[i::2, j::2, c] = plane[i::2, j::2]
    return out


def plane_from_mosaic(mosaic: np.ndarray, pattern: str = "GRBG") -> np.ndarray:
    """(H, W, 3) 3-channel mosaic -> (H, W) CFA plane (the sampled channel of each pixel); dtype preserved."""
    chans = cfa_channels(pattern)
    out = np.empty(mosaic.shape[:2], dtype=mosaic.dtype)
    for (i, j), c in zip(_POS, chans):
        out[i::2, j::2] = mosaic[i::2, j::2, c]
    return out


def degamma(img: np.ndarray, gamma: float = 2.2, *, exact_uint8: bool = False) -> np.ndarray:
    """``img ** gamma`` in float64 (``generate_LQ_from_HQ.bgr_to_linear_bgr``). (H, W, 3) -> float64.

    With ``exact_uint8`` the input must hold 8-bit levels (``float32(k / 255)``, what the recipe engine hands
    the first step): ``k`` is recovered and ``(k / 255) ** gamma`` computed from float64 ``k / 255``, exactly
    as the official ``cv2.imread(...) / 255``. Raises ValueError if a value is not within 1e-3 of a level.
    """
    x = np.asarray(img, dtype=np.float64)
    if exact_uint8:
        k = np.rint(x * 255)
        if x.size and float(np.max(np.abs(x * 255 - k))) > 1e-3:
            raise ValueError("degamma(exact_uint8=True) needs an image of 8-bit levels k / 255 (use it as the "
                             "first step of a recipe)")
        x = k / 255
    return x ** gamma


def inverse_ccm_wb(img: np.ndarray, ccm: np.ndarray, illum: np.ndarray) -> np.ndarray:
    """Bring a linear RGB image to camera space: inverse colour matrix, then inverse white balance.

    ``demo_ccm_sampling.apply_inverse_ccm_on_image`` then ``apply_color_cast``: the forward matrix's rows
    are normalised to sum 1, inverted, applied per pixel (sum over the last axis), and the result divided
    by ``1 / illum`` (i.e. multiplied by the illuminant; computed as the division, like the source).

    Args:
        img: (H, W, 3) RGB, linear, float.
        ccm: (3, 3) forward colour matrix (camera -> linear sRGB) as sampled.
        illum: (3,) illuminant (r/g, 1, b/g).
    Returns:
        float64 (H, W, 3), not clipped.
    """
    m = np.reshape(np.asarray(ccm, dtype=np.float64), (3, 3))
    m = m / np.sum(m, axis=1, keepdims=True)
    inv = np.linalg.inv(m)
    out = np.sum(inv[np.newaxis, np.newaxis, :, :] * np.asarray(img, np.float64)[:, :, np.newaxis, :], axis=-1)
    return out / (1.0 / np.asarray(illum, dtype=np.float64))


def bayer_mosaic(img: np.ndarray, pattern: str = "GRBG", black: int = BLACK_LEVEL,
                 white: int = WHITE_LEVEL) -> np.ndarray:
    """Sample a (H, W, 3) RGB image on a Bayer CFA and scale to raw units.

    ``raw_utils.BGR2BayerRAW`` (float32 plane) then ``BGR_LR_to_RAW_LR``: ``v * (white - black) + black``
    in float32. Returns the 3-channel mosaic, float32, sampled values in ``[black, white]`` for inputs in
    [0, 1].
    """
    plane = plane_from_mosaic(np.asarray(img), pattern).astype(np.float32)
    plane = plane * (white - black) + black
    return mosaic_from_plane(plane, pattern)


def sensor_noise(mosaic: np.ndarray, shot: np.ndarray, read: np.ndarray, rng: np.random.Generator, *,
                 pattern: str = "GRBG", white: int = WHITE_LEVEL,
                 variance_dtype: Literal["float32", "float64"] = "float32") -> np.ndarray:
    """Heteroscedastic Gaussian sensor noise (``image_synthesizer.synthesize_noisy_image_v2``, per channel).

    For cell position c (order (0,0), (0,1), (1,0), (1,1)): ``var = x * shot[c] + read[c]`` computed in
    float32 (numpy 1.26 value-based casting of a float32 array times a float64 scalar, stored in a float64
    array), negatives set to 0, ``noise = N(0, 1) (float64, (H, W), one draw per pixel in C order) *
    sqrt(var)``, ``float32(x + noise)`` clipped to ``[0, white]``. No defective pixels, no brightness
    matching (v2 defaults), black_diff 0.

    Args:
        mosaic: (H, W, 3) float32 3-channel mosaic in raw units.
        shot, read: (4,) noise parameters at the target ISO (:func:`bfrbench.degrade.raw_noise_model.noise_params`).
        rng: draws H*W standard normals.
        variance_dtype: ``float32`` = numpy 1.26 (the official environment pins numpy 1.26.1); ``float64`` =
            what the same source line computes under numpy >= 2 (NEP 50: the float64 scalar wins).
    Returns:
        float32 (H, W, 3) 3-channel mosaic.
    """
    x = plane_from_mosaic(mosaic, pattern).astype(np.float32)
    var = np.zeros(x.shape, dtype=np.float64)
    if variance_dtype not in ("float32", "float64"):
        raise ValueError(f"variance_dtype must be 'float32' or 'float64', got {variance_dtype!r}")
    dt = np.float32 if variance_dtype == "float32" else np.float64
    for c, (i, j) in enumerate(_POS):
        var[i::2, j::2] = x[i::2, j::2] * dt(shot[c]) + dt(read[c])
    var[var < 0] = 0
    noise = rng.standard_normal(x.shape) * np.sqrt(var)
    noisy = np.clip((x + noise).astype(np.float32), 0, white)
    return mosaic_from_plane(noisy, pattern)


def black_level(mosaic: np.ndarray, black: int = BLACK_LEVEL, white: int = WHITE_LEVEL) -> np.ndarray:
    """``clip((x - black) / (white - black), 0, 1)`` in float32 (``black_level_subtraction``); zeros stay 0."""
    x = np.asarray(mosaic, dtype=np.float32)
    return np.clip((x - black) / (white - black), 0, 1).astype(np.float32)


def demosaic_opencv(mosaic: np.ndarray, pattern: str = "GRBG",
                    algorithm: Literal["ea", "bilinear", "vng"] = "ea") -> np.ndarray:
    """Classical demosaic: OpenCV Bayer conversion of the plane at 14 bits (``image_utils.demosaic``).

    ``uint16(v * 16383)`` (truncation), ``cv2.cvtColor`` with the flag ``image_utils.get_opencv_demosaic_flag``
    picks (edge-aware ``_EA`` there; ``bilinear`` and ``vng`` offered too; VNG is 8-bit only in OpenCV and
    runs on ``uint8(v * 255)``), then ``/ 16383`` (or 255). Input: 3-channel mosaic in [0, 1]; output float32
    (H, W, 3) RGB. The official script calls this helper on the 3-channel mosaic, which OpenCV rejects (it
    needs one channel), so this variant is ours; the plane is what the helper was written for.
    """
    if algorithm not in _OPENCV_ALG:
        raise ValueError(f"unknown OpenCV demosaic algorithm {algorithm!r}; accepted: {', '.join(_OPENCV_ALG)}")
    cfa_channels(pattern)  # validates the name
    code = _OPENCV_CODE[pattern.upper()]
    flag = getattr(cv2, f"COLOR_BAYER_{code}2RGB{_OPENCV_ALG[algorithm]}")
    plane = plane_from_mosaic(np.asarray(mosaic, dtype=np.float32), pattern)
    if algorithm == "vng":
        return cv2.cvtColor((plane * 255).astype(np.uint8), flag).astype(np.float32) / 255
    img = cv2.cvtColor((plane * _DEMOSAIC_MAX).astype(np.uint16), flag)
    return img.astype(np.float32) / _DEMOSAIC_MAX


def render(img: np.ndarray, ccm: np.ndarray, illum: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Camera RGB -> display RGB (``generate_LQ_from_HQ.render``).

    ``wb = 1 / illum`` (``apply_wbgain`` with gains (r, g, g, b) -> (r, g, b)); ``clip(x * wb, 0, 1)``;
    ``clip(x @ ccm.T, 0, 1)`` with the sampled (not row-normalised) matrix (``apply_ccm``);
    ``** (1 / gamma)``. Input (H, W, 3) float; output float64.
    """
    wb = 1.0 / np.asarray(illum, dtype=np.float64)
    out = np.clip(np.asarray(img) * wb.reshape((1, 1, 3)), 0, 1)
    c = np.asarray(ccm, dtype=np.float64).reshape(3, 3)
    out = np.clip((out.reshape(-1, 3) @ c.transpose()).reshape(out.shape), 0, 1)
    return out ** (1 / gamma)


def truncate_uint8(img: np.ndarray) -> np.ndarray:
    """``np.uint8(img * 255)`` (truncation, the official ``cv2.imwrite`` line), returned as float32 ``k / 255``.

    The recipe engine quantises its float32 result with ``round(x * 255)``, which maps ``float32(k / 255)``
    back to ``k`` exactly, so a recipe ending with this op writes the official truncated bytes.
    """
    k = (np.asarray(img) * 255).astype(np.uint8)
    return k.astype(np.float32) / 255.0
