"""Stage 3 of DT-BFR: the resumable fine-tuning loop (single process or multi-process data parallel).

Source of the schedule: SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, ``trainer.py``
(``TrainerBase.train``: iteration ``k = 1..iterations`` runs ``training_step`` then steps G's cosine scheduler;
``save_freq`` checkpoints) with the step itself in :mod:`bfrbench.methods.dtbfr.train`.

Determinism and resume (differences from the official loop are listed in docs/methods/dtbfr-finetune.md):

* Data order: the pairs are reshuffled every epoch with ``item_generator(seed, "epoch<e>", "pairs")`` and cut into
  ``ceil(N / batch)`` batches, the last one smaller (the official ``DataLoader(shuffle=True, drop_last=False)``
  structure). Clean "real" faces come from an endless stream of full batches, reshuffled per pass
  (``item_generator(seed, "pass<p>", "real")``). With R ranks, rank r takes the r-th contiguous share of a batch.
* Stochastic depth draws from ``torch.Generator().manual_seed(item_seed(seed, "iter<k>", "droppath:<rank>"))``;
  the discriminator is initialised inside ``torch.random.fork_rng`` from ``item_seed(seed, "discriminator")``. No
  global random state is read or changed, so the RNG state of iteration k is a function of (seed, k).
* A checkpoint (:mod:`bfrbench.methods.dtbfr.checkpoint`) holds G, D (spectral-norm vectors included), both AdamW
  states and the scheduler state, so a run killed at any point and restarted from its last checkpoint gives the
  same weights bit for bit (CPU) as an uninterrupted run. The official resume restores only G's weights.
* Data parallel: ``devices=["cuda:0", "cuda:1", ...]`` starts one process per device (``torch.multiprocessing``,
  NCCL on CUDA, gloo on CPU). Gradients are all-reduced and averaged after accumulation, before the optimiser
  steps, which is what DDP computes; rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bfrbench.errors import BfrbenchError, ConfigError, MethodError
from bfrbench.methods.dtbfr.config import TrainConfig

__all__ = ["TrainData", "TrainingStopped", "train", "batch_indices", "real_indices"]

LOG_FIELDS = ("iteration", "lr", "l1", "lpips", "gan", "l_d_real", "l_d_fake", "seconds")


class TrainingStopped(BfrbenchError):
    """Training stopped on request (``stop_after``) after a completed iteration; rerun to resume."""


@dataclass(frozen=True)
class TrainData:
    """Training images.

    Attributes:
        pairs: (id, LQ path, pseudo-target path) triples, sorted by id.
        real: clean HQ faces for the discriminator's real term, or None (the pseudo-targets serve, as in the
            official trainer without a ``gan_clean`` loader).
    """

    pairs: tuple[tuple[str, str, str], ...]
    real: tuple[str, ...] | None = None


def batch_indices(n: int, batch: int, seed: int, iteration: int) -> np.ndarray:
    """Pair indices of (1-based) ``iteration``: epoch-wise permutations cut into ``ceil(n / batch)`` batches."""
    per_epoch = math.ceil(n / batch)
    epoch, b = divmod(iteration - 1, per_epoch)
    from bfrbench.rng import item_generator

    perm = item_generator(seed, f"epoch{epoch}", "pairs").permutation(n)
    return perm[b * batch:(b + 1) * batch]


def real_indices(n: int, batch: int, seed: int, iteration: int) -> np.ndarray:
    """Real-face indices of ``iteration``: full batches from an endless stream of per-pass permutations."""
    from bfrbench.rng import item_generator

    start = (iteration - 1) * batch
    out = []
    for s in range(start, start + batch):
        p, pos = divmod(s, n)
        out.append(item_generator(seed, f"pass{p}", "real").permutation(n)[pos])
    return np.asarray(out)


def _read_batch(paths: Sequence[str], size: int | None, pool: ThreadPoolExecutor) -> torch.Tensor:
    """(B, 3, H, W) float32 in [0, 1] from PNG/JPEG files (uint8 / 255; resized with INTER_AREA when ``size``)."""
    from bfrbench.io import read_image

    def one(p: str) -> np.ndarray:
        img = read_image(p)
        if size is not None and img.shape[:2] != (size, size):
            import cv2

            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        return img

    imgs = list(pool.map(one, paths))
    shapes = {i.shape for i in imgs}
    if len(shapes) != 1:
        raise ConfigError(f"training images of one batch differ in size {sorted(shapes)}; "
                          "use aligned faces of one size or train_size")
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0


class _Logs:
    """CSV log (always) and TensorBoard (when the ``tensorboard`` package imports) of rank 0."""

    def __init__(self, root: Path, resume_at: int) -> None:
        self.csv_path = root / "log.csv"
        rows: list[dict[str, str]] = []
        if self.csv_path.is_file():  # drop rows past the checkpoint being resumed: they are redone
            with open(self.csv_path, newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["iteration"]) <= resume_at]
        with open(self.csv_path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
            w.writeheader()
            w.writerows(rows)
        self.writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(root / "tb"), purge_step=resume_at + 1)
        except ImportError:  # tensorboard not installed: CSV only
            self.writer = None

    def row(self, rec: dict[str, float]) -> None:
        with open(self.csv_path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=LOG_FIELDS).writerow({k: rec.get(k, "") for k in LOG_FIELDS})
        if self.writer is not None:
            for k, v in rec.items():
                if k != "iteration":
                    self.writer.add_scalar(f"train/{k}", v, int(rec["iteration"]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(
    root: str | os.PathLike[str],
    cfg: TrainConfig,
    data: TrainData,
    *,
    g_config: dict[str, Any],
    g_init: str | os.PathLike[str],
    devices: Sequence[str] = ("cpu",),
    lpips_backbone: str | None = None,
    show_progress: bool | None = None,
    stop_after: int | None = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune SwinIR on (LQ, pseudo-target) pairs, resuming from ``root/latest.json`` when present.

    Args:
        root: training folder (checkpoints, ``log.csv``, ``tb/``).
        cfg: hyper-parameters (:class:`TrainConfig`).
        data: the images.
        g_config: SwinIR constructor arguments (official names; ``drop_path_rate`` comes from ``cfg``).
        g_init: starting SwinIR weights (``swinir_gan_v1.pth`` layout or safetensors).
        devices: one device per data-parallel rank (``["cpu"]``, ``["cuda:0", "cuda:1"]``); the batch is split
            evenly over ranks.
        lpips_backbone: torchvision VGG16 file or registry name for the LPIPS loss (None: ``torchvision-vgg16``).
        show_progress: tqdm bar (None: unless BFRBENCH_PROGRESS=0).
        stop_after: raise :class:`TrainingStopped` once this many iterations are complete (simulated kill).
        on_iteration: ``on_iteration(k, losses)`` after each iteration (single process only).

    Returns:
        ``{"iterations", "resumed_from", "checkpoint", "seconds_per_iteration", "tensorboard"}``.
    """
    root = Path(root)
    devices = list(devices)
    if not devices:
        raise ConfigError("devices must list at least one device")
    if cfg.batch_size % len(devices):
        raise ConfigError(f"batch_size {cfg.batch_size} must be divisible by the number of devices {len(devices)}")
    if not data.pairs:
        raise ConfigError("no training pairs")
    root.mkdir(parents=True, exist_ok=True)
    args = (root, cfg, data, dict(g_config), str(g_init), devices, lpips_backbone, show_progress, stop_after)
    if len(devices) == 1:
        return _run_rank(0, *args, port=0, on_iteration=on_iteration)
    if on_iteration is not None:
        raise ConfigError("on_iteration works in single-process training only")
    import torch.multiprocessing as mp

    try:
        mp.spawn(_spawn_entry, args=(*args, _free_port()), nprocs=len(devices), join=True)
    except Exception as exc:  # a rank failed: its message (BfrbenchError text or traceback) in one error
        raise MethodError(f"data-parallel training failed ({type(exc).__name__}): {exc}; rerun to resume from "
                          f"{root}") from exc
    summary_path = root / "train_summary.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    if summary.get("iterations") != cfg.iterations:
        raise TrainingStopped(f"training stopped before iteration {cfg.iterations}; rerun to resume from {root}")
    return summary


def _spawn_entry(rank: int, *args: Any) -> None:
    *rest, port = args
    try:
        _run_rank(rank, *rest, port=port, on_iteration=None)
    except TrainingStopped:
        return


# -- one rank -----------------------------------------------------------------------------------------------------
def _build(cfg: TrainConfig, g_config: dict[str, Any], g_init: str, device: torch.device) -> tuple[Any, Any]:
    """SwinIR with the starting weights (train mode) and a seeded random discriminator (train mode)."""
    from bfrbench.methods.dtbfr.discriminator import UNetDiscriminatorSN
    from bfrbench.methods.dtbfr.loading import load_into, read_state_dict
    from bfrbench.methods.dtbfr.swinir import SwinIR, SwinIRConfig
    from bfrbench.rng import item_seed

    g_cfg = SwinIRConfig.from_dict({**g_config, "drop_path_rate": cfg.drop_path_rate})
    G = load_into(SwinIR(g_cfg), read_state_dict(g_init), path=g_init, what="SwinIR")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(item_seed(cfg.seed, "discriminator"))
        D = UNetDiscriminatorSN(3, num_feat=cfg.disc_num_feat, skip_connection=True)
    return G.to(device).train(), D.to(device).train()


def _restore(root: Path, G: Any, D: Any, opt_g: Any, opt_d: Any, sched: Any, device: torch.device) -> int:
    """Load the latest checkpoint into the live objects; returns the completed iteration count (0: fresh)."""
    from bfrbench.methods.dtbfr.checkpoint import load_latest
    from bfrbench.methods.dtbfr.discriminator import load_discriminator_state
    from bfrbench.methods.dtbfr.loading import load_into

    found = load_latest(root, device)
    if found is None:
        return 0
    iteration, g_state, d_state, extra = found
    load_into(G, g_state, path=str(root / "latest.json"), what="SwinIR")
    load_discriminator_state(D, d_state, str(root / "latest.json"))
    opt_g.load_state_dict(extra["opt_g"])
    opt_d.load_state_dict(extra["opt_d"])
    sched.load_state_dict(extra["sched_g"])
    return iteration


def _all_reduce_grads(world: int) -> Callable[[Any, Any], None]:
    import torch.distributed as dist

    def hook(G: Any, D: Any) -> None:
        for net in (G, D):
            for p in net.parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad)
                p.grad.div_(world)

    return hook


def _iteration_batch(cfg: TrainConfig, data: TrainData, k: int, rank: int, world: int, pool: ThreadPoolExecutor,
                     device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    batch = batch_indices(len(data.pairs), cfg.batch_size, cfg.seed, k)
    if len(batch) < world:  # a short last batch of an epoch: repeat images so every rank has one (as
        batch = np.resize(batch, world)  # DistributedSampler pads)
    idx = np.array_split(batch, world)[rank]
    lq = _read_batch([data.pairs[i][1] for i in idx], cfg.train_size, pool).to(device)
    gt = _read_batch([data.pairs[i][2] for i in idx], cfg.train_size, pool).to(device)
    real = None
    if data.real:
        ridx = np.array_split(real_indices(len(data.real), cfg.batch_size, cfg.seed, k), world)[rank]
        real = _read_batch([data.real[i] for i in ridx], cfg.train_size, pool).to(device)
    return lq, gt, real


def _run_rank(rank: int, root: Path, cfg: TrainConfig, data: TrainData, g_config: dict[str, Any], g_init: str,
              devices: list[str], lpips_backbone: str | None, show_progress: bool | None, stop_after: int | None,
              *, port: int, on_iteration: Callable[[int, dict[str, float]], None] | None) -> dict[str, Any]:
    from bfrbench.methods.dtbfr.train import make_optimizers

    world = len(devices)
    device = torch.device(devices[rank])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world)
    try:
        G, D = _build(cfg, g_config, g_init, device)
        opt_g, opt_d, sched = make_optimizers(G, D, lr=cfg.lr, lr_min=cfg.lr_min, iterations=cfg.iterations,
                                              weight_decay=cfg.weight_decay)
        start = _restore(root, G, D, opt_g, opt_d, sched, device)
        return _loop(rank, world, root, cfg, data, G, D, opt_g, opt_d, sched, start, device, lpips_backbone,
                     show_progress, stop_after, on_iteration)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _loop(rank: int, world: int, root: Path, cfg: TrainConfig, data: TrainData, G: Any, D: Any, opt_g: Any,
          opt_d: Any, sched: Any, start: int, device: torch.device, lpips_backbone: str | None,
          show_progress: bool | None, stop_after: int | None,
          on_iteration: Callable[[int, dict[str, float]], None] | None) -> dict[str, Any]:
    from bfrbench.distributed import progress
    from bfrbench.methods.dtbfr.losses import build_lpips_vgg
    from bfrbench.methods.dtbfr.train import training_step
    from bfrbench.rng import item_seed

    lp = build_lpips_vgg(lpips_backbone, device) if cfg.lpips else None
    logs = _Logs(root, start) if rank == 0 else None
    amp = torch.bfloat16 if cfg.train_dtype == "bf16" else None
    hook = _all_reduce_grads(world) if world > 1 else None
    gen = torch.Generator(device)
    G.set_drop_path_generator(gen)
    bar = progress(None, total=cfg.iterations, desc="dtbfr finetune", enabled=show_progress) if rank == 0 else None
    if bar is not None:
        bar.update(start)
    secs: list[float] = []
    try:
        with ThreadPoolExecutor(cfg.io_threads) as pool:
            for k in range(start + 1, cfg.iterations + 1):
                t0 = time.perf_counter()
                lq, gt, real = _iteration_batch(cfg, data, k, rank, world, pool, device)
                gen.manual_seed(item_seed(cfg.seed, f"iter{k}", f"droppath:{rank}"))
                lr = float(opt_g.param_groups[0]["lr"])
                res = training_step(G, D, opt_g, opt_d, lq, gt, real, micro_batch=cfg.micro_batch,
                                    weights=cfg.loss_weights(), lpips_model=lp, d_grad_leak=cfg.d_grad_leak,
                                    autocast_dtype=amp, grad_hook=hook)
                sched.step()
                losses = _mean_over_ranks(res.mean(), world, device)
                secs.append(time.perf_counter() - t0)
                if k % cfg.save_every == 0 or k == cfg.iterations:
                    if rank == 0:
                        _save(root, k, cfg, G, D, opt_g, opt_d, sched)
                    _barrier(world)
                if logs is not None:
                    logs.row({"iteration": k, "lr": lr, **losses, "seconds": secs[-1]})
                if bar is not None:
                    bar.update(1)
                if on_iteration is not None:
                    on_iteration(k, losses)
                if stop_after is not None and stop_after <= k < cfg.iterations:
                    raise TrainingStopped(f"stopped after iteration {k} as requested; rerun to resume from {root}")
    finally:
        if logs is not None:
            logs.close()
        if bar is not None:
            bar.close()
    summary = {"iterations": cfg.iterations, "resumed_from": start,
               "checkpoint": (root / "latest.json").as_posix(),
               "seconds_per_iteration": float(np.median(secs)) if secs else None,
               "tensorboard": logs.writer is not None if logs is not None else None}
    if rank == 0:
        from bfrbench.io import atomic_write_json

        atomic_write_json(root / "train_summary.json", summary)
    return summary


def _save(root: Path, k: int, cfg: TrainConfig, G: Any, D: Any, opt_g: Any, opt_d: Any, sched: Any) -> None:
    from bfrbench.methods.dtbfr.checkpoint import save_checkpoint

    save_checkpoint(root, k, G.state_dict(), D.state_dict(),
                    {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched_g": sched.state_dict(),
                     "rng": {"scheme": "derived from (seed, iteration)", "seed": cfg.seed}},
                    cfg.keep_checkpoints)


def _mean_over_ranks(losses: dict[str, float], world: int, device: torch.device) -> dict[str, float]:
    if world == 1:
        return losses
    import torch.distributed as dist

    keys = sorted(losses)
    t = torch.tensor([losses[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / world for k, v in zip(keys, t.tolist(), strict=True)}


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
