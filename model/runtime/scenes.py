"""Procedural tabletop clouds for benchmarks, export examples and parity tests.

Why not uniform noise: the frame graph's cost depends on how many voxels and attention
groups a cloud fills, and points on surfaces (a table and boxes on it, as a depth camera
sees them) fill far fewer than points scattered through a volume. Deterministic by seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PinholeCamera:
    """The fields ``prepare_frame`` reads from a camera (``CameraView``-like)."""

    image: np.ndarray  # (H, W, 3) uint8
    K: np.ndarray  # (3, 3)
    T_world_cam: np.ndarray  # (4, 4) camera optical frame -> cloud frame
    depth: np.ndarray | None = None


def tabletop_cloud(num_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) float32 points on a 1.2 x 0.8 m table top and 4-8 boxes, (N, 3) float32 rgb."""
    if num_points < 10:
        raise ValueError(f"a tabletop cloud needs at least 10 points, got {num_points}")
    rng = np.random.default_rng(seed)
    n_table = num_points // 2
    table = np.c_[
        rng.uniform(-0.6, 0.6, n_table), rng.uniform(-0.4, 0.4, n_table), np.zeros(n_table)
    ]
    colors = [np.tile(rng.uniform(0.3, 0.7, 3), (n_table, 1))]
    parts = [table]
    count = int(rng.integers(4, 9))
    sizes = np.full(count, (num_points - n_table) // count)
    sizes[: (num_points - n_table) % count] += 1
    for size_i in sizes:
        extent = rng.uniform(0.04, 0.2, 3)
        center = np.r_[rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), extent[2] / 2]
        local = rng.uniform(-0.5, 0.5, (size_i, 3))
        face = rng.integers(0, 3, size_i)
        local[np.arange(size_i), face] = np.sign(local[np.arange(size_i), face]) * 0.5
        yaw = rng.uniform(-np.pi, np.pi)
        rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
        parts.append(center + (local * extent) @ rot.T)
        colors.append(np.tile(rng.uniform(0, 1, 3), (size_i, 1)))
    points = np.concatenate(parts) + rng.normal(0, 0.002, (num_points, 3))
    rgb = np.clip(np.concatenate(colors) + rng.normal(0, 0.03, (num_points, 3)), 0, 1)
    order = rng.permutation(num_points)
    return points[order].astype(np.float32), rgb[order].astype(np.float32)


def overhead_camera(height: int = 120, width: int = 160, seed: int = 0) -> PinholeCamera:
    """A camera 1 m above the table looking down, with a random image."""
    rng = np.random.default_rng(seed)
    focal = 0.9 * width
    intrinsics = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])  # optical z points down at the table
    pose[2, 3] = 1.0
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return PinholeCamera(image=image, K=intrinsics, T_world_cam=pose)
