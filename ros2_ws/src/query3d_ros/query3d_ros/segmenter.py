"""Builds the core ``Segmenter`` from the node's parameters (the only place the node
touches model loading)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from query3d.bundled import demo_checkpoint
from query3d.config import RuntimeConfig
from query3d.model.runtime.segmenter import Segmenter


def build_segmenter(p: Callable[[str], Any]) -> Segmenter:
    """``p(name)`` reads a node parameter. Raises with a readable reason on failure.

    The network's sections come from the checkpoint itself; the node sets only how it is
    served (``RuntimeConfig``)."""
    source = p("checkpoint") or str(demo_checkpoint())
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist (parameter 'checkpoint')")
    runtime = RuntimeConfig(
        backend=p("backend"),
        text_cache_size=int(p("text_cache_size")),
        engine_cache_dir=p("engine_cache_dir"),
        onnx_cache_dir=p("onnx_cache_dir"),
        trt_precision=p("trt_precision"),
        intra_op_threads=int(p("num_threads")),
        network_points=int(p("network_points")),
    )
    if p("num_threads") > 0:
        import torch

        torch.set_num_threads(int(p("num_threads")))
    return Segmenter(path, runtime=runtime)
