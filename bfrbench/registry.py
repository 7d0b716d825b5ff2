"""One registry type for every kind of named thing (methods, metrics, degradations, embedders, ...).

A :class:`Registry` maps names to classes (or to lazy ``"module:attr"`` strings that are imported
on first use). It is generic over what it stores: a registry of classes is ``Registry[type[Metric]]``, so
``get`` is typed as returning the class (no ``cast`` or ``type: ignore`` at call sites). It checks the base class, refuses duplicates, and answers unknown names with a
:class:`~bfrbench.errors.RegistryError` that lists near matches. Third-party entries can be loaded
from a Python entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, cast

from bfrbench.errors import ConfigError, RegistryError

T = TypeVar("T")

__all__ = ["Registry"]


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"lazy registry target {target!r} must look like 'package.module:Attr'")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class Registry(Generic[T]):
    """Name -> class registry, generic over the stored object ``T`` (usually ``type[SomeBase]``).

    Args:
        kind: what the registry holds, used in messages ("method", "metric", ...).
        base: every registered object must be a subclass of it (checked when it is resolved).
        entry_point_group: optional ``importlib.metadata`` entry-point group for plugins.
    """

    def __init__(self, kind: str, base: type | None = None, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.base = base
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}  # a str is a lazy "module:attr" target
        self._plugins_loaded = entry_point_group is None

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str | None = None, target: Any = None, *, replace: bool = False) -> Any:
        """Register ``target`` under ``name``; usable as a decorator (``@REG.register()``).

        ``target`` may be a class or a lazy ``"module:attr"`` string. With no ``name`` the class
        attribute ``name`` is used.
        """

        def _do(obj: Any) -> Any:
            key = name if name is not None else getattr(obj, "name", None)
            if not isinstance(key, str) or not key:
                raise ConfigError(f"cannot register {obj!r} as a {self.kind}: it has no 'name'")
            if key in self._entries and not replace and self._entries[key] is not obj:
                raise ConfigError(f"{self.kind} {key!r} is already registered ({self._entries[key]!r})")
            if not isinstance(obj, str):
                self._check(key, obj)
            self._entries[key] = cast("T | str", obj)
            return obj

        if target is not None:
            return _do(target)
        return _do

    def _check(self, key: str, obj: Any) -> None:
        if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise ConfigError(f"{self.kind} {key!r}: {obj!r} is not a subclass of {self.base.__name__}")

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group or ""):
            if ep.name not in self._entries:
                self._entries[ep.name] = ep.value

    # -- lookup ---------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """Return the class registered as ``name`` (importing it if lazy)."""
        self._load_plugins()
        if name not in self._entries:
            near = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise RegistryError(f"unknown {self.kind} {name!r}{hint} Known: {known}")
        obj = self._entries[name]
        if isinstance(obj, str):
            loaded = _import_target(obj)
            self._check(name, loaded)
            self._entries[name] = loaded
            return cast(T, loaded)
        return obj

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        for n in self.names():
            yield n, self.get(n)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def create(self, name: str, **kwargs: Any) -> Any:
        """Instantiate ``name`` with keyword arguments."""
        cls = cast(Callable[..., Any], self.get(name))
        return cls(**kwargs)
