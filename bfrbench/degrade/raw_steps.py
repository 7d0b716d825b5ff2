"""Recipe steps of the RAW-domain pipeline (DT-BFR ``data_prep/generate_LQ_from_HQ.py``).

Registered lazily in :data:`bfrbench.degrade.steps.DEGRADATIONS` (names below); ops in
:mod:`bfrbench.degrade.raw`, dictionary sampling in :mod:`bfrbench.degrade.raw_ccm`, DemosaicNet in
:mod:`bfrbench.degrade.demosaicnet`. Source: SamsungLabs/DT-BFR at commit
ec3d4043e4d0c610fe7e345448cc1298e132b5dd. Between these steps the image is float64/float32 and may leave
[0, 1] (linear RGB after the inverse CCM, raw units after ``bayer_mosaic``); ``truncate_uint8`` ends a RAW
recipe with the official truncating conversion. docs/degradations.md defines each step.

=================  ==========================================================  =============================
op                 what                                                        manifest columns
=================  ==========================================================  =============================
degamma            ``x ** gamma`` (2.2)                                        -
raw_inverse_isp    sample illuminant + 3-NN CCM, inverse CCM then inverse WB   illum_r/g/b, ccm_0..8,
                                                                               knn_0..k-1, knn_mse_0..k-1,
                                                                               illum_rejected
clip               ``clip(x, lo, hi)``                                         -
bayer_mosaic       CFA sampling to raw units (black 64, white 1023)            -
raw_noise          heteroscedastic Gaussian noise at ``iso``                    iso, noise_shot_0..3,
                                                                               noise_read_0..3
black_level        ``clip((x - black) / (white - black), 0, 1)``               -
demosaic           DemosaicNet (official) or OpenCV (``opencv_ea`` ...)        -
raw_render         WB gains, CCM, ``** (1 / gamma)`` from raw_inverse_isp's    -
                   columns
truncate_uint8     ``uint8(x * 255)`` (truncation) as float32 ``k / 255``       -
=================  ==========================================================  =============================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bfrbench.degrade import raw as R
from bfrbench.degrade.raw_noise_model import NOISE_MODELS, noise_params
from bfrbench.degrade.steps import Step
from bfrbench.errors import ConfigError

__all__ = ["RAW_STEPS"]

_DEMOSAIC_METHODS = ("demosaicnet", "opencv_ea", "opencv_bilinear", "opencv_vng")


def _int_option(step: Step, key: str, default: int, lo: int = 0) -> int:
    v = step.spec.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise ConfigError(f"{step.where}: {key} must be an integer >= {lo}, got {v!r}")
    return v


def _pattern_option(step: Step) -> str:
    p = step.spec.get("pattern", "GRBG")
    if not isinstance(p, str) or p.upper() not in R.CFA_PATTERNS:
        raise ConfigError(f"{step.where}: pattern must be one of {', '.join(R.CFA_PATTERNS)}, got {p!r}")
    return p.upper()


def _levels(step: Step) -> tuple[int, int]:
    black = _int_option(step, "black_level", R.BLACK_LEVEL)
    white = _int_option(step, "white_level", R.WHITE_LEVEL, lo=1)
    if white <= black:
        raise ConfigError(f"{step.where}: white_level ({white}) must exceed black_level ({black})")
    return black, white


def _file_or_weight(value: str) -> Path:
    """A file path (when it exists or looks like one) or a registered weight name, resolved and verified."""
    p = Path(value).expanduser()
    if p.is_file():
        return p
    if "/" in value or "\\" in value:
        raise ConfigError(f"file {value!r} does not exist")
    from bfrbench.weights import resolve

    return resolve(value)


class DegammaStep(Step):
    """``x ** gamma`` in float64 (``gamma`` default 2.2): sRGB-ish HQ to linear (official de-gamma).

    ``exact_uint8: true`` (the presets) recomputes the 8-bit input as float64 ``k / 255`` first, like the
    official ``cv2.imread(...) / 255`` (the engine hands the first step ``float32(k / 255)``).
    """

    name = "degamma"
    options = ("gamma", "exact_uint8")

    def setup(self) -> None:
        g = self.spec.get("gamma", 2.2)
        if not isinstance(g, (int, float)) or isinstance(g, bool) or g <= 0:
            raise ConfigError(f"{self.where}: gamma must be a number > 0, got {g!r}")
        self.gamma = float(g)
        self.exact_uint8 = self.spec.get("exact_uint8", False)
        if not isinstance(self.exact_uint8, bool):
            raise ConfigError(f"{self.where}: exact_uint8 must be true or false, got {self.exact_uint8!r}")

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return R.degamma(img, self.gamma, exact_uint8=self.exact_uint8)


class RawInverseIspStep(Step):
    """Inverse CCM and WB sampled from DT-BFR's dictionary by k-NN (:mod:`bfrbench.degrade.raw_ccm`).

    Options: ``dictionary`` (registered weight name, default ``dtbfr-ccm-awb-dictionary``, or a file path),
    ``k`` (default 3), ``knn_ccm`` (``first_k``, the official behaviour, or ``neighbours``).
    """

    name = "raw_inverse_isp"
    options = ("dictionary", "k", "knn_ccm")

    def setup(self) -> None:
        self.k = _int_option(self, "k", 3, lo=1)
        rows = self.spec.get("knn_ccm", "first_k")
        if rows not in ("first_k", "neighbours"):
            raise ConfigError(f"{self.where}: knn_ccm must be 'first_k' or 'neighbours', got {rows!r}")
        self.rows = rows
        d = self.spec.get("dictionary", "dtbfr-ccm-awb-dictionary")
        if not isinstance(d, str) or not d:
            raise ConfigError(f"{self.where}: dictionary must be a weight name or a file path, got {d!r}")
        self.dictionary = d
        cols = {"illum_r": "float", "illum_g": "float", "illum_b": "float"}
        cols.update({f"ccm_{i}": "float" for i in range(9)})
        cols.update({f"knn_{i}": "int" for i in range(self.k)})
        cols.update({f"knn_mse_{i}": "float" for i in range(self.k)})
        cols["illum_rejected"] = "int"
        self.columns = cols  # type: ignore[misc]  # per-instance: depends on k

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        from bfrbench.degrade.raw_ccm import load_ccm_dictionary, sample_ccm_illuminant

        d = load_ccm_dictionary(_file_or_weight(self.dictionary))
        if self.k > d.ccms.shape[0]:
            raise ConfigError(f"{self.where}: k={self.k} exceeds the dictionary's {d.ccms.shape[0]} entries")
        s = sample_ccm_illuminant(d, rng, self.k, self.rows)
        out: dict[str, Any] = {"illum_r": float(s["illum"][0]), "illum_g": float(s["illum"][1]),
                               "illum_b": float(s["illum"][2]), "illum_rejected": int(s["rejected"])}
        out.update({f"ccm_{i}": float(v) for i, v in enumerate(np.ravel(s["ccm"]))})
        out.update({f"knn_{i}": int(v) for i, v in enumerate(s["knn"])})
        out.update({f"knn_mse_{i}": float(v) for i, v in enumerate(s["knn_mse"])})
        return out

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return R.inverse_ccm_wb(img, _ccm(p, ""), _illum(p, ""))


def _ccm(params: dict[str, Any], prefix: str) -> np.ndarray:
    return np.array([params[f"{prefix}ccm_{i}"] for i in range(9)], dtype=np.float64).reshape(3, 3)


def _illum(params: dict[str, Any], prefix: str) -> np.ndarray:
    return np.array([params[f"{prefix}illum_{c}"] for c in "rgb"], dtype=np.float64)


class ClipStep(Step):
    """``clip(x, lo, hi)`` (defaults 0, 1); dtype preserved."""

    name = "clip"
    options = ("lo", "hi")

    def setup(self) -> None:
        lo, hi = self.spec.get("lo", 0.0), self.spec.get("hi", 1.0)
        for key, v in (("lo", lo), ("hi", hi)):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ConfigError(f"{self.where}: {key} must be a number, got {v!r}")
        if lo > hi:
            raise ConfigError(f"{self.where}: lo ({lo}) must not exceed hi ({hi})")
        self.lo, self.hi = lo, hi

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return np.clip(img, self.lo, self.hi)


class BayerMosaicStep(Step):
    """Bayer sampling to raw units: ``pattern`` (GRBG), ``black_level`` (64), ``white_level`` (1023)."""

    name = "bayer_mosaic"
    options = ("pattern", "black_level", "white_level")

    def setup(self) -> None:
        self.pattern = _pattern_option(self)
        self.black, self.white = _levels(self)

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return R.bayer_mosaic(img, self.pattern, self.black, self.white)


class RawNoiseStep(Step):
    """Heteroscedastic Gaussian sensor noise at ``iso`` (spec; official presets: fixed 1500 or 3000).

    Options: ``iso`` (required; drawn values truncated to int like the official ``random.randint``),
    ``noise_model`` (``imx754``), ``pattern``, ``white_level``, ``variance_dtype`` (``float32``: numpy 1.26
    as pinned by the official environment, default; ``float64``: the same code under numpy 2). The noise field (H*W normals) is drawn
    while applying, after every parameter.
    """

    name = "raw_noise"
    columns: ClassVar[dict[str, str]] = {"iso": "int", **{f"noise_shot_{c}": "float" for c in range(4)},
                                         **{f"noise_read_{c}": "float" for c in range(4)}}
    options = ("iso", "noise_model", "pattern", "white_level", "variance_dtype")
    dist_options = ("iso",)
    required = ("iso",)

    def setup(self) -> None:
        self.pattern = _pattern_option(self)
        self.white = _int_option(self, "white_level", R.WHITE_LEVEL, lo=1)
        self.model = self.spec.get("noise_model", "imx754")
        if self.model not in NOISE_MODELS:
            raise ConfigError(f"{self.where}: noise_model must be one of {NOISE_MODELS}, got {self.model!r}")
        self.variance_dtype = self.spec.get("variance_dtype", "float32")
        if self.variance_dtype not in ("float32", "float64"):
            raise ConfigError(f"{self.where}: variance_dtype must be float32 or float64, got {self.variance_dtype!r}")
        lo, _ = self.dists["iso"].bounds() or (0.0, 0.0)
        if lo <= 0:
            raise ConfigError(f"{self.where}: iso must be > 0, got {self.spec['iso']!r}")

    def column_of(self, option: str) -> str:
        return option

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        iso = int(self.value("iso", rng, grid))
        shot, read = noise_params(iso, self.model)
        out: dict[str, Any] = {"iso": iso}
        out.update({f"noise_shot_{c}": float(shot[c]) for c in range(4)})
        out.update({f"noise_read_{c}": float(read[c]) for c in range(4)})
        return out

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        shot = np.array([p[f"noise_shot_{c}"] for c in range(4)])
        read = np.array([p[f"noise_read_{c}"] for c in range(4)])
        return R.sensor_noise(img, shot, read, rng, pattern=self.pattern, white=self.white,
                              variance_dtype=self.variance_dtype)


class BlackLevelStep(Step):
    """``clip((x - black_level) / (white_level - black_level), 0, 1)`` in float32."""

    name = "black_level"
    options = ("black_level", "white_level")

    def setup(self) -> None:
        self.black, self.white = _levels(self)

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return R.black_level(img, self.black, self.white)


class DemosaicStep(Step):
    """Demosaic the 3-channel mosaic: ``method`` demosaicnet (official; ``weights`` = registered name
    ``demosaicnet-bayer`` or a path, ``device``, ``dtype``) or opencv_ea / opencv_bilinear / opencv_vng."""

    name = "demosaic"
    options = ("method", "pattern", "weights", "device", "dtype")

    def setup(self) -> None:
        self.method = self.spec.get("method", "demosaicnet")
        if self.method not in _DEMOSAIC_METHODS:
            raise ConfigError(f"{self.where}: method must be one of {', '.join(_DEMOSAIC_METHODS)}, "
                              f"got {self.method!r}")
        self.pattern = _pattern_option(self)
        if self.method == "demosaicnet" and self.pattern not in ("GRBG", "GBRG"):
            raise ConfigError(f"{self.where}: DemosaicNet was trained on GRBG (GBRG is transposed to it); "
                              f"got pattern {self.pattern}")
        self.weights = str(self.spec.get("weights", "demosaicnet-bayer"))
        self.device = str(self.spec.get("device", "cpu"))
        self.dtype = str(self.spec.get("dtype", "float32"))
        if self.dtype not in ("float32", "float16", "bfloat16", "float64"):
            raise ConfigError(f"{self.where}: dtype must be float32, float16, bfloat16 or float64, got {self.dtype!r}")

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        if self.method != "demosaicnet":
            return R.demosaic_opencv(img, self.pattern, self.method.removeprefix("opencv_"))
        import torch

        from bfrbench.degrade.demosaicnet import demosaicnet_demosaic, load_demosaicnet

        net = load_demosaicnet(_file_or_weight(self.weights), device=self.device)
        x = np.transpose(img, (1, 0, 2)) if self.pattern == "GBRG" else img
        out = demosaicnet_demosaic(x, net, device=self.device, dtype=getattr(torch, self.dtype))
        return np.ascontiguousarray(np.transpose(out, (1, 0, 2))) if self.pattern == "GBRG" else out


class RawRenderStep(Step):
    """Forward ISP with the parameters ``raw_inverse_isp`` drew (its columns, read with ``isp_prefix``):
    ``clip(x / illum)``, ``clip(x @ ccm.T)``, ``** (1 / gamma)`` (default 2.2)."""

    name = "raw_render"
    options = ("gamma", "isp_prefix")

    def setup(self) -> None:
        g = self.spec.get("gamma", 2.2)
        if not isinstance(g, (int, float)) or isinstance(g, bool) or g <= 0:
            raise ConfigError(f"{self.where}: gamma must be a number > 0, got {g!r}")
        self.gamma = float(g)
        self.isp_prefix = str(self.spec.get("isp_prefix", ""))

    def apply(self, img: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        if self.prob < 1.0 and not params.get(self.prefix + self.step_name + "_applied"):
            return img
        need = [f"{self.isp_prefix}illum_{c}" for c in "rgb"] + [f"{self.isp_prefix}ccm_{i}" for i in range(9)]
        missing = [k for k in need if params.get(k) is None]
        if missing:
            raise ConfigError(f"{self.where}: raw_render needs the columns of a raw_inverse_isp step "
                              f"(isp_prefix {self.isp_prefix!r}); missing {missing[:3]}")
        return R.render(img, _ccm(params, self.isp_prefix), _illum(params, self.isp_prefix), self.gamma)


class TruncateUint8Step(Step):
    """``uint8(x * 255)`` by truncation (the official PNG write), as float32 ``k / 255`` for the engine."""

    name = "truncate_uint8"

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return R.truncate_uint8(img)


RAW_STEPS: dict[str, str] = {cls.name: cls.__name__ for cls in (
    DegammaStep, RawInverseIspStep, ClipStep, BayerMosaicStep, RawNoiseStep, BlackLevelStep, DemosaicStep,
    RawRenderStep, TruncateUint8Step)}
