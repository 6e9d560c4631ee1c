"""Ray grids: the pinhole RGB-D camera and the orthographic grid used as a shadow map.

Both answer the two questions the z-buffer needs: which pixels can a bounding box cover
(``pixel_rect``) and what rays leave those pixels (``rays``). Pinhole rays are scaled so
that ``t`` along a ray equals the depth z in the camera frame, which is exactly what a
depth sensor reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from query3d.training.data.synthetic.linalg3 import dot3, mat3
from query3d.training.data.synthetic.primitives import as_components

KINECT_FOCAL = 525.0  # Kinect v1 RGB focal length at 640x480, pixels


def kinect_intrinsics(width: int = 640, height: int = 480) -> np.ndarray:
    """Kinect-v1-like pinhole intrinsics, focal length scaled with the image width."""
    if width < 8 or height < 8:
        raise ValueError(f"image size must be at least 8x8, got {width}x{height}")
    f = KINECT_FOCAL * width / 640.0
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0, 0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world pose of an optical frame (x right, y down, z forward)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("camera eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))
    if np.linalg.norm(x) < 1e-6:
        raise ValueError("camera looks straight along the up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


@dataclass
class PinholeCamera:
    name: str
    K: np.ndarray
    T_world_cam: np.ndarray
    width: int = 640
    height: int = 480

    @property
    def position(self) -> np.ndarray:
        return self.T_world_cam[:3, 3]

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        R, t = self.T_world_cam[:3, :3], self.T_world_cam[:3, 3]
        return mat3(points - t, R)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel coordinates (u, v) and depth z of world points."""
        pc = self.world_to_camera(points)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.K[0, 0] * pc[:, 0] / z + self.K[0, 2]
            v = self.K[1, 1] * pc[:, 1] / z + self.K[1, 2]
        return u, v, z

    def pixel_rect(self, corners: np.ndarray) -> tuple[int, int, int, int] | None:
        """(u0, u1, v0, v1) half-open pixel box covering ``corners``; None if none."""
        u, v, z = self.project(corners)
        if np.any(z <= 1e-3):
            return 0, self.width, 0, self.height
        u0, u1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, self.width)
        v0, v1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, self.height)
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, u1, v0, v1

    def rays(self, flat_index: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """World origin (1, 3) and directions (M, 3) with unit camera-z component
        (all pixels, row-major, when ``flat_index`` is None)."""
        if getattr(self, "_dirs", None) is None:
            v, u = np.divmod(np.arange(self.width * self.height), self.width)
            d_cam = np.stack([(u - self.K[0, 2]) / self.K[0, 0],
                              (v - self.K[1, 2]) / self.K[1, 1], np.ones(len(u))], axis=1)
            self._dirs = np.ascontiguousarray(mat3(d_cam, self.T_world_cam[:3, :3].T))
        if flat_index is None:
            return self.position[None, :], self._dirs
        return self.position[None, :], self._dirs[flat_index]

    def depth_of(self, points: np.ndarray) -> np.ndarray:
        return self.world_to_camera(points)[:, 2]

    def unit_rays(self) -> np.ndarray:
        """Unit world directions of all pixels (row-major), for shading."""
        if getattr(self, "_unit", None) is None:
            _, dirs = self.rays(None)
            self._unit = dirs / np.sqrt(np.einsum("ij,ij->i", dirs, dirs))[:, None]
        return self._unit

    def ray_components(self, flat_index: np.ndarray) -> tuple[tuple, tuple]:
        """Float32 structure-of-arrays rays for the intersection kernels."""
        if getattr(self, "_soa", None) is None:
            self.rays(None)
            self._soa = tuple(np.ascontiguousarray(self._dirs[:, i], dtype=np.float32)
                              for i in range(3))
        origin = tuple(float(v) for v in self.position)
        return origin, tuple(c[flat_index] for c in self._soa)


@dataclass
class OrthoGrid:
    """Parallel rays along ``direction`` through a square grid (a shadow map)."""

    direction: np.ndarray  # unit, the way light travels
    center: np.ndarray  # a point at the middle of the covered region
    extent: float  # half side of the covered square, metres
    size: int = 384

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, float)
        self.direction = d / np.linalg.norm(d)
        helper = np.array([1.0, 0, 0]) if abs(self.direction[0]) < 0.9 else np.array([0, 1.0, 0])
        self.axis_u = np.cross(self.direction, helper)
        self.axis_u /= np.linalg.norm(self.axis_u)
        self.axis_v = np.cross(self.direction, self.axis_u)
        self.width = self.height = self.size
        self.texel = 2 * self.extent / self.size
        self.origin_offset = 20.0  # rays start well before the scene

    def to_grid(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rel = points - self.center
        u = dot3(rel, self.axis_u) / self.texel + self.size / 2 - 0.5
        v = dot3(rel, self.axis_v) / self.texel + self.size / 2 - 0.5
        return u, v, dot3(rel, self.direction) + self.origin_offset

    def pixel_rect(self, corners: np.ndarray) -> tuple[int, int, int, int] | None:
        u, v, _ = self.to_grid(corners)
        u0, u1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, self.size)
        v0, v1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, self.size)
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, u1, v0, v1

    def depth_of(self, points: np.ndarray) -> np.ndarray:
        return self.to_grid(points)[2]

    def ray_components(self, flat_index: np.ndarray) -> tuple[tuple, tuple]:
        origins, dirs = self.rays(flat_index)
        return as_components(origins, dirs[:1].repeat(len(origins), axis=0))

    def rays(self, flat_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = (flat_index % self.size).astype(np.float64) - self.size / 2 + 0.5
        v = (flat_index // self.size).astype(np.float64) - self.size / 2 + 0.5
        origins = (self.center - self.origin_offset * self.direction
                   + (u * self.texel)[:, None] * self.axis_u
                   + (v * self.texel)[:, None] * self.axis_v)
        return origins, np.broadcast_to(self.direction, origins.shape)
