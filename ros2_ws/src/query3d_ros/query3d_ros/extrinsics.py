"""Where the camera sits relative to the cloud: tf2 where installed, else a parameter.

Default (identity): the cloud is expressed in the camera's optical frame, as an RGB-D
driver publishes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

try:  # robots with a full ROS install have tf2; pip installs do not
    import tf2_ros as _tf2_ros
except ImportError:  # pragma: no cover - depends on the machine
    _tf2_ros = None


def pose_to_matrix(pose: Sequence[float]) -> np.ndarray:
    """[x, y, z, qx, qy, qz, qw] -> 4x4 homogeneous transform (quaternion normalised)."""
    values = np.asarray(pose, dtype=np.float64)
    if values.shape != (7,):
        raise ValueError(f"a pose needs 7 numbers x y z qx qy qz qw, got {values.size}")
    if not np.isfinite(values).all() or np.linalg.norm(values[3:]) < 1e-9:
        raise ValueError(f"pose {values.tolist()} is not a finite rigid transform")
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(values[3:]).as_matrix()
    out[:3, 3] = values[:3]
    return out


def matrix_to_pose(T: np.ndarray) -> list[float]:
    """4x4 -> [x, y, z, qx, qy, qz, qw], the inverse of ``pose_to_matrix``."""
    T = np.asarray(T, dtype=np.float64)
    quat = Rotation.from_matrix(T[:3, :3]).as_quat()
    return [float(v) for v in (*T[:3, 3], *quat)]


class TfExtrinsics:
    """Looks up T_cloud_camera in tf2 when it is installed and enabled."""

    def __init__(self, node, enabled: bool) -> None:
        self.available = enabled and _tf2_ros is not None
        if self.available:
            self.buffer = _tf2_ros.Buffer()
            self.listener = _tf2_ros.TransformListener(self.buffer, node)

    def lookup(self, cloud_frame: str, camera_frame: str, stamp) -> np.ndarray | None:
        if not self.available or not cloud_frame or not camera_frame:
            return None
        try:
            tf = self.buffer.lookup_transform(cloud_frame, camera_frame, stamp)
        except Exception:  # tf2's LookupException / ExtrapolationException family
            return None
        t, q = tf.transform.translation, tf.transform.rotation
        return pose_to_matrix([t.x, t.y, t.z, q.x, q.y, q.z, q.w])
