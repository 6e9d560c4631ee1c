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


def nearest_seen(all_points: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """(N,) index into ``subset`` (rows of ``all_points`` the network saw) of each point's
    nearest seen point: how an unseen point gets its answer (a mask, a class). A seen
    point is its own nearest, so only the others are searched (~70 % of the points at
    the default density)."""
    nearest = np.empty(len(all_points), np.int64)
    nearest[subset] = np.arange(len(subset))
    unseen = np.ones(len(all_points), bool)
    unseen[subset] = False
    if unseen.any():
        nearest[unseen] = kdtree_neighbors(all_points[subset], 1,
                                           queries=all_points[unseen])[:, 0]
    return nearest


def propagate_targets(targets: list[TargetResult], nearest: np.ndarray, num_seen: int) -> None:
    """Rewrite each target's point indices / scores from the ``num_seen`` subset points to
    all points, in place; ``nearest`` is ``nearest_seen(all_points, subset)`` (kept
    per cloud: a second command on it does not search again)."""
    for target in targets:
        score = np.zeros(num_seen, np.float32)
        score[target.point_indices] = target.point_scores
        inside = np.zeros(num_seen, bool)
        inside[target.point_indices] = True
        members = np.flatnonzero(inside[nearest])
        target.point_indices = members.astype(np.int64)
        target.point_scores = score[nearest[members]]
