"""ArcFace identity embeddings (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
CVPR 2019) from insightface ONNX recognition models, run with onnxruntime, on FFHQ-aligned 512x512 faces.

Two ways to get the 112x112 network input from an aligned 512 face (``crop=``):

* ``"refldm"`` (default): ReF-LDM's identity loss / FFHQ-Ref protocol (``ldm/modules/losses/identity_loss.py``
  of ChiWeiHsiao/ref-ldm): central crop ``[int(0.0625 * 512) : int(0.9375 * 512)]`` = rows/cols 32..479 on
  both axes (448x448), area-resize to 112x112 (an exact 4x4 box mean), RGB in [-1, 1].
* ``"norm_crop"``: insightface's ``face_align.norm_crop``: the similarity (skimage ``SimilarityTransform``
  least squares) from the five FFHQ template points to insightface's ``arcface_dst`` 112x112 points, bilinear
  ``cv2.warpAffine`` with a black border, RGB normalised as insightface's ``ArcFaceONNX`` does:
  ``(x - 127.5) / 127.5``, or no normalisation for MXNet-converted graphs that start with Sub/Mul nodes.

Models (``model=``): ``webface_r50`` (the model ReF-LDM used to build FFHQ-Ref; default), ``buffalo_l``
(w600k_r50) and ``antelopev2`` (glintr100), all downloaded by users (:mod:`bfrbench.faces._weights`);
``model_path=`` runs any insightface-style ONNX file (input (N, 3, 112, 112), output (N, D)).
Default threshold: cosine distance 0.4, FFHQ-Ref's reference threshold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bfrbench.errors import ConfigError
from bfrbench.faces._base import Embedder

__all__ = ["ArcFaceEmbedder", "ARCFACE_DST_112", "MODELS", "refldm_input", "norm_crop_input"]

#: insightface's five ArcFace reference points for 112x112 crops.
ARCFACE_DST_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                            [70.7299, 92.2041]], dtype=np.float64)
#: model name -> weight registry name
MODELS = {"webface_r50": "arcface-webface-r50", "buffalo_l": "arcface-buffalo_l-w600k_r50",
          "antelopev2": "arcface-antelopev2-glintr100"}


def refldm_input(faces: list[np.ndarray]) -> np.ndarray:
    """ReF-LDM preprocessing: (N, 512, 512, 3) uint8 RGB -> (N, 3, 112, 112) float32 in [-1, 1]."""
    x = np.stack(faces).astype(np.float64) / 255.0 * 2.0 - 1.0
    h = x.shape[1]
    lo, hi = int(h * 0.0625), int(h * 0.9375)
    c = x[:, lo:hi, lo:hi, :]
    n, s = c.shape[0], c.shape[1]
    if s % 112 == 0:  # torch 'area' interpolation with an integer factor is a box mean
        k = s // 112
        c = c.reshape(n, 112, k, 112, k, 3).mean(axis=(2, 4))
    else:
        import cv2

        c = np.stack([cv2.resize(im, (112, 112), interpolation=cv2.INTER_AREA) for im in c])
    return np.ascontiguousarray(c.transpose(0, 3, 1, 2), dtype=np.float32)


def _norm_crop_matrix(size: int = 512) -> np.ndarray:
    from skimage.transform import SimilarityTransform

    from bfrbench.faces.warp import ffhq_template

    t = SimilarityTransform.from_estimate(ffhq_template(size), ARCFACE_DST_112) if hasattr(
        SimilarityTransform, "from_estimate") else None
    if t is None:  # older scikit-image
        t = SimilarityTransform()
        t.estimate(ffhq_template(size), ARCFACE_DST_112)
    return np.asarray(t.params[:2], dtype=np.float64)


def norm_crop_input(faces: list[np.ndarray], *, mean: float = 127.5, std: float = 127.5) -> np.ndarray:
    """insightface norm_crop preprocessing: (N, 512, 512, 3) uint8 RGB -> (N, 3, 112, 112) float32."""
    import cv2

    m = _norm_crop_matrix(faces[0].shape[0])
    crops = np.stack([cv2.warpAffine(f, m, (112, 112), borderValue=0.0) for f in faces]).astype(np.float32)
    return np.ascontiguousarray(((crops - mean) / std).transpose(0, 3, 1, 2), dtype=np.float32)


def _is_mxnet_graph(path: Path) -> bool:
    """insightface's rule: Sub and Mul among the first 8 nodes mean the graph normalises its input itself."""
    import onnx

    nodes = onnx.load(str(path), load_external_data=False).graph.node[:8]
    sub = any(n.name.startswith(("Sub", "_minus")) for n in nodes)
    mul = any(n.name.startswith(("Mul", "_mul")) for n in nodes)
    return sub and mul


class ArcFaceEmbedder(Embedder):
    """insightface ArcFace ONNX model on onnxruntime.

    Args:
        device: ``"cpu"`` or ``"cuda"`` / ``"cuda:K"`` (CUDAExecutionProvider with device_id K).
        model: ``webface_r50`` | ``buffalo_l`` | ``antelopev2`` (weights from the bfrbench cache).
        model_path: explicit ONNX file instead (any insightface-style recognition model).
        crop: ``"refldm"`` or ``"norm_crop"`` (module docstring).
        batch_size: faces per onnxruntime call.
        threads: intra-op threads for the CPU provider (0 = onnxruntime's default).
    """

    name: ClassVar[str] = "arcface"
    # the model the default constructor loads (webface_r50), and only that one: importing another ArcFace model
    # (buffalo_l, antelopev2) must not make the default identity backend one that then fails on the missing
    # webface file (docs/security.md)
    weight_options: ClassVar[tuple[tuple[str, ...], ...]] = ((MODELS["webface_r50"],),)
    dim: ClassVar[int] = 512
    default_threshold: ClassVar[float] = 0.4
    paper = "Deng et al. CVPR 2019, ArcFace (insightface model zoo)"

    def __init__(self, *, device: str = "cpu", model: str = "webface_r50", model_path: str | os.PathLike[str] | None = None,
                 crop: Literal["refldm", "norm_crop"] = "refldm", batch_size: int = 32, threads: int = 0) -> None:
        import onnxruntime as ort

        from bfrbench.io.hashing import sha256_file
        from bfrbench.weights import resolve

        if crop not in ("refldm", "norm_crop"):
            raise ConfigError(f"crop must be 'refldm' or 'norm_crop', got {crop!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if model_path is None:
            if model not in MODELS:
                raise ConfigError(f"unknown ArcFace model {model!r}; known: {', '.join(MODELS)} (or pass model_path=)")
            path = resolve(MODELS[model])
            self.model_id = f"arcface-{model}"
        else:
            path = Path(model_path)
            if not path.is_file():
                raise ConfigError(f"model_path {path}: file not found")
            self.model_id = f"arcface-onnx:{path.name}"
        self.model_id += f"+{crop}"
        self.device = str(device)
        self.crop = crop
        self.batch_size = int(batch_size)
        providers: list[Any]
        if self.device == "cpu":
            providers = ["CPUExecutionProvider"]
        elif self.device.startswith("cuda"):
            dev_id = int(self.device.partition(":")[2] or 0)
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigError(f"device={self.device!r} needs onnxruntime-gpu (CUDAExecutionProvider is not available)")
            providers = [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
        else:
            raise ConfigError(f"device must be 'cpu' or 'cuda[:K]', got {device!r}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        inp = self._session.get_inputs()
        outs = self._session.get_outputs()
        if len(inp) != 1 or len(outs) != 1:
            raise ConfigError(f"{path}: expected an ONNX model with one input and one output, "
                              f"got {len(inp)} inputs / {len(outs)} outputs")
        shape = inp[0].shape
        if len(shape) != 4 or shape[1] != 3 or tuple(shape[2:]) != (112, 112):
            raise ConfigError(f"{path}: input {inp[0].name} has shape {shape}, expected (N, 3, 112, 112)")
        self._input_name = inp[0].name
        out_dim = outs[0].shape[-1]
        self.dim = int(out_dim) if isinstance(out_dim, int) else 512  # type: ignore[misc]
        self._raw_input = crop == "norm_crop" and _is_mxnet_graph(path)
        self.weights_sha256 = sha256_file(path)

    def preprocess(self, faces: list[np.ndarray]) -> np.ndarray:
        """(N, 512, 512, 3) uint8 faces -> the (N, 3, 112, 112) float32 network input."""
        if self.crop == "refldm":
            return refldm_input(faces)
        return norm_crop_input(faces, mean=0.0, std=1.0) if self._raw_input else norm_crop_input(faces)

    def _embed_batch(self, faces: list[np.ndarray]) -> np.ndarray:
        x = self.preprocess(faces)
        (y,) = self._session.run(None, {self._input_name: x})
        return np.asarray(y, dtype=np.float64).reshape(len(faces), -1)
