"""Shared pieces of the verbs: JSON output and the 'not built yet' answer."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the result as JSON to PATH"
    )


def write_json(path: str | None, payload: Any) -> None:
    if path is None:
        return
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def not_built(what: str, issue: int):
    """A run function for a verb whose implementation has not landed yet."""

    def run(args: argparse.Namespace) -> int:
        print(
            f"query3d {what}: not built yet (tracked in issue {issue}); nothing was done.",
            file=sys.stderr,
        )
        return 2

    return run
