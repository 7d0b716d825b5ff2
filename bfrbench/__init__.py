"""bfrbench: reproducible blind-face-restoration benchmarks.

Public API (imported lazily, so ``import bfrbench`` is fast)::

    bfrbench.align(src, out, ...)                   # faces/: detect + FFHQ 5-point alignment to 512x512
    bfrbench.build_testset(preset, src, out, ...)   # degrade/ + testset: HQ/LQ pairs with a manifest
    bfrbench.load_testset(path)                     # a Hugging Face datasets.Dataset
    bfrbench.restore(method, testset, out, ...)     # methods/: run a restoration method
    bfrbench.evaluate(testset, restored, out, ...)  # metrics/: per-image and summary scores
    bfrbench.build_refgroups(src, out, ...)         # refgroups/: FFHQ-Ref-style reference groups
    bfrbench.leaderboard                            # suites, statistics, rendering, regression gate
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "align": "bfrbench.faces.align:align_folder",
    "build_testset": "bfrbench.testset:build_testset",
    "load_testset": "bfrbench.testset:load",
    "restore": "bfrbench.methods.runner:restore",
    "evaluate": "bfrbench.metrics.engine:evaluate",
    "build_refgroups": "bfrbench.refgroups.build:build_refgroups",
    "testset": "bfrbench.testset",
    "leaderboard": "bfrbench.leaderboard",
    "errors": "bfrbench.errors",
    "weights": "bfrbench.weights",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'bfrbench' has no attribute {name!r}")
    mod_name, _, attr = target.partition(":")
    mod = importlib.import_module(mod_name)
    value = getattr(mod, attr) if attr else mod
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
