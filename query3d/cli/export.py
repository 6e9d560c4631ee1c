"""`query3d export`: the frame graph to ONNX (and TensorRT engines), checked on the way."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from query3d.cli._common import (
    add_json_option,
    quiet_export_logging,
    reporting_bad_input,
    write_json,
)
from query3d.cli.bench import add_model_source, resolve_checkpoint

log = logging.getLogger("query3d.export")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export the frame graph to ONNX / TensorRT",
        description="Export the frame graph (preprocessing and text encoder stay outside) to "
        "ONNX with a dynamic point count and metadata; check it against onnxruntime; "
        "optionally build TensorRT engines (--build-only: ahead of time, no test run).",
    )
    add_model_source(p)
    p.add_argument("--out", type=Path, required=True,
                   help="folder for frame*.onnx (whole graphs, for TensorRT) and "
                        "frame*.encoder.onnx / frame*.text.onnx (the same in two parts, "
                        "which onnxruntime serves)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--no-images", action="store_true", help="skip the camera-image graph")
    p.add_argument(
        "--verify-points",
        type=int,
        default=3000,
        help="point count (not the export example's) for the onnxruntime check",
    )
    trt = p.add_argument_group("TensorRT")
    trt.add_argument("--tensorrt", action="store_true", help="also build TensorRT engines")
    trt.add_argument("--precision", choices=["fp16", "fp32"], default=None)
    trt.add_argument("--min-points", type=int, default=None)
    trt.add_argument("--opt-points", type=int, default=None)
    trt.add_argument("--max-points", type=int, default=None)
    trt.add_argument("--workspace-mb", type=int, default=None)
    trt.add_argument("--engine-cache", type=Path, default=None)
    trt.add_argument(
        "--build-only",
        action="store_true",
        help="build (or find cached) engines and exit: no test inference",
    )
    add_json_option(p)
    p.set_defaults(run=run)


def _runtime_overrides(args: argparse.Namespace, runtime: Any) -> Any:
    values = {
        "trt_precision": args.precision,
        "trt_min_points": args.min_points,
        "trt_opt_points": args.opt_points,
        "trt_max_points": args.max_points,
        "trt_workspace_mb": args.workspace_mb,
        "engine_cache_dir": str(args.engine_cache) if args.engine_cache else None,
    }
    return dataclasses.replace(runtime, **{k: v for k, v in values.items() if v is not None})


def _max_abs_diff(a: dict, b: dict) -> dict[str, float]:
    return {k: float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel()}


def _export_one(seg: Any, with_images: bool, args: argparse.Namespace, extra: dict) -> dict:
    from query3d.model.export.frame_graph import export_frame_graph
    from query3d.model.export.split_graph import export_split_graphs
    from query3d.model.mrcosmo import EXPORT_OUTPUTS
    from query3d.model.runtime.backends import OnnxRuntimeBackend, SplitOnnxRuntimeBackend
    from query3d.model.runtime.graphs import GRAPH_FILES
    from query3d.model.runtime.profile import tensorrt_profile

    path = args.out / GRAPH_FILES[with_images]
    start = time.perf_counter()
    example = seg.example(with_images)
    export_frame_graph(seg.net, seg.deployment, example, path, EXPORT_OUTPUTS, args.opset, extra)
    info: dict[str, Any] = {
        "path": str(path),
        "export_s": time.perf_counter() - start,
        "size_mb": path.stat().st_size / 1e6,
    }
    verify = seg.example(with_images, num_points=args.verify_points)
    reference = seg.backend(with_images).run(verify)
    info["onnxruntime_max_abs_diff"] = _max_abs_diff(
        OnnxRuntimeBackend(path).run(verify), reference
    )
    # the same graph in two parts beside it: onnxruntime serving this folder encodes a
    # cloud once and runs only the text part for a further command on it
    start = time.perf_counter()
    encoder, text = export_split_graphs(seg.net, seg.deployment, example, path,
                                        EXPORT_OUTPUTS, args.opset, extra)
    info["split"] = {"paths": [str(encoder), str(text)],
                     "export_s": time.perf_counter() - start}
    info["split_max_abs_diff"] = _max_abs_diff(
        SplitOnnxRuntimeBackend(encoder, text).run(verify), reference)
    info["tensorrt_profile"] = tensorrt_profile(seg.model_cfg, seg.runtime, with_images)
    return info


def _run(args: argparse.Namespace) -> int:
    from query3d.config import RuntimeConfig
    from query3d.model.export.errors import BackendUnavailable
    from query3d.model.runtime.segmenter import Segmenter

    quiet_export_logging()
    summary: dict[str, Any] = {"graphs": {}}
    with tempfile.TemporaryDirectory(prefix="query3d-export-") as scratch:
        checkpoint, untrained = resolve_checkpoint(args, Path(scratch))
        seg = Segmenter(checkpoint, backend="torch",
                        runtime=_runtime_overrides(args, RuntimeConfig()))
        variants = [False] + ([True] if seg.model_cfg.use_images and not args.no_images else [])
        extra = {"untrained": untrained}
        for with_images in variants:
            info = _export_one(seg, with_images, args, extra)
            summary["graphs"]["images" if with_images else "points"] = info
            worst = max([*info["onnxruntime_max_abs_diff"].values(),
                         *info["split_max_abs_diff"].values()])
            print(
                f"{info['path']}: {info['size_mb']:.1f} MB in {info['export_s']:.1f} s; "
                f"onnxruntime vs torch max |diff| {worst:.2e}"
            )
    summary["untrained"] = untrained
    failed = any(
        max([*g["onnxruntime_max_abs_diff"].values(), *g["split_max_abs_diff"].values()]) > 1e-3
        for g in summary["graphs"].values()
    )
    if args.tensorrt:
        try:
            summary["engines"] = _build_engines(seg, summary, args)
        except BackendUnavailable as exc:
            print(f"TensorRT: {exc}")
            write_json(args.json, summary)
            return 2
    write_json(args.json, summary)
    return 1 if failed else 0


def _build_engines(seg: Any, summary: dict, args: argparse.Namespace) -> dict:
    from query3d.model.export.tensorrt_engine import TensorRTRunner, cached_engine

    runtime, engines = seg.runtime, {}
    for key, info in summary["graphs"].items():
        engine = cached_engine(
            info["path"],
            runtime.engine_cache_dir,
            runtime.trt_precision,
            info["tensorrt_profile"],
            runtime.trt_workspace_mb,
        )
        engines[key] = {"path": str(engine)}
        if not args.build_only:
            example = seg.example(
                key == "images", num_points=max(args.verify_points, runtime.trt_min_points)
            )
            got = {k: v.cpu() for k, v in TensorRTRunner(engine).run(example).items()}
            engines[key]["max_abs_diff"] = _max_abs_diff(
                got, seg.backend(key == "images").run(example)
            )
        print(f"TensorRT engine {engine}")
    return engines


run = reporting_bad_input("export", _run)
