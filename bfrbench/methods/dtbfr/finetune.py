"""``bfrbench finetune dtbfr``: DT-BFR's unsupervised fine-tuning as one resumable command (Python API).

DT-BFR (Kuai et al., WACV 2025; SamsungLabs/DT-BFR commit ec3d4043e4d0c610fe7e345448cc1298e132b5dd,
``scripts/swinir_gan_finetune_entire.sh``) improves a restorer on a folder of unlabeled degraded faces:

1. **base**: ``--base METHOD``: any registered method restores the LQ faces through the restore runner (the
   official "general" path, e.g. CodeFormer outputs); ``--base swinir`` (default): the SwinIR being fine-tuned runs
   inside stage 2 on the LQ, with no rounding between it and the prior (the official SwinIR path);
2. **pseudo**: the diffusion prior turns each base output into a pseudo-target that keeps the LQ's low
   frequencies (:func:`bfrbench.methods.dtbfr.pseudo.generate_pseudo_targets`, sharded over dask workers);
3. **train**: SwinIR is fine-tuned on (LQ, pseudo-target) pairs with L1 + LPIPS + GAN
   (:mod:`bfrbench.methods.dtbfr.loop`);
4. **register**: ``RUN/model.json`` names the fine-tuned weights so ``bfrbench restore --method dtbfr --option
   run=RUN`` uses them.

Every stage resumes: the runner and the pseudo-target stage skip finished, verified images; training restarts
from its last checkpoint. ``RUN/finetune.json`` records the configuration, seeds, input hashes, weight hashes and
each stage's summary; rerunning with different settings or inputs into the same RUN is refused. Devices, workers
and the scheduler may change between runs (outputs do not depend on them), except the *number* of training ranks,
which changes the per-rank micro-batch arithmetic (docs/methods/dtbfr-finetune.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.methods.dtbfr.config import TrainConfig
from bfrbench.methods.dtbfr.restorer import DEFAULT_WEIGHTS, MODEL_RECORD, swinir_config_from

__all__ = ["finetune", "RECORD", "DEFAULT_SEED"]

RECORD = "finetune.json"
DEFAULT_SEED = 10000  # train.py's --seed default (official)


def _file_sha(value: str | None, default: str | None) -> tuple[str | None, str | None]:
    """(resolved path or None, SHA-256 or None) of a weights file or registry name (None -> ``default``)."""
    from bfrbench import weights as W
    from bfrbench.io import sha256_file

    name = value if value is not None else default
    if name is None:
        return None, None
    if name in W.all_weights():
        path = W.resolve(name)  # MissingWeightsError says how to fetch it
        return str(path), W.file_sha256(name, path)
    p = Path(name)
    if not p.is_file():
        raise ConfigError(f"weights file {name!r} not found (and not a weights-registry name)")
    return str(p.resolve()), sha256_file(p)


def _list_inputs(folder: str | os.PathLike[str], what: str) -> dict[str, Path]:
    from bfrbench.io import list_images

    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--{what} {folder}: not a folder")
    files = list_images(root)
    if not files:
        raise ConfigError(f"--{what} {folder}: no images found")
    return {p.relative_to(root).with_suffix("").as_posix().replace("/", "__"): p for p in files}


def _write_lq_testset(run: Path, lq: Mapping[str, Path], hashes: Mapping[str, str]) -> Path:
    """A minimal test set (manifest of the user's LQ files, no HQ) so stage 1 goes through the restore runner."""
    import shutil

    import pandas as pd

    from bfrbench.io import atomic_write_json, sha256_file

    ts = run / "lq_set"
    (ts / "lq").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, p in sorted(lq.items()):
        # manifest paths must stay inside the test set (docs/security.md): link (or copy) the user's files in
        dst = ts / "lq" / f"{i}{p.suffix.lower()}"
        if not (dst.is_file() and sha256_file(dst) == hashes[i]):
            dst.unlink(missing_ok=True)
            try:
                os.link(p, dst)
            except OSError:
                shutil.copyfile(p, dst)
        rows.append({"id": i, "lq_path": dst.relative_to(ts).as_posix(), "lq_sha256": hashes[i]})
    manifest = ts / "manifest.parquet"
    tmp = ts / ".manifest.parquet.tmp"
    pd.DataFrame(rows).to_parquet(tmp, index=False)
    os.replace(tmp, manifest)
    atomic_write_json(ts / "testset.json", {"kind": "testset", "format_version": 1, "name": "dtbfr-unlabeled",
                                            "preset": None, "counts": {"ok": len(rows), "failed": 0},
                                            "failures": [], "manifest_sha256": sha256_file(manifest)})
    return ts


def _check_record(run: Path, key: str) -> dict[str, Any]:
    import json

    path = run / RECORD
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"{path}: unreadable ({exc}); use a new `out` folder") from exc
    if old.get("key") != key:
        raise ArtifactError(f"{run} holds a fine-tuning run with different settings or inputs; use a new `out` "
                            "folder (or delete it)")
    return dict(old.get("stages") or {})


def finetune(
    lq: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    base: str = "swinir",
    base_options: Mapping[str, Any] | Sequence[str] | None = None,
    hq_real: str | os.PathLike[str] | None = None,
    iters: int = 20000,
    seed: int = DEFAULT_SEED,
    device: str = "cpu",
    dtype: str = "fp32",
    batch_size: int = 16,
    micro_batch: int = 4,
    infer_batch_size: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    train_devices: Sequence[str] | None = None,
    swinir_weights: str | None = None,
    swinir_config: str | None = None,
    iddpm_weights: str | None = None,
    iddpm_config: str | None = None,
    down_n: int | None = None,
    pseudo_options: Mapping[str, Any] | None = None,
    lpips_backbone: str | None = None,
    train_options: Mapping[str, Any] | None = None,
    show_progress: bool | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Fine-tune SwinIR on a folder of unlabeled LQ faces the DT-BFR way; resumable (rerun the same call).

    Args:
        lq: folder of aligned 512x512 LQ faces (the unlabeled target-domain set; ids = relative paths).
        out: run folder RUN (``finetune.json``, ``base/``, ``targets/``, ``train/``, ``model/``, ``model.json``).
        base: ``swinir`` (the starting SwinIR itself, official SwinIR path) or any registered method name.
        base_options: ``key=value`` options of the base method (runner ``--option``).
        hq_real: folder of clean HQ faces for the discriminator's real term (official: FFHQ 512); None uses the
            pseudo-targets (the official trainer's behaviour without a ``gan_clean`` set).
        iters: training iterations (official 20,000).
        seed: run seed (official training seed 10000): stage 1 runner seed, per-image pseudo-target noise, D init,
            data order and stochastic depth all derive from it.
        device, dtype: stages 1-2 (``cuda`` with ``workers`` N: one GPU per dask worker).
        batch_size, micro_batch: training batch over all ranks and per-pass micro-batch (official 16, 4).
        infer_batch_size: batch size of stages 1-2 (None: the methods' defaults).
        workers, scheduler: dask parallelism of stages 1-2.
        train_devices: one device per data-parallel training rank (None: ``[device]``).
        swinir_weights: starting SwinIR (file or registry name; None: ``dtbfr-swinir-gan-v1``).
        swinir_config: its architecture (``gan-v1``, ``tiny`` or a JSON file).
        iddpm_weights, iddpm_config: the diffusion prior (None: ``dtbfr-diffusion-prior``, ffhq512 config).
        down_n: low-pass factor N (None: 16 for the SwinIR base, 8 for an already restored base; official).
        pseudo_options: further :class:`~bfrbench.methods.dtbfr.pseudo.PseudoTargetConfig` fields (``steps``,
            ``start``, ``reg_end``, ``image_size``; official 250, 150, 90, 512).
        lpips_backbone: torchvision VGG16 file or registry name (None: ``torchvision-vgg16``).
        train_options: further :class:`TrainConfig` fields (``train_size``, ``save_every``, ``disc_num_feat``,
            ``lr``, ...).
        show_progress: progress bars (None: unless BFRBENCH_PROGRESS=0).
        stop_after: stop training after this many iterations (:class:`~bfrbench.methods.dtbfr.loop.TrainingStopped`).

    Returns:
        The content of ``RUN/finetune.json``.

    Raises:
        ConfigError, ArtifactError: bad arguments or inputs, or RUN made with other settings.
    """
    from bfrbench.io import atomic_write_json
    from bfrbench.provenance import environment

    t0 = time.perf_counter()
    run = Path(out)
    plan = _plan(lq, hq_real, base, base_options, iters, seed, dtype, batch_size, micro_batch, device, train_devices,
                 swinir_weights, swinir_config, iddpm_weights, iddpm_config, down_n, pseudo_options, lpips_backbone,
                 train_options)
    run.mkdir(parents=True, exist_ok=True)
    stages = _check_record(run, plan.key)
    devices = list(train_devices or [device])
    record = {"kind": "dtbfr-finetune", "format_version": 1, "key": plan.key, "config": plan.config,
              "devices": {"device": device, "workers": workers, "scheduler": scheduler, "train_devices": devices},
              "inputs": plan.inputs, "weights": plan.weights, "stages": stages}
    (run / "config").mkdir(exist_ok=True)
    atomic_write_json(run / "config" / "swinir.json", plan.g_cfg.to_dict())

    def save(name: str, summary: dict[str, Any]) -> None:
        stages[name] = summary
        atomic_write_json(run / RECORD, {**record, "stages": stages, "environment": environment()})

    testset = _write_lq_testset(run, plan.lq_files, plan.inputs["lq"]["sha256"])
    if base == "swinir":
        save("base", {"method": "swinir", "where": "inside stage 2 (official SwinIR path, no rounding)",
                      "weights_sha256": plan.weights["swinir_init"]})
    else:
        save("base", _stage_base(run, testset, base, base_options, seed, device, dtype, infer_batch_size, workers,
                                 scheduler, show_progress))
    save("pseudo", _stage_pseudo(run, testset, base, plan, iddpm_weights, seed, device, dtype, infer_batch_size,
                                 workers, scheduler, show_progress))
    pairs = _pairs(run, plan.lq_files)
    from bfrbench.methods.dtbfr.loop import TrainData, train

    data = TrainData(pairs=pairs, real=tuple(str(p) for _, p in sorted(plan.real_files.items()))
                     if plan.real_files else None)
    save("train", {**train(run / "train", plan.tcfg, data, g_config=plan.g_cfg.to_dict(), g_init=str(plan.init_path),
                           devices=devices, lpips_backbone=lpips_backbone,
                           show_progress=show_progress, stop_after=stop_after), "pairs": len(pairs)})
    save("register", _stage_register(run, plan.g_cfg.to_dict(), plan.key, base))
    record["seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_json(run / RECORD, {**record, "stages": stages, "environment": environment()})
    return {**record, "stages": stages}


@dataclass(frozen=True)
class _Plan:
    """Everything resolved before any work: configs, input and weight hashes, the run key."""

    tcfg: TrainConfig
    g_cfg: Any
    pcfg: Any
    prior_cfg: Any
    lq_files: dict[str, Path]
    real_files: dict[str, Path] | None
    init_path: str | None
    config: dict[str, Any]
    inputs: dict[str, Any]
    weights: dict[str, str | None]
    key: str


def _plan(lq: str | os.PathLike[str], hq_real: str | os.PathLike[str] | None, base: str, base_options: Any,
          iters: int, seed: int, dtype: str, batch_size: int, micro_batch: int, device: str,
          train_devices: Sequence[str] | None, swinir_weights: str | None, swinir_config: str | None,
          iddpm_weights: str | None, iddpm_config: str | None, down_n: int | None,
          pseudo_options: Mapping[str, Any] | None, lpips_backbone: str | None,
          train_options: Mapping[str, Any] | None) -> _Plan:
    """Validate the arguments, hash inputs and weights (missing weights fail here, before any work)."""
    from bfrbench.io import sha256_file, sha256_json
    from bfrbench.metrics.lpips import BACKBONE_WEIGHTS

    if dtype not in _TORCH_DTYPE_NAMES:
        raise ConfigError(f"dtype must be one of {', '.join(_TORCH_DTYPE_NAMES)}, got {dtype!r}")
    tcfg = TrainConfig.from_dict({**TrainConfig().to_dict(), "iterations": int(iters), "seed": int(seed),
                                  "batch_size": int(batch_size), "micro_batch": int(micro_batch),
                                  **dict(train_options or {})})
    g_cfg = swinir_config_from(swinir_config)
    lq_files = _list_inputs(lq, "lq")
    real_files = _list_inputs(hq_real, "hq-real") if hq_real is not None else None
    lq_hashes = {i: sha256_file(p) for i, p in sorted(lq_files.items())}
    real_hashes = {i: sha256_file(p) for i, p in sorted(real_files.items())} if real_files else None
    init_path, init_sha = _file_sha(swinir_weights, DEFAULT_WEIGHTS)
    pcfg = _pseudo_config(down_n if down_n is not None else (16 if base == "swinir" else 8), pseudo_options)
    prior_cfg = _iddpm_config_from(iddpm_config)
    config = {"base": base, "base_options": _options_record(base_options), "seed": int(seed), "dtype": dtype,
              "pseudo": pcfg.to_dict(), "swinir_config": g_cfg.to_dict(), "iddpm_config": prior_cfg.to_dict(),
              "train": tcfg.to_dict(), "train_ranks": len(list(train_devices or [device]))}
    weights = {"swinir_init": init_sha, "iddpm": _file_sha(iddpm_weights, "dtbfr-diffusion-prior")[1],
               "lpips_backbone": _file_sha(lpips_backbone, BACKBONE_WEIGHTS["vgg"])[1] if tcfg.lpips else None}
    inputs = {"lq": {"path": str(Path(lq).resolve()), "sha256": lq_hashes},
              "hq_real": None if hq_real is None else {"path": str(Path(hq_real).resolve()), "sha256": real_hashes}}
    keyed = {**config, "train": {k: v for k, v in config["train"].items() if k not in _NOT_IN_KEY}}
    key = sha256_json({"config": keyed, "lq": lq_hashes, "hq_real": real_hashes, "weights": weights})
    return _Plan(tcfg, g_cfg, pcfg, prior_cfg, lq_files, real_files, init_path, config, inputs, weights, key)


def _options_record(options: Mapping[str, Any] | Sequence[str] | None) -> Any:
    if options is None:
        return None
    return dict(options) if isinstance(options, Mapping) else list(options)


def _stage_base(run: Path, testset: Path, base: str, base_options: Any, seed: int, device: str, dtype: str,
                batch_size: int | None, workers: int, scheduler: str | None,
                show_progress: bool | None) -> dict[str, Any]:
    """Stage 1 (``--base METHOD``): base outputs ``RUN/base/<id>.png`` through the restore runner (resumable)."""
    from bfrbench.methods.runner import restore

    summary = restore(base, testset, run / "base", device=device, dtype=dtype, batch_size=batch_size, seed=seed,
                      workers=workers, scheduler=scheduler, options=base_options, show_progress=show_progress)
    return {"method": base, "counts": summary["counts"], "failures": summary["failures"],
            "weights": summary["weights"], "run_key": summary["run_key"],
            "seconds": summary["timings"]["total_seconds"]}


def _stage_pseudo(run: Path, testset: Path, base: str, plan: _Plan, iddpm_weights: str | None, seed: int,
                  device: str, dtype: str, batch_size: int | None, workers: int, scheduler: str | None,
                  show_progress: bool | None) -> dict[str, Any]:
    """Stage 2: pseudo-targets ``RUN/targets/<id>.png`` (dtbfr-models' :func:`generate_pseudo_targets`)."""
    from bfrbench.methods.dtbfr.pseudo import generate_pseudo_targets

    swinir_base = base == "swinir"
    res = generate_pseudo_targets(
        testset, None if swinir_base else run / "base", run / "targets",
        prior=iddpm_weights or "dtbfr-diffusion-prior", prior_config=plan.prior_cfg,
        restorer=plan.init_path if swinir_base else None, restorer_config=plan.g_cfg if swinir_base else None,
        config=plan.pcfg, seed=seed, device=device, dtype=_TORCH_DTYPE_NAMES[dtype], batch_size=batch_size or 1,
        workers=workers, scheduler=scheduler, show_progress=show_progress)
    m = res.manifest
    return {"counts": m["counts"], "failures": list(res.failed), "run_key": m["run_key"], "timings": m["timings"],
            "manifest": "targets/pseudo_targets.json"}


#: training settings that do not change the weights (a resume may change them)
_NOT_IN_KEY = ("save_every", "keep_checkpoints", "io_threads")
_TORCH_DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _pseudo_config(down_n: int, options: Mapping[str, Any] | None) -> Any:
    from bfrbench.methods.dtbfr.pseudo import PseudoTargetConfig

    opts = dict(options or {})
    if "down_N" in opts:
        raise ConfigError("give the low-pass factor as down_n, not in pseudo_options")
    try:
        return PseudoTargetConfig(**{"down_N": down_n, **opts})
    except TypeError as exc:
        raise ConfigError(f"pseudo_options: {exc}") from exc


def _iddpm_config_from(value: str | Mapping[str, Any] | None) -> Any:
    """An IDDPMConfig from a preset (``ffhq512``, ``tiny``), a JSON file of constructor arguments or a dict."""
    import json

    from bfrbench.methods.dtbfr.iddpm import IDDPMConfig, iddpm_config

    if value is None or value in ("ffhq512", "tiny"):
        return iddpm_config(value or "ffhq512")
    if isinstance(value, Mapping):
        return IDDPMConfig.from_dict(dict(value))
    p = Path(value)
    if not p.is_file():
        raise ConfigError(f"iDDPM config {value!r}: not 'ffhq512', 'tiny' or an existing JSON file")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from exc
    return IDDPMConfig.from_dict(d.get("iddpm", d) if isinstance(d.get("iddpm"), dict) else d)


def _pairs(run: Path, lq_files: Mapping[str, Path]) -> tuple[tuple[str, str, str], ...]:
    """(id, LQ, pseudo-target) for every id whose pseudo-target exists (failed ids are left out)."""
    pairs = []
    for i, p in sorted(lq_files.items()):
        target = run / "targets" / f"{i}.png"
        if target.is_file():
            pairs.append((i, str(p), str(target)))
    if not pairs:
        raise ArtifactError(f"{run / 'targets'}: no pseudo-targets were produced; see {run / RECORD} for failures")
    return tuple(pairs)


def _stage_register(run: Path, g_config: dict[str, Any], key: str, base: str) -> dict[str, Any]:
    """Stage 4: copy the final SwinIR weights to ``RUN/model/swinir.safetensors`` and write ``RUN/model.json``."""
    import json

    from bfrbench.io import atomic_write_json
    from bfrbench.methods.dtbfr.checkpoint import LATEST, tensors_to_safetensors

    pointer = json.loads((run / "train" / LATEST).read_text(encoding="utf-8"))
    from safetensors.torch import load_file

    g_state = load_file(str(run / "train" / pointer["dir"] / "G.safetensors"))
    digest = tensors_to_safetensors(g_state, run / "model" / "swinir.safetensors",
                                    metadata={"source": "bfrbench finetune dtbfr"})  # one key: safetensors orders
    # metadata keys arbitrarily, so with one key the file bytes depend only on the weights
    rec = {"kind": "dtbfr-model", "format_version": 1, "weights": "model/swinir.safetensors",
           "weights_sha256": digest, "swinir_config": g_config, "iterations": pointer["iteration"],
           "base": base, "finetune_key": key}
    atomic_write_json(run / MODEL_RECORD, rec)
    return {"weights_sha256": digest, "iterations": pointer["iteration"]}
