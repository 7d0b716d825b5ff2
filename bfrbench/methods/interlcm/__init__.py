"""InterLCM (Li et al., ICLR 2025), native on current diffusers: Visual Encoder, CLIP tokens, Spatial Encoder
(ControlNet), LCM loop with the LQ latent as intermediate state, wavelet colour fix.

Official code: https://github.com/sen-mao/InterLCM (commit 2940f43402d7e49cd8ef522c37dfbbb5f4522b15). Registered
as the ``interlcm`` method; see docs/methods/interlcm.md. Importing this package does not import torch.
"""

from __future__ import annotations

from bfrbench.methods.interlcm.restorer import InterLCM

__all__ = ["InterLCM"]
