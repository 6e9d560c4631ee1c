"""Writing a whole split in parallel: seeds, worker processes, progress and timing.

Scene i of (kind, split, seed) draws from ``SeedSequence(seed, spawn_key=(split, kind,
i))``: train/val/test never share a scene, and a scene does not depend on how many
workers ran or in which order they finished.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from query3d.training.data.synthetic.catalogue import CLASS_NAMES
from query3d.training.data.synthetic.colors import COLOR_NAMES
from query3d.training.data.synthetic.io import write_json, write_records, write_scene
from query3d.training.data.synthetic.scene_gen import GeneratorOptions, generate_scene

SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1


def scene_seed(kind: str, split: str, seed: int, index: int) -> np.random.SeedSequence:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    kind_code = ("tabletop", "room").index(kind)
    return np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), kind_code, index))


def scene_name(kind: str, split: str, seed: int, index: int) -> str:
    return f"{kind}_{split}_s{seed}_{index:05d}"


def _make_scene(job: tuple) -> tuple[int, list[dict], dict]:
    out, split, seed, index, options = job
    name = scene_name(options.kind, split, seed, index)
    record = generate_scene(name, scene_seed(options.kind, split, seed, index), options)
    write_scene(Path(out) / split / "scenes" / name, record)
    info = {"points": len(record.cloud["points"]), "cameras": len(record.views),
            "objects": len(record.objects)}
    return index, record.queries, info


def generate_split(out: str | Path, split: str, scenes: int, seed: int = 0,
                   options: GeneratorOptions = GeneratorOptions(), workers: int = 1,
                   progress: bool = True) -> dict:
    """Generate ``scenes`` scenes of ``split`` under ``out``; returns a timing summary."""
    if scenes < 1:
        raise ValueError(f"scenes must be >= 1, got {scenes}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    scene_seed(options.kind, split, seed, 0)  # validates split and kind
    root = Path(out) / split
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), split, seed, i, options) for i in range(scenes)]
    results: dict[int, tuple[list[dict], dict]] = {}
    start = time.perf_counter()
    bar = tqdm(total=scenes, desc=f"{options.kind}/{split}", unit="scene",
               disable=not progress)
    if workers == 1:
        for job in jobs:
            index, queries, info = _make_scene(job)
            results[index] = (queries, info)
            bar.update()
    else:
        # fork: workers need no re-import and work from any __main__ (stdin, notebooks).
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(workers) as pool:
            for index, queries, info in pool.imap_unordered(_make_scene, jobs):
                results[index] = (queries, info)
                bar.update()
    bar.close()
    seconds = time.perf_counter() - start
    queries = [q for i in range(scenes) for q in results[i][0]]
    write_records(root / "queries.json", queries)
    meta = {
        "format_version": FORMAT_VERSION, "kind": options.kind, "split": split,
        "seed": seed, "scenes": [scene_name(options.kind, split, seed, i)
                                 for i in range(scenes)],
        "class_names": list(CLASS_NAMES), "colors": list(COLOR_NAMES),
        "options": {k: v for k, v in asdict(options).items() if k != "kinect"},
        "kinect": asdict(options.kinect),
    }
    write_json(root / "meta.json", meta)
    counts = {e: sum(q["eval_type"] == e for q in queries) for e in ("zt", "st", "mt")}
    return {
        "split": split, "kind": options.kind, "scenes": scenes, "queries": len(queries),
        "eval_types": counts, "workers": workers, "seconds": round(seconds, 2),
        "scenes_per_s": round(scenes / seconds, 3),
        "mean_points": float(np.mean([results[i][1]["points"] for i in range(scenes)])),
        "mean_cameras": float(np.mean([results[i][1]["cameras"] for i in range(scenes)])),
    }
