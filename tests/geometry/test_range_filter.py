"""The range filter keeps rows (NaN instead of removal) and bounds what the network sees."""

from __future__ import annotations

import numpy as np
import pytest

from query3d.geometry import RangeLimits, range_filter


def test_far_and_sentinel_points_become_nan_and_rows_stay() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (1000, 3)).astype(np.float32)
    points[3] = [3e38, 0.0, 0.0]
    points[7] = [0.0, -3e38, 3e38]
    points[9] = [np.nan, 0.0, 0.0]
    out, dropped = range_filter(points, RangeLimits(max_range=10.0))
    assert out.shape == points.shape and dropped == 2
    assert np.isnan(out[[3, 7]]).all() and np.isnan(out[9, 0])
    keep = np.setdiff1d(np.arange(1000), [3, 7, 9])
    assert np.array_equal(out[keep], points[keep])
    assert np.isfinite(points[3]).all()  # the input is not modified


def test_height_is_measured_in_the_network_frame_and_range_in_the_sensor_frame() -> None:
    sensor = np.array([[0, 0, 1.0], [0, 0, 5.0], [0, 0, 0.05]], np.float32)
    network = np.array([[0, 0, 0.2], [0, 0, 0.2], [0, 0, -3.0]], np.float32)
    limits = RangeLimits(min_range=0.1, max_range=4.0, z_min=-0.5, z_max=2.0)
    out, dropped = range_filter(sensor, limits, network)
    assert dropped == 2
    assert np.array_equal(out[0], network[0]) and np.isnan(out[1:]).all()


@pytest.mark.parametrize("bad", [dict(min_range=-1.0), dict(max_range=0.0),
                                 dict(z_min=1.0, z_max=1.0), dict(max_range=float("inf"))])
def test_impossible_limits_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        RangeLimits(**bad)
