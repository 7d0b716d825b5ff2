"""Evaluation protocols: the exact metric set a paper's evaluation used, by name (``bfrbench evaluate --protocol``).

A protocol is a small versioned YAML file in ``datasets_build/protocols/NAME.yaml`` (found like degradation
presets: a path, or a name searched in ``$BFRBENCH_PROTOCOL_PATH`` then the shipped folder)::

    name: vqfr
    version: 1
    title: "VQFR (Gu et al., ECCV 2022), Table 1 metrics"
    paper: "..."
    source: {repo: TencentARC/VQFR, commit: 239c77a..., path: metric_paper/}
    fid_stats: fid-stats-ffhq512-basicsr      # registered name or file, used by fid:*-stats
    metrics:
      - {spec: "psnr:vqfr", column: "PSNR", script: "metric_paper/calculate_psnr_ssim.py",
         verified: "parity with a restatement of the script, 1e-10"}

``table`` (optional) maps the protocol's columns to a leaderboard suite's reported columns
(``{suite: ffhq-ref, columns: {"fid:clean-stats": "fid:ffhq70k", ...}}``).
``spec`` is a bfrbench metric spec (``name:variant``); ``column`` the paper's column label; ``script`` the
file (or paper section) it reproduces; ``verified`` how bfrbench checked it (or why it is an approximation).
The protocol's name, version and file SHA-256 go into summary.json (``protocol``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bfrbench.errors import ConfigError

__all__ = ["Protocol", "ProtocolMetric", "load_protocol", "list_protocols", "protocols_dir", "apply_protocol"]

_TOP_KEYS = ("name", "version", "title", "paper", "source", "fid_stats", "metrics", "table")
_METRIC_KEYS = ("spec", "column", "script", "verified")


@dataclass(frozen=True)
class ProtocolMetric:
    """One column of a paper's table: the bfrbench spec that computes it and where that was checked."""

    spec: str
    column: str
    script: str
    verified: str


@dataclass(frozen=True)
class Protocol:
    """A parsed protocol file."""

    name: str
    version: int
    title: str
    paper: str
    source: dict[str, Any]
    metrics: tuple[ProtocolMetric, ...]
    fid_stats: str | None
    path: Path
    sha256: str
    table: dict[str, Any]

    @property
    def specs(self) -> list[str]:
        """Canonical metric columns (``name:variant``) in the protocol's order."""
        from bfrbench.metrics._base import parse_spec

        return [parse_spec(m.spec).column for m in self.metrics]

    def record(self) -> dict[str, Any]:
        """What summary.json stores about the protocol."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "paper": self.paper,
                "source": self.source, "fid_stats": self.fid_stats,
                "columns": {parse_column(m.spec): m.column for m in self.metrics}}


def parse_column(spec: str) -> str:
    from bfrbench.metrics._base import parse_spec

    return parse_spec(spec).column


def protocols_dir() -> Path:
    """``datasets_build/protocols`` beside the package."""
    import bfrbench

    return Path(bfrbench.__file__).resolve().parents[1] / "datasets_build" / "protocols"


def list_protocols() -> list[str]:
    """Names of the shipped protocols."""
    d = protocols_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _locate(ref: str) -> Path:
    cand = Path(ref).expanduser()
    if cand.is_file():
        return cand.resolve()
    if len(cand.parts) == 1 and cand.suffix.lower() not in (".yaml", ".yml"):
        env = os.environ.get("BFRBENCH_PROTOCOL_PATH", "")
        for folder in [Path(p) for p in env.split(os.pathsep) if p] + [protocols_dir()]:
            for suffix in (".yaml", ".yml"):
                if (folder / f"{ref}{suffix}").is_file():
                    return (folder / f"{ref}{suffix}").resolve()
    raise ConfigError(f"protocol {ref!r} not found (a file, or one of: {', '.join(list_protocols()) or '(none)'})")


def load_protocol(ref: str | os.PathLike[str]) -> Protocol:
    """Read and validate a protocol (name or path).

    Raises:
        ConfigError: file missing or malformed, unknown keys, unknown metric specs (names the file and key).
    """
    import hashlib

    import yaml

    path = _locate(str(ref))
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a protocol must be a YAML mapping")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; accepted: {', '.join(_TOP_KEYS)}")
    for key in ("name", "version", "metrics", "paper", "source"):
        if key not in data:
            raise ConfigError(f"{path}: missing required key {key!r}")
    if not isinstance(data["version"], int):
        raise ConfigError(f"{path}: 'version' must be an integer, got {data['version']!r}")
    items = data["metrics"]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: 'metrics' must be a non-empty list")
    metrics = []
    for i, m in enumerate(items):
        if not isinstance(m, dict) or set(m) - set(_METRIC_KEYS) or "spec" not in m:
            raise ConfigError(f"{path}: metrics[{i}] must be a mapping with keys {', '.join(_METRIC_KEYS)} "
                              f"('spec' required), got {m!r}")
        try:
            parse_column(str(m["spec"]))
        except Exception as exc:  # RegistryError / ConfigError: name the file
            raise ConfigError(f"{path}: metrics[{i}].spec {m['spec']!r}: {exc}") from None
        metrics.append(ProtocolMetric(str(m["spec"]), str(m.get("column", m["spec"])), str(m.get("script", "")),
                                      str(m.get("verified", ""))))
    fid_stats = data.get("fid_stats")
    if any(parse_column(m.spec).endswith("-stats") for m in metrics) and not fid_stats:
        raise ConfigError(f"{path}: a fid:*-stats metric needs 'fid_stats' (registered name or file)")
    src = data["source"] if isinstance(data["source"], dict) else {"text": str(data["source"])}
    table = data.get("table") or {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'table' must be a mapping (suite, columns), got {table!r}")
    return Protocol(str(data["name"]), int(data["version"]), str(data.get("title", "")), str(data["paper"]), src,
                    tuple(metrics), str(fid_stats) if fid_stats else None, path, hashlib.sha256(raw).hexdigest(),
                    table)


def apply_protocol(protocol: str | os.PathLike[str] | None, metrics: Any,
                   fid_stats: str | None) -> tuple[Any, str | None, dict[str, Any] | None]:
    """(metrics, fid_stats, record) for ``evaluate``: a protocol fixes the metric list and, unless given, the
    FID reference statistics. ``metrics`` and ``protocol`` together are refused (the protocol is the list)."""
    if protocol is None:
        return metrics, fid_stats, None
    p = load_protocol(protocol)
    if metrics is not None:
        raise ConfigError(f"give either metrics or protocol {p.name!r}, not both (the protocol fixes the metrics: "
                          f"{', '.join(p.specs)})")
    return p.specs, fid_stats or p.fid_stats, p.record()
