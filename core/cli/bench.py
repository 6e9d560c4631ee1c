"""`query3d bench`: benchmark backends and point counts."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark backends and point counts", description="benchmark backends and point counts.")
    add_json_option(p)
    p.set_defaults(run=not_built("bench", 6))
