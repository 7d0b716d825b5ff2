"""Method metadata for ``bfrbench methods list``: registry entries plus whether their weights are present."""

from __future__ import annotations

from typing import Any

__all__ = ["list_methods", "weights_status"]


def weights_status(names: tuple[str, ...] | list[str]) -> tuple[str, dict[str, bool | None]]:
    """("none" | "present" | "missing k/n" | ..., per-weight present flag; None when not registered)."""
    if not names:
        return "none needed", {}
    from bfrbench import weights as W
    from bfrbench.errors import BfrbenchError

    try:
        table = W.all_weights()
    except (BfrbenchError, ImportError) as exc:  # a broken catalogue module must not break the listing
        return f"unknown ({type(exc).__name__})", {n: None for n in names}
    flags: dict[str, bool | None] = {n: (W.is_present(table[n]) if n in table else None) for n in names}
    present = sum(1 for v in flags.values() if v)
    unregistered = sum(1 for v in flags.values() if v is None)
    status = "present" if present == len(names) else f"missing {len(names) - present}/{len(names)}"
    if unregistered:
        status += f" ({unregistered} unregistered)"
    return status, flags


def list_methods() -> list[dict[str, Any]]:
    """One dict per registered method (sorted by name); a method that fails to import gets an ``error``."""
    from bfrbench.methods import METHODS

    rows: list[dict[str, Any]] = []
    for name in METHODS.names():
        try:
            cls = METHODS.get(name)
        except Exception as exc:  # a plugin or an unfinished built-in: show it, do not crash the listing
            rows.append({"name": name, "error": f"{type(exc).__name__}: {exc}", "weights_status": "?",
                         "weights": {}, "uses_refs": False, "needs_refs": False, "max_refs": 0})
            continue
        info = cls.info()
        info["name"] = name
        status, flags = weights_status(info["weights"])
        info["weights_status"], info["weights"] = status, flags
        rows.append(info)
    return rows
