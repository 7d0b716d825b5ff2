"""Helpers shared by the DT-BFR RAW tests (tests/degrade/test_degrade_raw_*.py, tests/test_testset_dtbfr_raw.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def write_dictionary(path: Path, n: int = 8, seed: int = 0) -> Path:
    """A small dictionary in the official pickle layout: {'ccm': [(3, 3)], 'awb': [(3,)]} of float64."""
    rng = np.random.default_rng(seed)
    ccms = [np.eye(3) * 1.5 - 0.25 + rng.normal(0, 0.05, (3, 3)) for _ in range(n)]
    awb = [np.array([rng.uniform(1.4, 2.4), 1.0, rng.uniform(1.3, 2.2)]) for _ in range(n)]
    path.write_bytes(pickle.dumps({"ccm": ccms, "awb": awb}, protocol=3))
    return path
