"""The frozen encoders' superpoint statistics of labelled scenes, computed once.

Training the semantic head needs only what ``MRCosmo.semantic_stats`` pools per superpoint
(means are linear, so they can be stored before any head weight exists): one forward of
the text-free encoders per scene, then thousands of head steps over the stored rows, a
few minutes on 2 CPU cores instead of a full training run. Each superpoint carries the
majority class name of its member points (superpoints do not cross objects, so nearly
every one is pure; ``purity`` says how pure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from query3d.model.deployment import Deployment
from query3d.model.heads.superpoint_tokens import SuperpointStats
from query3d.model.mrcosmo import MRCosmo
from query3d.model.preprocess import prepare_frame
from query3d.model.runtime.density import network_subset
from query3d.training.semantic.scenes import LabelledScene

ARRAYS = ("feat", "descriptor", "image", "seen", "label", "purity", "scene_start")


@dataclass
class StatsCache:
    """Superpoint rows of many scenes; ``label`` indexes ``names`` (-1 = unlabelled)."""

    names: list[str]
    feat: np.ndarray  # (R, d) float16
    descriptor: np.ndarray  # (R, 13) float32
    image: np.ndarray  # (R, d_img) float16; zeros without views
    seen: np.ndarray  # (R,) float32 members seen in a view
    label: np.ndarray  # (R,) int16
    purity: np.ndarray  # (R,) float16 share of members carrying the label
    scene_start: np.ndarray  # (scenes + 1,) row offsets

    @property
    def num_scenes(self) -> int:
        return len(self.scene_start) - 1

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, names=np.array(self.names), **{k: getattr(self, k) for k in ARRAYS})
        return path

    @classmethod
    def load(cls, path: str | Path) -> StatsCache:
        with np.load(path, allow_pickle=False) as data:
            return cls([str(n) for n in data["names"]], **{k: data[k] for k in ARRAYS})

    def scenes(self, keep: list[int]) -> StatsCache:
        """The rows of these scenes only, in this order."""
        rows = [np.arange(self.scene_start[i], self.scene_start[i + 1]) for i in keep]
        index = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        sizes = np.array([len(r) for r in rows], np.int64)
        return StatsCache(self.names, self.feat[index], self.descriptor[index],
                          self.image[index], self.seen[index], self.label[index],
                          self.purity[index],
                          np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    def stats(self, rows: np.ndarray) -> SuperpointStats:
        """Rows as the ``SuperpointStats`` the head reads (centre not used by it)."""
        descriptor = torch.from_numpy(self.descriptor[rows]).float()
        return SuperpointStats(
            feat=torch.from_numpy(self.feat[rows]).float(), center=descriptor[:, :3],
            descriptor=descriptor, image=torch.from_numpy(self.image[rows]).float(),
            seen=torch.from_numpy(self.seen[rows]).float()[:, None],
            seed_points=torch.zeros(len(rows), dtype=torch.long))


def superpoint_labels(superpoint: np.ndarray, label: np.ndarray, num_superpoints: int,
                      num_names: int) -> tuple[np.ndarray, np.ndarray]:
    """(majority name index, purity) per superpoint; -1 where most members are unlabelled."""
    counts = np.zeros((num_superpoints, num_names + 1), np.int64)
    np.add.at(counts, (superpoint, np.where(label < 0, num_names, label)), 1)
    best = counts.argmax(1)
    purity = counts.max(1) / np.maximum(counts.sum(1), 1)
    return np.where(best == num_names, -1, best), purity


@torch.inference_mode()
def cache_scenes(net: MRCosmo, deployment: Deployment, scenes: Iterable[LabelledScene],
                 names: list[str], total: int | None = None,
                 desc: str = "superpoint stats") -> StatsCache:
    """One frozen forward of the text-free encoders per scene, at the runtime's density
    (the same seeded subset the Segmenter draws). ``names`` is the cache's vocabulary:
    every scene's label names must be in it."""
    cfg = deployment.model
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ARRAYS[:-1]}
    starts = [0]
    for item in tqdm(scenes, total=total, desc=desc, unit="scene"):
        scene = item.scene
        remap = np.array([names.index(n) for n in item.names] + [-1], np.int64)
        label = remap[np.where(item.label < 0, len(item.names), item.label)]
        keep = network_subset(len(scene.points), deployment.network_points)
        points, colors = scene.points, scene.colors
        if keep is not None:
            points, colors, label = points[keep], colors[keep], label[keep]
        cameras = scene.cameras if (cfg.use_images and scene.cameras) else None
        frame = prepare_frame(points, colors, cfg, cameras=cameras)
        stats = net.semantic_stats(frame)
        sp_label, purity = superpoint_labels(frame.superpoint.numpy(), label,
                                             stats.feat.shape[0], len(names))
        count = stats.feat.shape[0]
        image = stats.image if stats.image is not None else torch.zeros(count, cfg.dim)
        seen = stats.seen[:, 0] if stats.seen is not None else torch.zeros(count)
        rows["feat"].append(stats.feat.numpy().astype(np.float16))
        rows["descriptor"].append(stats.descriptor.numpy().astype(np.float32))
        rows["image"].append(image.numpy().astype(np.float16))
        rows["seen"].append(seen.numpy().astype(np.float32))
        rows["label"].append(sp_label.astype(np.int16))
        rows["purity"].append(purity.astype(np.float16))
        starts.append(starts[-1] + count)
    if len(starts) == 1:
        raise ValueError("no scenes to cache")
    return StatsCache(list(names), **{k: np.concatenate(v) for k, v in rows.items()},
                      scene_start=np.array(starts, np.int64))
