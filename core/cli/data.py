"""`query3d data`: generate synthetic scenes (generate), draw one (show), compare with real scans (stats)."""

from __future__ import annotations

import argparse

from query3d.cli._common import add_json_option, not_built


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="generate synthetic scenes (generate), draw one (show), compare with real scans (stats)", description="generate synthetic scenes (generate), draw one (show), compare with real scans (stats).")
    add_json_option(p)
    p.set_defaults(run=not_built("data", 4))
