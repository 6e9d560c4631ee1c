"""Latency and memory of ``Segmenter`` per backend and point count, measured in one run.

Backends are measured in the same process on the same clouds, their runs alternating,
so their ratios are not distorted by another load on the machine starting or stopping
between them. Peak memory is the process high-water mark (``ru_maxrss``), which only
grows: the value after a size bounds what serving all measured backends at once needs.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from query3d.config import Config
from query3d.model.checkpoint import save_checkpoint
from query3d.model.mrcosmo import build_model
from query3d.model.runtime.scenes import tabletop_cloud
from query3d.model.runtime.segmenter import Segmenter

STAGES = ("preprocess", "text", "network", "postprocess", "total")


def untrained_checkpoint(cfg: Config, path: str | Path, seed: int = 0) -> Path:
    """A checkpoint of randomly initialised weights: lets export and bench run before
    training has produced one (latency does not depend on the weights' values)."""
    torch.manual_seed(seed)
    net = build_model(cfg.model, text_encoder=None if cfg.model.freeze_text else True)
    return save_checkpoint(path, net, cfg, extra={"untrained": True})


def peak_rss_mb() -> float:
    """Process high-water mark of resident memory (ru_maxrss: KiB on Linux, bytes on macOS)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


def _summary(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples, dtype=np.float64)
    return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90))}


def run_benchmark(
    segmenters: Mapping[str, Segmenter],
    sizes: Sequence[int],
    runs: int = 20,
    warmup: int = 3,
    text: str = "the small red box next to the blue one",
    progress: bool = True,
    second_text: str = "all the cups",
) -> dict[str, Any]:
    """Per size and backend: median / p90 per stage over ``runs`` after ``warmup``.

    Each run is a new cloud (the same scene, re-sampled sensor noise) answered twice: the
    first command pays for the cloud's preprocessing, the second (another sentence on the
    same cloud, as a robot asks follow-up questions) reuses it."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got {runs}, {warmup}")
    results: list[dict[str, Any]] = []
    bar = tqdm(
        total=len(sizes) * len(segmenters) * (runs + warmup),
        disable=not progress,
        desc="bench",
        unit="run",
    )
    for size in sizes:
        points, colors = tabletop_cloud(size, seed=size)
        timings = {name: {stage: [] for stage in STAGES} for name in segmenters}
        second = {name: [] for name in segmenters}
        second_prep = {name: [] for name in segmenters}
        cold_text: dict[str, float] = {}
        for segmenter in segmenters.values():
            segmenter.text_cache.clear()
        # Runs alternate between backends, so a load change on the machine hits all alike.
        for i in range(warmup + runs):
            noise = np.random.default_rng([size, i]).normal(0.0, 1e-4, points.shape)
            cloud = (points + noise).astype(points.dtype)
            for name, segmenter in segmenters.items():
                result = segmenter.segment(cloud, colors, text=text)
                again = segmenter.segment(cloud, colors, text=second_text)
                bar.update(1)
                cold_text.setdefault(name, result.timings_ms["text"])
                if i >= warmup:
                    for stage in STAGES:
                        timings[name][stage].append(result.timings_ms[stage])
                    second[name].append(again.timings_ms["total"])
                    second_prep[name].append(again.timings_ms["preprocess"])
        gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        for name in segmenters:
            results.append(
                {
                    "points": size,
                    "backend": name,
                    "ms": {stage: _summary(v) for stage, v in timings[name].items()},
                    "second_command_ms": _summary(second[name]),
                    "second_command_preprocess_ms": _summary(second_prep[name]),
                    "text_uncached_ms": cold_text[name],
                    "peak_rss_mb": peak_rss_mb(),
                    "peak_cuda_mb": gpu_peak,
                }
            )
    bar.close()
    return {"results": results, "ratios": _ratios(results), "runs": runs, "warmup": warmup}


def _ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """slower / faster median per size for every pair of backends (same run)."""
    out = []
    by_size: dict[int, dict[str, dict[str, Any]]] = {}
    for row in results:
        by_size.setdefault(row["points"], {})[row["backend"]] = row
    for size, rows in by_size.items():
        names = list(rows)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                entry = {"points": size, "pair": f"{a}/{b}"}
                for stage in ("network", "total"):
                    ma, mb = rows[a]["ms"][stage]["median"], rows[b]["ms"][stage]["median"]
                    entry[stage] = ma / mb if mb > 0 else float("inf")
                out.append(entry)
    return out


def format_table(report: Mapping[str, Any]) -> str:
    """Medians in ms per stage (p90 of the total), peak resident memory in MB."""
    head = (
        f"{'points':>7} {'backend':<12} {'total':>8} {'p90':>8} {'prep':>7} {'text':>6} "
        f"{'network':>8} {'post':>6} {'2nd cmd':>8} {'peakMB':>7}"
    )
    lines = ["latency in ms of a first command on a new cloud (median; p90 of total) and of a "
             "second command on the same cloud", head, "-" * len(head)]
    if report.get("network_points") is not None:
        seen = report["network_points"]
        lines.insert(0, "the network sees " + (f"at most {seen} points (all are labelled)"
                                               if seen > 0 else "every point"))
    for row in report["results"]:
        ms = {stage: row["ms"][stage]["median"] for stage in STAGES}
        lines.append(
            f"{row['points']:>7} {row['backend']:<12} {ms['total']:>8.1f} "
            f"{row['ms']['total']['p90']:>8.1f} {ms['preprocess']:>7.1f} {ms['text']:>6.2f} "
            f"{ms['network']:>8.1f} {ms['postprocess']:>6.1f} "
            f"{row['second_command_ms']['median']:>8.1f} {row['peak_rss_mb']:>7.0f}"
        )
    if report["ratios"]:
        lines += ["", "ratios of medians (same run):"]
        for r in report["ratios"]:
            lines.append(
                f"  {r['points']:>7} {r['pair']:<24} network x{r['network']:.2f}  "
                f"total x{r['total']:.2f}"
            )
    return "\n".join(lines)
