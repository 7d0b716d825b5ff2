"""Training CLR-Face, one stage at a time: ``train_autoencoder``, ``train_prior``, ``train_irn``, ``train_mask``.

Each function trains one stage of a run folder (weights_format.py) on any folder of aligned faces, with LQ
made on the fly by a bfrbench degradation recipe (data.py). Shared loop (ours; the paper's schedule was not
reachable): AdamW, linear warm-up then constant learning rate, gradient clipping, optional autocast
(fp16 with a GradScaler, bf16), checkpoints every ``train.ckpt_every`` iterations.

Files under ``RUN/train/<stage>/``: ``ckpt.safetensors`` (model; ``ckpt_aux.safetensors``: the autoencoder's
discriminator), ``ckpt_state.pt`` (iteration, optimizer,
scheduler, scaler and torch RNG state; plain tensors/containers, loadable with ``torch.load(weights_only=True)``),
``log.csv`` (iteration, seconds, lr, loss, stage terms), ``tb/`` (TensorBoard, when importable), ``stage.json``.
When the stage reaches ``iters`` it writes ``RUN/<stage>.safetensors``.

Resume: a killed stage restarted with ``resume=True`` continues from its last checkpoint; because batches and
noise are functions of (seed, iteration) (data.py) and every state is restored, it ends with the same weights as
an uninterrupted run (bit-identical on CPU; tested).

Multi-GPU: ``ddp=True`` under ``torchrun`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``): one process per GPU with a
``torch.distributed`` process group (NCCL, or gloo on CPU); rank r takes positions ``r::world`` of each drawn
batch and gradients are averaged over ranks with ``all_reduce`` after every backward pass (what
``DistributedDataParallel`` does, done explicitly because the stage losses call their networks through closures
and the mask is a parameter, not a forward pass); rank 0 writes checkpoints and logs. Tested on CPU with two gloo
ranks (same weights as one process with the whole batch, within float re-association); NCCL/GPUs untested.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.io.atomic import atomic_write_bytes, atomic_write_json
from bfrbench.methods.clrface.config import STAGES, CLRFaceConfig, StageTrainConfig
from bfrbench.methods.clrface.weights_format import (
    read_run_config,
    save_stage,
    stage_path,
    write_run_config,
)
from bfrbench.rng import item_seed

__all__ = ["TrainOptions", "train_autoencoder", "train_irn", "train_mask", "train_prior", "train_stage"]


@dataclass
class TrainOptions:
    """Arguments of a training stage (the CLI's flags).

    Args:
        faces: folder of aligned faces; recipe: degradation preset name or YAML file; out: run folder.
        iters: total iterations of the stage (a resumed stage continues up to it).
        config: CLRFaceConfig, a JSON file path, or ``"tiny"``; used when the run folder is new (a run's later
            stages read RUN/config.json; a different config is refused).
        batch_size: overrides ``train.batch_size`` (global batch over all DDP ranks).
        device, dtype: ``cpu``/``cuda[:i]``; ``fp32``/``fp16``/``bf16`` (autocast; master weights fp32).
        seed: training seed (batches, degradations, noise); resume: continue from the stage's checkpoint.
        ddp: torch DistributedDataParallel (launch with torchrun); fr_weights: FR override (registry name/file).
        progress, tensorboard: tqdm bar / TensorBoard logs; on_step: callback(iteration, logs) after each step.
    """

    faces: str
    recipe: str
    out: str
    iters: int
    config: CLRFaceConfig | str | None = None
    batch_size: int | None = None
    device: str = "cpu"
    dtype: str = "fp32"
    seed: int = 0
    resume: bool = False
    ddp: bool = False
    fr_weights: str | None = None
    progress: bool = True
    tensorboard: bool = True
    on_step: Callable[[int, dict[str, float]], None] | None = field(default=None, repr=False)


def _load_config(value: CLRFaceConfig | str | None) -> CLRFaceConfig | None:
    if value is None or isinstance(value, CLRFaceConfig):
        return value
    if value == "tiny":
        return CLRFaceConfig.tiny()
    if value in ("full", "default"):
        return CLRFaceConfig()
    import json

    p = Path(value)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"`config` {value!r}: cannot read a JSON config ({exc}); or use 'tiny' / 'full'") from None
    if isinstance(data, dict) and data.get("kind") == "clrface-run":
        data = data.get("config")
    return CLRFaceConfig.from_dict(data)


def _run_config(run: Path, given: CLRFaceConfig | None, write: bool) -> CLRFaceConfig:
    if (run / "config.json").is_file():
        cfg = read_run_config(run)
        if given is not None and given != cfg:
            raise ConfigError(f"{run / 'config.json'} holds a different config than `config`; a run keeps one "
                              "config for all stages (use a new `out`)")
        return cfg
    cfg = (given or CLRFaceConfig()).validate()
    if write:
        write_run_config(run, cfg)
    return cfg


def _lr_lambda(warmup: int) -> Callable[[int], float]:
    return lambda step: min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0


def _save_ckpt(d: Path, module: torch.nn.Module, state: dict[str, Any], aux: torch.nn.Module | None) -> None:
    from safetensors.torch import save

    sd = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write_bytes(d / "ckpt.safetensors", save(sd, metadata={"iteration": str(state["iteration"])}))
    if aux is not None:
        asd = {k: v.detach().cpu().contiguous() for k, v in aux.state_dict().items()}
        atomic_write_bytes(d / "ckpt_aux.safetensors", save(asd, metadata={"iteration": str(state["iteration"])}))
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(d / "ckpt_state.pt", buf.getvalue())


def _load_ckpt(d: Path, module: torch.nn.Module, device: torch.device, aux: torch.nn.Module | None) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        module.load_state_dict(load_file(str(d / "ckpt.safetensors"), device=str(device)), strict=True)
        if aux is not None:
            aux.load_state_dict(load_file(str(d / "ckpt_aux.safetensors"), device=str(device)), strict=True)
        state = torch.load(d / "ckpt_state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is an artifact problem
        raise ArtifactError(f"{d}: cannot resume from the checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "iteration" not in state:
        raise ArtifactError(f"{d / 'ckpt_state.pt'}: not a clrface training state")
    return state


class _Log:
    """CSV (+ TensorBoard) log; on resume, rows past the checkpoint are dropped."""

    def __init__(self, d: Path, columns: tuple[str, ...], start: int, tensorboard: bool) -> None:
        self.path = d / "log.csv"
        self.columns = ("iteration", "seconds", "lr", "loss", *columns)
        rows: list[list[str]] = []
        if start > 0 and self.path.is_file():
            with self.path.open(newline="") as fh:
                rows = [r for r in csv.reader(fh)][1:]
            rows = [r for r in rows if r and r[0].isdigit() and int(r[0]) <= start]
        with self.path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.columns)
            w.writerows(rows)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(d / "tb"))
            except ImportError:
                self.tb = None

    def write(self, row: dict[str, float]) -> None:
        with self.path.open("a", newline="") as fh:
            csv.writer(fh).writerow([row.get(c, "") for c in self.columns])
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("iteration", "seconds"):
                    self.tb.add_scalar(k, v, int(row["iteration"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _ddp_setup(opts: TrainOptions) -> tuple[int, int, torch.device]:
    if not opts.ddp:
        return 0, 1, torch.device(opts.device)
    import torch.distributed as dist

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        if var not in os.environ:
            raise ConfigError(f"`ddp=True` needs {var} in the environment: launch with "
                              "`torchrun --nproc_per_node=N -m bfrbench train clrface ... --ddp`")
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    cuda = torch.cuda.is_available() and not opts.device.startswith("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    dev = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(dev)
    return rank, world, dev


def train_stage(stage: str, opts: TrainOptions) -> dict[str, Any]:
    """Train one stage of the run ``opts.out``; returns a summary (stage, iterations, final loss, files).

    Raises:
        ConfigError: bad options, earlier stage missing, or an existing checkpoint without ``resume``.
        ArtifactError: an unreadable checkpoint.
    """
    from bfrbench.methods.clrface.data import FacePairs
    from bfrbench.methods.clrface.stages import build_stage

    if stage not in STAGES:
        raise ConfigError(f"unknown clrface stage {stage!r}; stages: {', '.join(STAGES)}")
    if not isinstance(opts.iters, int) or opts.iters < 1:
        raise ConfigError(f"iters must be a positive integer, got {opts.iters!r}")
    if opts.dtype not in ("fp32", "fp16", "bf16"):
        raise ConfigError(f"dtype must be fp32, fp16 or bf16, got {opts.dtype!r}")
    rank, world, device = _ddp_setup(opts)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {opts.device!r} requested but CUDA is not available here; use `device=cpu`")
    run = Path(opts.out)
    run.mkdir(parents=True, exist_ok=True)
    cfg = _run_config(run, _load_config(opts.config), write=False)
    tcfg: StageTrainConfig = getattr(cfg.train, stage)
    bs = opts.batch_size or cfg.train.batch_size
    if bs < world:
        raise ConfigError(f"batch size {bs} is smaller than the number of DDP ranks {world}")
    d = run / "train" / stage
    d.mkdir(parents=True, exist_ok=True)
    has_ckpt = (d / "ckpt_state.pt").is_file()
    if not opts.resume and (has_ckpt or stage_path(run, stage).is_file()):
        raise ConfigError(f"{run}: stage {stage!r} was already trained or started; pass `resume=True` to continue it "
                          "or choose a new `out`")
    data = FacePairs(opts.faces, opts.recipe, cfg.image_size, opts.seed)
    spec = build_stage(stage, cfg, run, device, opts.fr_weights, item_seed(opts.seed, stage, "init"))
    if rank == 0 and not (run / "config.json").is_file():  # written once the inputs proved usable
        write_run_config(run, cfg)
    module = spec.module
    if opts.ddp:  # same initial weights on every rank
        _broadcast(list(module.state_dict().values()) + (list(spec.aux.state_dict().values()) if spec.aux else []))
    params = [p for p in module.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=tcfg.lr, betas=tuple(tcfg.betas), weight_decay=tcfg.weight_decay)  # type: ignore[arg-type]
    sched = torch.optim.lr_scheduler.LambdaLR(optim, _lr_lambda(tcfg.warmup))
    aux_optim = None
    if spec.aux is not None:
        dc = cfg.train.discriminator
        aux_optim = torch.optim.AdamW(spec.aux.parameters(), lr=dc.lr, betas=tuple(dc.betas),  # type: ignore[arg-type]
                                      weight_decay=dc.weight_decay)
    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(opts.dtype)
    scaler = torch.amp.GradScaler(device.type, enabled=opts.dtype == "fp16")
    start = 0
    if opts.resume and has_ckpt:
        st = _load_ckpt(d, module, device, spec.aux)
        optim.load_state_dict(st["optimizer"])
        if aux_optim is not None:
            aux_optim.load_state_dict(st["aux_optimizer"])
        sched.load_state_dict(st["scheduler"])
        if st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        torch.set_rng_state(st["torch_rng"])
        start = int(st["iteration"])
    meta = {"stage": stage, "seed": opts.seed, "batch_size": bs, "dtype": opts.dtype, "world_size": world,
            **data.describe(), "fr_weights": spec.fr_path}
    log = _Log(d, spec.columns, start, opts.tensorboard and rank == 0) if rank == 0 else None
    bar = _progress(range(start, opts.iters), stage, opts.iters, start, opts.progress and rank == 0)
    t0 = time.perf_counter()
    last: dict[str, float] = {}
    module.train()
    try:
        for it in bar:
            hq, lq = data.batch(it, bs, stage, rank, world)
            spec.iteration = it
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss, logs = spec.loss(hq.to(device), lq.to(device), item_seed(opts.seed, f"{stage}:{it}", "noise"))
            optim.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if opts.ddp:
                _average_grads(params, world)
            scaler.unscale_(optim)
            if tcfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
            scaler.step(optim)
            scaler.update()
            lr = optim.param_groups[0]["lr"]
            sched.step()
            if spec.aux_loss is not None and aux_optim is not None:
                d_loss = spec.aux_loss(hq.to(device))
                if d_loss is not None:
                    aux_optim.zero_grad(set_to_none=True)
                    d_loss.backward()
                    if opts.ddp and spec.aux is not None:
                        _average_grads(list(spec.aux.parameters()), world)
                    aux_optim.step()
                    logs["d_loss"] = float(d_loss.detach())
            last = {"iteration": it + 1, "seconds": round(time.perf_counter() - t0, 3), "lr": lr,
                    "loss": float(loss.detach()), **logs}
            if log is not None and ((it + 1) % cfg.train.log_every == 0 or it + 1 == opts.iters):
                log.write(last)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
            if rank == 0 and ((it + 1) % cfg.train.ckpt_every == 0 or it + 1 == opts.iters):
                _save_ckpt(d, module, {"iteration": it + 1, "optimizer": optim.state_dict(),
                                       "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                                       "aux_optimizer": aux_optim.state_dict() if aux_optim is not None else {},
                                       "torch_rng": torch.get_rng_state()}, spec.aux)
            if opts.on_step is not None:
                opts.on_step(it + 1, last)
    finally:
        if log is not None:
            log.close()
    if opts.ddp:
        import torch.distributed as dist

        dist.barrier()
    module.eval()
    summary = {"stage": stage, "iterations": opts.iters, "resumed_from": start, "last": last, "meta": meta}
    if rank == 0:
        meta_out = {**meta, "iterations": opts.iters}
        save_stage(run, stage, module.state_dict(), cfg, {k: v for k, v in meta_out.items() if v is not None})
        atomic_write_json(d / "stage.json", summary)
        summary["file"] = str(stage_path(run, stage))
    return summary


def _broadcast(tensors: list[torch.Tensor]) -> None:
    import torch.distributed as dist

    for t in tensors:
        dist.broadcast(t.data, src=0)


def _average_grads(params: list[torch.nn.Parameter], world: int) -> None:
    import torch.distributed as dist

    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def _progress(it: range, stage: str, total: int, initial: int, enabled: bool) -> Any:
    if not enabled or os.environ.get("BFRBENCH_PROGRESS", "1") == "0":
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, initial=initial, desc=f"clrface {stage}", dynamic_ncols=True)


def train_autoencoder(opts: TrainOptions) -> dict[str, Any]:
    """Stage 1: the f=4 VQ autoencoder on HQ faces (stages.py for the loss)."""
    return train_stage("autoencoder", opts)


def train_prior(opts: TrainOptions) -> dict[str, Any]:
    """Stage 2: the conditional score network (needs RUN/autoencoder.safetensors)."""
    return train_stage("prior", opts)


def train_irn(opts: TrainOptions) -> dict[str, Any]:
    """Stage 3: the Identity Recovery Network (needs the FR network only)."""
    return train_stage("irn", opts)


def train_mask(opts: TrainOptions) -> dict[str, Any]:
    """Stage 4: the learnable latent mask (needs RUN/autoencoder.safetensors and the FR network)."""
    return train_stage("mask", opts)
