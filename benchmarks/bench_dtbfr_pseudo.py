"""DT-BFR pseudo-target cost: measured at tiny scale here, extrapolated to the full 160M-parameter prior.

Measures, in one run (1 CPU thread):

1. FLOPs of one forward (``torch.utils.flop_counter`` on the meta device, nothing allocated) of the full iDDPM UNet
   (``iddpm_ffhq512``, 512x512), the full SwinIR (``swinir_gan_v1``, 512x512) and the tiny fixture models;
2. the wall time per image of the pseudo-target loop with the tiny models at the official proportions
   (respacing 250, start 150, reg_end 90 -> 150 UNet calls + 60 low-pass replacements; 64x64, N=8), and the
   resulting CPU throughput in GFLOP/s;
3. with ``--full-forward``: one forward of the full UNet and of the full SwinIR at 512x512 on this CPU (random
   weights; slow), giving the measured CPU time per full pseudo-target (150 UNet calls + 1 SwinIR call).

Prints the extrapolated time per image for the full models: on this CPU (measured per-forward time x 150), and
on a GPU for an assumed sustained throughput (``--gpu-tflops``, default 25 TFLOP/s: an assumption, not a
measurement; no GPU here). Usage: ``python benchmarks/bench_dtbfr_pseudo.py [--full-forward] [--gpu-tflops X]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from bfrbench.methods.dtbfr.iddpm import IDDPMUNet, iddpm_config
from bfrbench.methods.dtbfr.pseudo import PseudoTargetConfig, PseudoTargetSampler, per_image_noise
from bfrbench.methods.dtbfr.swinir import SwinIR, swinir_config


def flops(model_fn: object, *args: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as fc:
        model_fn(*args)  # type: ignore[operator]
    return float(fc.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-forward", action="store_true", help="also time one full-size forward of each network")
    ap.add_argument("--gpu-tflops", type=float, default=25.0, help="assumed sustained GPU throughput (TFLOP/s)")
    ap.add_argument("--images", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        full_unet, full_sw = IDDPMUNet(iddpm_config()), SwinIR(swinir_config())
        f_unet = flops(full_unet, torch.empty(1, 3, 512, 512), torch.zeros(1, dtype=torch.int64))
        f_sw = flops(full_sw, torch.empty(1, 3, 512, 512))
    tiny_unet, tiny_sw = IDDPMUNet(iddpm_config("tiny")).eval(), SwinIR(swinir_config("tiny")).eval()
    with torch.no_grad():
        for p in list(tiny_unet.parameters()) + list(tiny_sw.parameters()):
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    f_tiny = flops(tiny_unet, torch.zeros(1, 3, 64, 64), torch.zeros(1, dtype=torch.int64))
    cfg = PseudoTargetConfig(down_N=8, image_size=64)  # official 250/150/90 schedule, tiny image
    sampler = PseudoTargetSampler(tiny_unet, cfg, tiny_sw)
    lq = torch.rand(1, 3, 64, 64, generator=g)
    times = []
    for i in range(args.images):
        t0 = time.perf_counter()
        sampler(lq, per_image_noise([torch.Generator().manual_seed(i)], "cpu"), restore=True)
        times.append(time.perf_counter() - t0)
    t_tiny = min(times)
    calls = cfg.start
    print(f"FLOPs per forward: full iDDPM {f_unet / 1e9:.1f} G, full SwinIR {f_sw / 1e9:.1f} G, "
          f"tiny iDDPM {f_tiny / 1e9:.2f} G")
    print(f"tiny pseudo-target (64x64, {calls} UNet calls, {cfg.start - cfg.reg_end} low-pass steps): "
          f"{t_tiny:.2f} s/image on 1 CPU thread = {calls * f_tiny / t_tiny / 1e9:.1f} GFLOP/s")
    full_flops = calls * f_unet + f_sw
    print(f"full pseudo-target: {full_flops / 1e12:.1f} TFLOP/image")
    rate = calls * f_tiny / t_tiny
    print(f"extrapolated, this CPU at the tiny run's GFLOP/s: {full_flops / rate / 60:.1f} min/image")
    print(f"extrapolated, GPU at an assumed {args.gpu_tflops:g} TFLOP/s sustained: "
          f"{full_flops / (args.gpu_tflops * 1e12):.1f} s/image")
    if args.full_forward:
        unet, sw = IDDPMUNet(iddpm_config()).eval(), SwinIR(swinir_config()).eval()
        x = torch.randn(1, 3, 512, 512, generator=g)
        with torch.no_grad():
            t0 = time.perf_counter()
            unet(x, torch.tensor([602]))
            t_unet = time.perf_counter() - t0
            t0 = time.perf_counter()
            sw(x.clamp(0, 1))
            t_sw = time.perf_counter() - t0
        print(f"measured full forward on 1 CPU thread: iDDPM {t_unet:.1f} s ({f_unet / t_unet / 1e9:.1f} GFLOP/s), "
              f"SwinIR {t_sw:.1f} s; => {(calls * t_unet + t_sw) / 60:.1f} min per full pseudo-target on this CPU")


if __name__ == "__main__":
    main()
