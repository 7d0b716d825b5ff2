"""Weight files of ReF-LDM (official GitHub release 1.0.0 of https://github.com/ChiWeiHsiao/ref-ldm).

The release publishes no checksums: the first verified download records the SHA-256 it saw
(trust on first use, see :mod:`bfrbench.weights`).
"""

from __future__ import annotations

from bfrbench.weights import WeightFile

_RELEASE = "https://github.com/ChiWeiHsiao/ref-ldm/releases/download/1.0.0"
_NOTE = ("official ReF-LDM release 1.0.0 (see the repository's README for the current download links); "
         "non-commercial license")

WEIGHTS = [
    WeightFile(
        name="refldm-unet",
        filename="refldm.ckpt",
        urls=(f"{_RELEASE}/refldm.ckpt",),
        license="non-commercial (ReF-LDM release)",
        source="ReF-LDM (NeurIPS 2024): flat LatentDiffusion state_dict (UNet, EMA UNet, VQGAN copies)",
        note=_NOTE,
    ),
    WeightFile(
        name="refldm-vqgan",
        filename="vqgan.ckpt",
        urls=(f"{_RELEASE}/vqgan.ckpt",),
        license="non-commercial (ReF-LDM release)",
        source="ReF-LDM (NeurIPS 2024): VQGAN f=8 autoencoder, Lightning checkpoint with 'state_dict'",
        note=_NOTE,
    ),
]
