"""Training pairs: HQ faces from any aligned face folder, LQ made on the fly by a bfrbench degradation recipe.

ours: every random draw is derived from (train seed, stage, iteration) and (train seed, image id, iteration) with
:mod:`bfrbench.rng`, so the batch of iteration ``i`` — which images, their degradation parameters and noise — is
the same in an uninterrupted run, a resumed run and on any number of DDP ranks (each rank takes the positions
``k`` with ``k % world == rank`` of the same drawn batch). Images are drawn with replacement.
HQ faces must be square (aligned); they are resized to the recipe's size (cv2 INTER_AREA when shrinking, cubic
when enlarging) before degradation, then both HQ and LQ are area-resized to the model's ``image_size``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.errors import ConfigError, ImageError
from bfrbench.io.hashing import sha256_json
from bfrbench.io.images import list_images, read_image
from bfrbench.rng import item_generator

__all__ = ["FacePairs"]


class FacePairs:
    """Deterministic (HQ, LQ) batches from a face folder and a recipe.

    Args:
        faces: folder of aligned square faces (searched recursively).
        recipe: preset name or YAML path (see docs/degradations.md).
        image_size: side of the tensors returned.
        seed: training seed.
        cache: decoded HQ faces kept in memory (LRU).
    """

    def __init__(self, faces: str | os.PathLike[str], recipe: str, image_size: int, seed: int, *,
                 cache: int = 512) -> None:
        from bfrbench.degrade.recipe import load_recipe

        root = Path(faces)
        if not root.is_dir():
            raise ConfigError(f"`faces` {str(faces)!r} is not a folder of aligned face images")
        self.paths = list_images(root)
        if not self.paths:
            raise ConfigError(f"`faces` {str(faces)!r} contains no images (png, jpg, webp, ...)")
        self.ids = [p.relative_to(root).as_posix() for p in self.paths]
        self.recipe = load_recipe(recipe)
        self.image_size, self.seed = int(image_size), int(seed)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache

    @property
    def faces_sha256(self) -> str:
        """Hash of the sorted relative names and sizes of the face files (recorded in checkpoints)."""
        return sha256_json([[i, p.stat().st_size] for i, p in zip(self.ids, self.paths)])

    def describe(self) -> dict[str, Any]:
        return {"faces": len(self.ids), "faces_sha256": self.faces_sha256, "recipe": self.recipe.name,
                "recipe_version": self.recipe.version, "recipe_sha256": self.recipe.sha256}

    def _hq(self, idx: int) -> np.ndarray:
        if idx in self._cache:
            self._cache.move_to_end(idx)
            return self._cache[idx]
        import cv2

        path = self.paths[idx]
        img = read_image(path)
        if img.shape[0] != img.shape[1]:
            raise ImageError(path, f"training faces must be square aligned crops, got {img.shape[1]}x{img.shape[0]}")
        s = self.recipe.size
        if img.shape[0] != s:
            interp = cv2.INTER_AREA if img.shape[0] > s else cv2.INTER_CUBIC
            img = cv2.resize(img, (s, s), interpolation=interp)
        self._cache[idx] = img
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return img

    def indices(self, iteration: int, batch_size: int, stage: str) -> list[int]:
        """Image indices of an iteration's batch (drawn with replacement)."""
        gen = item_generator(self.seed, f"{stage}:{iteration}", "batch")
        return [int(i) for i in gen.integers(0, len(self.paths), size=batch_size)]

    def pair(self, idx: int, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """HQ and LQ uint8 (image_size, image_size, 3) of image ``idx`` at ``iteration``."""
        import cv2

        hq = self._hq(idx)
        rng = item_generator(self.seed, f"{self.ids[idx]}:{iteration}", "degrade")
        lq, _ = self.recipe.degrade(hq, rng, index=idx)
        if lq.shape[:2] != hq.shape[:2]:
            lq = cv2.resize(lq, (hq.shape[1], hq.shape[0]), interpolation=cv2.INTER_CUBIC)
        n = self.image_size
        if hq.shape[0] != n:
            hq = cv2.resize(hq, (n, n), interpolation=cv2.INTER_AREA)
            lq = cv2.resize(lq, (n, n), interpolation=cv2.INTER_AREA)
        return hq, lq

    def batch(self, iteration: int, batch_size: int, stage: str, rank: int = 0, world: int = 1) -> tuple[Any, Any]:
        """(HQ, LQ) float32 tensors (b, 3, S, S) in [-1, 1] for this rank's share of the iteration's batch."""
        import torch

        idx = self.indices(iteration, batch_size, stage)[rank::world]
        pairs = [self.pair(i, iteration) for i in idx]
        hq = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        lq = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return hq, lq
