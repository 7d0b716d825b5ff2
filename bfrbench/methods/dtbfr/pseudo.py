"""DT-BFR stage 2: pseudo-targets from a face diffusion prior with low-frequency consistency.

The loop restates ``sampler.py::DifIRSampler.sample_func_ir_aligned`` and
``models/gaussian_diffusion.py::p_sample_loop_progressive`` (with ``filter_dict``) of
https://github.com/SamsungLabs/DT-BFR at commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd, as run by
``generate_pseudo_targets.py`` / ``scripts/generate_targets_*.sh`` (``--started_timesteps 150
--reg_end_timesteps 90 --apply_filter --down_N N``, respacing "250"), following
../shared/fixtures/dtbfr/README.md "Pseudo-target generation" (not copied):

1. ``base = clamp(SwinIR(lq), 0, 1)`` (official SwinIR path) or the already restored image (general path, e.g.
   CodeFormer outputs); ``x0 = (base - 0.5) / 0.5``.
2. ``x = q_sample(x0, start)`` (respaced index ``start`` = 150), then ancestral steps for t = start-1 ... 0
   (the off-by-one inherited from DifFace: noised to 150, denoised as if at 149).
3. After each step with ``t >= reg_end`` (90): ``x <- x - U(D(x)) + U(D(q_sample(x0, t-1)))`` with the official
   cubic antialiased resizer (:mod:`bfrbench.methods.dtbfr.resizer`), factor N = 16 (SwinIR) or 8 (CodeFormer).
4. Output ``clamp(x * 0.5 + 0.5, 0, 1)``, saved as ``round(255 x)`` uint8 PNG.

Noise: per draw, in the official order (start q_sample; then per step the p_sample noise, followed by the
q_sample noise while ``t >= reg_end``). Each image draws from its own CPU ``torch.Generator`` seeded with
``bfrbench.rng.item_seed(seed, id, "dtbfr-pseudo")``, so a batch's noise is the concatenation of per-image draws
and outputs do not depend on batch size, worker count or device of the draw. (The official script draws on CUDA
from one global generator seeded 20000; those numbers cannot be reproduced, so fixtures replay saved noise.)

:func:`generate_pseudo_targets` runs this over a folder or test set, sharded over dask workers through
:func:`bfrbench.distributed.run_tasks`, resumable per image. Protocol in docs/methods/dtbfr.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bfrbench.errors import BfrbenchError, ConfigError, MissingWeightsError
from bfrbench.methods.dtbfr.diffusion import SpacedDiffusion, respaced_schedule
from bfrbench.methods.dtbfr.resizer import LowPass

__all__ = [
    "NoiseFn",
    "PseudoTargetConfig",
    "PseudoTargetResult",
    "PseudoTargetSampler",
    "generate_pseudo_targets",
    "per_image_noise",
    "pseudo_target_loop",
    "to_uint8",
]

NoiseFn = Callable[[torch.Tensor], torch.Tensor]
"""Returns standard-normal noise shaped like its argument (float32, on its device); called once per draw."""

NOISE_STREAM = "dtbfr-pseudo"


@dataclass(frozen=True)
class PseudoTargetConfig:
    """Hyper-parameters of the pseudo-target loop (defaults: the official SwinIR script).

    Args:
        steps: timestep respacing of the 1000-step prior (official "250").
        start: respaced index the base output is noised to (official 150; denoising starts at ``start - 1``).
        reg_end: low-pass replacement after steps ``t >= reg_end`` (official 90).
        down_N: low-pass factor N (official 16 for SwinIR, 8 for CodeFormer / already restored bases).
        image_size: side of the square images the prior works on (512).
        apply_filter: the official ``--apply_filter`` (on in both official scripts).
        num_diffusion_steps: length of the base linear schedule (1000).
    """

    steps: int = 250
    start: int = 150
    reg_end: int = 90
    down_N: int = 16
    image_size: int = 512
    apply_filter: bool = True
    num_diffusion_steps: int = 1000

    def __post_init__(self) -> None:
        if not 0 < self.start < self.steps <= self.num_diffusion_steps:
            raise ConfigError(f"need 0 < start < steps <= {self.num_diffusion_steps}, got start={self.start}, "
                              f"steps={self.steps} (the official check: started_timesteps < timestep_respacing)")
        if not 0 <= self.reg_end <= self.start:
            raise ConfigError(f"reg_end must be in [0, start={self.start}], got {self.reg_end}")
        if self.down_N < 1 or self.image_size % self.down_N:
            raise ConfigError(f"down_N={self.down_N} must divide image_size={self.image_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def per_image_noise(generators: Sequence[torch.Generator], device: torch.device | str) -> NoiseFn:
    """A :data:`NoiseFn` whose row i comes from ``generators[i]`` (CPU, float32), then moved to ``device``."""
    def draw(like: torch.Tensor) -> torch.Tensor:
        if like.shape[0] != len(generators):
            raise ConfigError(f"noise for a batch of {like.shape[0]} with {len(generators)} generators")
        rows = [torch.randn(tuple(like.shape[1:]), generator=g, dtype=torch.float32) for g in generators]
        return torch.stack(rows).to(device)
    return draw


def _batch_t(i: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((like.shape[0],), i, dtype=torch.int64, device=like.device)


@torch.no_grad()
def pseudo_target_loop(
    x0: torch.Tensor,
    unet: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    diffusion: SpacedDiffusion,
    lowpass: LowPass | None,
    cfg: PseudoTargetConfig,
    noise: NoiseFn,
    trace: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Steps 2-3 of the module docstring.

    Args:
        x0: (B, 3, S, S) float32 reference in [-1, 1] (the normalised base output).
        unet: ``unet(x, original_steps) -> (B, 6, S, S)``.
        diffusion: the respaced diffusion (``cfg.steps``).
        lowpass: D/U filter, or None when ``cfg.apply_filter`` is off.
        noise: draws, in the official order.
        trace: if given, filled with the fixture's tensor names (``init.*``, ``stepTT.*``).

    Returns:
        (B, 3, S, S) float32 final sample in [-1, 1]-scale (not clamped).
    """
    x0 = x0.float()
    q = noise(x0)
    x = diffusion.q_sample(x0, _batch_t(cfg.start, x0), q)
    if trace is not None:
        trace["init.q_noise"], trace["init.x_start_t"] = q, x
    for i in range(cfg.start - 1, -1, -1):
        t = _batch_t(i, x)
        out = diffusion.p_mean_variance(unet, x, t)
        z = noise(x)
        x = diffusion.p_sample_from(out, t, z)
        if trace is not None:
            pre = f"step{i:02d}."
            trace.update({pre + "model_out": out.model_out, pre + "pred_xstart": out.pred_xstart,
                          pre + "mean": out.mean, pre + "log_variance": out.log_variance, pre + "p_noise": z,
                          pre + "sample_before_lowpass": x})
        if cfg.apply_filter and lowpass is not None and i >= cfg.reg_end:
            qn = noise(x0)
            ref = diffusion.q_sample(x0, t - 1, qn)  # t - 1 = -1 would wrap like the official numpy lookup
            low_x, low_ref = lowpass(x), lowpass(ref)
            x = x - low_x + low_ref
            if trace is not None:
                trace.update({pre + "q_noise": qn, pre + "ref_noisy": ref, pre + "lowpass_of_sample": low_x,
                              pre + "lowpass_of_ref_noisy": low_ref, pre + "sample_after_lowpass": x})
    return x


def to_uint8(img01: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 with ``round(255 x)`` (half to even, float32)."""
    return (img01.float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


class PseudoTargetSampler(nn.Module):
    """The prior UNet, the respaced diffusion, the low-pass filter and (optionally) the SwinIR restorer.

    ``forward(images01, noise, restore=...)``: (B, 3, S, S) float in [0, 1] -> pseudo-targets (B, 3, S, S) in
    [0, 1] float32. With ``restore=True`` the images are LQ inputs and go through ``restorer`` first (official
    SwinIR path, no rounding between the restorer and the prior); otherwise they are already restored.
    """

    def __init__(self, unet: nn.Module, cfg: PseudoTargetConfig, restorer: nn.Module | None = None) -> None:
        super().__init__()
        self.unet, self.restorer, self.cfg = unet, restorer, cfg
        self.diffusion = SpacedDiffusion(respaced_schedule(cfg.steps, cfg.num_diffusion_steps))
        self.lowpass = LowPass(cfg.image_size, cfg.down_N) if cfg.apply_filter else None

    def base(self, images01: torch.Tensor, restore: bool) -> torch.Tensor:
        """The official ``im_hq``: ``clamp(restorer(lq), 0, 1)`` or the input itself, float32."""
        if not restore:
            return images01.float().clamp(0, 1)
        if self.restorer is None:
            raise ConfigError("restore=True needs a restorer (SwinIR weights)")
        dtype = next(self.restorer.parameters()).dtype
        return self.restorer(images01.to(dtype)).float().clamp(0, 1)

    @torch.no_grad()
    def forward(self, images01: torch.Tensor, noise: NoiseFn, *, restore: bool = False,
                trace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        s = self.cfg.image_size
        if images01.shape[-2:] != (s, s):
            raise ConfigError(f"pseudo-targets need {s}x{s} images (the prior's size), got "
                              f"{tuple(images01.shape[-2:])}; align/resize the faces first")
        base = self.base(images01, restore)
        x0 = (base - 0.5) / 0.5
        if trace is not None:
            trace["ir_output"], trace["ref_img"] = base, x0
        final = pseudo_target_loop(x0, self.unet, self.diffusion, self.lowpass, self.cfg, noise, trace)
        if trace is not None:
            trace["final_sample_minus1_1"] = final
        return (final * 0.5 + 0.5).clamp(0, 1)




# -- stage 2 over a folder or test set (resumable, sharded over dask) -----------------------------------------
MANIFEST = "pseudo_targets.json"
STATE_DIR = ".state"
FORMAT_VERSION = 1
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class _ModelSpec:
    """A weight file and the architecture it is loaded into (``config``: the dataclass's ``to_dict``)."""

    kind: str  # "iddpm" | "swinir"
    path: str
    sha256: str
    config: dict[str, Any]


@dataclass(frozen=True)
class _Job:
    out: str
    cfg: dict[str, Any]
    prior: _ModelSpec
    restorer: _ModelSpec | None
    device: str
    dtype: str
    run_key: str


@dataclass(frozen=True)
class _Batch:
    job: _Job
    ids: tuple[str, ...]
    inputs: tuple[str, ...]  # the LQ (in-loop SwinIR) or the base output, per id
    records: tuple[dict[str, Any], ...]  # per-id fields stored in the state record (seed, input hashes)
    write: tuple[bool, ...]  # False: computed only to keep the batch composition fixed (already valid on disk)


@dataclass
class PseudoTargetResult:
    """What :func:`generate_pseudo_targets` did: ids written or verified, failures, the manifest it wrote."""

    out: Path
    ok: list[str]
    failed: list[dict[str, str]]
    resumed: list[str]
    manifest: dict[str, Any] = field(repr=False)


_SAMPLERS: dict[str, PseudoTargetSampler] = {}


def _load(spec: _ModelSpec, device: str, dtype: torch.dtype) -> nn.Module:
    from bfrbench.methods.dtbfr.iddpm import IDDPMConfig
    from bfrbench.methods.dtbfr.loading import load_iddpm, load_swinir
    from bfrbench.methods.dtbfr.swinir import SwinIRConfig

    if spec.kind == "iddpm":
        return load_iddpm(spec.path, IDDPMConfig.from_dict(spec.config), device=device, dtype=dtype)
    return load_swinir(spec.path, SwinIRConfig.from_dict(spec.config), device=device, dtype=dtype)


def _get_sampler(job: _Job) -> tuple[PseudoTargetSampler, str]:
    """The models of ``job``, built once per process (one live configuration at a time)."""
    from bfrbench.methods._worker import worker_device

    device = worker_device(job.device)
    key = json.dumps([asdict(job.prior), asdict(job.restorer) if job.restorer else None, job.cfg, device,
                      job.dtype], sort_keys=True)
    if key not in _SAMPLERS:
        _SAMPLERS.clear()
        dtype = _DTYPES[job.dtype]
        unet = _load(job.prior, device, dtype)
        restorer = _load(job.restorer, device, dtype) if job.restorer else None
        _SAMPLERS[key] = PseudoTargetSampler(unet, PseudoTargetConfig(**job.cfg), restorer).to(device)
    return _SAMPLERS[key], device


def _read_inputs(batch: _Batch, size: int) -> tuple[list[int], list[torch.Tensor], list[dict[str, str]]]:
    """Decode each input as RGB uint8 -> float32 [0, 1] (the official ``imread`` / 255); bad ones are failures."""
    from bfrbench.io import read_image

    keep, imgs, failed = [], [], []
    for i, path in enumerate(batch.inputs):
        try:
            arr = read_image(path)
        except BfrbenchError as exc:
            failed.append({"id": batch.ids[i], "reason": str(exc)})
            continue
        if arr.shape[:2] != (size, size):
            failed.append({"id": batch.ids[i], "reason": f"{path}: image is {arr.shape[1]}x{arr.shape[0]}, the "
                           f"prior needs {size}x{size} aligned faces"})
            continue
        keep.append(i)
        imgs.append(torch.tensor(arr).permute(2, 0, 1).float() / 255.0)
    return keep, imgs, failed


def _run_batch(batch: _Batch) -> dict[str, Any]:
    """Worker task: pseudo-targets for one batch, each PNG written atomically, then its state record."""
    from bfrbench.io import atomic_write_json, sha256_bytes, write_png

    job = batch.job
    sampler, device = _get_sampler(job)
    keep, imgs, failed = _read_inputs(batch, sampler.cfg.image_size)
    done: dict[str, dict[str, Any]] = {}
    if keep:
        t0 = time.perf_counter()
        gens = [torch.Generator().manual_seed(int(batch.records[i]["seed"])) for i in keep]
        out = sampler(torch.stack(imgs).to(device), per_image_noise(gens, device), restore=job.restorer is not None)
        u8 = to_uint8(out).numpy()
        seconds = (time.perf_counter() - t0) / len(keep)
        for j, i in enumerate(keep):
            item = batch.ids[i]
            if not batch.write[i]:
                continue
            data = write_png(Path(job.out) / f"{item}.png", u8[j])
            rec = {"id": item, "sha256": sha256_bytes(data), "run_key": job.run_key, "seconds": round(seconds, 6),
                   **batch.records[i]}
            atomic_write_json(Path(job.out) / STATE_DIR / f"{item}.json", rec)
            done[item] = rec
    return {"done": done, "failed": failed}


def _finished(out: Path, item: str, run_key: str, record: dict[str, Any]) -> dict[str, Any] | None:
    """The state record of a valid existing output (same run, same input hashes, PNG hash matches), else None."""
    from bfrbench.methods._worker import finished_output

    return finished_output(out, item, run_key, expect=record,
                           differs="different pseudo-target settings (config, seed, weights or dtype)")


def _weights_path(name_or_path: str | Path, what: str) -> Path:
    """A registry name (resolved, checksum-verified) or an existing file."""
    from bfrbench.weights import all_weights, resolve

    s = str(name_or_path)
    if s in all_weights():
        return resolve(s)
    p = Path(s).expanduser()
    if not p.is_file():
        raise MissingWeightsError(f"{what} weights {s!r}: not a registered weight name and no such file")
    return p


def _dtype_name(dtype: str | torch.dtype) -> str:
    for name, dt in _DTYPES.items():
        if dtype in (name, dt):
            return name
    raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")


def _plan(lq_source: Path, base_dir: Path | None, seed: int) -> tuple[list[dict[str, Any]], str | None]:
    """Rows ``{id, input, record}`` sorted by id (input = base PNG, or the LQ for the in-loop SwinIR)."""
    from bfrbench.io import sha256_file
    from bfrbench.methods._inputs import read_manifest
    from bfrbench.rng import item_seed

    if not lq_source.exists():
        raise ConfigError(f"LQ source {lq_source} does not exist (a folder of faces or a bfrbench test set)")
    rows, manifest_sha = read_manifest(lq_source, unaligned=not (lq_source / "manifest.parquet").is_file())
    if not rows:
        raise ConfigError(f"{lq_source}: no images found")
    plan = []
    for r in rows:
        lq = Path(r["_lq"])
        rec: dict[str, Any] = {"seed": item_seed(seed, r["id"], NOISE_STREAM),
                               "lq_sha256": sha256_file(lq) if lq.is_file() else None, "base_sha256": None}
        src = lq
        if base_dir is not None:
            src = base_dir / f"{r['id']}.png"
            rec["base_sha256"] = sha256_file(src) if src.is_file() else None
        plan.append({"id": r["id"], "input": str(src), "record": rec})
    return plan, manifest_sha


def _specs(prior: str | Path, prior_config: Any, restorer: str | Path | None, restorer_config: Any
           ) -> tuple[_ModelSpec, _ModelSpec | None]:
    from bfrbench.io import sha256_file
    from bfrbench.methods.dtbfr.iddpm import IDDPMConfig
    from bfrbench.methods.dtbfr.swinir import SwinIRConfig

    p = _weights_path(prior, "prior")
    spec = _ModelSpec("iddpm", str(p), sha256_file(p), (prior_config or IDDPMConfig()).to_dict())
    rspec = None
    if restorer is not None:
        rp = _weights_path(restorer, "restorer")
        rspec = _ModelSpec("swinir", str(rp), sha256_file(rp), (restorer_config or SwinIRConfig()).to_dict())
    return spec, rspec


def _batches(job: _Job, rows: list[dict[str, Any]], todo: set[str], batch_size: int) -> list[_Batch]:
    """Fixed partition of all present ids (sorted) into batches; only batches holding a to-do id run.

    The partition does not depend on what is already done, so a resumed image is computed in the same batch as
    in the first run and comes out with the same bytes (batched float sums are not batch-invariant).
    """
    out = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        if any(r["id"] in todo for r in chunk):
            out.append(_Batch(job=job, ids=tuple(r["id"] for r in chunk), inputs=tuple(r["input"] for r in chunk),
                              records=tuple(r["record"] for r in chunk),
                              write=tuple(r["id"] in todo for r in chunk)))
    return out


def generate_pseudo_targets(
    lq_dir_or_testset: str | Path,
    base_dir: str | Path | None,
    out_dir: str | Path,
    *,
    prior: str | Path = "dtbfr-diffusion-prior",
    prior_config: Any = None,
    restorer: str | Path | None = None,
    restorer_config: Any = None,
    config: PseudoTargetConfig | None = None,
    steps: int | None = None,
    start: int | None = None,
    reg_end: int | None = None,
    down_N: int | None = None,
    image_size: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    dtype: str | torch.dtype = "float32",
    batch_size: int = 1,
    workers: int | None = None,
    scheduler: str | None = None,
    show_progress: bool | None = None,
) -> PseudoTargetResult:
    """DT-BFR stage 2: one pseudo-target PNG per image in ``out_dir``, resumable, seeded per image, on dask.

    Args:
        lq_dir_or_testset: the unlabeled degraded faces: a bfrbench test set (ids from its manifest) or a folder
            (ids = relative paths without suffix, ``/`` -> ``__``, as ``bfrbench restore --unaligned``).
        base_dir: stage-1 outputs ``<id>.png`` of any restorer (the official "already restored" path, e.g.
            CodeFormer with ``down_N=8``); or None to run the SwinIR ``restorer`` on the LQ in-process (the
            official SwinIR path, no rounding between restorer and prior; ``down_N=16``).
        out_dir: receives ``<id>.png`` (uint8 RGB), ``.state/<id>.json`` and ``pseudo_targets.json``.
        prior: iDDPM weights, a registry name (``dtbfr-diffusion-prior``) or a file; ``prior_config`` its
            :class:`~bfrbench.methods.dtbfr.iddpm.IDDPMConfig` (default: the FFHQ-512 model).
        restorer: SwinIR weights (e.g. ``dtbfr-swinir-gan-v1``) when ``base_dir`` is None; ``restorer_config`` its
            :class:`~bfrbench.methods.dtbfr.swinir.SwinIRConfig`.
        config: loop hyper-parameters; default the official SwinIR run (250 / 150 / 90 / N=16 / 512).
        steps, start, reg_end, down_N, image_size: override single fields of ``config``.
        seed: run seed; image ``id`` draws from ``item_seed(seed, id, "dtbfr-pseudo")``.
        device: ``cpu``, ``cuda`` (dask worker i uses ``cuda:(i mod GPU count)``) or ``cuda:N``.
        dtype: weights/compute dtype of the networks (``float32``, ``float16``, ``bfloat16``); the diffusion
            arithmetic stays float32.
        batch_size: images per network call. Batches are a fixed partition of the sorted ids, so for a given
            batch_size the bytes are the same whatever the worker count and after a resume; another batch_size
            re-associates float sums (~1e-6 in the final float image), which can move a few uint8 values by 1.
        workers, scheduler: in-process (None/1), a local dask cluster of N processes, or an existing scheduler.

    Returns:
        :class:`PseudoTargetResult`. Per-image problems (unreadable or missing input, wrong size) are failures in it
        and in the manifest; the other images go on.

    Raises:
        ConfigError: bad arguments. ArtifactError: ``out_dir`` holds outputs of different settings.
        MissingWeightsError / ChecksumError: weights.
    """
    from bfrbench.distributed import TaskFailure, run_tasks
    from bfrbench.io import atomic_write_json, sha256_json

    overrides: dict[str, Any] = {k: v for k, v in (("steps", steps), ("start", start), ("reg_end", reg_end), ("down_N", down_N),
                                   ("image_size", image_size)) if v is not None}
    cfg = PseudoTargetConfig(**{**(config or PseudoTargetConfig()).to_dict(), **overrides})
    if (base_dir is None) == (restorer is None):
        raise ConfigError("pass exactly one of base_dir (stage-1 outputs, already restored) and restorer (SwinIR "
                          "weights run on the LQ, the official SwinIR path)")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    dt = _dtype_name(dtype)
    out = Path(out_dir)
    spec, rspec = _specs(prior, prior_config, restorer, restorer_config)
    run_key = sha256_json({"format_version": FORMAT_VERSION, "config": cfg.to_dict(), "seed": int(seed),
                           "prior": [spec.sha256, spec.config], "dtype": dt,
                           "restorer": [rspec.sha256, rspec.config] if rspec else None})
    plan, manifest_sha = _plan(Path(lq_dir_or_testset), None if base_dir is None else Path(base_dir), seed)
    job = _Job(out=str(out), cfg=cfg.to_dict(), prior=spec, restorer=rspec, device=device, dtype=dt,
               run_key=run_key)
    records: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, str]] = []
    resumed, present, todo = [], [], set()
    for row in plan:
        missing = "base_sha256" if base_dir is not None else "lq_sha256"
        if row["record"][missing] is None:
            failures.append({"id": row["id"], "reason": f"{row['input']}: input image not found"})
            continue
        present.append(row)
        rec = _finished(out, row["id"], run_key, row["record"])
        if rec is not None:
            records[row["id"]] = rec
            resumed.append(row["id"])
        else:
            todo.add(row["id"])
    out.mkdir(parents=True, exist_ok=True)
    batches = _batches(job, present, todo, batch_size)
    t0 = time.perf_counter()
    for res in run_tasks(_run_batch, batches, workers=workers or 1, scheduler=scheduler,
                         desc="dtbfr pseudo-targets", show_progress=show_progress):
        if isinstance(res, TaskFailure):
            failures.extend({"id": i, "reason": res.error} for i in res.task.ids)
            continue
        records.update(res["done"])
        failures.extend(res["failed"])
    manifest = _manifest(job, records, failures, resumed, manifest_sha, lq_dir_or_testset, base_dir, seed,
                         batch_size, time.perf_counter() - t0, len(todo))
    atomic_write_json(out / MANIFEST, manifest)
    failures.sort(key=lambda f: f["id"])
    return PseudoTargetResult(out=out, ok=sorted(records), failed=failures, resumed=sorted(resumed),
                              manifest=manifest)


def _manifest(job: _Job, records: dict[str, dict[str, Any]], failures: list[dict[str, str]], resumed: list[str],
              manifest_sha: str | None, lq: str | Path, base: str | Path | None, seed: int, batch_size: int,
              seconds: float, n_todo: int) -> dict[str, Any]:
    """``pseudo_targets.json``: provenance, per-image records (seed, input and output hashes), failures."""
    from bfrbench.provenance import environment

    def model(spec: _ModelSpec | None) -> dict[str, Any] | None:
        return None if spec is None else {"path": spec.path, "sha256": spec.sha256, "config": spec.config}

    return {
        "kind": "dtbfr-pseudo-targets", "format_version": FORMAT_VERSION, "run_key": job.run_key,
        "source": {"repo": "SamsungLabs/DT-BFR", "commit": "ec3d4043e4d0c610fe7e345448cc1298e132b5dd",
                   "files": ["generate_pseudo_targets.py", "sampler.py", "models/gaussian_diffusion.py",
                             "resizer.py"]},
        "config": job.cfg, "seed": int(seed), "dtype": job.dtype, "device": job.device, "batch_size": batch_size,
        "noise": {"stream": NOISE_STREAM, "rule": "per image: torch.Generator().manual_seed(record seed), "
                  "float32 randn on CPU in the official draw order"},
        "prior": model(job.prior), "restorer": model(job.restorer),
        "inputs": {"lq": str(lq), "lq_manifest_sha256": manifest_sha, "base": None if base is None else str(base)},
        "images": {k: {f: v for f, v in records[k].items() if f != "run_key"} for k in sorted(records)},
        "failures": sorted(failures, key=lambda f: f["id"]),
        "counts": {"ok": len(records), "failed": len(failures), "resumed": len(resumed), "computed": n_todo},
        "timings": {"total_seconds": round(seconds, 3),
                    "seconds_per_image": round(seconds / n_todo, 4) if n_todo else None},
        "environment": environment(),
    }
