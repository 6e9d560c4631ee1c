"""How a trained network is served (plain data, see ``query3d.config``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RuntimeConfig:
    """How a trained network is served (``Segmenter``)."""

    # auto: torch for a checkpoint (answers at once), onnxruntime for an exported graph
    backend: str = "auto"  # auto | torch | onnxruntime | tensorrt
    text_cache_size: int = 128
    engine_cache_dir: str = "~/.cache/query3d/engines"
    trt_precision: str = "fp16"
    trt_min_points: int = 1000
    trt_opt_points: int = 20000
    trt_max_points: int = 200000
    trt_workspace_mb: int = 2048
    # the network sees at most this many of a cloud's finite points (a seeded uniform
    # sample, as in training; see query3d.model.runtime.density); every point is labelled.
    # -1 = the density the checkpoint was trained at (recorded in it); 0 = all points
    network_points: int = -1
    onnx_cache_dir: str = "~/.cache/query3d/onnx"  # graphs exported from checkpoints on demand
    intra_op_threads: int = 0  # onnxruntime intra-op threads; 0 = one per physical core
