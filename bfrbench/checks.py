"""Argument checks shared by every command, run before any work starts (so nothing is half-written).

* :func:`check_seed`: seeds are integers in ``0 .. 2**63 - 1`` (they are hashed with the item id into a
  64-bit key, and recorded in parquet int64 columns; a larger value used to fail after images were written).
* :func:`check_limit`: ``--limit`` is None or >= 1 everywhere (``--limit 0`` would make an empty artifact).
* :func:`check_device`: a CUDA device on a machine without CUDA is a :class:`~bfrbench.errors.ConfigError`
  (the same message ``Restorer.torch_device`` gives), never a silent CPU run recorded as ``cuda``.
"""

from __future__ import annotations

from bfrbench.errors import ConfigError

__all__ = ["SEED_MAX", "check_device", "check_limit", "check_seed"]

SEED_MAX = 2**63 - 1


def check_seed(seed: object, *, param: str = "seed") -> int:
    """Return ``seed`` as int when it is an integer in 0..2**63-1, else raise ConfigError."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"`{param}` must be an integer in 0..{SEED_MAX}, got {seed!r}")
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"`{param}` must be in 0..{SEED_MAX} (0..2^63-1), got {seed}")
    return int(seed)


def check_limit(limit: int | None, *, param: str = "limit") -> int | None:
    """None (no limit) or an int >= 1; ``0`` and negatives are refused."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"`{param}` must be >= 1 (omit it to use every image), got {limit!r}")
    return limit


def check_device(device: str) -> str:
    """Refuse ``cuda``/``cuda:N`` when torch sees no CUDA device here; returns ``device`` unchanged."""
    if not str(device).startswith("cuda"):
        return device
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        raise ConfigError(f"device {device!r} requested but torch is not installed; use `device=cpu`") from None
    if not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available here; use `device=cpu`")
    return device
