"""``bfrbench finetune dtbfr``: DT-BFR fine-tuning on a folder of unlabeled LQ faces (thin layer over
:func:`bfrbench.methods.dtbfr.finetune.finetune`; docs/methods/dtbfr-finetune.md).

Exit status: 0 finished (the model is registered in RUN/model.json), 3 finished but some images failed in
stages 1-2 (left out of training, listed in RUN/finetune.json), 1 on a BfrbenchError, 130 interrupted (rerun
the same command to resume).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bfrbench.cli import flags
from bfrbench.exitcodes import status_for


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune a restorer on unlabeled faces (DT-BFR)",
                              description="Fine-tune a restoration network on your own unlabeled degraded faces.")
    sub = p.add_subparsers(dest="finetune_method", metavar="METHOD")
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), 2)[1])
    d = sub.add_parser(
        "dtbfr", help="DT-BFR: base outputs -> diffusion pseudo-targets -> SwinIR fine-tuning (resumable)",
        description="Stage 1 restores --lq with --base through the restore runner, stage 2 makes pseudo-targets "
                    "with the diffusion prior, stage 3 fine-tunes SwinIR (checkpoints, CSV/TensorBoard logs), "
                    "stage 4 registers RUN so `bfrbench restore --method dtbfr --option run=RUN` uses it. "
                    "Rerun the same command to resume.")
    d.add_argument("--lq", required=True, help="folder of aligned 512x512 LQ faces (unlabeled)")
    d.add_argument("--out", required=True, metavar="RUN", help="run folder")
    d.add_argument("--base", default="swinir", help="swinir (the starting SwinIR) or any method name")
    d.add_argument("--base-option", action="append", default=[], metavar="KEY=VALUE", help="option of --base")
    d.add_argument("--hq-real", default=None, metavar="DIR", help="clean HQ faces for the discriminator (FFHQ)")
    d.add_argument("--iters", type=int, default=20000, help="training iterations (official 20000)")
    d.add_argument("--seed", type=int, default=10000, help="run seed (official 10000)")
    d.add_argument("--device", default="cpu", help="device of stages 1-2 (cuda with --workers N: one GPU each)")
    d.add_argument("--train-devices", default=None, metavar="DEV[,DEV...]",
                   help="one training process per device, e.g. cuda:0,cuda:1 (default: --device)")
    d.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"], help="dtype of stages 1-2")
    d.add_argument("--train-dtype", default="fp32", choices=["fp32", "bf16"], help="training autocast dtype")
    d.add_argument("--batch-size", type=int, default=16, help="training batch over all devices (official 16)")
    d.add_argument("--micro-batch", type=int, default=4, help="images per accumulation pass (official 4)")
    d.add_argument("--infer-batch-size", type=int, default=None, help="batch size of stages 1-2")
    par = d.add_mutually_exclusive_group()
    par.add_argument("--workers", type=int, default=1, help="local dask workers for stages 1-2")
    par.add_argument("--scheduler", default=None, metavar="ADDR", help="dask scheduler for stages 1-2")
    d.add_argument("--swinir-weights", default=None, help="starting SwinIR (file or registry name)")
    d.add_argument("--swinir-config", default=None, help="gan-v1 (default), tiny or a JSON file")
    d.add_argument("--iddpm-weights", default=None, help="diffusion prior (file or registry name)")
    d.add_argument("--iddpm-config", default=None, help="prior architecture (preset or JSON file)")
    d.add_argument("--down-n", type=int, default=None, help="low-pass factor N (default 16 swinir base, else 8)")
    d.add_argument("--pseudo-option", action="append", default=[], metavar="KEY=INT",
                   help="pseudo-target loop setting: steps (250), start (150), reg_end (90), image_size (512)")
    d.add_argument("--lpips-backbone", default=None, help="torchvision VGG16 file or registry name")
    d.add_argument("--lpips-weight", type=float, default=0.1, help="LPIPS-VGG loss weight (official 0.1; 0: no VGG)")
    d.add_argument("--lr", type=float, default=2e-5)
    d.add_argument("--lr-min", type=float, default=5e-6)
    d.add_argument("--disc-feat", type=int, default=64, help="discriminator width (official 64)")
    d.add_argument("--train-size", type=int, default=None, help="resize training images to this side")
    d.add_argument("--save-every", type=int, default=2500, help="checkpoint period (official 2500)")
    d.add_argument("--json", action="store_true", help="print RUN/finetune.json")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.errors import ConfigError
    from bfrbench.methods.dtbfr.finetune import finetune

    train_options = {"lr": args.lr, "lr_min": args.lr_min, "lpips": args.lpips_weight, "disc_num_feat": args.disc_feat,
                     "train_size": args.train_size, "save_every": args.save_every, "train_dtype": args.train_dtype}
    pseudo = {}
    for item in args.pseudo_option:
        key, sep, value = item.partition("=")
        if not sep or key not in ("steps", "start", "reg_end", "image_size") or not value.strip().isdigit():
            raise ConfigError(f"--pseudo-option {item!r}: expected steps|start|reg_end|image_size=INTEGER")
        pseudo[key] = int(value)
    devices = [s.strip() for s in args.train_devices.split(",") if s.strip()] if args.train_devices else None
    rec = finetune(args.lq, args.out, base=args.base, base_options=args.base_option or None, hq_real=args.hq_real,
                   iters=args.iters, seed=args.seed, device=args.device, dtype=args.dtype,
                   batch_size=args.batch_size, micro_batch=args.micro_batch, infer_batch_size=args.infer_batch_size,
                   workers=args.workers, scheduler=args.scheduler, train_devices=devices,
                   swinir_weights=args.swinir_weights, swinir_config=args.swinir_config,
                   iddpm_weights=args.iddpm_weights, iddpm_config=args.iddpm_config, down_n=args.down_n,
                   pseudo_options=pseudo or None, lpips_backbone=args.lpips_backbone, train_options=train_options)
    failures = list(rec["stages"]["base"].get("failures") or []) + list(rec["stages"]["pseudo"].get("failures") or [])
    if args.json:
        print_json(rec)
    else:
        st = rec["stages"]
        print(f"dtbfr finetune: {st['train']['pairs']} pairs, {st['train']['iterations']} iterations "
              f"(resumed from {st['train']['resumed_from']}), model {st['register']['weights_sha256'][:12]} -> "
              f"{args.out}/model.json; use: bfrbench restore --method dtbfr --option run={args.out}")
    for f in failures[:10]:
        print(f"failed {f.get('id')}: {flags(str(f.get('reason')))}", file=sys.stderr)
    return status_for(failures)
