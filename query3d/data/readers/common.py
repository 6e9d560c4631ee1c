"""Helpers every reader shares: error messages, packed colours, boxes, organized clouds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from query3d.data.sample import CameraView, ObjectBox, Scene


def bad_file(path: str | Path, problem: str) -> ValueError:
    """One message shape for every reader, so a user sees which file and what is wrong."""
    return ValueError(f"{path}: {problem}")


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """PCL packs colour as 0xAARRGGBB in a 4-byte field, typed F (``rgb``) or U (``rgba``).

    Reinterpreting the bits (not converting the value) is what PCL does; a float ``rgb``
    converted numerically would give garbage.
    """
    bits = np.ascontiguousarray(packed).view(np.uint32)
    rgb = np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=-1)
    return rgb.astype(np.float32) / 255.0


def pack_rgb(colors: np.ndarray) -> np.ndarray:
    """Inverse of :func:`unpack_rgb` (alpha 0), for writers and tests."""
    rgb = np.clip(np.rint(np.asarray(colors) * 255.0), 0, 255).astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def boxes_from_instances(
    points: np.ndarray,
    instance: np.ndarray,
    categories: dict[int, str],
) -> list[ObjectBox]:
    """Axis-aligned boxes (yaw 0) around each labelled instance.

    Real benchmarks ship per-point labels, not boxes; the box head and the Acc@IoU box
    metrics need one per object, and the tight axis-aligned box is what ScanRefer's own
    evaluation uses.
    """
    boxes = []
    finite = np.isfinite(points).all(axis=1)
    for object_id in np.unique(instance[(instance >= 0) & finite]):
        pts = points[(instance == object_id) & finite]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        boxes.append(
            ObjectBox(
                object_id=int(object_id),
                category=categories.get(int(object_id), ""),
                center=((lo + hi) / 2).astype(np.float64),
                size=(hi - lo).astype(np.float64),
            )
        )
    return boxes


def fit_pinhole(xyz_grid: np.ndarray, max_residual_px: float = 0.5) -> np.ndarray | None:
    """Recover K from an organized cloud in its camera's optical frame.

    An organized RGB-D cloud stores pixel (u, v) at row v, column u, so u = fx x/z + cx
    and v = fy y/z + cy hold exactly; a least-squares fit gives the intrinsics the file
    does not store (the OSD scans fit fx = fy = 525, cx = 319.5, cy = 239.5 to 1e-4 px).
    Returns None when the cloud is not such a projection (residual too large).
    """
    height, width = xyz_grid.shape[:2]
    v, u = np.mgrid[0:height, 0:width]
    x, y, z = (xyz_grid[..., i].reshape(-1) for i in range(3))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & (z > 0)
    if ok.sum() < 10:
        return None
    K = np.eye(3)
    for row, (coord, pix) in enumerate(((x, u), (y, v))):
        design = np.stack([coord[ok] / z[ok], np.ones(int(ok.sum()))], axis=1)
        target = pix.reshape(-1)[ok].astype(np.float64)
        (focal, centre), *_ = np.linalg.lstsq(design, target, rcond=None)
        if np.abs(design @ np.array([focal, centre]) - target).max() > max_residual_px:
            return None
        K[row, row], K[row, 2] = focal, centre
    return K


def camera_from_organized(
    xyz_grid: np.ndarray, rgb_grid: np.ndarray, name: str = "camera"
) -> CameraView | None:
    """The RGB-D view an organized cloud was made from, for the 2D branch.

    The cloud is in the camera's optical frame, so the extrinsics are the identity and
    the depth image is the z channel (NaN where the sensor saw nothing).
    """
    K = fit_pinhole(xyz_grid)
    if K is None:
        return None
    image = np.clip(np.rint(rgb_grid * 255.0), 0, 255).astype(np.uint8)
    depth = xyz_grid[..., 2].astype(np.float32)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)
    return CameraView(image=image, K=K, T_world_cam=np.eye(4), depth=depth, name=name)


@dataclass
class CloudFile:
    """A point cloud as stored on disk, with what a ``Scene`` cannot hold.

    ``index`` ties each returned point to its cell in the ``height`` x ``width`` grid of
    an organized cloud (row-major), so results can be written back as a mask image or
    into the original message even after invalid points were dropped. ``fields`` keeps
    every per-point field of the file (same row order as ``scene.points``).
    """

    scene: Scene
    path: Path
    width: int
    height: int
    index: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def organized(self) -> bool:
        return self.height > 1

    def to_grid(self, values: np.ndarray, fill: float | int = 0) -> np.ndarray:
        """Scatter per-point values (a predicted mask, say) back to the file's grid."""
        values = np.asarray(values)
        if len(values) != len(self.index):
            raise ValueError(f"{self.path}: got {len(values)} values for "
                             f"{len(self.index)} points")
        grid = np.full((self.height * self.width,) + values.shape[1:], fill, dtype=values.dtype)
        grid[self.index] = values
        return grid.reshape((self.height, self.width) + values.shape[1:])


def finite_rows(points: np.ndarray) -> np.ndarray:
    """Points whose three coordinates are finite (Kinect clouds mark misses with NaN in
    z only, x and y may be 0 or -0 there)."""
    return np.isfinite(points).all(axis=1)
