"""`query3d bench`: benchmark backends and point counts."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "benchmark backends and point counts"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("bench", 6))
