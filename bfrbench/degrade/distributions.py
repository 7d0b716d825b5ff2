"""Parameter specifications in recipes and how each one draws a value.

A recipe parameter is written as one of:

* a number or string: fixed value (no draw);
* ``[lo, hi]``: uniform on ``[lo, hi)`` (one ``rng.uniform(lo, hi)`` draw); ``{uniform: [lo, hi]}`` is the same;
* ``{choice: [a, b, ...], p: [pa, pb, ...]}``: one value, ``p`` optional (uniform); one ``rng.random()`` draw,
  index = first ``i`` with ``u * sum(p) < cumsum(p)[i]`` (the rule of Python's ``random.choices``);
* ``{grid: [a, b, ...]}``: a stratified axis: no draw, the value comes from the image's grid cell
  (see :mod:`bfrbench.degrade.recipe`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError

__all__ = ["Choice", "Dist", "Fixed", "Grid", "Uniform", "parse_dist"]


class Dist:
    """A parameter specification; ``draw`` returns the value (``grid_value`` for grid axes)."""

    def draw(self, rng: np.random.Generator, grid_value: Any = None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_fixed(self) -> bool:
        return False

    def bounds(self) -> tuple[float, float] | None:
        """(min, max) of the possible numeric values, None when not numeric."""
        return None


@dataclass(frozen=True)
class Fixed(Dist):
    value: Any

    def draw(self, rng: np.random.Generator, grid_value: Any = None) -> Any:
        return self.value

    @property
    def is_fixed(self) -> bool:
        return True

    def bounds(self) -> tuple[float, float] | None:
        return (float(self.value), float(self.value)) if _is_num(self.value) else None


@dataclass(frozen=True)
class Uniform(Dist):
    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, grid_value: Any = None) -> float:
        return float(rng.uniform(self.lo, self.hi))

    def bounds(self) -> tuple[float, float]:
        return (self.lo, self.hi)


@dataclass(frozen=True)
class Choice(Dist):
    values: tuple[Any, ...]
    cum: tuple[float, ...]

    def draw(self, rng: np.random.Generator, grid_value: Any = None) -> Any:
        u = float(rng.random()) * self.cum[-1]
        return self.values[min(bisect.bisect_right(self.cum, u), len(self.values) - 1)]

    def bounds(self) -> tuple[float, float] | None:
        if all(_is_num(v) for v in self.values):
            return (float(min(self.values)), float(max(self.values)))
        return None


@dataclass(frozen=True)
class Grid(Dist):
    values: tuple[Any, ...]

    def draw(self, rng: np.random.Generator, grid_value: Any = None) -> Any:
        if grid_value is None:
            raise ConfigError("a {grid: [...]} parameter was drawn without a grid cell")
        return grid_value

    def bounds(self) -> tuple[float, float] | None:
        if all(_is_num(v) for v in self.values):
            return (float(min(self.values)), float(max(self.values)))
        return None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_dist(spec: Any, where: str) -> Dist:
    """Parse a recipe parameter specification (see module docstring); ``where`` names it in errors."""
    if isinstance(spec, (bool, str)) or _is_num(spec):
        return Fixed(spec)
    if isinstance(spec, (list, tuple)):
        return _uniform(spec, where)
    if isinstance(spec, dict):
        keys = set(spec)
        if keys == {"uniform"}:
            return _uniform(spec["uniform"], where)
        if keys == {"fixed"}:
            return Fixed(spec["fixed"])
        if keys in ({"choice"}, {"choice", "p"}):
            values = spec["choice"]
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"{where}: 'choice' needs a non-empty list, got {values!r}")
            p = spec.get("p", [1.0] * len(values))
            if len(p) != len(values) or any(not _is_num(x) or x < 0 for x in p) or sum(p) <= 0:
                raise ConfigError(f"{where}: 'p' must list {len(values)} non-negative weights, got {p!r}")
            return Choice(tuple(values), tuple(np.cumsum(np.asarray(p, dtype=np.float64)).tolist()))
        if keys == {"grid"}:
            values = spec["grid"]
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"{where}: 'grid' needs a non-empty list, got {values!r}")
            return Grid(tuple(values))
    raise ConfigError(
        f"{where}: cannot read parameter {spec!r}; write a number, [lo, hi] (uniform), "
        "{choice: [...], p: [...]}, or {grid: [...]}"
    )


def _uniform(spec: Any, where: str) -> Uniform:
    if not isinstance(spec, (list, tuple)) or len(spec) != 2 or not all(_is_num(v) for v in spec):
        raise ConfigError(f"{where}: a uniform range must be [lo, hi] with two numbers, got {spec!r}")
    lo, hi = float(spec[0]), float(spec[1])
    if lo > hi:
        raise ConfigError(f"{where}: range [lo, hi] has lo > hi: {spec!r}")
    return Uniform(lo, hi)
