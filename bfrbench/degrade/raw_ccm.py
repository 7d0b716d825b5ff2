"""DT-BFR's colour-matrix / white-balance dictionary and its 3-NN sampling.

Source: SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``data_prep/demo_ccm_sampling.py``
(``main`` with ``sampling_mode='knn'``, ``k=3``, the defaults ``generate_LQ_from_HQ.py`` passes) and the
dictionary ``data_prep/data/ccm_awb_dictionary_52_plus_230.p`` (a pickled ``{'ccm': [282 float64 (3, 3)],
'awb': [282 float64 (3,)]}``; registered as the weight file ``dtbfr-ccm-awb-dictionary``).

What the official code computes (and :func:`sample_ccm_illuminant` restates):

1. ``illums = 1 / awb``, normalised by green: ``(r/g, 1, b/g)``; their mean (3,) and covariance
   ``np.cov(illums.T)`` (3, 3).
2. Draw ``illum ~ N(mean, cov)`` (``multivariate_normal``) until ``min_r < r < max_r`` and
   ``min_b < b < max_b`` (strict, bounds over the dictionary).
3. 3-NN on (r, b): ``mse_i = mean((illums_i[[0, 2]] - illum[[0, 2]])**2)``; ``inds = argsort(mse)[:3]``;
   ``w = mse[inds]``.
4. ``ccm = sum_i (1/w_i) / sum(1/w) * CCMs[i]`` for i = 0, 1, 2. **The official loop indexes the
   dictionary with the loop counter, not with ``inds[i]``**, so the matrix always blends the dictionary's
   first three CCMs (weights from the neighbours' distances). ``knn_ccm='first_k'`` reproduces that (the
   presets' default); ``knn_ccm='neighbours'`` blends the neighbours' own CCMs (what the code's names say).

The draws come from the ``np.random.Generator`` passed in (the official script uses numpy's unseeded
global state).
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ArtifactError

__all__ = [
    "CcmDictionary",
    "KnnCcm",
    "knn_ccm",
    "load_ccm_dictionary",
    "sample_ccm_illuminant",
    "sample_illuminant",
]

KnnCcm = Literal["first_k", "neighbours"]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays and dtypes (the dictionary holds nothing else)."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")
        if name == "_reconstruct":
            from numpy._core import multiarray

            return multiarray._reconstruct
        return np.ndarray if name == "ndarray" else np.dtype


@dataclass(frozen=True)
class CcmDictionary:
    """The dictionary's arrays and the statistics the sampler uses.

    Attributes:
        ccms: float64 (N, 3, 3) forward colour matrices.
        illums: float64 (N, 3) illuminants ``1 / awb`` normalised by green (column 1 is 1).
        mean: float64 (3,) mean of ``illums``; cov: float64 (3, 3) ``np.cov(illums.T)``.
    """

    ccms: np.ndarray
    illums: np.ndarray
    mean: np.ndarray
    cov: np.ndarray


def _parse(data: bytes, where: str) -> CcmDictionary:
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ArtifactError(f"{where}: not a CCM/AWB dictionary pickle: {exc}") from None
    if not isinstance(obj, dict) or not {"ccm", "awb"} <= set(obj):
        raise ArtifactError(f"{where}: expected a mapping with keys 'ccm' and 'awb', got "
                            f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}")
    try:
        ccms = np.array(obj["ccm"], dtype=np.float64)
        awb = np.array(obj["awb"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{where}: 'ccm'/'awb' are not numeric arrays: {exc}") from None
    if ccms.ndim != 3 or ccms.shape[1:] != (3, 3) or awb.shape != (ccms.shape[0], 3) or ccms.shape[0] < 3:
        raise ArtifactError(f"{where}: expected ccm (N, 3, 3) and awb (N, 3) with N >= 3, got "
                            f"{ccms.shape} and {awb.shape}")
    if not (np.all(np.isfinite(ccms)) and np.all(np.isfinite(awb)) and np.all(awb > 0)):
        raise ArtifactError(f"{where}: non-finite matrix entries or non-positive white-balance gains")
    illums = 1.0 / awb
    illums = np.stack([illums[:, 0] / illums[:, 1], illums[:, 1] / illums[:, 1], illums[:, 2] / illums[:, 1]], 1)
    return CcmDictionary(ccms=ccms, illums=illums, mean=np.mean(illums, 0), cov=np.cov(np.transpose(illums)))


@lru_cache(maxsize=4)
def _load_cached(path: str, size: int, mtime_ns: int) -> CcmDictionary:
    return _parse(Path(path).read_bytes(), path)


def load_ccm_dictionary(path: str | Path) -> CcmDictionary:
    """Read a dictionary pickle (numpy arrays only; anything else is refused). Cached per file version.

    Raises:
        ArtifactError: unreadable file, other pickled objects, wrong keys or shapes.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ArtifactError(f"{p}: cannot read the CCM/AWB dictionary: {exc}") from None
    return _load_cached(str(p), st.st_size, st.st_mtime_ns)


def sample_illuminant(d: CcmDictionary, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Step 2: (illuminant float64 (3,), number of rejected draws)."""
    min_r, max_r = d.illums[:, 0].min(), d.illums[:, 0].max()
    min_b, max_b = d.illums[:, 2].min(), d.illums[:, 2].max()
    rejected = 0
    while True:
        s = rng.multivariate_normal(d.mean, d.cov, 1).squeeze()
        if min_r < s[0] < max_r and min_b < s[2] < max_b:
            return s, rejected
        rejected += 1
        if rejected > 100_000:
            raise ArtifactError("CCM/AWB dictionary: no illuminant inside the dictionary's bounds after 100000 draws")


def knn_ccm(d: CcmDictionary, illum: np.ndarray, k: int = 3,
            rows: KnnCcm = "first_k") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 3-4: (ccm float64 (3, 3), neighbour indices int (k,), distances float64 (k,))."""
    if rows not in ("first_k", "neighbours"):
        raise ValueError(f"knn_ccm must be 'first_k' or 'neighbours', got {rows!r}")
    target = np.asarray(illum, dtype=np.float64)[0::2]
    diff = d.illums[:, 0::2] - np.tile(target, (d.illums.shape[0], 1))
    mse = np.mean(diff * diff, axis=1)
    inds = np.argsort(mse)[0:k]
    weights = mse[inds]
    iw = 1 / weights
    ccm = np.zeros([3, 3]).astype("float64")
    for i in range(len(inds)):
        row = i if rows == "first_k" else int(inds[i])
        ccm += iw[i] / np.sum(iw) * d.ccms[row, :, :].squeeze()
    return ccm, inds, weights


def sample_ccm_illuminant(d: CcmDictionary, rng: np.random.Generator, k: int = 3,
                          rows: KnnCcm = "first_k") -> dict[str, Any]:
    """Steps 2-4: ``{'illum': (3,), 'ccm': (3, 3), 'knn': (k,), 'knn_mse': (k,), 'rejected': int}``."""
    illum, rejected = sample_illuminant(d, rng)
    ccm, inds, w = knn_ccm(d, illum, k, rows)
    return {"illum": illum, "ccm": ccm, "knn": inds, "knn_mse": w, "rejected": rejected}
