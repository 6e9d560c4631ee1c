"""`query3d train`: train the network."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the network", description="train the network.")
    add_json_option(p)
    p.set_defaults(run=not_built("train", 5))
