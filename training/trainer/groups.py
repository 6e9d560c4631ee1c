"""Queries grouped by the scene they ask about, so a training step can answer several
queries from one augmented, preprocessed and encoded scene (``train.queries_per_scene``).

The text-free half of the network (point, voxel and image encoders, and the loader's
preprocessing) costs as much as the text-dependent half, and a synthetic scene carries ten
queries: sharing it between queries roughly halves the cost of a query in a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def spread_indices(length: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(length)`` (all of them when ``count``
    is 0 or not smaller): a smaller budget that still covers the whole split."""
    if not 0 < count < length:
        return list(range(length))
    return np.linspace(0, length - 1, count).round().astype(np.int64).tolist()


def scene_key(samples: Any, index: int) -> str:
    """Which scene sample ``index`` asks about, without loading it. Datasets tell it with
    ``scene_of(index)``; one that cannot is treated as one scene per sample."""
    scene_of = getattr(samples, "scene_of", None)
    return str(scene_of(index)) if scene_of is not None else f"#{index}"


class SceneGroups(Sequence[list[int]]):
    """Sample indices in groups of at most ``per_scene`` queries of one scene.

    Groups are fixed for a dataset (deterministic: scenes in the order they first occur,
    queries in index order), so resumed and multi-process runs see the same groups; the
    sampler shuffles the groups."""

    def __init__(self, samples: Sequence, per_scene: int) -> None:
        if per_scene < 1:
            raise ValueError(f"per_scene must be >= 1, got {per_scene}")
        by_scene: dict[str, list[int]] = {}
        for index in range(len(samples)):
            by_scene.setdefault(scene_key(samples, index), []).append(index)
        self.groups = [indices[i:i + per_scene] for indices in by_scene.values()
                       for i in range(0, len(indices), per_scene)]

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> list[int]:  # type: ignore[override]
        return self.groups[index]
