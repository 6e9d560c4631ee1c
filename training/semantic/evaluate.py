"""Per-point open-vocabulary scores of a checkpoint's semantic head (XMask3D protocol).

Every point of every scene is labelled through ``Segmenter.label`` (the runtime path users
call) with one class list; truth names outside the list are not scored. Beside the
network, on the same points: "everything is the most frequent class" and "the true
segments with a random name each" (seeded), so a number can be read against what no
understanding of names earns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from query3d.model.runtime.segmenter import Segmenter
from query3d.training.metrics.semantic import (
    confusion_matrix,
    open_vocab_scores,
    semantic_scores,
)
from query3d.training.semantic.scenes import labelled_scenes, novel_names

TABLETOP_CLASSES = ("box", "can", "mug", "cup", "bowl", "plate", "bottle", "ball", "book",
                    "laptop", "monitor", "keyboard", "phone", "apple", "plant", "lamp",
                    "vase", "table")


def default_classes(kind: str) -> tuple[str, ...]:
    from query3d.training.semantic.scenes import MOSD_CLASSES

    return MOSD_CLASSES if kind == "mosd" else TABLETOP_CLASSES


def _scores(conf: np.ndarray, classes: list[str], novel: tuple[str, ...]) -> dict[str, Any]:
    out = semantic_scores(conf)
    out["iou_per_class"] = dict(zip(classes, out["iou_per_class"]))
    if novel:
        novel_ids = [classes.index(n) for n in novel]
        base_ids = [i for i in range(len(classes)) if i not in novel_ids]
        out.update(open_vocab_scores(conf, base_ids, novel_ids))
    return out


def evaluate_semantic(checkpoint: str | Path, kind: str, root: str | Path, split: str,
                      classes: list[str] | None = None, novel: str = "", limit: int = 0,
                      seed: int = 0, seen_penalty: float = 0.0) -> dict[str, Any]:
    """Scores of ``checkpoint`` and the trivial baselines; ``novel``: split A / B or names
    (mIoU base / novel and hIoU)."""
    names = list(classes or default_classes(kind))
    held = novel_names(novel) if novel else ()
    unknown = [n for n in held if n not in names]
    if unknown:
        raise ValueError(f"novel classes {unknown} are not in the class list {names}")
    segmenter = Segmenter(checkpoint, backend="torch")
    rng = np.random.default_rng(seed)
    size = len(names)
    conf = {k: np.zeros((size, size), np.int64) for k in ("network", "most_frequent",
                                                         "random_names")}
    truths, preds = [], []
    for item in tqdm(labelled_scenes(kind, root, split, limit), total=limit or None,
                     desc=f"semantic {kind} {split}", unit="scene"):
        scene = item.scene
        remap = np.array([names.index(n) if n in names else -1 for n in item.names] + [-1])
        truth = remap[np.where(item.label < 0, len(item.names), item.label)]
        result = segmenter.label(scene.points, scene.colors, cameras=scene.cameras or None,
                                 classes=names, seen_penalty=seen_penalty)
        pred = np.where(result.labels < 0, 0, result.labels)
        conf["network"] += confusion_matrix(pred, truth, size)
        truths.append(truth)
        preds.append(pred)
        segments = scene.instance if scene.instance is not None else np.zeros(len(truth))
        random_pred = np.zeros(len(truth), np.int64)
        for segment in np.unique(segments):
            random_pred[segments == segment] = rng.integers(size)
        conf["random_names"] += confusion_matrix(random_pred, truth, size)
    if not truths:
        raise ValueError(f"no {kind} scenes in {root} split {split!r}")
    counts = np.bincount(np.concatenate(truths)[np.concatenate(truths) >= 0], minlength=size)
    frequent = int(counts.argmax())
    for truth in truths:
        conf["most_frequent"] += confusion_matrix(np.full(len(truth), frequent), truth, size)
    summary: dict[str, Any] = {
        "checkpoint": str(checkpoint), "kind": kind, "split": split, "classes": names,
        "novel": list(held), "scenes": len(truths), "points": int(counts.sum()),
        "points_per_class": dict(zip(names, counts.tolist())),
        "trained_names": (segmenter.semantic_info or {}).get("trained_names"),
        "seen_penalty": seen_penalty,
    }
    for key, matrix in conf.items():
        summary[key] = _scores(matrix, names, held)
    return summary


def format_semantic(summary: dict[str, Any]) -> str:
    """The table people read: per-class IoU and the means, network beside baselines."""
    rows = ["network", "most_frequent", "random_names"]
    lines = [f"semantic {summary['kind']} {summary['split']}: {summary['scenes']} scenes, "
             f"{summary['points']} labelled points; novel: "
             f"{', '.join(summary['novel']) or '-'}"]
    head = f"{'':14s}" + "".join(f"{r:>15s}" for r in rows)
    lines.append(head)
    for name in summary["classes"]:
        tag = " *" if name in summary["novel"] else ""
        cells = "".join(f"{100 * _nan(summary[r]['iou_per_class'][name]):15.1f}" for r in rows)
        lines.append(f"{(name + tag)[:14]:14s}{cells}")
    for key in ("miou", "oa", "macc", "miou_base", "miou_novel", "hiou"):
        if key in summary["network"]:
            cells = "".join(f"{100 * summary[r][key]:15.1f}" for r in rows)
            lines.append(f"{key:14s}{cells}")
    if summary["novel"]:
        lines.append("* novel: never in the head's training (names or points)")
    return "\n".join(lines)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
