"""Shared pieces of the verbs: JSON output and the 'not built yet' answer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
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


def reporting_bad_input(verb: str, body: Callable[[argparse.Namespace], int]):
    """Wraps a verb: bad input (missing or damaged files, impossible settings) prints one
    line naming the problem and exits 2, instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        from query3d.model.export.onnx_export import ExportError

        try:
            return body(args)
        except (ValueError, FileNotFoundError, ExportError) as exc:
            print(f"query3d {verb}: {exc}", file=sys.stderr)
            return 2

    return run


def quiet_export_logging() -> None:
    """Progress lines from query3d; only warnings from the exporters' own loggers."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("onnx_ir", "onnxscript", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
