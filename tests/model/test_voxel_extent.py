"""Preprocessing cost is bounded by the point count, not the cloud's extent, and a point
so far away that grid keys would overflow is refused with a reason (not an IndexError)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from query3d.config import ModelConfig
from query3d.geometry import RangeLimits, range_filter
from query3d.model.preprocess import prepare_frame
from query3d.model.preprocess.voxels import voxelize

N = 5000


def _tensor_elements(frame) -> int:
    total = 0
    for value in vars(frame).values():
        items = value if isinstance(value, list) else [value]
        total += sum(t.numel() for t in items if isinstance(t, torch.Tensor))
    return total


@pytest.mark.parametrize("extent_m", [2.0, 255.0, 10_000.0])
def test_index_structures_grow_with_points_not_with_extent(extent_m: float) -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(-extent_m / 2, extent_m / 2, (N, 3)).astype(np.float32)
    frame = prepare_frame(points, None, ModelConfig())
    assert all(c.shape[0] <= N for c in frame.voxel_center)
    assert frame.kmap.shape[0] <= N and frame.win_groups.shape[0] <= N
    # every index tensor together: a fixed number of entries per point, whatever the extent
    assert _tensor_elements(frame) <= 250 * N


def test_a_sentinel_point_is_refused_clearly_and_the_range_filter_removes_it() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(-1, 1, (N, 3)).astype(np.float32)
    points[17] = [3e38, 0.0, 0.0]
    xyz = torch.from_numpy(points - points.min(0))
    with pytest.raises(ValueError, match="range filter"):
        voxelize(xyz, torch.zeros(N, 3), 0.02, [1, 2, 4], 16)
    kept, dropped = range_filter(points, RangeLimits(max_range=100.0))
    assert dropped == 1
    finite = np.isfinite(kept).all(axis=1)
    frame = prepare_frame(kept[finite], None, ModelConfig())
    assert frame.xyz.shape[0] == N - 1
