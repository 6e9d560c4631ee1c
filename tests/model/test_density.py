"""Network-density subsampling and nearest-neighbour label propagation (runtime)."""

from __future__ import annotations

import numpy as np

from query3d.model.output import TargetResult
from query3d.model.runtime.density import nearest_seen, network_subset, propagate_targets


def test_subset_only_when_the_cloud_is_denser_than_the_limit():
    assert network_subset(500, 1000) is None
    assert network_subset(1000, 1000) is None
    assert network_subset(5000, 0) is None  # 0: the network sees every point
    idx = network_subset(5000, 1200)
    assert idx.shape == (1200,) and np.all(np.diff(idx) > 0) and idx.max() < 5000
    np.testing.assert_array_equal(idx, network_subset(5000, 1200))  # reproducible


def _target(indices: np.ndarray, scores: np.ndarray) -> TargetResult:
    return TargetResult(0, indices, scores.astype(np.float32), np.zeros(3), np.ones(3), 0.0, 0.9)


def test_every_point_takes_the_label_of_its_nearest_network_point():
    rng = np.random.default_rng(0)
    all_points = rng.uniform(-1, 1, (3000, 3)).astype(np.float32)
    subset = network_subset(3000, 400)
    inside = np.flatnonzero(all_points[subset, 0] > 0.2)  # the network's mask on the subset
    scores = rng.uniform(0.5, 1.0, len(inside))
    target = _target(inside, scores)
    nearest = nearest_seen(all_points, subset)
    np.testing.assert_array_equal(nearest[subset], np.arange(len(subset)))  # seen: itself
    propagate_targets([target], nearest, len(subset))

    dist = np.linalg.norm(all_points[:, None] - all_points[subset][None], axis=-1)
    nearest = dist.argmin(axis=1)  # brute force
    full_score = np.zeros(len(subset))
    full_score[inside] = scores
    want = np.flatnonzero(np.isin(nearest, inside))
    np.testing.assert_array_equal(target.point_indices, want)
    np.testing.assert_allclose(target.point_scores, full_score[nearest[want]], rtol=1e-6)
    assert set(subset[inside]) <= set(target.point_indices)  # the network's own points stay
    assert 5 * len(inside) < len(want) < 10 * len(inside)  # about 3000 / 400 = 7.5x
