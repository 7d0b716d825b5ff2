"""Official checkpoints of the restoration methods bfrbench targets (the ``methods`` weight catalogue).

Every URL is the authors' own release asset (GitHub releases; OpenAI's CDN for CLIP). None of these
authors publishes a SHA-256. Where a digest is registered, its origin is stated in ``note``:

* "observed by N downstream projects": independent projects that download the same release URL pin
  this SHA-256 in their code (we found them with a code search, 2026-11); N >= 2 agreeing pins for
  CodeFormer and GFPGAN, one pin (VisoMaster's downloader) for ReF-LDM and RestoreFormer++.
* CLIP: the SHA-256 is part of OpenAI's URL path, and the ``clip`` package verifies it (published).

Entries with ``sha256=None`` record the digest of the first verified download (trust on first use; see
:func:`bfrbench.weights.fetch`). CLR-Face (Suin & Chellappa) is not listed: no official checkpoint was
found. DT-BFR releases no fine-tuned restorer (it fine-tunes per target domain); its prior and its
pre-trained SwinIR base (the fine-tuning start point) are listed.
Licenses are those stated in each repository's README/LICENSE; most face-restoration weights are
non-commercial.
"""

from __future__ import annotations

from bfrbench.weights import WeightFile
from bfrbench.weights.hf import hf_files

_GH = "https://github.com"
_DOWNSTREAM = ("SHA-256 not published by the authors; value pinned by {n} independent downstream project(s) "
               "that download this exact release URL")

_HF_NOTE = ("Hugging Face file at a pinned commit, fetched with huggingface_hub; the revision is one that {n}; "
            "no SHA-256 is published (recorded on first download). Offline: `bfrbench weights import GROUP DIR` "
            "with a local snapshot folder")

WEIGHTS: list[WeightFile] = [
    # --- ReF-LDM (Hsiao et al., NeurIPS 2024), github.com/ChiWeiHsiao/ref-ldm release 1.0.0 ---------------
    WeightFile(
        name="refldm-unet", filename="refldm.ckpt",
        urls=(f"{_GH}/ChiWeiHsiao/ref-ldm/releases/download/1.0.0/refldm.ckpt",),
        sha256="ad953ba72b52ed32dd280232ff0070bc6cb097a71dce250318730c884e38b778",
        license="non-commercial research only (ReF-LDM README)",
        source="ReF-LDM: A Latent Diffusion Model for Reference-based Face Image Restoration (Hsiao et al., "
               "NeurIPS 2024): latent diffusion UNet with reference cache-KV attention",
        note=_DOWNSTREAM.format(n=1) + " (VisoMaster app/processors/models_data.py)"),
    WeightFile(
        name="refldm-vqgan", filename="vqgan.ckpt",
        urls=(f"{_GH}/ChiWeiHsiao/ref-ldm/releases/download/1.0.0/vqgan.ckpt",),
        sha256="7b08407b454f5328aaaf1eda35418a5a53dcc68caaf3bcf12ab88b8f21ec1a5d",
        license="non-commercial research only (ReF-LDM README)",
        source="ReF-LDM (Hsiao et al., NeurIPS 2024): VQGAN autoencoder (embed_dim 8, n_embed 8192, f=8 on 512 px)",
        note=_DOWNSTREAM.format(n=1) + " (VisoMaster app/processors/models_data.py)"),
    # --- InterLCM (Li et al., ICLR 2025), github.com/sen-mao/InterLCM release v0.1.0 -----------------------
    *[
        WeightFile(
            name=f"interlcm-{part}-encoder-{steps}step", filename=f"{part}_encoder_{steps}step.pth",
            urls=(f"{_GH}/sen-mao/InterLCM/releases/download/v0.1.0/{part}_encoder_{steps}step.pth",),
            license="CC BY-NC 4.0 (non-commercial; InterLCM README)",
            source=f"InterLCM: Low-Quality Images as Intermediate States of Latent Consistency Models for "
                   f"Effective Blind Face Restoration (Li et al., ICLR 2025): {part} encoder, "
                   f"{'3-step (4 LCM steps)' if steps == 3 else '1-step (2 LCM steps)'} model",
            note="file names from the InterLCM README (weights/InterLCM/...); also on the authors' Google Drive "
                 "folder 1iSYQ-cn6g7kcsTc2UkeGjEyrVmiEx_Ea; no published SHA-256 (recorded on first download). "
                 "The checkpoint stores its weights under 'params_ema'. InterLCM also needs the Hugging Face "
                 "pipelines SimianLuo/LCM_Dreamshaper_v7 and stable-diffusion-v1-5 (UNet config), fetched "
                 "with huggingface_hub, and interlcm-clip-vit-b16")
        for steps in (3, 1) for part in ("visual", "spatial")
    ],
    WeightFile(
        name="interlcm-clip-vit-b16", filename="ViT-B-16.pt",
        urls=(("https://openaipublic.azureedge.net/clip/models/"
               "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt"),),
        sha256="5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
        license="MIT (openai/CLIP)",
        source="CLIP ViT-B/16 image encoder (Radford et al., ICML 2021), InterLCM's semantic (visual) branch",
        note="published SHA-256: it is the URL's path component, checked by the clip package"),
    # --- Hugging Face repositories InterLCM builds on (pinned revisions; see bfrbench/weights/hf.py) -----------
    *hf_files(
        "lcm-dreamshaper-v7", "SimianLuo/LCM_Dreamshaper_v7", "a85df6a8bd976cdd08b4fd8f3b73f229c9e54df5",
        [("unet-config", "unet/config.json", None),
         ("unet", "unet/diffusion_pytorch_model.safetensors", None),
         ("vae-config", "vae/config.json", None),
         ("vae", "vae/diffusion_pytorch_model.safetensors", None),
         ("scheduler-config", "scheduler/scheduler_config.json", None)],
        license="MIT (LCM_Dreamshaper_v7 model card); Dreamshaper/SD-1.5 weights: CreativeML OpenRAIL-M",
        source="Latent Consistency Models (Luo et al., 2023): LCM_Dreamshaper_v7, the frozen LCM InterLCM runs",
        note=_HF_NOTE.format(n="the repository's main branch pointed to in the stored Hugging Face file listing "
                                "('Update scheduler/scheduler_config.json (#14)'), also pinned by one downstream "
                                "project")),
    *hf_files(
        "sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", "f03de327dd89b501a01da37fc5240cf4fdba85a1",
        [("unet-config", "unet/config.json", None)],
        license="CreativeML OpenRAIL-M",
        source="Stable Diffusion v1.5 UNet config, from which InterLCM's Spatial Encoder (ControlNet) is built "
               "(the official code names runwayml/stable-diffusion-v1-5, since removed; this is its mirror)",
        note=_HF_NOTE.format(n="one downstream project pins it (a code search, 2026-12)")),
    # --- DT-BFR (Kuai et al., WACV 2025), github.com/SamsungLabs/DT-BFR ----------------------------------------
    WeightFile(
        name="dtbfr-diffusion-prior", filename="iddpm_ffhq512_ema500000.pth",
        urls=(f"{_GH}/zsyOAOA/DifFace/releases/download/V1.0/iddpm_ffhq512_ema500000.pth",),
        license="see zsyOAOA/DifFace LICENSE (research use)",
        source="Towards Unsupervised Blind Face Restoration using Diffusion Prior (DT-BFR, Kuai et al., WACV "
               "2025): the pre-trained FFHQ-512 IDDPM prior it uses (from DifFace, Yue & Loy, TPAMI 2024)",
        note="DT-BFR's misc/download_weights.sh fetches this file; no published SHA-256 (recorded on first "
             "download). DT-BFR releases no fine-tuned restorer (fine-tuning is per target domain); its "
             "CodeFormer variant starts from codeformer-v0.1.0"),
    WeightFile(
        name="dtbfr-swinir-gan-v1", filename="swinir_gan_v1.pth",
        urls=(f"{_GH}/SamsungLabs/DT-BFR/releases/download/v1.0.0/swinir_gan_v1.pth",),
        license="see SamsungLabs/DT-BFR LICENSE (research use)",
        source="DT-BFR (Kuai et al., WACV 2025): the pre-trained SwinIR+GAN restorer (8x PixelUnshuffle front "
               "end, nearest+conv tail) used as the base model and as the fine-tuning start point",
        note="URL from DT-BFR's misc/download_weights.sh (commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd); no "
             "published SHA-256 (recorded on first download). A flat state dict; possibly with 'module.' "
             "prefixes, which the loader strips like the official reload_model"),
    WeightFile(
        name="dtbfr-codeformer-vqgan-discriminator", filename="vqgan_discriminator.pth",
        urls=(f"{_GH}/sczhou/CodeFormer/releases/download/v0.1.0/vqgan_discriminator.pth",),
        license="S-Lab License 1.0 (non-commercial)",
        source="CodeFormer VQGAN discriminator, used by DT-BFR's CodeFormer fine-tuning (adversarial loss)",
        note="only needed to fine-tune; restoration needs codeformer-v0.1.0; no published SHA-256 (recorded "
             "on first download)"),
    # --- common baselines ------------------------------------------------------------------------------------
    WeightFile(
        name="codeformer-v0.1.0", filename="codeformer.pth",
        urls=(f"{_GH}/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",),
        sha256="1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7", size=376637898,
        license="S-Lab License 1.0 (non-commercial)",
        source="CodeFormer: Towards Robust Blind Face Restoration with Codebook Lookup Transformer (Zhou et "
               "al., NeurIPS 2022)",
        note=_DOWNSTREAM.format(n="several") + "; size 376,637,898 bytes from the same pins"),
    WeightFile(
        name="gfpgan-v1.4", filename="GFPGANv1.4.pth",
        urls=(f"{_GH}/TencentARC/GFPGAN/releases/download/v1.3.4/GFPGANv1.4.pth",
              f"{_GH}/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth"),
        sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad", size=348632874,
        license="Apache-2.0 (GFPGAN); uses StyleGAN2 prior (see GFPGAN LICENSE)",
        source="GFPGAN: Towards Real-World Blind Face Restoration with Generative Facial Prior (Wang et al., "
               "CVPR 2021), v1.4 clean architecture, channel multiplier 2",
        note=_DOWNSTREAM.format(n="several") + "; the same asset is attached to releases v1.3.4 and v1.3.0"),
    WeightFile(
        name="gfpgan-v1.3", filename="GFPGANv1.3.pth",
        urls=(f"{_GH}/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.3.pth",),
        sha256="c953a88f2727c85c3d9ae72e2bd4846bbaf59fe6972ad94130e23e7017524a70", size=348632874,
        license="Apache-2.0 (GFPGAN); uses StyleGAN2 prior (see GFPGAN LICENSE)",
        source="GFPGAN (Wang et al., CVPR 2021), v1.3 clean architecture",
        note=_DOWNSTREAM.format(n="several")),
    WeightFile(
        name="restoreformerpp", filename="RestoreFormer++.ckpt",
        urls=(f"{_GH}/wzhouxiff/RestoreFormerPlusPlus/releases/download/v1.0.0/RestoreFormer++.ckpt",),
        sha256="613fe52805f86bf8c2bffff08ae9f7a0b99f408be1bf221767af6183038be3a2",
        license="Apache-2.0 (RestoreFormerPlusPlus repository)",
        source="RestoreFormer++: Towards Real-World Blind Face Restoration from Undegraded Key-Value Pairs "
               "(Wang et al., TPAMI 2023)",
        note=_DOWNSTREAM.format(n=1)),
    WeightFile(
        name="vqfr-v2", filename="VQFR_v2.pth",
        urls=(f"{_GH}/TencentARC/VQFR/releases/download/v2.0.0/VQFR_v2.pth",),
        license="see TencentARC/VQFR LICENSE",
        source="VQFR: Blind Face Restoration with Vector-Quantized Dictionary and Parallel Decoder (Gu et al., "
               "ECCV 2022), v2",
        note="no published SHA-256 (recorded on first download)"),
    WeightFile(
        name="gpen-bfr-512", filename="GPEN-BFR-512.pth",
        urls=("https://public-vigen-video.oss-cn-shanghai.aliyuncs.com/robin/models/GPEN-BFR-512.pth",),
        license="see yangxy/GPEN LICENSE (non-commercial research)",
        source="GPEN: GAN Prior Embedded Network for Blind Face Restoration in the Wild (Yang et al., CVPR 2021)",
        note="URL from the GPEN README; no published SHA-256 (recorded on first download)"),
]
