"""`query3d export`: export the frame graph to ONNX / TensorRT."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "export the frame graph to ONNX / TensorRT"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("export", 6))
