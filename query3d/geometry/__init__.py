"""Geometry on plain arrays that both the CLI and the ROS node need before a cloud meets
the network: which way is up (the support plane) and which points are worth keeping."""

from query3d.geometry.levelling import (
    SupportPlane,
    estimate_support_plane,
    fit_plane,
    level_cloud,
    levelling_transform,
    transform_points,
)
from query3d.geometry.range_filter import RangeLimits, range_filter

__all__ = [
    "RangeLimits",
    "SupportPlane",
    "estimate_support_plane",
    "fit_plane",
    "level_cloud",
    "levelling_transform",
    "range_filter",
    "transform_points",
]
