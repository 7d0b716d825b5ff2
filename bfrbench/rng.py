"""Per-item random generators derived from (seed, item id).

No global random state is used anywhere in bfrbench. Every random draw for an item comes from a generator
derived from the run's seed and the item's id, so results do not depend on worker count or order.

Derivation (documented in ``docs/reproducibility.md``): ``key = SHA-256(f"{seed}:{item_id}:{stream}")``;
the first 16 bytes as a little-endian integer seed ``numpy.random.PCG64``; ``item_seed`` is the first
8 bytes reduced to 63 bits (for torch generators).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["item_key", "item_generator", "item_seed"]


def item_key(seed: int, item_id: str, stream: str = "") -> bytes:
    return hashlib.sha256(f"{int(seed)}:{item_id}:{stream}".encode()).digest()


def item_generator(seed: int, item_id: str, stream: str = "") -> np.random.Generator:
    """A numpy Generator (PCG64) unique to (seed, item_id, stream)."""
    return np.random.Generator(np.random.PCG64(int.from_bytes(item_key(seed, item_id, stream)[:16], "little")))


def item_seed(seed: int, item_id: str, stream: str = "") -> int:
    """A 63-bit integer seed unique to (seed, item_id, stream), e.g. for ``torch.Generator.manual_seed``."""
    return int.from_bytes(item_key(seed, item_id, stream)[:8], "little") & ((1 << 63) - 1)
