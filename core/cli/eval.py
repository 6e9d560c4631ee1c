"""`query3d eval`: evaluate a checkpoint on a dataset split."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built

HELP = "evaluate a checkpoint on a dataset split"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help=HELP, description=HELP)
    add_json_option(p)
    p.set_defaults(run=not_built("eval", 5))
