"""`query3d data`: generate synthetic scenes (generate), draw one (show), compare with real
scans (stats)."""

from __future__ import annotations

import argparse
import json
import os

from query3d.cli._common import add_json_option, write_json

HELP = "generate synthetic scenes (generate), draw one (show), compare with real scans (stats)"
EPILOG = """examples:
  query3d data generate --out data/tabletop --kind tabletop --split train --scenes 1000
  query3d data generate --out data/tabletop --kind tabletop --split val --scenes 100
  query3d data show data/tabletop tabletop_train_s0_00000 --out scene.png
  query3d data stats --synthetic data/tabletop --real ../shared/data/osd-learn --json s.json
Splits draw scenes from (seed, split, index), so train/val/test never share a scene."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    g = actions.add_parser("generate", help="write a synthetic RGB-D referring split")
    g.add_argument("--out", required=True, metavar="DIR", help="dataset root folder")
    g.add_argument("--kind", choices=["tabletop", "room"], default="tabletop")
    g.add_argument("--split", choices=["train", "val", "test"], default="train")
    g.add_argument("--scenes", type=int, required=True, metavar="N")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes (default: up to 2)")
    g.add_argument("--cameras", type=int, default=0, choices=[0, 1, 2, 3],
                   help="cameras per scene; 0 draws 1-3 per scene (default)")
    g.add_argument("--width", type=int, default=640)
    g.add_argument("--height", type=int, default=480)
    g.add_argument("--voxel", type=float, default=None, metavar="M",
                   help="cloud voxel size in metres (default 0.005 tabletop, 0.02 room)")
    g.add_argument("--max-points", type=int, default=60000, metavar="N",
                   help="cap on points per stored cloud (random subset beyond it)")
    g.add_argument("--queries-per-scene", type=int, default=10, metavar="N")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_json_option(g)
    g.set_defaults(run=run_generate)

    s = actions.add_parser("show", help="draw one scene and its queries into a PNG")
    s.add_argument("root", metavar="DIR", help="dataset root folder")
    s.add_argument("scene", metavar="SCENE", help="scene id, e.g. tabletop_train_s0_00000")
    s.add_argument("--out", required=True, metavar="PNG")
    s.add_argument("--max-queries", type=int, default=12)
    add_json_option(s)
    s.set_defaults(run=run_show)

    t = actions.add_parser("stats", help="realism: synthetic views vs real Kinect scans")
    t.add_argument("--synthetic", required=True, metavar="DIR", help="generated dataset root")
    t.add_argument("--real", required=True, metavar="DIR", help="folder of OSD .pcd scans")
    t.add_argument("--limit", type=int, default=16, metavar="N",
                   help="views per side (first camera of each synthetic scene)")
    add_json_option(t)
    t.set_defaults(run=run_stats)


def run_generate(args: argparse.Namespace) -> int:
    from query3d.training.data.synthetic.generate import generate_split
    from query3d.training.data.synthetic.scene_gen import GeneratorOptions

    options = GeneratorOptions(kind=args.kind, cameras=args.cameras, width=args.width,
                               height=args.height, voxel=args.voxel,
                               max_points=args.max_points,
                               queries_per_scene=args.queries_per_scene)
    summary = generate_split(args.out, args.split, args.scenes, seed=args.seed,
                             options=options, workers=args.workers,
                             progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    write_json(args.json, summary)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from query3d.training.data.synthetic.show import show_scene

    out = show_scene(args.root, args.scene, args.out, max_queries=args.max_queries)
    print(f"wrote {out}")
    write_json(args.json, {"scene": args.scene, "png": str(out)})
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from query3d.training.data.synthetic.stats import compare, format_table

    result = compare(args.synthetic, args.real, limit=args.limit)
    print(format_table(result))
    write_json(args.json, result)
    return 0
