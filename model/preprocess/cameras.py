"""Point -> pixel correspondences for lifting 2D features to 3D (HCF-RES Eq. 2, inverted).

Eq. 2 lifts a pixel with depth to the world: p = T_cam K^-1 [u d, v d, d]. We go the other
way for every cloud point (project with K and T_cam^-1) and keep a pixel only when the
point is inside the image, in front of the camera and, when a depth map exists, within
``tolerance`` of the measured depth (so occluded points do not take a foreground pixel's
feature). Pixel convention: OpenCV, the top-left pixel's centre is (0, 0); ``pix_uv`` is
normalised for ``grid_sample(align_corners=False)``, so it does not depend on the
resolution the image is resized to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NEAR_PLANE = 1e-3  # metres


def _as_tensor(value: Any, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value)
    t = t.to(torch.float64)
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has non-finite entries")
    return t


def project_points_to_image(points: Any, K: Any, T_world_cam: Any,
                            image_hw: tuple[int, int]
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Project cloud-frame points into one camera.

    Returns pixel coordinates ``uv`` (N, 2) float64, camera depth ``z`` (N,) float64 and
    ``in_view`` (N,) bool (in front of the camera and inside the ``image_hw`` image).
    """
    xyz = torch.as_tensor(np.asarray(points) if not torch.is_tensor(points) else points)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {tuple(xyz.shape)}")
    xyz = xyz.to(torch.float64)
    k = _as_tensor(K, "K", (3, 3))
    pose = _as_tensor(T_world_cam, "T_world_cam", (4, 4)).to(xyz.device)
    cam_from_world = torch.linalg.inv(pose)
    in_cam = xyz @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    z = in_cam[:, 2]
    safe_z = torch.where(z > NEAR_PLANE, z, torch.ones_like(z))
    pix = (in_cam / safe_z.unsqueeze(1)) @ k.to(xyz.device).T
    uv = pix[:, :2]
    h, w = image_hw
    in_view = ((z > NEAR_PLANE) & (uv[:, 0] >= -0.5) & (uv[:, 0] < w - 0.5)
               & (uv[:, 1] >= -0.5) & (uv[:, 1] < h - 0.5))
    return uv, z, in_view


def depth_consistent(uv: torch.Tensor, z: torch.Tensor, in_view: torch.Tensor,
                     depth: Any, tolerance: float) -> torch.Tensor:
    """in_view and the depth map at the nearest pixel agrees with ``z`` (NaN = unknown =
    rejected, because a pixel without depth cannot be lifted by Eq. 2 either)."""
    d = torch.as_tensor(np.asarray(depth, dtype=np.float64)).to(uv.device)
    h, w = d.shape
    col = torch.round(uv[:, 0]).long().clamp(0, w - 1)
    row = torch.round(uv[:, 1]).long().clamp(0, h - 1)
    measured = d[row, col]
    return in_view & torch.isfinite(measured) & ((z - measured).abs() <= tolerance)


def normalise_image(image: Any, size_hw: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, h, w) float32 ImageNet-normalised at ``size_hw``."""
    arr = torch.as_tensor(np.asarray(image) if not torch.is_tensor(image) else image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"camera image must be (H, W, 3) RGB, got {tuple(arr.shape)}")
    scale = 255.0 if arr.dtype == torch.uint8 else 1.0
    x = arr.permute(2, 0, 1).float().unsqueeze(0) / scale
    if tuple(x.shape[-2:]) != tuple(size_hw):
        x = F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=False,
                          antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std)[0]


def camera_correspondences(points: torch.Tensor, cameras: Sequence[Any],
                           images: Sequence[Any] | None, size_hw: tuple[int, int],
                           tolerance: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (C, 3, h, w), pix_uv (N, C, 2) in [-1, 1] and pix_valid (N, C) for
    ``CameraView``-like cameras (``image``, ``K``, ``T_world_cam``, optional ``depth``)."""
    if images is not None and len(images) != len(cameras):
        raise ValueError(f"{len(images)} images for {len(cameras)} cameras")
    stacked, uvs, valids = [], [], []
    for i, cam in enumerate(cameras):
        image = images[i] if images is not None else getattr(cam, "image", None)
        if image is None:
            raise ValueError(f"camera {i} has no image")
        h, w = np.asarray(image).shape[:2]
        uv, z, in_view = project_points_to_image(points, cam.K, cam.T_world_cam, (h, w))
        depth = getattr(cam, "depth", None)
        if depth is not None:
            if np.asarray(depth).shape != (h, w):
                raise ValueError(f"camera {i}: depth {np.asarray(depth).shape} does not "
                                 f"match image {(h, w)}")
            in_view = depth_consistent(uv, z, in_view, depth, tolerance)
        size = torch.tensor([w, h], dtype=torch.float64, device=uv.device)
        uvs.append(((2 * uv + 1) / size - 1).float())
        valids.append(in_view)
        stacked.append(normalise_image(image, size_hw))
    pix_uv = torch.stack(uvs, dim=1).clamp(-1.0, 1.0)
    return torch.stack(stacked), pix_uv, torch.stack(valids, dim=1)
