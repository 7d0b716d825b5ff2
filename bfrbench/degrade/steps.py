"""Recipe steps: each names one op, parses its parameters, samples them, and applies the op.

A step is one item of a recipe's ``steps`` list (``{op: blur, sigma: [0.1, 10], ...}``). Sampling and
applying are separate: :meth:`Step.sample` draws every parameter from the generator and returns a flat
dict of manifest columns (no image needed); :meth:`Step.apply` runs the op with those values. Only the
noise step draws again while applying (its noise field), from the same generator, after all parameters.

Every step accepts ``prob`` (default 1): when < 1 one ``rng.random()`` draw decides whether the step runs
and is recorded as ``<name>_applied``; a skipped step draws nothing more and its columns are null.
``name`` (default: the op) must be unique in a recipe; ``prefix`` is prepended to the step's columns,
needed when two steps of the same op appear (e.g. a second-order blur).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from bfrbench.degrade import kernels as K
from bfrbench.degrade.blur import blur
from bfrbench.degrade.color import color_shift, grayscale
from bfrbench.degrade.distributions import Choice, Dist, Fixed, Grid, parse_dist
from bfrbench.degrade.jpeg import jpeg_compress
from bfrbench.degrade.noise import add_gaussian_noise
from bfrbench.degrade.resize import downsample, interpolation_flag, resize_to
from bfrbench.errors import ConfigError, RegistryError
from bfrbench.registry import Registry

__all__ = ["DEGRADATIONS", "Step", "build_step"]


class Step:
    """Base class of recipe steps.

    Class attributes:
        name: the ``op`` value.
        columns: manifest column (unprefixed) -> type (``float``, ``int``, ``str``, ``bool``).
        options: accepted keys besides ``op``, ``name``, ``prefix``, ``prob``.
        dist_options: the options that are parameter specifications (fixed, range, choice, grid).
    """

    name: ClassVar[str] = ""
    columns: ClassVar[dict[str, str]] = {}
    options: ClassVar[tuple[str, ...]] = ()
    dist_options: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, spec: dict[str, Any], *, size: int, index: int) -> None:
        self.spec = dict(spec)
        self.size = size
        self.step_name = str(spec.get("name", self.name))
        self.prefix = str(spec.get("prefix", ""))
        where = f"step {index + 1} ({self.step_name})"
        self.where = where
        allowed = {"op", "name", "prefix", "prob", *self.options}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {unknown}; accepted: {sorted(allowed)}")
        for key in self.required:
            if key not in spec:
                raise ConfigError(f"{where}: missing required option {key!r}")
        prob = spec.get("prob", 1.0)
        if not isinstance(prob, (int, float)) or isinstance(prob, bool) or not 0.0 <= float(prob) <= 1.0:
            raise ConfigError(f"{where}: prob must be a number in [0, 1], got {prob!r}")
        self.prob = float(prob)
        self.dists: dict[str, Dist] = {}
        for key in self.dist_options:
            value = spec.get(key, self.defaults.get(key))
            if value is not None:
                self.dists[key] = parse_dist(value, f"{where}: {key}")
        self.setup()

    # -- to override ------------------------------------------------------------------------------
    def setup(self) -> None:
        """Validate step-specific options (called at construction)."""

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        """Draw this step's parameters (unprefixed column names)."""
        return {}

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Apply the op to a float32 RGB (H, W, 3) image in [0, 1] with parameters ``p`` (unprefixed)."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------
    def all_columns(self) -> dict[str, str]:
        cols = {self.prefix + c: t for c, t in self.columns.items()}
        if self.prob < 1.0:
            cols[self.prefix + self.step_name + "_applied"] = "bool"
        return cols

    def grid_axes(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(column, values) for each ``{grid: [...]}`` parameter of this step."""
        return [(self.prefix + self.column_of(k), d.values) for k, d in self.dists.items() if isinstance(d, Grid)]

    def column_of(self, option: str) -> str:
        return option

    def value(self, option: str, rng: np.random.Generator, grid: dict[str, Any]) -> Any:
        d = self.dists[option]
        return d.draw(rng, grid.get(self.prefix + self.column_of(option)) if isinstance(d, Grid) else None)

    def sample(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        """Prefixed column -> value for every column of the step (None where not drawn)."""
        out: dict[str, Any] = {c: None for c in self.all_columns()}
        if self.prob < 1.0:
            applied = bool(float(rng.random()) < self.prob)
            out[self.prefix + self.step_name + "_applied"] = applied
            if not applied:
                return out
        for k, v in self.draw(rng, grid).items():
            out[self.prefix + k] = v
        return out

    def apply(self, img: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        if self.prob < 1.0 and not params.get(self.prefix + self.step_name + "_applied"):
            return img
        p = {c: params.get(self.prefix + c) for c in self.columns}
        return self.run(img, p, rng)


DEGRADATIONS: Registry[type[Step]] = Registry("degradation op", base=Step, entry_point_group="bfrbench.degradations")


@DEGRADATIONS.register()
class BlurStep(Step):
    """Random mixed blur kernel (BasicSR ``random_mixed_kernels``) then ``cv2.filter2D``.

    Options: ``kernel_size`` (odd; default 41), ``kernel_list``/``kernel_prob`` (default iso/aniso 0.5/0.5)
    or ``kernel_type`` (a spec), ``sigma`` (sigma_x spec, required), ``sigma_y`` (default: same as sigma),
    ``angle`` (radians, default [-pi, pi]), ``betag`` (default [0.5, 4]), ``betap`` (default [1, 2]).
    Draw order: kernel type, kernel size, sigma_x, then for anisotropic types sigma_y and angle, then for
    generalized/plateau types beta (``u < 0.5``: uniform(betalo, 1), else uniform(1, betahi)).
    """

    name = "blur"
    columns = {"kernel_type": "str", "kernel_size": "int", "sigma_x": "float", "sigma_y": "float",
               "angle": "float", "beta": "float"}
    options = ("kernel_size", "kernel_list", "kernel_prob", "kernel_type", "sigma", "sigma_y", "angle",
               "betag", "betap")
    dist_options = ("kernel_size", "kernel_type", "sigma", "sigma_y", "angle", "betag", "betap")
    required = ("sigma",)
    defaults = {"kernel_size": 41, "angle": [-math.pi, math.pi], "betag": [0.5, 4.0], "betap": [1.0, 2.0]}

    def setup(self) -> None:
        if "kernel_type" in self.spec and ("kernel_list" in self.spec or "kernel_prob" in self.spec):
            raise ConfigError(f"{self.where}: give either kernel_type or kernel_list/kernel_prob, not both")
        if "kernel_type" not in self.spec:
            klist = self.spec.get("kernel_list", ["iso", "aniso"])
            kprob = self.spec.get("kernel_prob", [0.5] * len(klist) if "kernel_list" in self.spec else [0.5, 0.5])
            self.dists["kernel_type"] = parse_dist({"choice": list(klist), "p": list(kprob)},
                                                   f"{self.where}: kernel_list")
        kt = self.dists["kernel_type"]
        types = kt.values if isinstance(kt, (Choice, Grid)) else (getattr(kt, "value", None),)
        bad = [t for t in types if t not in K.KERNEL_TYPES]
        if bad:
            raise ConfigError(f"{self.where}: unknown kernel type(s) {bad}; accepted: {', '.join(K.KERNEL_TYPES)}")
        if "sigma_y" not in self.dists:
            self.dists["sigma_y"] = self.dists["sigma"]
        ks = self.dists["kernel_size"]
        sizes = [ks.value] if isinstance(ks, Fixed) else list(getattr(ks, "values", []))
        if not sizes or any(not isinstance(s, int) or s < 1 or s % 2 == 0 for s in sizes):
            raise ConfigError(f"{self.where}: kernel_size must be an odd integer or a choice/grid of them, "
                              f"got {self.spec.get('kernel_size')!r}")
        lo, _ = self.dists["sigma"].bounds() or (0.0, 0.0)
        if lo < 0:
            raise ConfigError(f"{self.where}: sigma must be >= 0, got {self.spec['sigma']!r}")

    def column_of(self, option: str) -> str:
        return {"sigma": "sigma_x", "betag": "beta", "betap": "beta"}.get(option, option)

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        kt = str(self.value("kernel_type", rng, grid))
        p: dict[str, Any] = {"kernel_type": kt, "kernel_size": int(self.value("kernel_size", rng, grid))}
        p["sigma_x"] = float(self.value("sigma", rng, grid))
        if kt.endswith("aniso"):
            p["sigma_y"] = float(self.value("sigma_y", rng, grid))
            p["angle"] = float(self.value("angle", rng, grid))
        if kt.startswith(("generalized", "plateau")):
            d = self.dists["betag" if kt.startswith("generalized") else "betap"]
            blo, bhi = d.bounds() or (1.0, 1.0)
            if isinstance(d, Fixed):
                p["beta"] = float(d.value)
            elif float(rng.random()) < 0.5:
                p["beta"] = float(rng.uniform(blo, 1.0))
            else:
                p["beta"] = float(rng.uniform(1.0, bhi))
        return p

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        kernel = K.kernel_from_params(p["kernel_type"], p["kernel_size"], p["sigma_x"], p["sigma_y"],
                                      p["angle"], p["beta"])
        return blur(img, kernel)


@DEGRADATIONS.register()
class SincStep(Step):
    """Circular low-pass (sinc) filter, Real-ESRGAN style: ``cutoff`` (radians) and odd ``kernel_size``."""

    name = "sinc"
    columns = {"sinc_cutoff": "float", "sinc_kernel_size": "int"}
    options = ("cutoff", "kernel_size", "pad_to")
    dist_options = ("cutoff", "kernel_size")
    required = ("cutoff",)
    defaults = {"kernel_size": 21}

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        return {"sinc_kernel_size": int(self.value("kernel_size", rng, grid)),
                "sinc_cutoff": float(self.value("cutoff", rng, grid))}

    def column_of(self, option: str) -> str:
        return "sinc_" + option

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        kernel = K.circular_lowpass_kernel(p["sinc_cutoff"], p["sinc_kernel_size"], int(self.spec.get("pad_to", 0)))
        return blur(img, kernel)


@DEGRADATIONS.register()
class DownsampleStep(Step):
    """``cv2.resize`` to ``(int(w // scale), int(h // scale))``; ``interpolation`` default linear."""

    name = "downsample"
    columns = {"scale": "float"}
    options = ("scale", "interpolation")
    dist_options = ("scale",)
    required = ("scale",)

    def setup(self) -> None:
        interpolation_flag(str(self.spec.get("interpolation", "linear")))
        lo, _ = self.dists["scale"].bounds() or (1.0, 1.0)
        if lo <= 0:
            raise ConfigError(f"{self.where}: scale must be > 0, got {self.spec['scale']!r}")

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        return {"scale": float(self.value("scale", rng, grid))}

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return downsample(img, p["scale"], self.spec.get("interpolation", "linear"))


@DEGRADATIONS.register()
class GaussianNoiseStep(Step):
    """Additive Gaussian noise, ``sigma`` in 0-255 units; ``gray_prob`` chance of gray (1-channel) noise."""

    name = "gaussian_noise"
    columns = {"noise_sigma": "float", "noise_gray": "bool"}
    options = ("sigma", "gray_prob")
    dist_options = ("sigma",)
    required = ("sigma",)

    def setup(self) -> None:
        gp = self.spec.get("gray_prob", 0.0)
        if not isinstance(gp, (int, float)) or isinstance(gp, bool) or not 0.0 <= gp <= 1.0:
            raise ConfigError(f"{self.where}: gray_prob must be a number in [0, 1], got {gp!r}")
        self.gray_prob = float(gp)
        lo, _ = self.dists["sigma"].bounds() or (0.0, 0.0)
        if lo < 0:
            raise ConfigError(f"{self.where}: noise sigma must be >= 0, got {self.spec['sigma']!r}")

    def column_of(self, option: str) -> str:
        return "noise_sigma"

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        p: dict[str, Any] = {"noise_sigma": float(self.value("sigma", rng, grid))}
        if self.gray_prob > 0:
            p["noise_gray"] = bool(float(rng.random()) < self.gray_prob)
        return p

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return add_gaussian_noise(img, p["noise_sigma"], rng, gray=bool(p["noise_gray"]))


@DEGRADATIONS.register()
class JpegStep(Step):
    """JPEG round trip; ``quality`` spec, drawn values truncated to int (see :mod:`bfrbench.degrade.jpeg`)."""

    name = "jpeg"
    columns = {"jpeg_quality": "int"}
    options = ("quality",)
    dist_options = ("quality",)
    required = ("quality",)

    def setup(self) -> None:
        lo, hi = self.dists["quality"].bounds() or (-1.0, -1.0)
        if lo < 0 or hi > 100:
            raise ConfigError(f"{self.where}: JPEG quality must lie in [0, 100], got {self.spec['quality']!r}")

    def column_of(self, option: str) -> str:
        return "jpeg_quality"

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        return {"jpeg_quality": int(self.value("quality", rng, grid))}

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return jpeg_compress(img, p["jpeg_quality"])


@DEGRADATIONS.register()
class ResizeStep(Step):
    """Resize to ``size`` x ``size`` (default: the recipe's size), ``interpolation`` default linear."""

    name = "resize"
    options = ("size", "interpolation")

    def setup(self) -> None:
        interpolation_flag(str(self.spec.get("interpolation", "linear")))
        s = self.spec.get("size", self.size)
        if not isinstance(s, int) or s < 1:
            raise ConfigError(f"{self.where}: size must be a positive integer, got {s!r}")
        self.target = s

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return resize_to(img, self.target, self.spec.get("interpolation", "linear"))


@DEGRADATIONS.register()
class ColorJitterStep(Step):
    """GFPGAN RGB shift: uniform(-shift/255, shift/255) per channel, drawn in B, G, R order."""

    name = "color_jitter"
    columns = {"color_shift_r": "float", "color_shift_g": "float", "color_shift_b": "float"}
    options = ("shift",)

    def setup(self) -> None:
        s = self.spec.get("shift", 20)
        if not isinstance(s, (int, float)) or isinstance(s, bool) or s < 0:
            raise ConfigError(f"{self.where}: shift must be a number >= 0 (0-255 units), got {s!r}")
        self.shift = float(s) / 255.0

    def draw(self, rng: np.random.Generator, grid: dict[str, Any]) -> dict[str, Any]:
        b, g, r = (float(v) for v in rng.uniform(-self.shift, self.shift, 3))
        return {"color_shift_r": r, "color_shift_g": g, "color_shift_b": b}

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return color_shift(img, (p["color_shift_r"], p["color_shift_g"], p["color_shift_b"]))


@DEGRADATIONS.register()
class GrayscaleStep(Step):
    """Convert to gray (luma repeated on 3 channels); usually with ``prob`` (GFPGAN: 0.01)."""

    name = "grayscale"

    def run(self, img: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return grayscale(img)


def build_step(spec: Any, *, size: int, index: int) -> Step:
    """Construct the step for one ``steps`` item (a mapping with an ``op`` key)."""
    if not isinstance(spec, dict) or "op" not in spec:
        raise ConfigError(f"step {index + 1}: each step must be a mapping with an 'op' key, got {spec!r}")
    try:
        cls = DEGRADATIONS.get(str(spec["op"]))
    except RegistryError as exc:
        raise ConfigError(f"step {index + 1}: {exc}") from None
    return cls(spec, size=size, index=index)


# RAW-domain steps of DT-BFR's synthetic test set (bfrbench/degrade/raw_steps.py), imported on first use.
for _op, _cls in (("degamma", "DegammaStep"), ("raw_inverse_isp", "RawInverseIspStep"), ("clip", "ClipStep"),
                  ("bayer_mosaic", "BayerMosaicStep"), ("raw_noise", "RawNoiseStep"),
                  ("black_level", "BlackLevelStep"), ("demosaic", "DemosaicStep"), ("raw_render", "RawRenderStep"),
                  ("truncate_uint8", "TruncateUint8Step")):
    DEGRADATIONS.register(_op, f"bfrbench.degrade.raw_steps:{_cls}")
