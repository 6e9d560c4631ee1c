"""Keep the points a sensor really saw: a range and height box applied before the network.

A single return at 3e38 m (a driver's "no return" sentinel, a corrupted packet) is a
finite number, so the finite filter keeps it; its extent overflows voxel grid keys and
makes every later index meaningless. Points outside the limits are set to NaN instead of
removed, so row i of the result is still row i of the message (every output that answers
per input point keeps its index) and the network's non-finite filter drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RangeLimits:
    """``min_range`` / ``max_range``: m from the sensor (the cloud frame's origin);
    ``z_min`` / ``z_max``: m, height in the frame the network sees (z up)."""

    min_range: float = 0.0
    max_range: float = 100.0
    z_min: float = -1e3
    z_max: float = 1e3

    def __post_init__(self) -> None:
        values = (self.min_range, self.max_range, self.z_min, self.z_max)
        if not all(np.isfinite(values)):
            raise ValueError(f"range limits must be finite, got {values}")
        if not 0.0 <= self.min_range < self.max_range:
            raise ValueError(f"need 0 <= min_range < max_range, got {self.min_range}, "
                             f"{self.max_range}")
        if not self.z_min < self.z_max:
            raise ValueError(f"need z_min < z_max, got {self.z_min}, {self.z_max}")


def range_filter(sensor_points: np.ndarray, limits: RangeLimits,
                 network_points: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(points with the out-of-limit rows set to NaN, how many were set).

    ``sensor_points`` (N, 3): the cloud in its sensor frame (range is measured there);
    ``network_points``: the same rows in the z-up frame the network sees (height is
    measured there; default: the sensor frame). Returns a copy of ``network_points``."""
    sensor = np.asarray(sensor_points).reshape(-1, 3)
    out = np.array(sensor if network_points is None else network_points,
                   dtype=np.float32).reshape(-1, 3)
    if out.shape != sensor.shape:
        raise ValueError(f"sensor points {sensor.shape} and network points {out.shape} differ")
    with np.errstate(invalid="ignore", over="ignore"):
        reach = np.linalg.norm(sensor.astype(np.float64), axis=1)
        z = out[:, 2].astype(np.float64)
        keep = (reach >= limits.min_range) & (reach <= limits.max_range) & \
            (z >= limits.z_min) & (z <= limits.z_max)
    finite = np.isfinite(out).all(axis=1)
    dropped = finite & ~keep
    out[dropped] = np.nan
    return out, int(dropped.sum())
