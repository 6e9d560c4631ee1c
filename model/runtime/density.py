"""Run the network at the point density it was trained at, label every input point.

The demo checkpoint trains on clouds of ``data.max_points`` points per scene. A sensor
cloud is often several times denser: feeding it whole shifts the statistics the network
learnt (neighbourhood radii, points per voxel) and costs time linearly. So the runtime
draws a uniform random subset of ``runtime.network_points`` points (the same sampling as
training), runs the network on it, and gives every other input point the mask of its
nearest subset point. Boxes come from the subset unchanged.
"""

from __future__ import annotations

import numpy as np

from query3d.model.output import TargetResult
from query3d.model.preprocess.neighbors import kdtree_neighbors


def network_subset(num_points: int, limit: int, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of the points the network sees, or None when all of them fit.

    Seeded, so the same cloud gives the same answer every time (results people can
    reproduce, parity between backends).
    """
    if limit <= 0 or num_points <= limit:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_points, size=limit, replace=False))


def nearest_seen(subset_points: np.ndarray, all_points: np.ndarray) -> np.ndarray:
    """(N,) index of each point's nearest point among those the network saw: how an
    unseen point gets its answer (a mask, a class)."""
    return kdtree_neighbors(subset_points, 1, queries=all_points)[:, 0]


def propagate_targets(targets: list[TargetResult], nearest: np.ndarray, num_seen: int) -> None:
    """Rewrite each target's point indices / scores from the ``num_seen`` subset points to
    all points, in place; ``nearest`` is ``nearest_seen(subset_points, all_points)`` (kept
    per cloud: a second command on it does not search again)."""
    for target in targets:
        score = np.zeros(num_seen, np.float32)
        score[target.point_indices] = target.point_scores
        inside = np.zeros(num_seen, bool)
        inside[target.point_indices] = True
        members = np.flatnonzero(inside[nearest])
        target.point_indices = members.astype(np.int64)
        target.point_scores = score[nearest[members]]
