"""sensor_msgs/CameraInfo -> validated pinhole intrinsics, and cloud -> camera projection.

A camera_info with a zero focal length or a 0x0 image is a common driver fault; it is
rejected here with a message that names the problem instead of surfacing later as
divisions by zero inside the network. The projection is pinhole (distortion is
reported, not applied): RGB-D clouds are computed from rectified images.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sensor_msgs.msg import CameraInfo


class CameraModel(NamedTuple):
    K: np.ndarray  # (3, 3) float64 intrinsics
    width: int
    height: int
    distortion: np.ndarray  # (D,) float64 coefficients of camera_info.distortion_model


def validate_intrinsics(k, width: int, height: int) -> np.ndarray:
    """(3,3) float64 K from 9 numbers or a 3x3, checked so projection cannot divide by 0."""
    k = np.asarray(k, dtype=np.float64)
    if k.size != 9:
        raise ValueError(f"camera K must have 9 entries (3x3), got {k.size}")
    k = k.reshape(3, 3)
    if not np.isfinite(k).all():
        raise ValueError(f"camera K has non-finite entries: {k.ravel().tolist()}")
    fx, fy = k[0, 0], k[1, 1]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"camera focal length must be > 0, got fx={fx}, fy={fy}")
    if not np.allclose(k[2], [0.0, 0.0, 1.0]) or k[1, 0] != 0.0:
        raise ValueError(f"camera K is not upper-triangular with last row [0 0 1]: {k.tolist()}")
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"camera image size must be > 0, got {width}x{height}")
    return k


def camera_info_to_model(msg: CameraInfo) -> CameraModel:
    """Intrinsics, size and distortion of a CameraInfo, validated."""
    k = validate_intrinsics(msg.k, msg.width, msg.height)
    distortion = np.asarray(msg.d, dtype=np.float64).reshape(-1)
    if not np.isfinite(distortion).all():
        raise ValueError(f"camera distortion has non-finite entries: {distortion.tolist()}")
    return CameraModel(k, int(msg.width), int(msg.height), distortion)


def validate_transform(transform: np.ndarray) -> np.ndarray:
    """(4,4) float64 rigid transform, checked for shape, finiteness and last row."""
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4):
        raise ValueError(f"transform must be 4x4, got shape {transform.shape}")
    if not np.isfinite(transform).all():
        raise ValueError("transform has non-finite entries")
    if not np.allclose(transform[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError(f"transform's last row must be [0 0 0 1], got {transform[3].tolist()}")
    return transform


def project_points(
    points: np.ndarray, K: np.ndarray, T_cam_cloud: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,2) pixel coordinates (pixel centres at integers) and (N,) depth along the optical
    axis of cloud-frame points; points at or behind the camera get NaN pixels."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    transform = validate_transform(T_cam_cloud)
    cam = points @ transform[:3, :3].T + transform[:3, 3]
    depth = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam @ np.asarray(K, dtype=np.float64).T)[:, :2] / depth[:, None]
    uv[~(depth > 0)] = np.nan
    return uv, depth


def mask_image(
    points: np.ndarray,
    instance_ids: np.ndarray,
    K: np.ndarray,
    T_cam_cloud: np.ndarray,
    width: int,
    height: int,
    min_depth: float = 1e-3,
) -> np.ndarray:
    """(height,width) int32 image of instance ids, -1 where no point lands.

    Z-buffered: every point (background ones with id -1 included) competes for its pixel
    and the nearest wins, so a target hidden behind other geometry does not show
    through it in ``~/mask_image``.
    """
    K = validate_intrinsics(K, width, height)
    instance_ids = np.asarray(instance_ids).reshape(-1)
    points = np.asarray(points).reshape(-1, 3)
    if instance_ids.shape[0] != points.shape[0]:
        raise ValueError(f"{points.shape[0]} points but {instance_ids.shape[0]} instance ids")
    out = np.full((int(height), int(width)), -1, dtype=np.int32)
    uv, depth = project_points(points, K, T_cam_cloud)
    with np.errstate(invalid="ignore"):
        col = np.floor(uv[:, 0] + 0.5)
        row = np.floor(uv[:, 1] + 0.5)
        keep = (depth > min_depth) & (col >= 0) & (col < width) & (row >= 0) & (row < height)
    if not keep.any():
        return out
    pixel = row[keep].astype(np.int64) * int(width) + col[keep].astype(np.int64)
    kept_depth = depth[keep]
    nearest = np.full(out.size, np.inf)
    np.minimum.at(nearest, pixel, kept_depth)  # the z-buffer
    winners = kept_depth == nearest[pixel]  # exact ties at one pixel: any of them
    out.reshape(-1)[pixel[winners]] = instance_ids[keep][winners]
    return out
