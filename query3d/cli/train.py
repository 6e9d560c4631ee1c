"""`query3d train`: train the network (one process, or DDP under torchrun), or
(``--task semantic``) the open-vocabulary semantic head on top of a trained checkpoint."""

from __future__ import annotations

import argparse
import sys

from query3d.cli._common import add_json_option, write_json

HELP = "train the network (one process, or DDP under torchrun)"
EPILOG = """examples:
  query3d train --config small --data data/tabletop --out runs/small
  query3d train --config small --data data/tabletop --out runs/small --resume
  torchrun --nproc_per_node=4 -m query3d train --config paper --data D --out runs/paper
  query3d train --task semantic --from runs/small/last.pt --data data/tabletop \\
      --source mosd:../shared/data/mosd-learn:train --out runs/semantic.pt
  query3d train --task semantic --from CKPT --data data/tabletop --held-out A --out X.pt
train.batch_size is the global batch: it is split evenly over the processes.
--task semantic: the checkpoint's encoders stay frozen; their superpoint features are
stored once under --cache and the head trains on them (minutes on 2 cores); the output
is the checkpoint with the head added."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["referring", "semantic", "slot-scorer"],
                   default="referring",
                   help="referring: the whole network (default); semantic: its "
                        "open-vocabulary semantic head; slot-scorer: the head that picks "
                        "the slots answering a command (needs the semantic head)")
    p.add_argument("--config", default="small", help="preset name (small, paper) or YAML file")
    p.add_argument("--data", default=None, metavar="DIR", help="dataset root folder")
    p.add_argument("--out", required=True, metavar="RUN",
                   help="run folder: config.yaml, last.pt, best.pt, log.jsonl, tb/ "
                        "(--task semantic: the checkpoint file to write)")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--max-steps", type=int, default=0, metavar="N",
                   help="stop (resumably) after N optimiser steps; the schedule still "
                        "spans --epochs")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                   help="override train.device")
    s = p.add_argument_group("--task semantic / slot-scorer")
    s.add_argument("--from", dest="source_checkpoint", metavar="CKPT",
                   help="the trained checkpoint whose encoders the head reads")
    s.add_argument("--source", action="append", default=[], metavar="KIND:ROOT:SPLIT[:N]",
                   help="labelled scenes (tabletop, mosd; mosd-generated: queries the "
                        "synthetic sampler writes on the mOSD scans' own objects; "
                        "mosd-composite: the split's objects set down on its other scans' "
                        "tables, with sampled queries; both slot-scorer only), repeatable; "
                        "default tabletop:DATA:train")
    s.add_argument("--repeat", action="append", default=[], metavar="KIND=R",
                   help="draw the scenes (semantic) or queries (slot-scorer) of sources of "
                        "KIND R times as often (a small real split beside many synthetic "
                        "scenes), repeatable")
    s.add_argument("--held-out", default="", metavar="A|B|NAMES",
                   help="novel classes kept out of training (split A, B or names)")
    s.add_argument("--steps", type=int, default=3000, help="head training steps")
    s.add_argument("--queries-per-scene", type=int, default=5,
                   help="slot-scorer: queries of each scene stored (one encoding serves them)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--members", type=int, default=1, metavar="M",
                   help="slot-scorer: M MLPs from different seeds, logits averaged")
    s.add_argument("--selection-spread", type=float, default=None, metavar="METRES",
                   help="slot-scorer: set model.selection_spread (slots' seeds at least "
                        "this far apart, greedy) in the written checkpoint and its evidence; "
                        "default: the checkpoint's")
    s.add_argument("--selection-plain", type=int, default=None, metavar="N",
                   help="slot-scorer: with a spread, the first N slots still plain top-k "
                        "(model.selection_plain); default: the checkpoint's")
    s.add_argument("--relations", action=argparse.BooleanOptionalAction, default=None,
                   help="slot-scorer: the scorer also reads the command's target / anchor "
                        "phrases and relation (model.slot_scorer_relations); default: the "
                        "checkpoint's")
    s.add_argument("--peers", action=argparse.BooleanOptionalAction, default=None,
                   help="slot-scorer: with relations, each slot's place and size also "
                        "against the slots matching the target's words "
                        "(model.slot_scorer_peers); default: the checkpoint's")
    s.add_argument("--colour-namer", action=argparse.BooleanOptionalAction, default=None,
                   help="slot-scorer: name a mask's colour with a small learnt classifier "
                        "(model.slot_scorer_colour_namer) instead of one prototype per "
                        "colour word; default: the checkpoint's")
    s.add_argument("--colour-histogram", action=argparse.BooleanOptionalAction, default=None,
                   help="slot-scorer: the colour namer also reads the mask's colours binned "
                        "(8 hues, 3 greys), not only their mean "
                        "(model.slot_scorer_colour_histogram); default: the checkpoint's")
    s.add_argument("--scorer-listwise", type=_non_negative, default=0.0, metavar="W",
                   help="slot-scorer: weight of the loss of each query's choice among its "
                        "slots and 'none' (beside each slot's own; default 0: off)")
    s.add_argument("--scorer-positive-iou", type=_unit_interval, default=0.5, metavar="IOU",
                   help="slot-scorer: a slot whose mask covers a target at this IoU is a "
                        "positive (default 0.5)")
    s.add_argument("--scorer-soft-targets", action="store_true",
                   help="slot-scorer: train each slot towards min(1, IoU / positive IoU)^2 "
                        "instead of 0 / 1, so a tighter mask of the same object scores "
                        "higher (a mask over two touching boxes is no full positive)")
    s.add_argument("--scorer-zero-target-weight", type=_non_negative, default=1.0,
                   metavar="W", help="slot-scorer: weight of a zero-target query's slots "
                   "(all negatives) against the others' (default 1), so an absent object "
                   "scores low on scans unlike the training ones")
    s.add_argument("--scorer-words", default=None, metavar="WORDS",
                   help="slot-scorer: comma-separated words the scorer also compares slots "
                        "and commands with, besides the class names "
                        "(model.slot_scorer_words, e.g. tin,carton,pot); default: the "
                        "checkpoint's")
    s.add_argument("--calibrate-folds", type=int, default=0, metavar="K",
                   help="slot-scorer: also score the real sources' queries out of fold "
                        "(K folds by scan, K more scorers) and print a score-threshold "
                        "table for new scans of that kind")
    s.add_argument("--calibrate-kinds", default="mosd,mosd-generated,osd", metavar="KINDS",
                   help="slot-scorer: the source kinds --calibrate-folds folds and scores")
    s.add_argument("--stack-folds", type=int, default=0, metavar="K",
                   help="slot-scorer: read the semantic evidence of the scenes the semantic "
                        "head trained on with K heads refitted without each scene's fold "
                        "(k-fold stacking: the scorer learns the names as a new scan gets "
                        "them; K more semantic head trainings)")
    s.add_argument("--stack-kinds", default="mosd", metavar="KINDS",
                   help="slot-scorer: the semantic head's source kinds --stack-folds deals "
                        "into folds (its other sources train every fold's head)")
    s.add_argument("--no-images", action="store_true",
                   help="names only: the head ignores the image features (ablation)")
    s.add_argument("--cache", default="runs/cache", metavar="DIR",
                   help="where the frozen encoders' superpoint features are stored")
    add_json_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.task in ("semantic", "slot-scorer"):
        return _run_head(args)
    if not args.data:
        raise SystemExit("query3d train: --data DIR is required")
    from query3d.training.trainer.run import run_training

    summary = run_training(args.config, args.data, args.out, epochs=args.epochs,
                           resume=args.resume, max_steps=args.max_steps, device=args.device)
    if summary.get("is_main", True):
        write_json(args.json, summary)
    return 0


def _repeats(given: list[str], sources: list) -> list[int]:
    """``KIND=R`` options -> one repeat count per source (1 where not given)."""
    by_kind: dict[str, int] = {}
    for item in given:
        kind, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"query3d train: --repeat {item!r}: expected KIND=R, R >= 1")
        if kind not in {s.kind for s in sources}:
            raise SystemExit(f"query3d train: --repeat {item!r}: no --source of kind "
                             f"{kind!r}")
        by_kind[kind] = int(count)
    return [by_kind.get(s.kind, 1) for s in sources]


def _non_negative(text: str) -> float:
    """A float >= 0 for argparse (its error names the option)."""
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _unit_interval(text: str) -> float:
    """A float in (0, 1] for argparse."""
    value = float(text)
    if not 0 < value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _scorer_words(given: str | None) -> list[str] | None:
    """--scorer-words read as a class list is (``parse_class_list``: one spelling, no
    repeats); "" clears the checkpoint's words, None keeps them."""
    if given is None or not given.strip():
        return None if given is None else []
    from query3d.model.heads.semantic import parse_class_list

    try:
        return parse_class_list(given)
    except ValueError as exc:
        raise SystemExit(f"query3d train: --scorer-words: {exc}") from None


def _run_head(args: argparse.Namespace) -> int:
    from query3d.training.semantic.run import Source

    if not args.source_checkpoint:
        raise SystemExit(f"query3d train --task {args.task}: --from CKPT is required")
    try:
        sources = [Source.parse(s) for s in args.source]
    except ValueError as exc:
        raise SystemExit(f"query3d train: {exc}") from None
    if args.data:
        sources.insert(0, Source("tabletop", args.data, "train"))
    if not sources:
        raise SystemExit(f"query3d train --task {args.task}: give --data DIR or --source")
    if args.task == "slot-scorer":
        kinds = tuple(k for k in args.calibrate_kinds.split(",") if k)
        if args.calibrate_folds and not {s.kind for s in sources} & set(kinds):
            raise SystemExit("query3d train: --calibrate-folds: calibration needs a --source "
                             f"of kind {', '.join(kinds)}")
        if args.stack_folds == 1 or args.stack_folds < 0:
            raise SystemExit("query3d train: --stack-folds must be 0 (off) or >= 2, got "
                             f"{args.stack_folds}")
        from query3d.training.slot_scoring.fit import ScorerTraining
        from query3d.training.slot_scoring.run import run_slot_scorer_training

        summary = run_slot_scorer_training(
            args.source_checkpoint, sources, args.out,
            ScorerTraining(steps=args.steps, seed=args.seed, listwise=args.scorer_listwise,
                           positive_iou=args.scorer_positive_iou,
                           soft_targets=args.scorer_soft_targets,
                           zero_target_weight=args.scorer_zero_target_weight),
            args.cache,
            args.queries_per_scene, _repeats(args.repeat, sources), args.members,
            args.selection_spread, args.selection_plain, args.calibrate_folds, kinds,
            relations=args.relations, peers=args.peers, colour_namer=args.colour_namer,
            colour_histogram=args.colour_histogram,
            words=_scorer_words(args.scorer_words), stack_folds=args.stack_folds,
            stack_kinds=tuple(k for k in args.stack_kinds.split(",") if k))
        print(f"slot scorer: {summary['steps']} steps on {summary['queries']} queries, "
              f"final loss {summary['final_loss']:.3f}; wrote {summary['checkpoint']} "
              "(decision.slot_score: scorer; calibrate decision.score_threshold with "
              "query3d eval --score-thresholds)")
    else:
        from query3d.training.semantic.fit import HeadTraining
        from query3d.training.semantic.run import run_semantic_training
        from query3d.training.semantic.scenes import novel_names

        held = novel_names(args.held_out) if args.held_out else ()
        settings = HeadTraining(steps=args.steps, seed=args.seed,
                                use_image=not args.no_images, held_out=held)
        summary = run_semantic_training(args.source_checkpoint, sources, args.out, settings,
                                        args.cache, _repeats(args.repeat, sources))
        print(f"semantic head: {summary['steps']} steps on {summary['scenes']} scenes "
              f"({summary['superpoints']} superpoints), final loss "
              f"{summary['final_loss']:.3f}; wrote {summary['checkpoint']}")
        if summary["slot_scorer_stale"]:
            print("warning: this checkpoint's slot scorer read the previous semantic head; "
                  "retrain it: query3d train --task slot-scorer --from "
                  f"{summary['checkpoint']} ...", file=sys.stderr)
    write_json(args.json, summary)
    return 0
