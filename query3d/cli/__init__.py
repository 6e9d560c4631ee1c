"""``query3d <verb>``: one entry point for data, training, evaluation, export, benchmarks,
segmentation of files and the demo.

Each verb lives in its own module with ``add_parser(subparsers)``; the parser stores the
function to run in ``args.run``. A verb that is not built yet says so and exits 2, so no
script mistakes it for a result.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from query3d import __version__

VERBS = ["data", "train", "eval", "export", "bench", "segment", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="query3d",
        description="Find what a sentence refers to in a 3D point cloud.",
    )
    parser.add_argument("--version", action="version", version=f"query3d {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"query3d.cli.{verb}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
