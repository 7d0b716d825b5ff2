"""Seconds per training iteration of each CLR-Face stage at full size, through the public training API.

Usage: ``python benchmarks/clrface_stage_timing.py [--iters 3] [--batch-size 1] [--device cpu] [--out DIR]``

Runs ``train_stage`` for each stage on two real faces (skimage's astronaut crop and its mirror, 512x512) with
the default (full-size) config, except: ``perceptual_weight=0`` (LPIPS needs torchvision's VGG16 download) and a
seeded-random face-recognition network saved to a local file (the registered ArcFace is a download). Prints the
median wall and process-CPU seconds per iteration after the first (warm-up) one, and the ratio of each stage to the autoencoder
stage measured in the same run. docs/methods/clrface.md extrapolates these numbers to full training runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    import cv2
    import torch
    from skimage import data

    from bfrbench.io import write_png
    from bfrbench.methods.clrface.config import CLRFaceConfig
    from bfrbench.methods.clrface.face_recognition import ResNetArcFace, init_seeded_
    from bfrbench.methods.clrface.train import TrainOptions, train_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None)
    ap.add_argument("--flops", action="store_true", help="only count FLOPs (meta tensors, no compute, seconds)")
    args = ap.parse_args()
    if args.flops:
        count_flops()
        return
    root = Path(args.out or tempfile.mkdtemp(prefix="clrface_timing_"))
    faces = root / "faces"
    face = cv2.resize(data.astronaut()[20:260, 120:360], (512, 512), interpolation=cv2.INTER_CUBIC)
    write_png(faces / "a.png", face)
    write_png(faces / "b.png", face[:, ::-1].copy())
    cfg = CLRFaceConfig()
    cfg.train.perceptual_weight = 0.0
    fr_file = root / "fr_random.pth"
    torch.save(init_seeded_(ResNetArcFace(cfg.fr), 0).state_dict(), fr_file)
    per_iter: dict[str, float] = {}
    for stage in ("autoencoder", "prior", "irn", "mask"):
        stamps: list[float] = []

        cpu: list[float] = []

        def stamp(it: int, logs: dict, stamps: list[float] = stamps, cpu: list[float] = cpu) -> None:
            stamps.append(time.perf_counter())
            cpu.append(time.process_time())

        t0, c0 = time.perf_counter(), time.process_time()
        train_stage(stage, TrainOptions(faces=str(faces), recipe="gfpgan", out=str(root / "run"), iters=args.iters,
                                        config=cfg, batch_size=args.batch_size, device=args.device, progress=False,
                                        tensorboard=False, fr_weights=str(fr_file),
                                        on_step=stamp))
        steps = [b - a for a, b in zip([t0] + stamps[:-1], stamps)][1:] or [stamps[0] - t0]
        cpu_steps = [b - a for a, b in zip([c0] + cpu[:-1], cpu)][1:] or [cpu[0] - c0]
        per_iter[stage] = statistics.median(steps)
        print(f"{stage:12s} {per_iter[stage]:8.2f} s/iteration wall, {statistics.median(cpu_steps):8.2f} s CPU "
              f"(batch {args.batch_size}, {args.device}, wall ratio to autoencoder "
              f"{per_iter[stage] / per_iter['autoencoder']:.2f})", flush=True)
    time_inference(root / "run", face, fr_file, args.device)


def count_flops() -> None:
    """FLOPs (multiply-add = 2) of full-size training steps (batch 1) and inference pieces, on meta tensors."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from bfrbench.methods.clrface.config import CLRFaceConfig
    from bfrbench.methods.clrface.face_recognition import ResNetArcFace, gray_resize
    from bfrbench.methods.clrface.pipeline import build_network

    cfg = CLRFaceConfig()
    with torch.device("meta"):
        ae, sc, irn = (build_network(cfg, s) for s in ("autoencoder", "prior", "irn"))
        fr = ResNetArcFace(cfg.fr).eval()
        x, z, t = torch.randn(1, 3, 512, 512), torch.randn(1, 4, 128, 128), torch.rand(1)
        jobs = {
            "autoencoder train step": lambda: sum(ae(x)).mean().backward(),
            "prior train step": lambda: sc(z, t, z).mean().backward(),
            "irn train step": lambda: irn(x).sum().backward(),
            "score forward": lambda: sc(z, t, z),
            "decoder forward": lambda: ae.decode(z),
            "fr forward": lambda: fr(gray_resize(x, 128)),
        }
        for name, job in jobs.items():
            with FlopCounterMode(display=False) as m:
                job()
            print(f"{name:24s} {m.get_total_flops() / 1e9:10.1f} GFLOP", flush=True)


def time_inference(run: Path, face: object, fr_file: Path, device: str) -> None:
    """Seconds per sampler step for one 512x512 image, with and without identity guidance (2 vs 3 steps)."""
    import numpy as np

    from bfrbench.methods.clrface import CLRFace

    lq = np.asarray(face)[None]
    for guidance in (0.0, 0.05):
        r = CLRFace(weights=str(run), guidance=guidance, fr_weights=str(fr_file), device=device)
        r.pipeline()
        t = {}
        for steps in (2, 3):
            r.steps = steps
            t0 = time.perf_counter()
            r.restore(lq, seeds=[0])
            t[steps] = time.perf_counter() - t0
        print(f"inference    {t[3] - t[2]:8.2f} s/step (guidance {guidance}), "
              f"{t[2] - 2 * (t[3] - t[2]):.2f} s fixed per image", flush=True)


if __name__ == "__main__":
    main()
