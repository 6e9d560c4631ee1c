"""`query3d eval`: evaluate a checkpoint on a dataset split."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, write_json
from query3d.config.model import SLOT_SCORES

HELP = "evaluate a checkpoint on a dataset split"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help=HELP, description=HELP)
    p.add_argument("--task", choices=["referring", "semantic"], default="referring",
                   help="referring: sentences (default); semantic: per-point labels from "
                   "a class list, with base / novel mIoU and hIoU when --novel is given")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a query3d .pt file")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset root folder")
    p.add_argument("--split", default="val", help="split name (default val)")
    p.add_argument("--max-samples", type=int, default=0, metavar="N",
                   help="score only the first N samples (0 = all)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--kind", default=None,
                   help="data kind (default: the checkpoint's data.kind); 'osd' scores the "
                   "real Kinect scans in DIR with the bundled 20 queries")
    p.add_argument("--no-baselines", action="store_true",
                   help="skip the trivial baselines (nothing / every / largest / random "
                   "object) that are otherwise scored on the same queries")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-object baseline")
    p.add_argument("--score-thresholds", default="", metavar="T1,T2,...",
                   help="also score these detection thresholds (one forward per sample), "
                   "to choose the decision.score_threshold a checkpoint ships with")
    p.add_argument("--slot-score", default=None, choices=SLOT_SCORES,
                   help="how a slot is scored (default: the checkpoint's decision.slot_score)")
    p.add_argument("--grammar-limit", default=None, action=argparse.BooleanOptionalAction,
                   help="answer a singular command with one target at most, a numeral with "
                   "that many (default: the checkpoint's decision.limit_by_grammar)")
    p.add_argument("--best-slots", action="store_true",
                   help="also score the oracle that answers each target with the slot "
                   "covering it best: how far the network's slots reach, whatever picks "
                   "among them (threshold-free, for ablations)")
    p.add_argument("--classes", default="", metavar="NAMES",
                   help="--task semantic: the class list (default: the 18 tabletop classes, "
                   "or box, can, tin, bowl, mug, table for --kind mosd)")
    p.add_argument("--novel", default="", metavar="A|B|NAMES",
                   help="--task semantic: the novel classes (split A, B or names)")
    p.add_argument("--seen-penalty", type=float, default=0.0, metavar="P",
                   help="--task semantic: cosine similarity taken off the names the head "
                   "trained on (default 0)")
    p.add_argument("--max-scenes", type=int, default=0, metavar="N",
                   help="--task semantic: only the first N scenes (0 = all)")
    add_json_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.task == "semantic":
        return _run_semantic(args)
    from query3d.training.evaluation.report import format_baselines, format_table
    from query3d.training.evaluation.run import run_evaluation

    thresholds = tuple(float(t) for t in args.score_thresholds.split(",") if t.strip())
    summary = run_evaluation(args.checkpoint, args.data, args.split,
                             max_samples=args.max_samples, device=args.device, kind=args.kind,
                             baselines=not args.no_baselines, seed=args.seed,
                             score_thresholds=thresholds, slot_score=args.slot_score,
                             limit_by_grammar=args.grammar_limit,
                             best_slots=args.best_slots)
    print(format_table(summary))
    if summary["seen_by"]:
        print(f"note: this checkpoint's {' and '.join(summary['seen_by'])} trained on "
              f"{summary['data_kind']} {args.split} of {args.data}: not a held-out number")
    for t, numbers in summary.get("by_score_threshold", {}).items():
        print(f"score threshold {t}: mIoU {100 * numbers['miou']:.1f}, Acc@0.5 "
              f"{100 * numbers['acc@0.5']:.1f}, zero-target "
              f"{100 * numbers.get('zero_target_accuracy', float('nan')):.1f}, box Acc@0.25 "
              f"{100 * numbers['box_acc@0.25']:.1f}")
    if "best_slots" in summary:
        oracle = summary["best_slots"]
        print(f"oracle, the best slot per target: mIoU {100 * oracle['miou']:.1f}, Acc@0.5 "
              f"{100 * oracle['acc@0.5']:.1f}, box Acc@0.25 {100 * oracle['box_acc@0.25']:.1f}")
    if "baselines" in summary:
        print(format_baselines(summary, summary["baselines"]))
    write_json(args.json, summary)
    return 0


def _run_semantic(args: argparse.Namespace) -> int:
    from query3d.model.heads.semantic import parse_class_list
    from query3d.training.semantic.evaluate import evaluate_semantic, format_semantic

    classes = parse_class_list(args.classes) if args.classes else None
    summary = evaluate_semantic(args.checkpoint, args.kind or "tabletop", args.data,
                                args.split, classes=classes, novel=args.novel,
                                limit=args.max_scenes, seed=args.seed,
                                seen_penalty=args.seen_penalty)
    print(format_semantic(summary))
    write_json(args.json, summary)
    return 0
