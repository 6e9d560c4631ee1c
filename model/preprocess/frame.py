"""``prepare_frame``: raw cloud (+ colours, + cameras) -> ``FrameInputs``.

Runs once per frame outside the exported graph. Everything is vectorized torch (the only
Python loops are over FPS samples, kernel offsets, scales and cameras), so the same code
serves CPU and GPU inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from query3d.config import ModelConfig

from .cameras import camera_correspondences
from .inputs import FrameInputs
from .neighbors import knn_indices
from .sampling import farthest_point_sampling
from .superpoints import compute_superpoints
from .voxels import point_hash, submanifold_kernel_map, voxelize
from .windows import window_groups


def _to_tensor(value: Any, name: str, device: torch.device | None) -> torch.Tensor:
    if torch.is_tensor(value):
        t = value.detach()
    else:
        try:
            t = torch.from_numpy(np.ascontiguousarray(np.asarray(value)))
        except TypeError as exc:
            raise ValueError(f"{name} must be numeric, got {type(value).__name__}") from exc
    if not (t.dtype.is_floating_point or t.dtype in (torch.uint8, torch.int32, torch.int64)):
        raise ValueError(f"{name} must be a numeric array, got dtype {t.dtype}")
    return t.to(device) if device is not None else t


def finite_points(points: Any, colors: Any | None = None
                  ) -> tuple[Any, Any | None, np.ndarray]:
    """Drop rows with NaN/inf coordinates (Kinect holes) before ``prepare_frame``.

    Returns (points, colors, kept_index) where ``kept_index`` (numpy int64) maps the kept
    rows back to the input rows, so a runtime can paint masks onto the original cloud.
    Inputs keep their type (numpy stays numpy, torch stays torch).
    """
    pts = points.detach().cpu().numpy() if torch.is_tensor(points) else np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {pts.shape}")
    kept = np.flatnonzero(np.isfinite(pts).all(axis=1)).astype(np.int64)
    if colors is not None and len(colors) != len(pts):
        raise ValueError(f"colors has {len(colors)} rows but points has {len(pts)}")
    if torch.is_tensor(points):
        index = torch.from_numpy(kept).to(points.device)
        sub_colors = colors[index] if colors is not None else None
        return points[index], sub_colors, kept
    sub_colors = np.asarray(colors)[kept] if colors is not None else None
    return pts[kept], sub_colors, kept


def _validated_cloud(points: Any, colors: Any | None, device: torch.device | None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    xyz = _to_tensor(points, "points", device)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {tuple(xyz.shape)}")
    if xyz.shape[0] == 0:
        raise ValueError("point cloud has 0 points")
    xyz = xyz.to(torch.float64)
    bad = int((~torch.isfinite(xyz).all(dim=1)).sum())
    if bad:
        raise ValueError(f"points has {bad} rows with NaN/inf coordinates "
                         f"(use finite_points() to drop them first)")
    if colors is None:
        return xyz, torch.zeros(xyz.shape[0], 3, dtype=torch.float32, device=xyz.device)
    rgb = _to_tensor(colors, "colors", xyz.device)
    if rgb.ndim != 2 or rgb.shape[1] != 3:
        raise ValueError(f"colors must be (N, 3), got {tuple(rgb.shape)}")
    if rgb.shape[0] != xyz.shape[0]:
        raise ValueError(f"colors has {rgb.shape[0]} rows but points has {xyz.shape[0]}")
    if rgb.dtype == torch.uint8:
        rgb = rgb.float() / 255.0
    rgb = rgb.float()
    if not torch.isfinite(rgb).all():
        raise ValueError("colors has NaN/inf values")
    if rgb.min() < 0 or rgb.max() > 1:
        raise ValueError(f"colors must be in [0, 1] (or uint8), got range "
                         f"[{float(rgb.min()):.3g}, {float(rgb.max()):.3g}]")
    return xyz, rgb


def prepare_frame(points: Any, colors: Any | None = None, cfg: ModelConfig | None = None,
                  images: Sequence[Any] | None = None, cameras: Sequence[Any] | None = None,
                  device: torch.device | str | None = None) -> FrameInputs:
    """Build every index tensor the frame graph needs for one cloud.

    ``points`` (N, 3) and ``colors`` (N, 3, floats in [0, 1] or uint8) are numpy or torch;
    torch inputs stay on their device unless ``device`` is given. ``cameras`` are
    ``CameraView``-like (``K``, ``T_world_cam`` camera -> cloud frame, ``image``, optional
    ``depth``); ``images`` overrides the cameras' images. Image tensors are produced only
    when cameras are given and ``cfg.use_images`` is true.
    """
    cfg = cfg if cfg is not None else ModelConfig()
    device = torch.device(device) if device is not None else None
    raw, rgb = _validated_cloud(points, colors, device)
    origin = (raw.min(dim=0).values + raw.max(dim=0).values) / 2
    xyz = (raw - origin).float()

    scales = voxelize(xyz, rgb, cfg.voxel_size, list(cfg.voxel_scales), cfg.voxel_member_cap)
    fine = scales[0].coords
    half = cfg.window_size // 2
    groups, inverse = window_groups(fine, cfg.window_size, cfg.window_group_size)
    groups_shifted, inverse_shifted = window_groups(fine, cfg.window_size,
                                                    cfg.window_group_size, shift=half)
    frame = FrameInputs(
        xyz=xyz, origin=origin.float(), rgb=rgb,
        knn=knn_indices(xyz, cfg.knn_k, locality=scales[0].point2voxel),
        voxel_coords=[s.coords for s in scales],
        voxel_center=[s.center for s in scales],
        point2voxel=[s.point2voxel for s in scales],
        voxel_members=[s.members for s in scales],
        kmap=submanifold_kernel_map(fine),
        win_groups=groups, win_inverse=inverse,
        win_groups_shifted=groups_shifted, win_inverse_shifted=inverse_shifted,
        seeds=farthest_point_sampling(xyz, cfg.num_seeds),
    )
    if cfg.use_superpoints:
        frame.superpoint, frame.superpoint_members = compute_superpoints(
            rgb, scales[0].point2voxel, scales[0].center, cfg.voxels_per_superpoint,
            cfg.superpoint_member_cap, point_hash(torch.cat([xyz, rgb], dim=1)))
    if cameras and cfg.use_images:
        imgs, pix_uv, pix_valid = camera_correspondences(
            raw, cameras, images, tuple(cfg.image_size), cfg.image_depth_tolerance)
        frame.images = imgs.to(xyz.device)
        frame.pix_uv = pix_uv.to(xyz.device)
        frame.pix_valid = pix_valid.to(xyz.device)
    elif images is not None and not cameras:
        raise ValueError("images were given without cameras (intrinsics/extrinsics needed)")
    return frame
