"""`query3d bench`: latency and memory per backend and point count, in one run."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from query3d.cli._common import (
    add_json_option,
    quiet_export_logging,
    reporting_bad_input,
    write_json,
)


def _csv_ints(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {value!r}"
        ) from exc
    if not sizes or min(sizes) < 10:
        raise argparse.ArgumentTypeError(f"point counts must be >= 10, got {value!r}")
    return sizes


def add_model_source(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="a trained query3d checkpoint")
    source.add_argument(
        "--config",
        help="a preset or YAML file: build the network with RANDOM weights (untrained; "
        "latency and export only, until a checkpoint exists)",
    )


def resolve_checkpoint(args: argparse.Namespace, scratch: Path) -> tuple[Path, bool]:
    """The checkpoint to load and whether it is an untrained stand-in."""
    if args.checkpoint is not None:
        return args.checkpoint, False
    from query3d.config import load_config
    from query3d.model.runtime.benchmark import untrained_checkpoint

    cfg = load_config(args.config)
    print(f"UNTRAINED: building {args.config!r} with random weights (no checkpoint given)")
    return untrained_checkpoint(cfg, scratch / "untrained.pt"), True


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark backends and point counts",
        description="Median / p90 latency per stage (preprocess, text, network, "
        "postprocess) and peak memory for each backend and point count, with the ratios "
        "between backends measured in the same run.",
    )
    add_model_source(p)
    p.add_argument("--points", type=_csv_ints, default=[5000, 20000, 100000])
    p.add_argument("--compare", type=Path, default=None, metavar="CKPT",
                   help="also measure this checkpoint (e.g. the previous network) in the "
                   "same run, on the same clouds")
    p.add_argument(
        "--backends",
        default="torch,onnxruntime",
        help="comma-separated: torch, onnxruntime, tensorrt",
    )
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--text", default="the small red box next to the blue one")
    p.add_argument("--network-points", type=int, default=None,
                   help="points the network sees (runtime.network_points): -1 = the "
                        "checkpoint's training density, 0 = every point")
    add_json_option(p)
    p.set_defaults(run=run)


def _run(args: argparse.Namespace) -> int:
    from query3d.config import RuntimeConfig
    from query3d.model.runtime.benchmark import format_table, run_benchmark
    from query3d.model.runtime.segmenter import Segmenter

    quiet_export_logging()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with tempfile.TemporaryDirectory(prefix="query3d-bench-") as scratch:
        checkpoint, untrained = resolve_checkpoint(args, Path(scratch))
        runtime = RuntimeConfig()
        if args.network_points is not None:
            runtime = dataclasses.replace(runtime, network_points=args.network_points)
        segmenters = {name: Segmenter(checkpoint, backend=name, runtime=runtime)
                      for name in backends}
        if args.compare is not None:
            segmenters.update({f"compare/{name}": Segmenter(args.compare, backend=name,
                                                            runtime=runtime)
                               for name in backends})
        for segmenter in segmenters.values():
            segmenter.warmup()
            if segmenter.exporter is not None:  # graphs exported before anything is timed
                segmenter.exporter.wait(False)
        report = run_benchmark(segmenters, args.points, args.runs, args.warmup, args.text)
    report["untrained"] = untrained
    report["network_points"] = next(iter(segmenters.values())).network_points
    report["checkpoint"] = "untrained " + args.config if untrained else str(checkpoint)
    if untrained:
        print("UNTRAINED network (random weights): latency only, no accuracy meaning")
    print(format_table(report))
    write_json(args.json, report)
    sys.stdout.flush()
    return 0


run = reporting_bad_input("bench", _run)
