"""`query3d segment`: segment a .pcd/.ply/.npz file with a text query; writes JSON + PNG."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "segment a .pcd/.ply/.npz file with a text query; writes JSON + PNG"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("segment", 6))
