"""ReF-LDM (NeurIPS 2024), native: VQGAN, UNet with CacheKV, DDIM with classifier-free guidance.

Official code: https://github.com/ChiWeiHsiao/ref-ldm (commit af6690c19fdc6421802fd7996510bcfef259bfd1).
Registered as the ``refldm`` method; see docs/methods/refldm.md. Importing this package imports torch lazily
(only the restorer class is imported here).
"""

from __future__ import annotations

from bfrbench.methods.refldm.restorer import RefLDM

__all__ = ["RefLDM"]
