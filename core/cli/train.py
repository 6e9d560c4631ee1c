"""`query3d train`: train the network."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "train the network"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("train", 5))
