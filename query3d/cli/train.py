"""`query3d train`: train the network (one process, or DDP under torchrun)."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, write_json

HELP = "train the network (one process, or DDP under torchrun)"
EPILOG = """examples:
  query3d train --config small --data data/tabletop --out runs/small
  query3d train --config small --data data/tabletop --out runs/small --resume
  torchrun --nproc_per_node=4 -m query3d train --config paper --data D --out runs/paper
train.batch_size is the global batch: it is split evenly over the processes."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="small", help="preset name (small, paper) or YAML file")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset root folder")
    p.add_argument("--out", required=True, metavar="RUN",
                   help="run folder: config.yaml, last.pt, best.pt, log.jsonl, tb/")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--max-steps", type=int, default=0, metavar="N",
                   help="stop (resumably) after N optimiser steps; the schedule still "
                        "spans --epochs")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                   help="override train.device")
    add_json_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from query3d.training.trainer.run import run_training

    summary = run_training(args.config, args.data, args.out, epochs=args.epochs,
                           resume=args.resume, max_steps=args.max_steps, device=args.device)
    if summary.get("is_main", True):
        write_json(args.json, summary)
    return 0
