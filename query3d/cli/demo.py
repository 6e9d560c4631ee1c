"""`query3d demo`: node + scene player + commands over real DDS; writes demo_out/.

The ROS side lives in the ``query3d_ros`` package; this verb only hands over to it, so
the core stays importable without ROS.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from query3d.cli._common import write_json

HELP = "run the ROS node demo end to end (PNG per command + summary.json)"


def run(args: argparse.Namespace) -> int:
    try:
        from query3d_ros.demo import main as demo_main
    except ImportError as exc:
        print(f"query3d demo needs the ROS node package and rclpy ({exc}); install with "
              "`bash scripts/setup.sh` or `pip install -e '.[ros]' ros2_ws/src/query3d_ros`",
              file=sys.stderr)
        return 2
    argv = ["--out", args.out, "--backend", args.backend, "--timeout", str(args.timeout)]
    if args.checkpoint:
        argv += ["--checkpoint", args.checkpoint]
    if args.scene:
        argv += ["--scene", args.scene]
    code = demo_main(argv)
    if code == 0 and args.json:
        write_json(args.json, json.loads((Path(args.out) / "summary.json").read_text()))
    return code


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    p.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--checkpoint", default=None, help="checkpoint; default the bundled demo")
    p.add_argument("--scene", default=None, help="dataset folder; default the bundled scene")
    p.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per command")
    p.add_argument("--json", metavar="PATH", default=None, help="also copy summary.json here")
    p.set_defaults(run=run)
