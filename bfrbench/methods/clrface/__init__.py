"""CLR-Face (Suin & Chellappa, IJCAI 2024, arXiv:2402.06106), reimplemented: the only runnable CLR-Face.

No official code or weights exist. Every module says what it takes from the paper ("paper:") and what was
chosen here ("ours:"); docs/methods/clrface.md has the table. Modules:

* config.py: every hyper-parameter (``CLRFaceConfig``, ``CLRFaceConfig.tiny()`` for tests)
* autoencoder.py (f=4 VQ autoencoder), score.py (VP SDE + conditional score UNet), sampler.py (DDIM-style
  reverse process), face_recognition.py (ArcFace ResNet-18 in torch), irn.py, mask.py, guidance.py
* data.py, stages.py, train.py: training per stage; weights_format.py: run folder and bundle
* pipeline.py, restorer.py: inference (registered method ``clrface``)

Importing this package does not import torch.
"""

from __future__ import annotations

from bfrbench.methods.clrface.config import CLRFaceConfig
from bfrbench.methods.clrface.restorer import CLRFace

__all__ = ["CLRFace", "CLRFaceConfig"]
