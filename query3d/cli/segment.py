"""`query3d segment`: find what a sentence refers to in a cloud file; JSON + PNG out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from query3d.cli._common import write_json

HELP = "segment a .pcd/.ply/.npz file with a text query; writes JSON + PNG"


def run(args: argparse.Namespace) -> int:
    from query3d.bundled import demo_checkpoint
    from query3d.data.readers import read_cloud
    from query3d.model.runtime.segmenter import Segmenter
    from query3d.viz import render_result

    try:
        cloud = read_cloud(args.cloud)
        checkpoint = args.checkpoint or demo_checkpoint()
        segmenter = Segmenter(checkpoint, backend=args.backend)
        points, colors = cloud.scene.points, cloud.scene.colors
        result = segmenter.segment(points, colors, text=args.text,
                                   score_threshold=args.score_threshold)
    except (OSError, ValueError) as exc:
        print(f"query3d segment: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "instance.npy", result.instance_mask().astype(np.int32))
    render_result(points, colors, result, out / "result.png", title=args.text)
    summary = result.summary()
    summary.update(cloud=str(args.cloud), checkpoint=str(checkpoint),
                   backend=segmenter.backend_name,
                   network_points=segmenter.network_points or int(len(points)))
    write_json(str(out / "result.json"), summary)
    write_json(args.json, summary)
    names = ", ".join(f"{t.label} ({t.score:.2f}, {len(t.point_indices)} pts)"
                      for t in result.targets) or "no target"
    print(f"{args.text!r}: {names}; {result.timings_ms.get('total', 0):.0f} ms "
          f"-> {out / 'result.png'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help=HELP, description=HELP + ". Writes result.json, "
                       "result.png and instance.npy (per-point target id, -1 = none).")
    p.add_argument("cloud", type=Path, help=".pcd, .ply or .npz point cloud")
    p.add_argument("text", help="what to find, e.g. 'the red mug left of the laptop'")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: bundled demo")
    p.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    p.add_argument("--out", default="segment_out", help="output folder")
    p.add_argument("--score-threshold", type=float, default=None,
                   help="detection score threshold (default: the checkpoint's)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the summary here")
    p.set_defaults(run=run)
