"""DT-BFR (Kuai et al., WACV 2025): networks, diffusion prior and pseudo-target generation, native.

Official code: https://github.com/SamsungLabs/DT-BFR (commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd).
Modules (import them directly; this package imports nothing heavy):

* ``swinir``    the restorer (SwinIR with the 8x PixelUnshuffle front end, nearest+conv x8 tail);
* ``iddpm``     the improved-DDPM UNet of the FFHQ-512 prior (learned sigma);
* ``diffusion`` the 1000-step linear schedule, respacing, ``q_sample``, ``p_mean_variance``, ancestral step;
* ``resizer``   the official cubic antialiased low-pass resizer (D/U of the low-frequency constraint);
* ``pseudo``    the pseudo-target loop and :func:`~bfrbench.methods.dtbfr.pseudo.generate_pseudo_targets`;
* ``loading``   strict loading of ``swinir_gan_v1.pth`` and ``iddpm_ffhq512_ema500000.pth``.

See docs/methods/dtbfr.md.
"""

from __future__ import annotations

__all__: list[str] = []
