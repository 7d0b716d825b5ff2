"""``bfrbench train METHOD``: train a trainable method (thin layer over its Python API).

Today one method: ``bfrbench train clrface --stage autoencoder|prior|irn|mask --faces DIR --recipe NAME --out RUN``
(:func:`bfrbench.methods.clrface.train.train_stage`). Exit status 0 when the stage finished, 1 on a
BfrbenchError, 130 when interrupted (the last checkpoint is kept; ``--resume`` continues).
"""

from __future__ import annotations

import argparse
from typing import Any

from bfrbench.exitcodes import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train a method's networks (clrface)",
                              description="Train the networks of a trainable method.")
    sub = p.add_subparsers(dest="train_method", metavar="METHOD")
    p.set_defaults(func=lambda a, _p=p: (_p.print_help(), 2)[1])
    c = sub.add_parser("clrface", help="CLR-Face reimplementation, one stage at a time",
                       description="Train one CLR-Face stage into a run folder (docs/methods/clrface.md). Stages, "
                                   "in order: autoencoder, prior (needs autoencoder), irn, mask (needs autoencoder). "
                                   "LQ faces are made on the fly with a degradation recipe.")
    c.add_argument("--stage", required=True, choices=["autoencoder", "prior", "irn", "mask"])
    c.add_argument("--faces", required=True, help="folder of aligned square face images")
    c.add_argument("--recipe", required=True, help="degradation preset name or YAML file (docs/degradations.md)")
    c.add_argument("--out", required=True, help="run folder (config.json and <stage>.safetensors)")
    c.add_argument("--iters", type=int, default=1000, help="total iterations of this stage (default 1000)")
    c.add_argument("--batch-size", type=int, default=None, help="global batch size (default: the config's)")
    c.add_argument("--config", default=None, help="for a new run: 'full' (default), 'tiny', or a JSON config file")
    c.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    c.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"], help="autocast dtype")
    c.add_argument("--seed", type=int, default=0, help="training seed (batches, degradations, noise)")
    c.add_argument("--resume", action="store_true", help="continue the stage from its last checkpoint")
    c.add_argument("--ddp", action="store_true", help="DistributedDataParallel (launch with torchrun)")
    c.add_argument("--fr-weights", default=None, help="face-recognition weights (registry name or file)")
    c.add_argument("--no-tensorboard", action="store_true", help="CSV log only")
    c.add_argument("--json", action="store_true", help="print the stage summary as JSON")
    c.set_defaults(func=run_clrface)


def run_clrface(args: argparse.Namespace) -> int:
    from bfrbench.cli import print_json
    from bfrbench.methods.clrface.train import TrainOptions, train_stage

    summary = train_stage(args.stage, TrainOptions(
        faces=args.faces, recipe=args.recipe, out=args.out, iters=args.iters, config=args.config,
        batch_size=args.batch_size, device=args.device, dtype=args.dtype, seed=args.seed, resume=args.resume,
        ddp=args.ddp, fr_weights=args.fr_weights, tensorboard=not args.no_tensorboard))
    if args.json:
        print_json(summary)
    else:
        last = summary["last"]
        loss = f", loss {last['loss']:.4f}" if "loss" in last else ""
        print(f"clrface {args.stage}: {summary['iterations']} iterations (resumed from {summary['resumed_from']})"
              f"{loss} -> {summary.get('file', args.out)}")
    return EXIT_OK
