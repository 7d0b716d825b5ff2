"""InterLCM on CPU with the official tiny fixture modules: time per image, batched vs one at a time.

Measures, in the same run (tiny random-weight modules from ../shared/fixtures/interlcm/, real photo crops, the
pipeline at ``--size`` px):

* one at a time: ``InterLCM(batch_size=1).restore`` called per image (the official script's way);
* batch-invariant (default): ``batch_size=B``, one call; networks still run image by image inside the chunk, so
  outputs are byte-identical to one at a time (checked);
* batched networks (``batch_invariant=False``): one network call per step for the whole chunk (outputs agree
  within one grey level, checked).

Rounds are interleaved and the median per-image time is used, so load from other processes affects all three
alike. Prints the times and the ratios against one at a time.
Usage: ``python benchmarks/bench_interlcm.py [--images 4] [--steps 4] [--size 64] [--rounds 3] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT.parent / "shared" / "fixtures" / "interlcm"


def faces(n: int) -> np.ndarray:
    """``n`` distinct 512x512 crops of skimage's astronaut photo (NASA, public domain)."""
    import cv2
    import skimage.data

    astro = skimage.data.astronaut()
    return np.stack([cv2.resize(np.ascontiguousarray(astro[(i * 7) % 100:(i * 7) % 100 + 400,
                                                           (i * 13) % 100 + 50:(i * 13) % 100 + 450]),
                                (512, 512), interpolation=cv2.INTER_AREA) for i in range(n)])


def tiny_files(dest: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "tests" / "methods" / "interlcm"))
    from conftest import make_tiny_weights  # the same tiny layout the tests use

    return make_tiny_weights(FIX, json.loads((FIX / "tiny_configs.json").read_text()), dest)


def restorer(tiny: dict[str, Path], steps: int, size: int, batch_size: int, invariant: bool) -> Any:
    from bfrbench.methods.interlcm import InterLCM

    r = InterLCM(steps=steps, size=size, batch_size=batch_size, batch_invariant=invariant,  # type: ignore[arg-type]
                 visual_encoder=str(tiny["visual_encoder"]), spatial_encoder=str(tiny["spatial_encoder"]),
                 clip=str(tiny["clip"]), lcm=str(tiny["lcm"]), sd_unet_config=str(tiny["sd_unet_config"]),
                 arch=str(tiny["arch"]))
    r.networks()
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4, choices=(4, 2))
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if not FIX.is_dir():
        sys.exit(f"fixtures not found at {FIX}")
    tiny = tiny_files(Path(tempfile.mkdtemp(prefix="bench_interlcm_")))
    lq, seeds = faces(args.images), list(range(args.images))
    single = restorer(tiny, args.steps, args.size, 1, True)
    inv = restorer(tiny, args.steps, args.size, args.images, True)
    fast = restorer(tiny, args.steps, args.size, args.images, False)
    times: dict[str, list[float]] = {"one at a time": [], "batch-invariant": [], "batched networks": []}
    outs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        outs["one at a time"] = np.concatenate([single.restore(lq[i:i + 1], seeds=[s]) for i, s in enumerate(seeds)])
        times["one at a time"].append((time.perf_counter() - t0) / args.images)
        for name, r in (("batch-invariant", inv), ("batched networks", fast)):
            t0 = time.perf_counter()
            outs[name] = r.restore(lq, seeds=seeds)
            times[name].append((time.perf_counter() - t0) / args.images)
    assert np.array_equal(outs["batch-invariant"], outs["one at a time"]), "batch-invariant output differs"
    gap = int(np.abs(outs["batched networks"].astype(int) - outs["one at a time"]).max())
    base = statistics.median(times["one at a time"])
    print(f"InterLCM tiny, {args.images} images, {args.steps} steps, {args.size} px, {args.threads} thread(s), "
          f"median of {args.rounds} rounds")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:18s} {1000 * med:8.1f} ms/image   speed-up vs one at a time: {base / med:5.2f}x")
    print(f"  batch-invariant output == one at a time: True; batched networks max |diff|: {gap} grey level(s)")


if __name__ == "__main__":
    main()
