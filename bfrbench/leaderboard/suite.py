"""``suite.yaml``: the schema of a leaderboard suite, loading and validation.

A suite names the test sets (by preset, seed, size limit and optionally a pinned manifest hash), the metrics
(canonical ``metric:variant`` specs), the main score, the methods and their options, the statistics settings
and the reported rows (numbers quoted from papers, each with a citation). The full schema with an example is
in ``docs/leaderboard.md``. The layout follows lm-eval's task YAMLs (a ``version`` bumped when results change
meaning, ``higher_is_better`` per metric).

Every problem is a :class:`~bfrbench.errors.ConfigError` naming the file, the key and the accepted values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bfrbench.errors import ConfigError

__all__ = [
    "TestsetSpec",
    "MethodSpec",
    "MetricSpec",
    "ReportedRow",
    "Suite",
    "load_suite",
    "list_suites",
    "suites_root",
    "metric_higher_is_better",
    "metric_is_set_level",
    "suite_summaries",
]

SOURCE_KINDS = ("samples", "folder", "none")
_SPEC_RE = re.compile(r"^[a-z0-9_\-]+:[A-Za-z0-9_.\-]+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def metric_higher_is_better(spec: str, overrides: dict[str, bool] | None = None) -> bool:
    """Direction of a metric spec ``name:variant``: ``overrides`` (a suite's ``metric_info``) first, then the
    metric class in :data:`bfrbench.metrics.METRICS` (through :func:`bfrbench.metrics.metric_info`).

    Raises:
        ConfigError: neither knows the metric (names the ``metric_info`` entry to add).
    """
    if overrides and spec in overrides:
        return overrides[spec]
    from bfrbench.errors import RegistryError
    from bfrbench.metrics import metric_info

    try:
        return metric_info(spec).higher_is_better
    except RegistryError:
        raise ConfigError(
            f"metric {spec!r}: direction unknown (not a registered metric); add it under "
            f"'metric_info: {{{spec!r}: {{higher_is_better: ...}}}}'"
        ) from None


def metric_is_set_level(spec: str) -> bool:
    """True for a set-level metric (FID, KID: one number per set, no per-image values); False for per-image
    metrics and for metrics the registry does not know (reported-only numbers)."""
    from bfrbench.errors import RegistryError
    from bfrbench.metrics import metric_info

    try:
        return metric_info(spec).set_level
    except RegistryError:
        return False


@dataclass(frozen=True)
class TestsetSpec:
    """One test set of a suite: built from the suite's source faces with a degradation preset."""

    name: str
    preset: str
    seed: int = 0
    limit: int | None = None
    manifest_sha256: str | None = None
    subset_column: str | None = None

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "preset": self.preset, "seed": self.seed, "limit": self.limit}


@dataclass(frozen=True)
class MethodSpec:
    """A restoration method and its options (the Restorer's constructor arguments)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class MetricSpec:
    """A metric column ``name:variant``; ``optional`` metrics are skipped when their weights are missing."""

    spec: str
    optional: bool = False

    @property
    def is_set_level(self) -> bool:
        return metric_is_set_level(self.spec)


@dataclass(frozen=True)
class ReportedRow:
    """Numbers quoted from a paper. ``citation`` holds ``paper``, ``table``, ``page`` and optionally ``url``."""

    method: str
    testset: str
    values: dict[str, float]
    citation: dict[str, str]


@dataclass(frozen=True)
class Suite:
    """A parsed, validated ``suite.yaml``. ``path`` is the suite folder."""

    path: Path
    name: str
    version: int
    title: str
    description: str
    main_score: str
    seed: int
    source: dict[str, Any]
    testsets: tuple[TestsetSpec, ...]
    metrics: tuple[MetricSpec, ...]
    methods: tuple[MethodSpec, ...]
    reported: tuple[ReportedRow, ...]
    baseline: str | None
    statistics: dict[str, Any]
    breakdowns: dict[str, Any]
    plots: dict[str, Any]
    metric_info: dict[str, dict[str, Any]]
    raw: dict[str, Any]
    protocol: str | None = None  # name of the evaluation protocol that supplied ``metrics``
    fid_stats: str | None = None  # FID reference statistics of that protocol (registered name or file)

    @property
    def yaml_path(self) -> Path:
        return self.path / "suite.yaml"

    def directions(self) -> dict[str, bool]:
        return {k: bool(v["higher_is_better"]) for k, v in self.metric_info.items() if "higher_is_better" in v}

    def metric_label(self, spec: str) -> str:
        return str(self.metric_info.get(spec, {}).get("label", spec))


_STAT_DEFAULTS: dict[str, Any] = {"bootstrap_resamples": 2000, "seed": 0, "alpha": 0.05, "per_image": True}
_BREAKDOWN_DEFAULTS: dict[str, Any] = {"parameters": ["sigma_x", "scale", "noise_sigma", "jpeg_quality"], "bins": 3}
_PLOT_DEFAULTS: dict[str, Any] = {"perception_distortion": None, "samples": 4}
_TOP_KEYS = {
    "name", "version", "title", "description", "main_score", "seed", "source", "testsets", "metrics", "methods",
    "reported", "baseline", "statistics", "breakdowns", "plots", "metric_info", "protocol",
}


def suites_root() -> Path:
    """Folder holding published suites: ``$BFRBENCH_LEADERBOARDS``, else the shipped ``leaderboards/``
    (the checkout's, or ``bfrbench/_data/leaderboards`` in an installed wheel)."""
    env = os.environ.get("BFRBENCH_LEADERBOARDS")
    if env:
        return Path(env)
    from bfrbench._resources import data_root

    return data_root("leaderboards")


def _resolve_path(suite: str | os.PathLike[str]) -> Path:
    p = Path(suite)
    if p.is_file():
        return p.parent
    if p.is_dir():
        return p
    cand = suites_root() / str(suite)
    if cand.is_dir():
        return cand
    known = ", ".join(list_suites()) or "none"
    raise ConfigError(f"suite {str(suite)!r}: no such suite folder or suite.yaml (published suites: {known})")


def suite_summaries() -> list[dict[str, Any]]:
    """One record per published suite: name, title, test sets, method labels, reported rows, rendered or not."""
    rows: list[dict[str, Any]] = []
    for name in list_suites():
        s = load_suite(name)
        rows.append({"name": name, "title": s.title, "testsets": [t.name for t in s.testsets],
                     "methods": [m.display for m in s.methods], "reported_rows": len(s.reported),
                     "rendered": (s.path / "results.json").is_file()})
    return rows


def list_suites() -> list[str]:
    """Names of the published suites (folders of :func:`suites_root` holding a ``suite.yaml``)."""
    root = suites_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "suite.yaml").is_file())


def _err(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {problem}")


def _merge(defaults: dict[str, Any], given: Any, path: Path, key: str) -> dict[str, Any]:
    if given is None:
        return dict(defaults)
    if not isinstance(given, dict):
        raise _err(path, key, f"must be a mapping, got {type(given).__name__}")
    unknown = set(given) - set(defaults)
    if unknown:
        raise _err(path, key, f"unknown keys {sorted(unknown)}; accepted: {sorted(defaults)}")
    return {**defaults, **given}


def _parse_testsets(items: Any, path: Path) -> tuple[TestsetSpec, ...]:
    if not isinstance(items, list):
        raise _err(path, "testsets", "must be a list of {name, preset, seed, limit, manifest_sha256}")
    out: list[TestsetSpec] = []
    for i, t in enumerate(items):
        if not isinstance(t, dict) or "name" not in t:
            raise _err(path, f"testsets[{i}]", "must be a mapping with at least 'name'")
        allowed = {"name", "preset", "seed", "limit", "manifest_sha256", "subset_column"}
        if set(t) - allowed:
            raise _err(path, f"testsets[{i}]", f"unknown keys {sorted(set(t) - allowed)}; accepted: {sorted(allowed)}")
        name = str(t["name"])
        if not _NAME_RE.match(name):
            raise _err(path, f"testsets[{i}].name", f"{name!r} must be letters, digits, '.', '_' or '-'")
        limit = t.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise _err(path, f"testsets[{i}].limit", f"must be a positive integer or null, got {limit!r}")
        out.append(TestsetSpec(name=name, preset=str(t.get("preset", name)), seed=int(t.get("seed", 0)), limit=limit,
                               manifest_sha256=t.get("manifest_sha256"), subset_column=t.get("subset_column")))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise _err(path, "testsets", f"duplicate names in {names}")
    return tuple(out)


def _parse_metrics(items: Any, path: Path) -> tuple[MetricSpec, ...]:
    if not isinstance(items, list):
        raise _err(path, "metrics", "must be a list of 'metric:variant' strings or {spec, optional}")
    out: list[MetricSpec] = []
    for i, m in enumerate(items):
        spec, optional = (m, False) if isinstance(m, str) else (m.get("spec"), bool(m.get("optional", False))) \
            if isinstance(m, dict) else (None, False)
        if not isinstance(spec, str) or not _SPEC_RE.match(spec):
            raise _err(path, f"metrics[{i}]", f"{m!r} is not a canonical 'metric:variant' spec (e.g. 'psnr:rgb')")
        out.append(MetricSpec(spec=spec, optional=optional))
    return tuple(out)


def _parse_methods(items: Any, path: Path) -> tuple[MethodSpec, ...]:
    if not isinstance(items, list):
        raise _err(path, "methods", "must be a list of names or {name, options, label}")
    out: list[MethodSpec] = []
    for i, m in enumerate(items):
        if isinstance(m, str):
            m = {"name": m}
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise _err(path, f"methods[{i}]", f"{m!r} must be a name or a mapping with 'name'")
        opts = m.get("options") or {}
        if not isinstance(opts, dict):
            raise _err(path, f"methods[{i}].options", "must be a mapping")
        out.append(MethodSpec(name=m["name"], options=dict(opts), label=m.get("label")))
    names = [m.display for m in out]
    if len(set(names)) != len(names):
        raise _err(path, "methods", f"duplicate method labels in {names}; give each a distinct 'label'")
    return tuple(out)


def _parse_reported(items: Any, path: Path) -> tuple[ReportedRow, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _err(path, "reported", "must be a list of {method, testset, citation, values}")
    out: list[ReportedRow] = []
    for i, r in enumerate(items):
        key = f"reported[{i}]"
        if not isinstance(r, dict):
            raise _err(path, key, "must be a mapping")
        cit = r.get("citation")
        if not isinstance(cit, dict) or not all(cit.get(k) for k in ("paper", "table", "page")):
            raise _err(path, f"{key}.citation", "must give 'paper', 'table' and 'page' (a reported number needs a source)")
        vals = r.get("values")
        if not isinstance(vals, dict) or not vals:
            raise _err(path, f"{key}.values", "must map 'metric:variant' to a number")
        clean: dict[str, float] = {}
        for k, v in vals.items():
            if not isinstance(k, str) or not _SPEC_RE.match(k):
                raise _err(path, f"{key}.values", f"{k!r} is not a 'metric:variant' spec")
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise _err(path, f"{key}.values.{k}", f"must be a number, got {v!r}")
            clean[k] = float(v)
        out.append(ReportedRow(method=str(r.get("method")), testset=str(r.get("testset")), values=clean,
                               citation={k: str(v) for k, v in cit.items()}))
    return tuple(out)


def load_suite(suite: str | os.PathLike[str]) -> Suite:
    """Load and validate a suite by name (under :func:`suites_root`), folder or ``suite.yaml`` path.

    Raises:
        ConfigError: missing file, bad YAML, unknown keys, bad specs, a reported row without citation.
    """
    import yaml

    folder = _resolve_path(suite)
    path = folder / "suite.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: missing (a suite folder needs a suite.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must hold a mapping at top level")
    unknown = {k for k in raw if not (isinstance(k, str) and k.startswith("x-"))} - _TOP_KEYS  # x-*: YAML anchors
    if unknown:
        raise _err(path, "top level", f"unknown keys {sorted(unknown)}; accepted: {sorted(_TOP_KEYS)} "
                                      "and x-* (ignored; for YAML anchors)")
    for req in ("name", "version", "main_score"):
        if req not in raw:
            raise _err(path, req, "is required")
    testsets = _parse_testsets(raw.get("testsets", []), path)
    metrics = _parse_metrics(raw.get("metrics", []), path)
    protocol, fid_stats = None, None
    if raw.get("protocol") is not None:
        from bfrbench.metrics.protocol import load_protocol

        if raw.get("metrics"):
            raise _err(path, "protocol", "and 'metrics' are exclusive: the protocol fixes the metric list")
        try:
            proto = load_protocol(str(raw["protocol"]))
        except ConfigError as exc:
            raise _err(path, "protocol", str(exc)) from None
        metrics = tuple(MetricSpec(spec) for spec in proto.specs)
        protocol, fid_stats = proto.name, proto.fid_stats
    methods = _parse_methods(raw.get("methods", []), path)
    reported = _parse_reported(raw.get("reported"), path)
    source = raw.get("source") or {"kind": "none"}
    if not isinstance(source, dict) or source.get("kind", "none") not in SOURCE_KINDS:
        raise _err(path, "source.kind", f"must be one of {SOURCE_KINDS}, got {source!r}")
    if source.get("kind") == "folder" and not source.get("path"):
        raise _err(path, "source.path", "is required when source.kind is 'folder'")
    metric_info = raw.get("metric_info") or {}
    if not isinstance(metric_info, dict):
        raise _err(path, "metric_info", "must map 'metric:variant' to {higher_is_better, label}")
    main = str(raw["main_score"])
    all_specs = {m.spec for m in metrics} | {k for r in reported for k in r.values}
    if main not in all_specs | set(metric_info):
        raise _err(path, "main_score", f"{main!r} is not among the suite's metrics {sorted(all_specs)}")
    baseline = raw.get("baseline")
    if baseline is not None and baseline not in {m.display for m in methods}:
        raise _err(path, "baseline", f"{baseline!r} is not one of the methods {[m.display for m in methods]}")
    out = Suite(
        path=folder, name=str(raw["name"]), version=int(raw["version"]), title=str(raw.get("title", raw["name"])),
        description=str(raw.get("description", "")).strip(), main_score=main, seed=int(raw.get("seed", 0)),
        source=dict(source), testsets=testsets, metrics=metrics, methods=methods, reported=reported,
        baseline=baseline, statistics=_merge(_STAT_DEFAULTS, raw.get("statistics"), path, "statistics"),
        breakdowns=_merge(_BREAKDOWN_DEFAULTS, raw.get("breakdowns"), path, "breakdowns"),
        plots=_merge(_PLOT_DEFAULTS, raw.get("plots"), path, "plots"),
        metric_info={str(k): dict(v) for k, v in metric_info.items()}, raw=raw, protocol=protocol, fid_stats=fid_stats,
    )
    for spec in sorted(all_specs):  # every metric needs a known direction
        metric_higher_is_better(spec, out.directions())
    return out
