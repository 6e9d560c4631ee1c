"""Builds the core ``Segmenter`` from the node's parameters and warms it up (the only
place the node touches model loading)."""

from __future__ import annotations

import time
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


def warm_up(node: Any) -> None:
    """Run each graph of ``node.segmenter`` once off the command path (a thread of its
    own). Nothing here is waited for: a checkpoint serves with torch at once, and a due
    ONNX export (onnxruntime / tensorrt) runs in the background and is switched to when
    ready."""
    graphs = [False, True] if node.p("use_images") else [False]
    for with_images in graphs:
        what = "camera" if with_images else "points-only"
        start = time.monotonic()
        segmenter = node.segmenter
        if segmenter is None:  # cleaned up meanwhile
            return
        try:
            segmenter.warmup(with_images)
        except Exception as exc:  # the first real frame will report it again
            node.get_logger().warning(f"warm-up of the {what} graph failed: {exc}")
            return
        node.get_logger().info(f"{what} graph warm ({segmenter.serving(with_images)})"
                               f" in {time.monotonic() - start:.1f} s")
