"""Scenes with a class *name* per point, whatever the source: the synthetic benchmark's
semantic ids, or the real mOSD scans' objects named in ``mosd_objects.json`` (the table
is "table"; objects named "other" are left unlabelled).

Open-vocabulary splits are lists of names: the synthetic tabletop categories split into
base (trained on) and novel (never shown to the head, neither names nor points).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from query3d.data.sample import Scene

# Two base / novel splits of the 18 tabletop classes (17 objects + the table). Each novel
# class has a look-alike among the base ones (cup~mug, bottle~can, keyboard~laptop,
# apple~ball, vase~bowl), so the names' embeddings can carry what the points cannot.
NOVEL_SPLITS: dict[str, tuple[str, ...]] = {
    "A": ("cup", "bottle", "keyboard", "apple", "vase"),
    "B": ("mug", "can", "laptop", "ball", "plate"),
}
MOSD_CLASSES = ("box", "can", "tin", "bowl", "mug", "table")


@dataclass
class LabelledScene:
    scene: Scene
    names: list[str]  # vocabulary of this scene's labels
    label: np.ndarray  # (N,) int64 index into names, -1 = unlabelled


def novel_names(split: str) -> tuple[str, ...]:
    """The novel classes of split A / B, or a comma-separated list of names."""
    if split in NOVEL_SPLITS:
        return NOVEL_SPLITS[split]
    names = tuple(n.strip() for n in split.split(",") if n.strip())
    if not names:
        raise ValueError(f"novel split {split!r}: give A, B or names separated by commas")
    return names


def synthetic_scenes(root: str | Path, split: str, limit: int = 0) -> Iterator[LabelledScene]:
    from query3d.training.data.synthetic import SyntheticDataset

    data = SyntheticDataset(root, split)
    for i, scene_id in enumerate(data.scene_ids):
        if limit and i >= limit:
            return
        scene = data.scene(scene_id)
        label = np.full(len(scene.points), -1, np.int64) if scene.semantic is None \
            else scene.semantic.astype(np.int64)
        yield LabelledScene(scene, list(scene.class_names), label)


def mosd_scans(split: str, limit: int = 0) -> list[str]:
    """The mOSD scans of the query file's ``split``, in scan-number order."""
    from query3d.training.data.readers.osd_refer import MOSD_QUERIES

    records = json.loads(Path(MOSD_QUERIES).read_text())
    scans = sorted({r["scan"] for r in records if r.get("split") == split},
                   key=lambda s: int("".join(c for c in s if c.isdigit()) or 0))
    if not scans:
        raise ValueError(f"{MOSD_QUERIES}: no scans in split {split!r}")
    return scans[:limit] if limit else scans


def mosd_scenes(root: str | Path, split: str, limit: int = 0) -> Iterator[LabelledScene]:
    """mOSD scans of the query file's ``split`` (train / val, by scan) with per-point names."""
    from query3d.training.data.readers.osd import OSD_CLASSES, read_osd
    from query3d.training.data.readers.osd_refer import MOSD_OBJECTS

    objects = json.loads(Path(MOSD_OBJECTS).read_text())
    names = list(MOSD_CLASSES)
    for scan in mosd_scans(split, limit):
        scene = read_osd(Path(root) / f"{scan}.pcd", level=True).scene
        scene.scene_id = scan
        label = np.full(len(scene.points), -1, np.int64)
        label[scene.semantic == OSD_CLASSES.index("table")] = names.index("table")
        for key, info in objects.get(scan, {}).items():
            if info["category"] in names:
                label[scene.instance == int(key)] = names.index(info["category"])
        yield LabelledScene(scene, names, label)


def labelled_scenes(kind: str, root: str | Path, split: str,
                    limit: int = 0) -> Iterator[LabelledScene]:
    if kind in ("tabletop", "synthetic"):
        return synthetic_scenes(root, split, limit)
    if kind == "mosd":
        return mosd_scenes(root, split, limit)
    raise ValueError(f"semantic labels come from synthetic (tabletop) or mosd scenes, "
                     f"not {kind!r}")


def labelled_scene_ids(kind: str, root: str | Path, split: str, limit: int = 0) -> list[str]:
    """The scene ids ``labelled_scenes`` yields, in its order, without reading a cloud."""
    if kind in ("tabletop", "synthetic"):
        from query3d.training.data.synthetic import SyntheticDataset

        ids = list(SyntheticDataset(root, split).scene_ids)
        return ids[:limit] if limit else ids
    if kind == "mosd":
        return mosd_scans(split, limit)
    raise ValueError(f"semantic labels come from synthetic (tabletop) or mosd scenes, "
                     f"not {kind!r}")
