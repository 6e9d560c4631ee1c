"""Which frame the network sees a cloud in, and where its cameras sit in that frame.

The network expects a z-up cloud in the robot's frame (``target_frame``). In order:
the cloud is already there; tf2 knows the transform (where installed); the static
``cloud_to_target`` parameter is given for this cloud's frame; otherwise nothing says
which way is up: an optical-frame cloud (or any, with ``levelling: always``) is levelled
on its estimated support plane (``query3d.geometry``), anything else is run as it is.
The last two are reported (a WARN and a diagnostics entry every time), never silent.

A levelled cloud is in no frame tf knows, so its outputs carry the frame id
``<cloud frame>_levelled``; the levelling transform is logged and in diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from query3d.geometry import (
    RangeLimits,
    SupportPlane,
    estimate_support_plane,
    levelling_transform,
    range_filter,
    transform_points,
)
from query3d.geometry.levelling import OPTICAL_FORWARD, OPTICAL_UP
from query3d_ros.extrinsics import TfExtrinsics, matrix_to_pose, pose_to_matrix

LEVELLED_SUFFIX = "_levelled"
# an earlier plane is reused while this share of its inlier fraction still fits
REUSE_FIT = 0.8


@dataclass(frozen=True)
class Placement:
    """A cloud in the frame the network sees."""

    points: np.ndarray  # (N, 3) float32, same rows as the message (NaN kept)
    transform: np.ndarray  # 4x4: network frame <- cloud frame
    frame_id: str  # the frame of ``points`` (what the outputs are stamped with)
    how: str  # target | tf | static | levelled | as-is
    problem: str | None = None  # why this is a guess (WARN), or None


def is_optical(frame_id: str) -> bool:
    """REP 103: camera optical frames (z forward, y down) end in ``_optical_frame``."""
    return frame_id.endswith("optical_frame")


class CloudFrames:
    """Places clouds in the network's frame; ``p`` reads the node's parameters."""

    def __init__(self, p: Callable[[str], Any], tf: TfExtrinsics) -> None:
        self.p, self.tf = p, tf
        self._planes: dict[str, SupportPlane] = {}  # last plane per levelled cloud frame

    def prepare(self, header: Any, points: np.ndarray,
                limits: RangeLimits) -> tuple[Placement, int]:
        """The cloud as the network should see it, and how many points the range filter
        dropped. Range first, in the sensor frame (a 3e38 return must not reach
        levelling), then the placement, then heights in the network frame; dropped rows
        become NaN, so every row still answers for the same message point."""
        near, far = range_filter(points, RangeLimits(limits.min_range, limits.max_range))
        placement = self.place(header, near)
        kept, low_high = range_filter(points, limits, placement.points)
        return replace(placement, points=kept), far + low_high

    def place(self, header: Any, points: np.ndarray) -> Placement:
        source, target = header.frame_id, self.p("target_frame")
        if not target or source == target:
            return Placement(np.asarray(points, np.float32), np.eye(4), source, "target")
        found = self.tf.lookup(target, source, header.stamp)
        if found is not None:
            return Placement(transform_points(found, points), found, target, "tf")
        if source and source == self.p("cloud_to_target_frame"):
            static = pose_to_matrix(self.p("cloud_to_target"))
            return Placement(transform_points(static, points), static, target, "static")
        why = (f"no transform from cloud frame {source!r} to target_frame {target!r} "
               f"({'tf2 has none' if self.tf.available else 'tf2 is not installed'}, "
               f"cloud_to_target_frame is {self.p('cloud_to_target_frame')!r})")
        mode = self.p("levelling")
        if mode == "always" or (mode == "optical" and (is_optical(source) or not source)):
            return self._level(source, points, why)
        return Placement(np.asarray(points, np.float32), np.eye(4), source, "as-is",
                         f"{why}; running it as it is, assuming z is up (REP 103)")

    def _level(self, source: str, points: np.ndarray, why: str) -> Placement:
        optical = is_optical(source) or not source
        up = OPTICAL_UP if optical else (0.0, 0.0, 1.0)
        forward = OPTICAL_FORWARD if optical else (1.0, 0.0, 0.0)
        threshold = self.p("level_threshold")
        plane = self._planes.get(source)
        if plane is None or plane.fraction_near(points, threshold) < \
                REUSE_FIT * plane.inlier_fraction:
            try:
                plane = estimate_support_plane(points, threshold, up_hint=up)
            except ValueError as exc:
                return Placement(np.asarray(points, np.float32), np.eye(4), source, "as-is",
                                 f"{why}; levelling failed ({exc}): running it as it is")
            self._planes[source] = plane
        T = levelling_transform(plane, forward)
        pose = ", ".join(f"{v:.3f}" for v in matrix_to_pose(T))
        return Placement(transform_points(T, points), T, (source or "sensor") + LEVELLED_SUFFIX,
                         "levelled",
                         f"{why}; levelled on the estimated support plane ("
                         f"{plane.inlier_fraction:.0%} of the points, sensor "
                         f"{plane.offset:.2f} m above it; pose of the cloud in the levelled "
                         f"frame x y z qx qy qz qw: {pose})")

    def camera(self, source: str, placement: Placement, view: Any,
               stamp: Any) -> tuple[Any, str | None]:
        """The camera view with its pose in the network's frame, and a problem when the
        image's frame differs from the cloud's with no transform known (reported, not
        silently taken as identity)."""
        camera_frame = view.name
        problem = None
        if placement.how == "tf":  # tf knows the cloud; ask it for the camera directly
            found = self.tf.lookup(placement.frame_id, camera_frame, stamp)
            if found is not None:
                return replace(view, T_world_cam=found), None
        T_cloud_cam = self.tf.lookup(source, camera_frame, stamp)
        if T_cloud_cam is None:
            T_cloud_cam = np.asarray(view.T_world_cam, dtype=np.float64)  # camera_to_cloud
            if camera_frame != source and np.allclose(T_cloud_cam, np.eye(4)):
                problem = (f"image frame {camera_frame!r} differs from cloud frame {source!r} "
                           "and no transform between them is known (tf2 "
                           f"{'has none' if self.tf.available else 'is not installed'}, "
                           "camera_to_cloud is the identity): the image is projected as if "
                           "the two frames coincided")
        return replace(view, T_world_cam=placement.transform @ T_cloud_cam), problem
