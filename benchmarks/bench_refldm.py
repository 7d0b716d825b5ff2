"""ReF-LDM on CPU with the fixtures' tiny configuration: batched vs unbatched, CacheKV vs spatial concatenation.

Measures, in the same run (tiny random-weight model from ../shared/fixtures/refldm/, real photo crops):

1. time per image of ``RefLDM.restore``: native batched (``batch_size=B``, B images with mixed reference counts,
   one call) vs a plain unbatched loop (one image per call, ``batch_size=1``). Rounds are interleaved and the
   median per-image time is used, so load from other processes affects both alike. Outputs are checked to agree.
2. one guided denoising step (CFG batch of 2 rows) with N references, in fresh subprocesses: CacheKV (the reference
   K/V computed once, appended in attention) vs concatenating the reference latents spatially along width and
   running the whole UNet on the wide latent at every step (the baseline of the paper's Table 2). Reports time per
   step and peak resident memory above the process's resident memory before the step (``ru_maxrss``).

Prints the ratios. Usage: ``python benchmarks/bench_refldm.py [--images 4] [--refs 5] [--steps 4]
[--size 128] [--mem-size 512] [--rounds 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

FIX = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "refldm"


def faces(n: int) -> list[np.ndarray]:
    """``n`` distinct 512x512 crops of skimage's astronaut photo (NASA, public domain)."""
    import cv2
    import skimage.data

    astro = skimage.data.astronaut()
    out = []
    for i in range(n):
        y, x = (i * 7) % 100, (i * 13) % 100
        out.append(cv2.resize(np.ascontiguousarray(astro[y:y + 400, x + 50:x + 450]), (512, 512),
                              interpolation=cv2.INTER_AREA))
    return out


def restorer(batch_size: int, steps: int, size: int) -> Any:
    from bfrbench.methods.refldm import RefLDM

    r = RefLDM(weights=str(FIX / "tiny_refldm_weights.safetensors"), config=str(FIX / "tiny_refldm_config.json"),
               steps=steps, size=size, batch_size=batch_size)
    r.model()
    return r


def bench_batching(args: argparse.Namespace) -> None:
    imgs = faces(args.images + args.refs)
    lq = np.stack(imgs[: args.images])
    pool = imgs[args.images:]
    counts = [(i % args.refs) + 1 for i in range(args.images)]  # mixed reference counts 1..K
    refs = [pool[:c] for c in counts]
    seeds = list(range(args.images))
    batched, single = restorer(args.images, args.steps, args.size), restorer(1, args.steps, args.size)
    t_b, t_s = [], []
    out_b = out_s = None
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        out_b = batched.restore(lq, refs=refs, seeds=seeds)
        t_b.append((time.perf_counter() - t0) / args.images)
        t0 = time.perf_counter()
        out_s = np.stack([single.restore(lq[i:i + 1], refs=[refs[i]], seeds=[seeds[i]])[0]
                          for i in range(args.images)])
        t_s.append((time.perf_counter() - t0) / args.images)
    assert out_b is not None and out_s is not None
    diff = np.abs(out_b.astype(np.int16) - out_s)
    mb, ms = statistics.median(t_b), statistics.median(t_s)
    print(f"[1] tiny ReF-LDM, {args.images} images, reference counts {counts}, {args.steps} DDIM steps, "
          f"model size {args.size}, {args.threads} thread(s)")
    print(f"    batched (batch_size={args.images}): {mb * 1000:8.1f} ms/image")
    print(f"    unbatched loop (batch_size=1):  {ms * 1000:8.1f} ms/image")
    print(f"    speed-up batched / unbatched: {ms / mb:.2f}x; outputs differ by <= {diff.max()} grey level "
          f"in {(diff > 0).mean() * 100:.4f} % of values")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(mode: str, n_refs: int, latent: int, reps: int) -> dict[str, float]:
    """One guided step (2 CFG rows) in this fresh process; returns seconds/step and peak memory delta."""
    import torch

    from bfrbench.methods.refldm.loading import load_model
    from bfrbench.methods.refldm.model import load_config
    from bfrbench.methods.refldm.unet import stack_ref_kv

    model, _ = load_model(load_config(FIX / "tiny_refldm_config.json"), FIX / "tiny_refldm_weights.safetensors")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, latent, latent, generator=g)
    refs = torch.randn(n_refs, 8, latent, latent, generator=g)
    t = torch.full((2,), 500)
    with torch.inference_mode():
        if mode == "cachekv":
            kv = model.reference_kv(refs)
            ref = stack_ref_kv([kv, kv])
        else:
            wide_refs = torch.cat([torch.cat([r[None], torch.zeros(1, 8, latent, latent)], 1) for r in refs], -1)
            x = torch.cat([x, wide_refs.expand(2, -1, -1, -1)], dim=-1)  # (2, 16, h, w * (1 + N))
        model.unet(torch.zeros(1, 16, 16, 16), t[:1], None)  # warm up kernels/allocators on a tiny input
        before = _rss_bytes()
        peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            if mode == "cachekv":
                model.unet(x, t, ref)
            else:
                model.unet(x, t, None)
            times.append(time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": statistics.median(times), "peak_delta_bytes": float(max(peak, peak0) - before),
            "baseline_peak_above_rss": float(peak0 - before)}


def bench_memory(args: argparse.Namespace) -> None:
    latent = args.mem_size // 8
    res = {}
    for mode in ("cachekv", "spatial"):
        cmd = [sys.executable, __file__, "--child", mode, "--refs", str(args.refs), "--size", str(args.mem_size),
               "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    c, s = res["cachekv"], res["spatial"]
    print(f"[2] one CFG step (2 rows), {args.refs} references, latent {latent}x{latent} (tiny UNet)")
    for name, r in (("CacheKV", c), ("spatial concat", s)):
        print(f"    {name:15s} {r['seconds'] * 1000:8.1f} ms/step, peak memory +{r['peak_delta_bytes'] / 2**20:7.1f} MiB")
    print(f"    spatial / CacheKV: time {s['seconds'] / c['seconds']:.2f}x, peak memory "
          f"{s['peak_delta_bytes'] / max(c['peak_delta_bytes'], 1.0):.2f}x "
          "(peak = ru_maxrss minus resident memory before the step; the reference pass of CacheKV runs once per "
          "image and is excluded, as it is amortised over all steps)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--refs", type=int, default=5)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--size", type=int, default=128, help="model working size (tiny config: 128; 512 is slow)")
    p.add_argument("--mem-size", type=int, default=512,
                   help="image size for the CacheKV vs spatial comparison (512: latent 64x64, as the real model)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch threads (batching pays off with >1 thread or on GPU)")
    p.add_argument("--child", choices=["cachekv", "spatial"], default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child, args.refs, args.size // 8, reps=2)))
        return
    if not FIX.is_dir():
        sys.exit(f"fixtures not found at {FIX}")
    bench_batching(args)
    bench_memory(args)


if __name__ == "__main__":
    main()
