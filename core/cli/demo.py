"""`query3d demo`: run the ROS node demo end to end."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "run the ROS node demo end to end"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("demo", 7))
