"""`query3d segment`: find what a sentence refers to in a cloud file; JSON + PNG out."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from query3d.cli._common import write_json

HELP = ("segment a .pcd/.ply/.npz file with a text query, or label every point from a "
        "class list (--classes); writes JSON + PNG")


UPRIGHT_DEGREES = 30.0  # a support plane this close to horizontal: the cloud is z-up


def place_upright(points: np.ndarray, frame: str) -> tuple[np.ndarray, dict]:
    """The cloud in the z-up frame the network was trained in, and how it got there.

    ``as-is``: trusted to be z-up already (a robot base frame). ``level``: moved onto its
    support plane (``query3d.geometry``), as for a camera's optical frame (raw Kinect PCDs:
    z forward, y down). ``auto``: levelled when the support plane is not horizontal."""
    from query3d.geometry import estimate_support_plane, levelling_transform, transform_points

    if frame == "as-is":
        return points, {"levelled": False, "reason": "--frame as-is"}
    try:
        plane = estimate_support_plane(points)
    except ValueError as exc:
        if frame == "level":
            raise
        return points, {"levelled": False, "reason": f"no support plane found: {exc}"}
    # up is the side the objects stand on: most points off the plane lie above it
    distance = plane.distance(points[np.isfinite(points).all(axis=1)])
    above = float(np.mean(distance[np.abs(distance) > 0.03] > 0)) if (
        np.abs(distance) > 0.03).any() else 1.0
    if above < 0.5:
        plane = dataclasses.replace(plane, normal=-plane.normal, offset=-plane.offset)
    tilt = float(np.degrees(np.arccos(np.clip(float(plane.normal[2]), -1.0, 1.0))))
    if frame == "auto" and tilt <= UPRIGHT_DEGREES:
        return points, {"levelled": False, "reason": f"the support plane's up is {tilt:.0f} "
                        "deg from the cloud's z: already z-up"}
    T = levelling_transform(plane)
    levelled = transform_points(T, points)
    print(f"query3d segment: levelled the cloud on its support plane (its up was {tilt:.0f} "
          "deg from the cloud's z); boxes and the picture are in the levelled frame",
          file=sys.stderr)
    return levelled, {"levelled": True, "T_levelled_from_input": T.round(6).tolist(),
                      "up_vs_cloud_z_deg": round(tilt, 1),
                      "plane_inlier_fraction": round(plane.inlier_fraction, 3)}


def run(args: argparse.Namespace) -> int:
    from query3d.bundled import demo_checkpoint
    from query3d.data.readers import read_cloud
    from query3d.model.runtime.segmenter import Segmenter
    from query3d.viz import render_result

    if (args.text is None) == (args.classes is None):
        print("query3d segment: give either a TEXT query or --classes NAMES", file=sys.stderr)
        return 2
    try:
        cloud = read_cloud(args.cloud)
        checkpoint = args.checkpoint or demo_checkpoint()
        segmenter = Segmenter(checkpoint, backend=args.backend)
        points, colors = cloud.scene.points, cloud.scene.colors
        points, placement = place_upright(points, args.frame)
        if args.classes:
            labels = segmenter.label(points, colors, classes=args.classes)
        else:
            result = segmenter.segment(points, colors, text=args.text,
                                       score_threshold=args.score_threshold)
    except (OSError, ValueError) as exc:
        print(f"query3d segment: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    context = {"cloud": str(args.cloud), "checkpoint": str(checkpoint), "frame": placement}
    if args.classes:
        return _write_semantic(args, out, points, labels, context)
    np.save(out / "instance.npy", result.instance_mask().astype(np.int32))
    render_result(points, colors, result, out / "result.png", title=args.text)
    summary = result.summary()
    summary.update(**context, backend=segmenter.backend_name,
                   network_points=segmenter.network_points or int(len(points)))
    write_json(str(out / "result.json"), summary)
    write_json(args.json, summary)
    names = ", ".join(f"{t.label} ({t.score:.2f}, {len(t.point_indices)} pts)"
                      for t in result.targets) or "no target"
    print(f"{args.text!r}: {names}; {result.timings_ms.get('total', 0):.0f} ms "
          f"-> {out / 'result.png'}")
    return 0


def _write_semantic(args: argparse.Namespace, out: Path, points: np.ndarray, labels,
                    context: dict) -> int:
    from query3d.viz import render_semantic

    np.save(out / "semantic.npy", labels.labels.astype(np.int32))
    render_semantic(points, labels, out / "semantic.png")
    summary = {**labels.summary(), **context}
    write_json(str(out / "semantic.json"), summary)
    write_json(args.json, summary)
    shares = ", ".join(f"{name} {count}" for name, count in labels.points_per_class().items())
    print(f"classes: {shares} points; {labels.timings_ms.get('total', 0):.0f} ms "
          f"-> {out / 'semantic.png'}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help=HELP, description=HELP + ". Writes result.json, "
                       "result.png and instance.npy (per-point target id, -1 = none); with "
                       "--classes semantic.json (points per class), semantic.png (coloured "
                       "by class, with a legend) and semantic.npy (per-point index into the "
                       "class list, -1 = not a finite point).")
    p.add_argument("cloud", type=Path, help=".pcd, .ply or .npz point cloud")
    p.add_argument("text", nargs="?", default=None,
                   help="what to find, e.g. 'the red mug left of the laptop'")
    p.add_argument("--classes", default=None, metavar="NAMES",
                   help="label every point instead: class names separated by commas, e.g. "
                   "'mug, bowl, box, table' (names never seen in training are allowed)")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: bundled demo")
    p.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    p.add_argument("--out", default="segment_out", help="output folder")
    p.add_argument("--score-threshold", type=float, default=None,
                   help="detection score threshold (default: the checkpoint's)")
    p.add_argument("--frame", choices=("auto", "as-is", "level"), default="auto",
                   help="auto (default): level the cloud on its support plane when that plane "
                   "is not horizontal (a camera's optical frame, e.g. a raw Kinect PCD); "
                   "as-is: the cloud is already z-up; level: always level it")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the summary here")
    p.set_defaults(run=run)
