"""Recipe engine: versioned YAML degradation recipes with ``include:``, parameter sampling and application.

A recipe (see docs/degradations.md for every key) is a YAML mapping::

    name: gfpgan                 # required
    version: 1                   # required integer, bumped whenever outputs change
    description: ...             # free text
    source: {paper: ..., code: ...}
    size: 512                    # HQ/LQ side in pixels (inputs of another square size are resized to it)
    min_size: 256                # smaller inputs are rejected (default size // 2)
    include: [base.yaml]         # optional: recipes (file or preset name) merged underneath, in order
    override: {noise: {sigma: [0, 30]}}   # optional: edit options of included steps, by step name
    grid_order: [jpeg_quality, scale]     # optional: order of {grid: [...]} axes, outermost first
    steps:                       # ops applied in order to the float32 RGB image in [0, 1]
      - {op: blur, sigma: [0.1, 10]}
      - ...

Merging (like lm-eval task ``include``): included recipes are loaded (recursively, cycles refused) and
merged in order, then the including file's keys override them (mappings merged key by key, lists and
scalars replaced); ``override`` then edits steps by name. The resolved mapping (without ``include`` and
``override``) is what a test set records and hashes (``recipe_sha256``).

Per image: ``params = recipe.sample(rng, index)`` draws every parameter (a flat dict of manifest columns,
None for parameters not drawn), then ``recipe.apply(hq_uint8, params, rng)`` converts to float32
(``/255``), runs the steps and quantises (``clip(round(x * 255), 0, 255)``). Grid axes (``{grid: [...]}``)
are stratified by the image's position ``index`` in the sorted input list: cell ``index mod N`` of the
product of the axes, the last axis of ``grid_order`` varying fastest (DifFace's nested loops).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.degrade._base import check_uint8_image, quantize, to_float32
from bfrbench.degrade.steps import Step, build_step
from bfrbench.errors import ConfigError
from bfrbench.io.hashing import sha256_json

__all__ = ["Recipe", "list_presets", "load_recipe", "presets_dir", "recipe_search_paths"]

TOP_KEYS = ("name", "version", "description", "source", "size", "min_size", "steps", "grid_order",
            "include", "override")
_SUFFIXES = (".yaml", ".yml")


def presets_dir() -> Path:
    """The shipped presets: ``datasets_build/presets`` (in the wheel: ``bfrbench/_data/datasets_build/presets``)."""
    from bfrbench._resources import data_root

    return data_root("datasets_build") / "presets"


def recipe_search_paths(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Folders searched for recipes given by name: ``extra``, ``$BFRBENCH_RECIPE_PATH``, then the presets."""
    paths = [Path(p) for p in extra]
    env = os.environ.get("BFRBENCH_RECIPE_PATH", "")
    paths += [Path(p) for p in env.split(os.pathsep) if p]
    paths.append(presets_dir())
    return paths


def list_presets() -> list[str]:
    """Names of the recipes shipped in ``datasets_build/presets``."""
    d = presets_dir()
    return sorted(p.stem for p in d.glob("*.yaml") if not p.stem.startswith("_")) if d.is_dir() else []


def _locate(ref: str, base_dir: Path | None, search: list[Path]) -> Path:
    cand = Path(ref).expanduser()
    tries: list[Path] = []
    if cand.is_absolute():
        tries.append(cand)
    else:
        if base_dir is not None:
            tries.append(base_dir / cand)
        tries.append(cand)
    if cand.suffix.lower() not in _SUFFIXES and len(cand.parts) == 1:
        for folder in ([base_dir] if base_dir else []) + search:
            tries += [folder / f"{ref}{s}" for s in _SUFFIXES]
    for t in tries:
        if t.is_file():
            return t.resolve()
    known = ", ".join(list_presets()) or "(none)"
    raise ConfigError(f"recipe {ref!r} not found (looked for a file, then a preset name). Presets: {known}")


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read recipe: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _apply_override(data: dict[str, Any], override: Any, where: str) -> None:
    if not isinstance(override, dict):
        raise ConfigError(f"{where}: 'override' must map step names to option mappings, got {override!r}")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise ConfigError(f"{where}: 'override' needs steps from an included recipe")
    for step_name, opts in override.items():
        matches = [s for s in steps if isinstance(s, dict) and s.get("name", s.get("op")) == step_name]
        if not matches:
            names = [s.get("name", s.get("op")) for s in steps if isinstance(s, dict)]
            raise ConfigError(f"{where}: override names unknown step {step_name!r}; steps: {names}")
        if not isinstance(opts, dict):
            raise ConfigError(f"{where}: override of {step_name!r} must be a mapping, got {opts!r}")
        for k, v in opts.items():
            if v is None:
                matches[0].pop(k, None)
            else:
                matches[0][k] = copy.deepcopy(v)


def _resolve(path: Path, search: list[Path], stack: tuple[Path, ...]) -> dict[str, Any]:
    if path in stack:
        chain = " -> ".join(str(p) for p in (*stack, path))
        raise ConfigError(f"recipe include cycle: {chain}")
    raw = _read_yaml(path)
    includes = raw.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise ConfigError(f"{path}: 'include' must be a name/path or a list of them, got {includes!r}")
    merged: dict[str, Any] = {}
    for ref in includes:
        inc = _locate(str(ref), path.parent, search)
        merged = _merge(merged, _resolve(inc, search, (*stack, path)))
    override = raw.pop("override", None)
    merged = _merge(merged, raw)
    if override is not None:
        _apply_override(merged, override, str(path))
    return merged


def load_recipe(name_or_path: str | os.PathLike[str] | dict[str, Any], *,
                search_paths: Iterable[str | os.PathLike[str]] = ()) -> Recipe:
    """Load a recipe by preset name (``"gfpgan"``), YAML path, or an already-resolved mapping.

    Raises:
        ConfigError: not found, invalid YAML, unknown keys/ops/options, bad ranges, include cycles.
    """
    if isinstance(name_or_path, dict):
        return Recipe(name_or_path)
    search = recipe_search_paths(search_paths)
    path = _locate(str(name_or_path), None, search)
    try:
        return Recipe(_resolve(path, search, ()))
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


class Recipe:
    """A validated, resolved degradation recipe.

    Attributes:
        name, version, size, min_size: from the recipe.
        steps: the :class:`~bfrbench.degrade.steps.Step` objects in order.
        columns: manifest column -> type (``float``/``int``/``str``/``bool``) in step order.
        grid_axes: (column, values) of the stratified axes, outermost first; ``grid_size`` their product.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        data = copy.deepcopy(data)
        for k in ("include", "override"):
            if k in data:
                raise ConfigError(f"recipe mapping still has {k!r}: load it from a file with load_recipe()")
        unknown = sorted(set(data) - set(TOP_KEYS))
        if unknown:
            raise ConfigError(f"unknown recipe key(s) {unknown}; accepted: {list(TOP_KEYS)}")
        name, version = data.get("name"), data.get("version")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"recipe needs a non-empty string 'name', got {name!r}")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigError(f"recipe {name!r} needs an integer 'version' >= 1, got {version!r}")
        size = data.setdefault("size", 512)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"recipe {name!r}: size must be a positive integer, got {size!r}")
        min_size = data.setdefault("min_size", max(1, size // 2))
        if not isinstance(min_size, int) or isinstance(min_size, bool) or not 1 <= min_size:
            raise ConfigError(f"recipe {name!r}: min_size must be a positive integer, got {min_size!r}")
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ConfigError(f"recipe {name!r} needs a non-empty 'steps' list")
        self.data = data
        self.name, self.version, self.size, self.min_size = name, version, size, min_size
        try:
            self.steps: list[Step] = [build_step(s, size=size, index=i) for i, s in enumerate(steps)]
        except ConfigError as exc:
            raise ConfigError(f"recipe {name!r}: {exc}") from None
        self._check_names()
        self.columns: dict[str, str] = {}
        for st in self.steps:
            for col, typ in st.all_columns().items():
                if col in self.columns:
                    raise ConfigError(f"recipe {name!r}: column {col!r} produced by two steps; give the later "
                                      f"step a 'prefix' (e.g. prefix: second_)")
                self.columns[col] = typ
        self._setup_grid()

    def _check_names(self) -> None:
        seen: set[str] = set()
        for st in self.steps:
            if st.step_name in seen:
                raise ConfigError(f"recipe {self.name!r}: two steps named {st.step_name!r}; give one a 'name'")
            seen.add(st.step_name)

    def _setup_grid(self) -> None:
        axes = dict(a for st in self.steps for a in st.grid_axes())
        order = self.data.get("grid_order", list(axes))
        if not isinstance(order, list) or sorted(order) != sorted(axes):
            raise ConfigError(f"recipe {self.name!r}: grid_order must list exactly the grid axes {sorted(axes)}, "
                              f"got {order!r}")
        self.grid_axes: list[tuple[str, tuple[Any, ...]]] = [(c, axes[c]) for c in order]
        self.grid_size = int(np.prod([len(v) for _, v in self.grid_axes])) if self.grid_axes else 1
        if self.grid_axes:
            self.columns = {"grid_cell": "int", **self.columns}

    # -- public -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe (defaults ``size`` and ``min_size`` filled in)."""
        return copy.deepcopy(self.data)

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`."""
        return sha256_json(self.data)

    def grid_cell(self, index: int) -> tuple[int, dict[str, Any]]:
        """Cell number and axis values for the image at sorted position ``index``."""
        cell = int(index) % self.grid_size
        values: dict[str, Any] = {}
        rest = cell
        for col, vals in reversed(self.grid_axes):
            values[col] = vals[rest % len(vals)]
            rest //= len(vals)
        return cell, values

    def sample(self, rng: np.random.Generator, index: int = 0) -> dict[str, Any]:
        """Draw every parameter: column -> value (None where a parameter was not drawn)."""
        params: dict[str, Any] = {}
        grid: dict[str, Any] = {}
        if self.grid_axes:
            params["grid_cell"], grid = self.grid_cell(index)
        for st in self.steps:
            params.update(st.sample(rng, grid))
        return {c: params.get(c) for c in self.columns}

    def apply_float(self, img: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Run the steps on a float32 RGB (H, W, 3) image in [0, 1]; returns float32 (before rounding)."""
        for st in self.steps:
            img = st.apply(img, params, rng)
        return img

    def apply(self, hq: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        """Degrade a uint8 RGB (H, W, 3) image with sampled ``params``; returns uint8 RGB.

        ``rng`` must be the generator that drew ``params``, in the state ``sample`` left it (the noise
        field is drawn from it).
        """
        check_uint8_image(hq, f"recipe {self.name!r}")
        return quantize(self.apply_float(to_float32(hq), params, rng))

    def degrade(self, hq: np.ndarray, rng: np.random.Generator, index: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
        """``sample`` then ``apply``: returns (LQ uint8 (H', W', 3), params)."""
        params = self.sample(rng, index)
        return self.apply(hq, params, rng), params

    def __repr__(self) -> str:
        return f"Recipe(name={self.name!r}, version={self.version}, steps={[s.step_name for s in self.steps]})"
