"""Camera poses given as parameters: x y z qx qy qz qw <-> 4x4."""

from __future__ import annotations

import numpy as np
import pytest

from query3d_ros.extrinsics import matrix_to_pose, pose_to_matrix


def test_quarter_turn_about_z() -> None:
    s = np.sqrt(0.5)
    T = pose_to_matrix([1.0, 2.0, 3.0, 0.0, 0.0, s, s])
    assert np.allclose(T[:3, :3] @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    assert np.allclose(T[:3, 3], [1.0, 2.0, 3.0])


def test_round_trip_random_poses() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        pose = [*rng.normal(size=3), *(q / np.linalg.norm(q))]
        T = pose_to_matrix(pose)
        assert np.allclose(pose_to_matrix(matrix_to_pose(T)), T, atol=1e-9)


def test_bad_poses_are_rejected() -> None:
    with pytest.raises(ValueError, match="7 numbers"):
        pose_to_matrix([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="not a finite rigid transform"):
        pose_to_matrix([0, 0, 0, 0, 0, 0, 0])
