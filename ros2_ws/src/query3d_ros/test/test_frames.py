"""Which frame the network sees a cloud in: target frame as is, a static transform for
the frame it is given for, levelling for optical frames, and a reported guess otherwise;
camera poses follow the cloud into that frame and frame mismatches are reported."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("std_msgs")

from std_msgs.msg import Header  # noqa: E402

from query3d.data.sample import CameraView  # noqa: E402
from query3d_ros.extrinsics import TfExtrinsics, pose_to_matrix  # noqa: E402
from query3d_ros.frames import CloudFrames  # noqa: E402
from query3d_ros.params import defaults  # noqa: E402

# base_link -> a camera looking along +x, tilted 30 degrees down, 0.8 m up (REP 103 optical)
OPTICAL_IN_BASE = np.eye(4)
OPTICAL_IN_BASE[:3, :3] = (Rotation.from_euler("y", 30, degrees=True).as_matrix()
                           @ np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float))
OPTICAL_IN_BASE[:3, 3] = [0.0, 0.0, 0.8]


def _params(**changes):
    values = {**defaults(), **changes}
    return values.__getitem__


def _tabletop(rng: np.random.Generator) -> np.ndarray:
    """base_link points: a 1.2 x 1 m table top at z = 0 in front of the robot, boxes on it."""
    table = np.c_[rng.uniform(0.4, 1.6, 4000), rng.uniform(-0.5, 0.5, 4000),
                  rng.normal(0, 0.002, 4000)]
    boxes = np.c_[rng.uniform(0.8, 1.0, 600), rng.uniform(0.1, 0.3, 600),
                  rng.uniform(0.01, 0.2, 600)]
    return np.concatenate([table, boxes])


def _in_frame(points: np.ndarray, T_frame_base: np.ndarray) -> np.ndarray:
    return (points @ T_frame_base[:3, :3].T + T_frame_base[:3, 3]).astype(np.float32)


def test_a_cloud_in_the_target_frame_is_used_as_it_is() -> None:
    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    points = _tabletop(np.random.default_rng(0)).astype(np.float32)
    placed = frames.place(Header(frame_id="base_link"), points)
    assert placed.how == "target" and placed.problem is None
    assert placed.frame_id == "base_link" and np.array_equal(placed.points, points)


def test_the_static_transform_applies_to_the_frame_it_is_given_for() -> None:
    pose = [0.0, 0.0, 0.8, *Rotation.from_matrix(OPTICAL_IN_BASE[:3, :3]).as_quat()]
    frames = CloudFrames(_params(cloud_to_target=pose,
                                 cloud_to_target_frame="camera_depth_optical_frame"),
                         TfExtrinsics(None, False))
    base = _tabletop(np.random.default_rng(1))
    optical = _in_frame(base, np.linalg.inv(pose_to_matrix(pose)))
    placed = frames.place(Header(frame_id="camera_depth_optical_frame"), optical)
    assert placed.how == "static" and placed.frame_id == "base_link" and placed.problem is None
    assert np.allclose(placed.points, base, atol=1e-4)


def test_an_optical_cloud_with_no_transform_is_levelled_and_reported() -> None:
    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    base = _tabletop(np.random.default_rng(2))
    optical = _in_frame(base, np.linalg.inv(OPTICAL_IN_BASE))
    optical[::50] = np.nan  # depth holes keep their rows
    placed = frames.place(Header(frame_id="camera_depth_optical_frame"), optical)
    assert placed.how == "levelled"
    assert placed.frame_id == "camera_depth_optical_frame_levelled"
    assert "no transform from cloud frame 'camera_depth_optical_frame'" in placed.problem
    assert "tf2 is not installed" in placed.problem and "support plane" in placed.problem
    assert np.array_equal(np.isnan(placed.points), np.isnan(optical))
    finite = np.isfinite(placed.points).all(axis=1)
    # the levelled cloud is the base_link cloud up to a shift along the floor: same heights,
    # same x-forward / y-left axes (the camera looks along +x)
    assert np.allclose(placed.points[finite, 2], base[finite, 2], atol=0.005)
    shift = placed.points[finite, :2] - base[finite, :2]
    assert np.allclose(shift, shift.mean(axis=0), atol=0.005)
    again = frames.place(Header(frame_id="camera_depth_optical_frame"), optical)
    assert np.array_equal(again.transform, placed.transform)  # the plane is reused


def test_other_frames_without_a_transform_run_as_they_are_with_a_warning() -> None:
    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    points = _tabletop(np.random.default_rng(3)).astype(np.float32)
    placed = frames.place(Header(frame_id="lidar"), points)
    assert placed.how == "as-is" and "assuming z is up" in placed.problem
    assert placed.frame_id == "lidar"
    never = CloudFrames(_params(levelling="never"), TfExtrinsics(None, False))
    assert never.place(Header(frame_id="camera_optical_frame"), points).how == "as-is"
    always = CloudFrames(_params(levelling="always"), TfExtrinsics(None, False))
    assert always.place(Header(frame_id="lidar"), points).how == "levelled"


def test_a_camera_in_another_frame_with_no_transform_is_reported() -> None:
    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    points = _tabletop(np.random.default_rng(4)).astype(np.float32)
    placed = frames.place(Header(frame_id="base_link"), points)
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    view = CameraView(image=np.zeros((120, 160, 3), np.uint8), K=K, T_world_cam=np.eye(4),
                      name="camera_rgb_optical_frame")
    _, problem = frames.camera("base_link", placed, view, None)
    assert "image frame 'camera_rgb_optical_frame' differs from cloud frame 'base_link'" \
        in problem
    given = CameraView(image=view.image, K=K, T_world_cam=OPTICAL_IN_BASE, name=view.name)
    placed_view, problem = frames.camera("base_link", placed, given, None)
    assert problem is None and np.allclose(placed_view.T_world_cam, OPTICAL_IN_BASE)


def test_a_levelled_cloud_takes_its_camera_along() -> None:
    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    optical = _in_frame(_tabletop(np.random.default_rng(5)), np.linalg.inv(OPTICAL_IN_BASE))
    placed = frames.place(Header(frame_id="camera_optical_frame"), optical)
    view = CameraView(image=np.zeros((12, 16, 3), np.uint8), K=np.eye(3),
                      T_world_cam=np.eye(4), name="camera_optical_frame")
    placed_view, problem = frames.camera("camera_optical_frame", placed, view, None)
    assert problem is None  # same frame as the cloud: identity is right
    assert np.allclose(placed_view.T_world_cam, placed.transform)


def test_prepare_drops_sentinels_before_levelling_and_keeps_rows() -> None:
    from query3d.geometry import RangeLimits

    frames = CloudFrames(_params(), TfExtrinsics(None, False))
    optical = _in_frame(_tabletop(np.random.default_rng(6)), np.linalg.inv(OPTICAL_IN_BASE))
    optical[5] = [3e38, 0.0, 3e38]
    placed, dropped = frames.prepare(Header(frame_id="camera_optical_frame"), optical,
                                     RangeLimits(max_range=10.0, z_min=-0.05, z_max=0.5))
    assert placed.how == "levelled" and placed.points.shape == optical.shape
    assert np.isnan(placed.points[5]).all() and dropped >= 1
    finite = np.isfinite(placed.points).all(axis=1)
    assert finite.sum() > 0.9 * len(optical)
    assert placed.points[finite, 2].min() >= -0.05 and placed.points[finite, 2].max() <= 0.5
