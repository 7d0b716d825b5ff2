"""Cost of DT-BFR fine-tuning: measured tiny on CPU here, extrapolated to the official full size by FLOPs.

Measures, in the same run (1 thread):

1. seconds per training iteration of :func:`bfrbench.methods.dtbfr.train.training_step` with the fixture-size tiny
   SwinIR (embed 12, depths (2, 2)) and a tiny discriminator (num_feat 8) at 64x64, batch 4, micro-batch 2,
   LPIPS off (no VGG weights here) — the real code path;
2. FLOPs of one iteration (forward + backward ~ 3x forward) counted with ``torch.utils.flop_counter`` on the
   *meta* device (nothing allocated) for that tiny setting and for the official one: SwinIR ``gan-v1``
   (180 channels, 8x6 blocks) at 512x512, ``UNetDiscriminatorSN(num_feat=64)``, LPIPS-VGG16 on the generator
   output, batch 16 = 4 micro-batches of 4;
3. the extrapolated seconds per full iteration = measured tiny seconds x (full FLOPs / tiny FLOPs), and for the
   official 20,000 iterations. This is an **extrapolation** (CPU efficiency differs between tiny and large
   convolutions, GPUs differ again); the FLOP ratio and the GPU estimate at an assumed sustained throughput are
   printed so a lab can redo it with its own numbers.

Usage: ``python benchmarks/bench_dtbfr_finetune.py [--iters N] [--gpu-tflops T]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def _models(preset: str, num_feat: int, device: str):  # noqa: ANN202
    from bfrbench.methods.dtbfr.discriminator import UNetDiscriminatorSN
    from bfrbench.methods.dtbfr.swinir import SwinIR, swinir_config

    with torch.device(device):
        return SwinIR(swinir_config(preset, drop_path_rate=0.0)).train(), UNetDiscriminatorSN(3, num_feat).train()


def _forward_flops(preset: str, num_feat: int, size: int, micro: int, lpips: bool) -> int:
    """FLOPs of the forwards of one micro-batch (G, D three times, LPIPS-VGG16 on two images) on meta tensors."""
    G, D = _models(preset, num_feat, "meta")
    x = torch.empty(micro, 3, size, size, device="meta")
    with FlopCounterMode(display=False) as fc:
        y = G(x)
        D(y), D(x), D(y)
        if lpips:
            from torchvision.models.vgg import cfgs, make_layers

            with torch.device("meta"):
                vgg = make_layers(cfgs["D"])[:30]  # LPIPS uses VGG16 up to relu5_3
            vgg(torch.cat([y, x]))
    return int(fc.get_total_flops())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--gpu-tflops", type=float, default=30.0, help="assumed sustained fp32 TFLOP/s of one GPU")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from bfrbench.methods.dtbfr.losses import LossWeights
    from bfrbench.methods.dtbfr.train import make_optimizers, training_step

    G, D = _models("tiny", 8, "cpu")
    opt_g, opt_d, sched = make_optimizers(G, D)
    gen = torch.Generator().manual_seed(0)
    lq, gt, real = (torch.rand(4, 3, 64, 64, generator=gen) for _ in range(3))
    times = []
    for _ in range(args.iters + 1):
        t0 = time.perf_counter()
        training_step(G, D, opt_g, opt_d, lq, gt, real, micro_batch=2, weights=LossWeights(lpips=0.0))
        sched.step()
        times.append(time.perf_counter() - t0)
    tiny_s = statistics.median(times[1:])
    tiny_f = 3 * 2 * _forward_flops("tiny", 8, 64, 2, lpips=False)          # 2 micro-batches, fwd+bwd
    full_f = 3 * 4 * _forward_flops("gan-v1", 64, 512, 4, lpips=True)       # 4 micro-batches of 4, fwd+bwd
    ratio = full_f / tiny_f
    full_s = tiny_s * ratio
    print(f"tiny (64x64, batch 4 = 2x2, SwinIR tiny, D num_feat 8, no LPIPS): {tiny_s * 1000:.1f} ms/iteration "
          f"(median of {args.iters}, 1 CPU thread), {tiny_f / 1e9:.3f} GFLOP/iteration")
    print(f"official (512x512, batch 16 = 4x4, SwinIR gan-v1, D num_feat 64, LPIPS-VGG): "
          f"{full_f / 1e12:.2f} TFLOP/iteration; FLOP ratio full/tiny = {ratio:,.0f}")
    print(f"EXTRAPOLATED 1-thread CPU: {full_s:,.0f} s/iteration, {full_s * 20000 / 86400:,.0f} days for 20,000")
    gpu_s = full_f / (args.gpu_tflops * 1e12)
    print(f"EXTRAPOLATED one GPU at {args.gpu_tflops:g} sustained TFLOP/s: {gpu_s:.2f} s/iteration, "
          f"{gpu_s * 20000 / 3600:.1f} h for 20,000 iterations (N GPUs: about 1/N of that)")


if __name__ == "__main__":
    main()
