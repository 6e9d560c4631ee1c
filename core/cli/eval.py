"""`query3d eval`: evaluate a checkpoint on a dataset split."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset split", description="evaluate a checkpoint on a dataset split.")
    add_json_option(p)
    p.set_defaults(run=not_built("eval", 5))
