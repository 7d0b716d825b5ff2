"""No-reference learned IQA metrics through pyiqa 0.1.16 (IQA-PyTorch, github.com/chaofengc/IQA-PyTorch).

``musiq`` (Ke et al., ICCV 2021; KonIQ-10k checkpoint), ``maniqa`` (Yang et al., CVPRW 2022; KonIQ
checkpoint) and ``clipiqa`` (Wang et al., AAAI 2023; CLIP RN50 backbone). Each is built with
``pyiqa.create_metric(name, pretrained_model_path=<file from bfrbench's weights cache>)`` so pyiqa never
downloads anything itself; a missing file raises :class:`~bfrbench.errors.MissingWeightsError` naming
it. Inputs: RGB uint8 -> float [0, 1] (N, 3, H, W), pyiqa's convention. Scores are pyiqa's, unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from bfrbench.metrics._base import ImageItem, NoRefMetric, Shared
from bfrbench.metrics._stable import NETWORK_DIGITS

__all__ = ["MUSIQ", "MANIQA", "CLIPIQA"]


@lru_cache(maxsize=4)
def _pyiqa_model(name: str, weight_path: str, device: str) -> Any:
    import pyiqa
    import torch

    if name == "clipiqa":
        # CLIP-IQA loads its CLIP backbone by name or path; hand it the local RN50 file.
        return pyiqa.create_metric(name, device=torch.device(device), backbone=weight_path, as_loss=False)
    return pyiqa.create_metric(name, device=torch.device(device), pretrained_model_path=weight_path, as_loss=False)


class _PyiqaNR(NoRefMetric):
    stored_digits: ClassVar[int | dict[str, int] | None] = NETWORK_DIGITS  # network forward: not bit-stable
    pyiqa_name: ClassVar[str] = ""
    default_variant: ClassVar[str] = "pyiqa"

    def score_images(self, images: list[ImageItem], shared: Shared) -> tuple[np.ndarray, list[str | None]]:
        import torch

        from bfrbench.weights import resolve

        path = str(resolve(self.weights_for(self.variant)[0]))

        def run(ims: list[np.ndarray]) -> np.ndarray:
            model = _pyiqa_model(self.pyiqa_name, path, self.device)
            out = []
            for s in range(0, len(ims), self.batch_size):
                x = torch.from_numpy(np.stack(ims[s:s + self.batch_size])).permute(0, 3, 1, 2).float() / 255.0
                with torch.inference_mode():
                    out.append(model(x.to(self.device)).reshape(-1).double().cpu().numpy())
            return np.concatenate(out)

        vals = np.array([float(v) for v in shared.get(self.cache_id(), images, run)])
        return vals, [None] * len(vals)


class MUSIQ(_PyiqaNR):
    """MUSIQ multi-scale image quality transformer (KonIQ-10k), higher is better."""

    name: ClassVar[str] = "musiq"
    pyiqa_name: ClassVar[str] = "musiq"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 100.0)
    variants: ClassVar[dict[str, str]] = {"pyiqa": "pyiqa 'musiq' (KonIQ-10k checkpoint)"}
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"pyiqa": ("pyiqa-musiq-koniq",)}
    reference: ClassVar[str] = "pyiqa 0.1.16 create_metric('musiq')"
    paper: ClassVar[str] = "Ke, Wang, Wang, Milanfar, Yang, ICCV 2021"


class MANIQA(_PyiqaNR):
    """MANIQA multi-dimension attention network (KonIQ checkpoint), higher is better."""

    name: ClassVar[str] = "maniqa"
    pyiqa_name: ClassVar[str] = "maniqa"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)
    variants: ClassVar[dict[str, str]] = {"pyiqa": "pyiqa 'maniqa' (KonIQ checkpoint)"}
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"pyiqa": ("pyiqa-maniqa-koniq",)}
    reference: ClassVar[str] = "pyiqa 0.1.16 create_metric('maniqa')"
    paper: ClassVar[str] = "Yang et al., CVPR Workshops 2022"


class CLIPIQA(_PyiqaNR):
    """CLIP-IQA (CLIP RN50 with antonym prompts), higher is better."""

    name: ClassVar[str] = "clipiqa"
    pyiqa_name: ClassVar[str] = "clipiqa"
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)
    variants: ClassVar[dict[str, str]] = {"pyiqa": "pyiqa 'clipiqa' (CLIP RN50 backbone)"}
    variant_weights: ClassVar[dict[str, tuple[str, ...]]] = {"pyiqa": ("openai-clip-rn50",)}
    reference: ClassVar[str] = "pyiqa 0.1.16 create_metric('clipiqa')"
    paper: ClassVar[str] = "Wang, Chan, Loy, AAAI 2023"
