"""`query3d data`: synthetic scenes: generate, show, stats."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "synthetic scenes: generate, show, stats"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("data", 4))
