"""``query3d <verb>``: one entry point for data, training, evaluation, export, benchmarks,
segmentation of files and the demo.

Each verb lives in its own module with ``add_parser(subparsers)``; the parser stores the
function to run in ``args.run``. Packages above the core add verbs through the
``query3d.cli`` entry-point group (the ROS node package adds ``demo``), so the core never
imports them; a known verb whose package is not installed says how to install it and
exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points

from query3d import __version__

VERBS = ["data", "train", "eval", "export", "bench", "segment"]
PLUGIN_GROUP = "query3d.cli"
# verbs other packages provide, and how to get them when they are missing
PLUGIN_VERBS = {
    "demo": ("run the ROS node demo end to end (PNG per command + summary.json)",
             "the ROS node package: `bash scripts/setup.sh`, or "
             "`pip install -e '.[ros]' ros2_ws/src/query3d_ros`"),
}


def _missing(verb: str, needs: str):
    def run(args: argparse.Namespace) -> int:
        print(f"query3d {verb} needs {needs}", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="query3d",
        description="Find what a sentence refers to in a 3D point cloud.",
    )
    parser.add_argument("--version", action="version", version=f"query3d {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"query3d.cli.{verb}").add_parser(sub)
    provided = set()
    for plugin in entry_points(group=PLUGIN_GROUP):
        try:
            add_plugin = plugin.load()
        except ImportError:  # registered, but its package does not import here
            continue
        add_plugin(sub)
        provided.add(plugin.name)
    for verb, (help_text, needs) in PLUGIN_VERBS.items():
        if verb not in provided:
            missing = sub.add_parser(verb, help=f"{help_text} [needs {needs.split(':')[0]}]",
                                     add_help=False)
            missing.set_defaults(run=_missing(verb, needs), plugin_missing=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "plugin_missing", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
