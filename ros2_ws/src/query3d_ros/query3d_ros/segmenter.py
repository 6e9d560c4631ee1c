"""Builds the core ``Segmenter`` from the node's parameters (the only place the node
touches model loading)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from query3d.bundled import demo_checkpoint
from query3d.config import load_config
from query3d.model.checkpoint import load_checkpoint
from query3d.model.runtime.segmenter import Segmenter


def build_segmenter(p: Callable[[str], Any]) -> Segmenter:
    """``p(name)`` reads a node parameter. Raises with a readable reason on failure."""
    source = p("checkpoint") or str(demo_checkpoint())
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist (parameter 'checkpoint')")
    # the network sections must be the checkpoint's own; only the runtime comes from here
    if path.is_file() and path.suffix != ".onnx":
        base, _ = load_checkpoint(path)
    else:
        base = load_config("small")
    runtime = dataclasses.replace(
        base.runtime,
        backend=p("backend"),
        text_cache_size=int(p("text_cache_size")),
        engine_cache_dir=p("engine_cache_dir"),
        trt_precision=p("trt_precision"),
        intra_op_threads=int(p("num_threads")),
        network_points=int(p("network_points")),
        max_points=max(int(p("max_points")), base.runtime.max_points),
    )
    if p("num_threads") > 0:
        import torch

        torch.set_num_threads(int(p("num_threads")))
    return Segmenter(path, backend=p("backend"), config=dataclasses.replace(base, runtime=runtime))
