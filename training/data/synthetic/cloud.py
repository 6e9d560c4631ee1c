"""From depth images to the labelled XYZRGB cloud in the robot base frame."""

from __future__ import annotations

import numpy as np

from query3d.training.data.synthetic.linalg3 import mat3


def backproject(depth: np.ndarray, K: np.ndarray, T_world_cam: np.ndarray) -> np.ndarray:
    """Organized (H, W, 3) world points; NaN where depth is missing."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w]
    z = depth.astype(np.float64)
    x = (u - K[0, 2]) / K[0, 0] * z
    y = (v - K[1, 2]) / K[1, 1] * z
    cam = np.stack([x, y, z], axis=-1)
    return mat3(cam, T_world_cam[:3, :3].T) + T_world_cam[:3, 3]


def voxel_first(points: np.ndarray, voxel: float) -> np.ndarray:
    """Indices of one point per occupied voxel (the first in input order), sorted."""
    if voxel <= 0:
        raise ValueError(f"voxel size must be positive, got {voxel}")
    keys = np.floor(points / voxel).astype(np.int64)
    keys -= keys.min(axis=0)
    if np.any(keys.max(axis=0) >= 1 << 21):
        raise ValueError("cloud too large for the voxel size (over 2^21 voxels per axis)")
    packed = keys[:, 0] | (keys[:, 1] << 21) | (keys[:, 2] << 42)
    _, first = np.unique(packed, return_index=True)
    return np.sort(first)


def _even_pixels(shape: tuple[int, int]) -> np.ndarray:
    even = np.zeros(shape, bool)
    even[::2, ::2] = True
    return even


def fuse_views(views, crop_lo: np.ndarray, crop_hi: np.ndarray, voxel: float,
               max_points: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Concatenate the valid pixels of all views, crop, voxel-thin and cap the count.

    Camera 0 (the robot's head camera) comes first, so where views overlap the voxel
    keeps its points; labels travel with their points.
    """
    pts, cols, inst, sem = [], [], [], []
    for view in views:
        world = backproject(view.depth, view.camera.K, view.camera.T_world_cam)
        ok = np.isfinite(world[..., 2])
        # Where two pixels still span less than a voxel, every other row and column
        # fills the same voxels: drop the rest before the (sorting) voxel pass.
        dense = 2.0 * view.depth / view.camera.K[0, 0] < voxel
        ok &= ~dense | _even_pixels(view.depth.shape)
        ok &= np.all((world >= crop_lo) & (world <= crop_hi), axis=-1)
        pts.append(world[ok])
        cols.append(view.rgb[ok])
        inst.append(view.instance[ok])
        sem.append(view.semantic[ok])
    points = np.concatenate(pts)
    keep = voxel_first(points, voxel) if len(points) else np.zeros(0, dtype=np.int64)
    if len(keep) > max_points:
        keep = np.sort(rng.choice(keep, size=max_points, replace=False))
    return {
        "points": points[keep].astype(np.float32),
        "colors": np.concatenate(cols)[keep].astype(np.uint8),
        "instance": np.concatenate(inst)[keep].astype(np.int32),
        "semantic": np.concatenate(sem)[keep].astype(np.int32),
    }
